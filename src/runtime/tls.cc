#include "runtime/tls.h"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "core/assert.h"

namespace rkv {

std::string take_openssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    // "error:0A000086:SSL routines::certificate verify failed": keep the words after the codes.
    std::string_view s(buf);
    if (size_t i = s.rfind(':'); i != std::string_view::npos && i + 1 < s.size()) {
      s = s.substr(i + 1);
    }
    if (!out.empty()) out += "; ";
    out += s;
  }
  return out;
}

namespace {

// The file must exist and be readable: OpenSSL's own message for a missing file is vague.
Status check_readable(std::string_view key, const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) {
    return Status::invalid_argument(
        fmt::format("tls {} {}: cannot read: {}", key, path, std::strerror(errno)));
  }
  std::fclose(f);
  return Status::ok();
}

Status openssl_error(std::string_view what) {
  std::string why = take_openssl_errors();
  return Status::invalid_argument(
      fmt::format("{}: {}", what, why.empty() ? "rejected by OpenSSL" : why));
}

// "TLSv1.2 TLSv1.3" -> the range of versions; only 1.2 and 1.3 are offered.
Status apply_protocols(SSL_CTX* ctx, const std::string& protocols) {
  int lo = 0, hi = 0;
  std::istringstream words(protocols.empty() ? "TLSv1.2 TLSv1.3" : protocols);
  std::string w;
  while (words >> w) {
    int v = 0;
    if (w == "TLSv1.2") {
      v = TLS1_2_VERSION;
    } else if (w == "TLSv1.3") {
      v = TLS1_3_VERSION;
    } else {
      return Status::invalid_argument(fmt::format(
          "tls protocols: unknown protocol \"{}\" (expected TLSv1.2 and/or TLSv1.3)", w));
    }
    lo = lo == 0 ? v : std::min(lo, v);
    hi = std::max(hi, v);
  }
  if (lo == 0) return Status::invalid_argument("tls protocols: no protocol named");
  SSL_CTX_set_min_proto_version(ctx, lo);
  SSL_CTX_set_max_proto_version(ctx, hi);
  return Status::ok();
}

std::string name_of(X509_NAME* name) {
  if (!name) return "?";
  char buf[512];
  X509_NAME_oneline(name, buf, sizeof buf);
  return buf;
}

std::string describe_cert(X509* cert) {
  if (!cert) return "no certificate";
  std::string serial = "?";
  if (BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr)) {
    if (char* hex = BN_bn2hex(bn)) {
      serial = hex;
      OPENSSL_free(hex);
    }
    BN_free(bn);
  }
  std::string expires = "?";
  if (BIO* b = BIO_new(BIO_s_mem())) {
    if (ASN1_TIME_print(b, X509_get0_notAfter(cert))) {
      char* data = nullptr;
      long n = BIO_get_mem_data(b, &data);
      expires.assign(data, static_cast<size_t>(n));
    }
    BIO_free(b);
  }
  return fmt::format("subject {}, serial {}, expires {}", name_of(X509_get_subject_name(cert)),
                     serial, expires);
}

// Reads the key itself (rather than SSL_CTX_use_PrivateKey_file) to tell a key that is not one
// from a key of another certificate.
Status use_key(SSL_CTX* ctx, const TlsSettings& s) {
  std::FILE* f = std::fopen(s.key_file.c_str(), "rb");
  if (!f) return check_readable("key_file", s.key_file);
  EVP_PKEY* key = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  if (!key) {
    return openssl_error(fmt::format("tls key_file {}: not a usable PEM private key", s.key_file));
  }
  const bool match = X509_check_private_key(SSL_CTX_get0_certificate(ctx), key) == 1;
  const bool used = match && SSL_CTX_use_PrivateKey(ctx, key) == 1;
  EVP_PKEY_free(key);
  if (!match) {
    ERR_clear_error();
    return Status::invalid_argument(fmt::format(
        "tls key_file {} does not match the certificate in cert_file {}", s.key_file, s.cert_file));
  }
  if (!used) return openssl_error(fmt::format("tls key_file {}", s.key_file));
  return Status::ok();
}

}  // namespace

TlsContext::TlsContext(const TlsSettings& s) : settings_(s) {}

TlsContext::~TlsContext() {
  SSL_CTX_free(ctx_);
}

Result<std::shared_ptr<const TlsContext>> TlsContext::load(const TlsSettings& s) {
  ERR_clear_error();
  std::shared_ptr<TlsContext> c(new TlsContext(s));
  c->ctx_ = SSL_CTX_new(TLS_method());
  if (!c->ctx_) return openssl_error("tls: cannot create a context");
  SSL_CTX* ctx = c->ctx_;
  // A peer that closes without close_notify (most Redis clients) has simply gone: an EOF, not
  // an error to log.
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // One recv takes whatever arrived (several records of a pipeline) instead of a header and a
  // body per record; what it buffers beyond the first record is has_pending().
  SSL_CTX_set_read_ahead(ctx, 1);
  // Sessions resumed with client certificates need an id context of the server's.
  static constexpr unsigned char kSid[] = "replikv";
  SSL_CTX_set_session_id_context(ctx, kSid, sizeof kSid - 1);
  RKV_RETURN_IF_ERROR(apply_protocols(ctx, s.protocols));
  if (!s.ciphers.empty() && !SSL_CTX_set_cipher_list(ctx, s.ciphers.c_str())) {
    return openssl_error(fmt::format("tls ciphers \"{}\"", s.ciphers));
  }
  if (!s.ciphersuites.empty() && !SSL_CTX_set_ciphersuites(ctx, s.ciphersuites.c_str())) {
    return openssl_error(fmt::format("tls ciphersuites \"{}\"", s.ciphersuites));
  }
  RKV_RETURN_IF_ERROR(check_readable("cert_file", s.cert_file));
  if (SSL_CTX_use_certificate_chain_file(ctx, s.cert_file.c_str()) != 1) {
    return openssl_error(
        fmt::format("tls cert_file {}: not a usable PEM certificate", s.cert_file));
  }
  RKV_RETURN_IF_ERROR(use_key(ctx, s));
  if (!s.ca_cert_file.empty()) {
    RKV_RETURN_IF_ERROR(check_readable("ca_cert_file", s.ca_cert_file));
    if (SSL_CTX_load_verify_locations(ctx, s.ca_cert_file.c_str(), nullptr) != 1) {
      return openssl_error(
          fmt::format("tls ca_cert_file {}: no usable PEM certificate", s.ca_cert_file));
    }
    // Tells clients which CA their certificate must come from.
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(s.ca_cert_file.c_str())) {
      SSL_CTX_set_client_CA_list(ctx, names);
    }
  }
  c->description_ = describe_cert(SSL_CTX_get0_certificate(ctx));
  ERR_clear_error();
  return std::shared_ptr<const TlsContext>(std::move(c));
}

