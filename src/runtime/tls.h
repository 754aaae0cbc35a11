// TLS over OpenSSL for the client port, the peer links and the admin listener.
//
// - TlsContext: an SSL_CTX built from [tls] (certificate chain, key, CA, protocols, ciphers).
//   Immutable once loaded and shared: every session holds a reference to the context it was
//   made from (OpenSSL counts them), so a reload (a new TlsContext) changes what new sessions
//   use while existing ones carry on with the old one until they close.
// - TlsSession: one server or client TLS connection over a non-blocking socket the caller owns
//   (a socket BIO on its descriptor), with no event loop inside: the caller calls handshake(),
//   read() and write() when the socket is ready, and each says what to wait for next. Bytes
//   decrypted but not yet read (has_pending) are invisible to poll/epoll: the caller must read
//   them without waiting for readiness.
// - LogLimiter: at most a burst of log lines per window (refused handshakes), counting the rest.
//
// Threading: a TlsContext may be shared between threads (OpenSSL's SSL_CTX is, once set up); a
// TlsSession belongs to one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/config.h"
#include "core/status.h"

struct ssl_ctx_st;
struct ssl_st;

namespace rkv {

class TlsSession;

class TlsContext {
 public:
  // Reads the files named by `s` and checks them: each error names the file and what is wrong
  // with it (missing, unreadable, not PEM, a key that does not match the certificate).
  static Result<std::shared_ptr<const TlsContext>> load(const TlsSettings& s);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  ssl_ctx_st* native() const { return ctx_; }
  const TlsSettings& settings() const { return settings_; }
  // "subject ..., serial ..., expires ..." of the certificate, for the log.
  const std::string& description() const { return description_; }

  // A session accepting a client on fd, asking for its certificate as `auth` says.
  std::unique_ptr<TlsSession> accept(int fd, TlsAuthClients auth) const;
  // A session connecting on fd (tests, tools): the server's certificate is verified against the
  // CA when there is one.
  std::unique_ptr<TlsSession> connect(int fd) const;

 private:
  explicit TlsContext(const TlsSettings& s);
  ssl_ctx_st* ctx_ = nullptr;
  TlsSettings settings_;
  std::string description_;
};

class TlsSession {
 public:
  enum class Io : uint8_t {
    kDone,       // progress: read/write moved `n` bytes (> 0); handshake() finished
    kWantRead,   // call again once the socket is readable
    kWantWrite,  // call again once the socket is writable
    kClosed,     // the peer ended the session (close_notify or EOF)
    kFailed,     // a protocol or certificate error: error() says which; drop the connection
  };
  struct Outcome {
    Io io;
    size_t n = 0;
  };

  // Takes ownership of ssl (already bound to its descriptor and role).
  explicit TlsSession(ssl_st* ssl);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  Io handshake();
  bool handshake_done() const { return done_; }
  // read: at most cap bytes of application data. write: up to n bytes of p; after kWantRead or
  // kWantWrite the same bytes must be offered again (they may then sit at another address).
  Outcome read(char* buf, size_t cap);
  Outcome write(const char* p, size_t n);
  // Decrypted bytes (or buffered records) that no socket readiness will announce.
  bool has_pending() const;
  // Sends close_notify if the session is healthy (best effort, never waits).
  void shutdown();
  // Why the last call failed (kFailed), in words: OpenSSL's reason and, when the peer's
  // certificate was refused, the verification result ("certificate has expired").
  const std::string& error() const { return error_; }
  // "TLSv1.3 TLS_AES_256_GCM_SHA384, peer CN=..." once the handshake is done.
  std::string describe() const;
  ssl_st* native() const { return ssl_; }

 private:
  Io fail_or_wait(int rc);
  ssl_st* ssl_;
  bool done_ = false;
  bool failed_ = false;
  std::string error_;
};

// Allows `burst` lines per `window_ms`; the first line allowed after a suppressed stretch
// reports how many were suppressed.
class LogLimiter {
 public:
  LogLimiter(uint32_t burst, int64_t window_ms) : burst_(burst), window_ms_(window_ms) {}
  // True when a line may be logged at now_ms; *suppressed gets the number dropped since the
  // last allowed line.
  bool allow(int64_t now_ms, uint64_t* suppressed);

 private:
  uint32_t burst_;
  int64_t window_ms_;
  int64_t window_start_ = INT64_MIN;
  uint32_t used_ = 0;
  uint64_t suppressed_ = 0;
};

// Asks a server session for the client's certificate as `auth` says (and verifies it).
void set_client_verify(ssl_st* ssl, TlsAuthClients auth);

// OpenSSL's pending errors as one line ("" when none), emptying the thread's error queue.
std::string take_openssl_errors();

}  // namespace rkv
