// Admin HTTP listener: /health, /metrics (Prometheus text) and /status (JSON). Runs on
// cpp-httplib's own threads; every handler reads server state by posting to the event loop.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "core/status.h"

namespace httplib {
class Server;
}

namespace rkv {

class Server;

class AdminHttp {
 public:
  explicit AdminHttp(Server& server);
  ~AdminHttp();
  // Binds and starts serving; returns the bound port (port 0 picks one).
  Result<uint16_t> start(const std::string& host, uint16_t port);
  void stop();

 private:
  Server& server_;
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
};

}  // namespace rkv
