// Admin HTTP listener: /health, /metrics (Prometheus text) and /status (JSON). Runs on
// cpp-httplib's own threads; every handler reads server state by posting to the event loop.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/status.h"

namespace httplib {
class Server;
}
struct ssl_st;

namespace rkv {

class Server;
class TlsContext;

class AdminHttp {
 public:
  explicit AdminHttp(Server& server);
  ~AdminHttp();
  // Binds and starts serving; returns the bound port (port 0 picks one). With tls, serves https:
  // each handshake takes the certificate of the context current at that moment (set_tls).
  Result<uint16_t> start(const std::string& host, uint16_t port,
                         std::shared_ptr<const TlsContext> tls = nullptr);
  // Any thread: later https handshakes use `tls`; open connections keep theirs.
  void set_tls(std::shared_ptr<const TlsContext> tls);
  void stop();

 private:
  // Called by OpenSSL (on an http thread) when a ClientHello arrives.
  static int on_client_hello(ssl_st* ssl, int* alert, void* self);
  std::mutex tls_mu_;
  std::shared_ptr<const TlsContext> tls_;  // guarded by tls_mu_
  Server& server_;
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
};

}  // namespace rkv
