#include "runtime/admin_http.h"

#include <fmt/format.h>
#include <httplib.h>

#include "runtime/server.h"

namespace rkv {

AdminHttp::AdminHttp(Server& server) : server_(server) {}

AdminHttp::~AdminHttp() {
  stop();
}

Result<uint16_t> AdminHttp::start(const std::string& host, uint16_t port) {
  http_ = std::make_unique<httplib::Server>();
  http_->new_task_queue = [] { return new httplib::ThreadPool(2); };
  http_->Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    // Healthy means the event loop answers, not merely that this thread runs.
    std::string r = server_.query_loop([] { return std::string("ok"); });
    if (r == "ok") {
      res.set_content("ok\n", "text/plain");
    } else {
      res.status = 503;
      res.set_content("event loop not responding\n", "text/plain");
    }
  });
  http_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    std::string r = server_.query_loop([this] { return server_.metrics_text(); });
    if (r.empty()) res.status = 503;
    res.set_content(r, "text/plain; version=0.0.4");
  });
  http_->Get("/status", [this](const httplib::Request&, httplib::Response& res) {
    std::string r = server_.query_loop([this] { return server_.status_json(); });
    if (r.empty()) res.status = 503;
    res.set_content(r, "application/json");
  });
  int bound =
      port == 0 ? http_->bind_to_any_port(host) : (http_->bind_to_port(host, port) ? port : -1);
  if (bound <= 0) {
    return Status::io_error(fmt::format("cannot listen for admin http on {}:{}", host, port));
  }
  thread_ = std::thread([this] { http_->listen_after_bind(); });
  return static_cast<uint16_t>(bound);
}

void AdminHttp::stop() {
  if (http_) http_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace rkv