void set_client_verify(SSL* ssl, TlsAuthClients auth) {
  int mode = SSL_VERIFY_NONE;
  if (auth == TlsAuthClients::kYes) mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
  if (auth == TlsAuthClients::kOptional) mode = SSL_VERIFY_PEER;
  SSL_set_verify(ssl, mode, nullptr);
}

std::unique_ptr<TlsSession> TlsContext::accept(int fd, TlsAuthClients auth) const {
  SSL* ssl = SSL_new(ctx_);
  RKV_ASSERT(ssl != nullptr);  // out of memory
  set_client_verify(ssl, auth);
  SSL_set_fd(ssl, fd);
  SSL_set_accept_state(ssl);
  return std::make_unique<TlsSession>(ssl);
}

std::unique_ptr<TlsSession> TlsContext::connect(int fd) const {
  SSL* ssl = SSL_new(ctx_);
  RKV_ASSERT(ssl != nullptr);
  SSL_set_verify(ssl, settings_.ca_cert_file.empty() ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, nullptr);
  SSL_set_fd(ssl, fd);
  SSL_set_connect_state(ssl);
  return std::make_unique<TlsSession>(ssl);
}

// ---------------------------------------------------------------------------------------------

TlsSession::TlsSession(ssl_st* ssl) : ssl_(ssl) {}

TlsSession::~TlsSession() {
  SSL_free(ssl_);
}

TlsSession::Io TlsSession::fail_or_wait(int rc) {
  const int err = SSL_get_error(ssl_, rc);
  switch (err) {
    case SSL_ERROR_WANT_READ:
      return Io::kWantRead;
    case SSL_ERROR_WANT_WRITE:
      return Io::kWantWrite;
    case SSL_ERROR_ZERO_RETURN:
      return Io::kClosed;
    default:
      break;
  }
  const int saved_errno = errno;
  failed_ = true;
  std::string why = take_openssl_errors();
  const long verify = SSL_get_verify_result(ssl_);
  if (verify != X509_V_OK) {
    why = fmt::format("certificate refused: {}{}{}", X509_verify_cert_error_string(verify),
                      why.empty() ? "" : "; ", why);
  }
  if (why.empty() && err == SSL_ERROR_SYSCALL) {
    if (saved_errno == 0) return Io::kClosed;  // EOF without close_notify
    why = std::strerror(saved_errno);
  }
  error_ = why.empty() ? fmt::format("TLS error {}", err) : why;
  return Io::kFailed;
}

TlsSession::Io TlsSession::handshake() {
  if (done_) return Io::kDone;
  ERR_clear_error();
  const int rc = SSL_do_handshake(ssl_);
  if (rc == 1) {
    done_ = true;
    return Io::kDone;
  }
  const Io io = fail_or_wait(rc);
  if (io == Io::kClosed) {
    failed_ = true;
    error_ = "connection closed during the TLS handshake";
    return Io::kFailed;
  }
  return io;
}

TlsSession::Outcome TlsSession::read(char* buf, size_t cap) {
  ERR_clear_error();
  size_t n = 0;
  if (SSL_read_ex(ssl_, buf, cap, &n) == 1) return {Io::kDone, n};
  return {fail_or_wait(0), 0};
}

TlsSession::Outcome TlsSession::write(const char* p, size_t len) {
  ERR_clear_error();
  size_t n = 0;
  if (SSL_write_ex(ssl_, p, len, &n) == 1) return {Io::kDone, n};
  return {fail_or_wait(0), 0};
}

bool TlsSession::has_pending() const {
  return SSL_has_pending(ssl_) == 1;
}

void TlsSession::shutdown() {
  if (!done_ || failed_) return;
  ERR_clear_error();
  (void)SSL_shutdown(ssl_);
  ERR_clear_error();
}

std::string TlsSession::describe() const {
  std::string peer = "no client certificate";
  if (X509* cert = SSL_get1_peer_certificate(ssl_)) {
    peer = "peer " + name_of(X509_get_subject_name(cert));
    X509_free(cert);
  }
  return fmt::format("{} {}, {}", SSL_get_version(ssl_), SSL_get_cipher_name(ssl_), peer);
}

// ---------------------------------------------------------------------------------------------

bool LogLimiter::allow(int64_t now_ms, uint64_t* suppressed) {
  if (window_start_ == INT64_MIN || now_ms - window_start_ >= window_ms_) {
    window_start_ = now_ms;
    used_ = 0;
  }
  if (used_ >= burst_) {
    ++suppressed_;
    return false;
  }
  ++used_;
  *suppressed = suppressed_;
  suppressed_ = 0;
  return true;
}

}  // namespace rkv
