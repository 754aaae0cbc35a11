#include "runtime/admin_http.h"

#include <fmt/format.h>
#include <httplib.h>

#include "runtime/server.h"
#include "runtime/tls.h"

namespace rkv {

AdminHttp::AdminHttp(Server& server) : server_(server) {}

AdminHttp::~AdminHttp() {
  stop();
}

void AdminHttp::set_tls(std::shared_ptr<const TlsContext> tls) {
  std::lock_guard lock(tls_mu_);
  tls_ = std::move(tls);
}

int AdminHttp::on_client_hello(SSL* ssl, int* /*alert*/, void* self) {
  auto* admin = static_cast<AdminHttp*>(self);
  std::lock_guard lock(admin->tls_mu_);
  // The session takes the current context's certificate, key and CA; the verify mode is the
  // session's own.
  SSL_set_SSL_CTX(ssl, admin->tls_->native());
  set_client_verify(ssl, admin->tls_->settings().auth_clients);
  return SSL_CLIENT_HELLO_SUCCESS;
}

Result<uint16_t> AdminHttp::start(const std::string& host, uint16_t port,
                                  std::shared_ptr<const TlsContext> tls) {
  if (tls) {
    set_tls(tls);
    http_ = std::make_unique<httplib::SSLServer>([this, &tls](SSL_CTX& ctx) {
      SSL_CTX* cur = tls->native();
      SSL_CTX_set_min_proto_version(&ctx, SSL_CTX_get_min_proto_version(cur));
      SSL_CTX_set_max_proto_version(&ctx, SSL_CTX_get_max_proto_version(cur));
      SSL_CTX_set_options(&ctx, SSL_CTX_get_options(cur));
      const TlsSettings& ts = tls->settings();
      if (!ts.ciphers.empty()) SSL_CTX_set_cipher_list(&ctx, ts.ciphers.c_str());
      if (!ts.ciphersuites.empty()) SSL_CTX_set_ciphersuites(&ctx, ts.ciphersuites.c_str());
      SSL_CTX_set_client_hello_cb(&ctx, &AdminHttp::on_client_hello, this);
      return true;
    });
    if (!http_->is_valid()) return Status::io_error("admin https: cannot set up TLS");
  } else {
    http_ = std::make_unique<httplib::Server>();
  }
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
