#include "cli/serve.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include "core/config.h"
#include "runtime/fd_limit.h"
#include "runtime/server.h"
#include "sim/options.h"

namespace rkv {

namespace {

// Applies command-line overrides on top of the file (or the defaults), as redis-server does.
// True when this process's parent is `replikv lab` and announced itself in REPLIKV_LAB_PARENT.
bool started_by_lab() {
  const char* announced = std::getenv("REPLIKV_LAB_PARENT");
  const pid_t parent = getppid();
  if (!announced || std::to_string(parent) != announced) return false;
  std::ifstream in("/proc/" + std::to_string(parent) + "/cmdline", std::ios::binary);
  std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return cmdline.find(std::string("\0lab\0", 5)) != std::string::npos;
}

Status apply_lab_bug(const std::string& name, Config& c) {
  if (!started_by_lab()) {
    return Status::invalid_argument(
        "--lab-unsafe-bug runs a deliberately broken node; only `replikv lab` may start one");
  }
  auto bug = sim::parse_bug(name);
  if (!bug) return Status::invalid_argument("--lab-unsafe-bug: unknown variant \"" + name + "\"");
  c.raft.bugs |= *bug;
  return Status::ok();
}

Status apply_overrides(const ServeOptions& o, Config& c) {
  if (o.port) c.port = *o.port;
  if (o.admin_port) c.admin_port = *o.admin_port;
  if (o.data_dir) c.data_dir = *o.data_dir;
  if (o.bind) c.bind = *o.bind;
  if (o.node_id) c.node_id = *o.node_id;
  if (o.log_level) c.log_level = *o.log_level;
  if (o.tls_port) c.tls.port = *o.tls_port;
  if (o.tls_cert_file) c.tls.cert_file = *o.tls_cert_file;
  if (o.tls_key_file) c.tls.key_file = *o.tls_key_file;
  if (o.tls_ca_cert_file) c.tls.ca_cert_file = *o.tls_ca_cert_file;
  if (o.tls_auth_clients) {
    for (auto a : {TlsAuthClients::kNo, TlsAuthClients::kYes, TlsAuthClients::kOptional}) {
      if (*o.tls_auth_clients == to_string(a)) c.tls.auth_clients = a;
    }
  }
  if (o.fsync) {
    if (*o.fsync == "always") {
      c.fsync = FsyncMode::kAlways;
    } else if (*o.fsync == "batch") {
      c.fsync = FsyncMode::kBatch;
    } else if (*o.fsync == "never") {
      c.fsync = FsyncMode::kNever;
    } else {
      return Status::invalid_argument("--fsync takes always, batch or never, not \"" + *o.fsync +
                                      "\"");
    }
  }
  if (o.lab_unsafe_bug) {
    if (Status st = apply_lab_bug(*o.lab_unsafe_bug, c); !st.is_ok()) return st;
  }
  if (o.lab_control_file) {
    if (!started_by_lab()) {
      return Status::invalid_argument(
          "--lab-control-file skews the node's clock and slows its disk; only `replikv lab` may "
          "start one");
    }
    c.lab_control_file = *o.lab_control_file;
  }
  return validate_config(c);
}

}  // namespace

int run_serve(const ServeOptions& opts) {
  auto logger = spdlog::stderr_color_mt("replikv");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n] %v");

  Config cfg = Config::defaults();
  if (!opts.config_path.empty()) {
    auto loaded = load_config_file(opts.config_path);
    if (!loaded.is_ok()) {
      std::fprintf(stderr, "replikv: %s\n", loaded.status().message().c_str());
      return 2;
    }
    cfg = std::move(loaded).value();
  }
  if (Status st = apply_overrides(opts, cfg); !st.is_ok()) {
    std::fprintf(stderr, "replikv: %s\n", st.message().c_str());
    return 2;
  }
  spdlog::set_level(spdlog::level::from_str(cfg.log_level));
  if (opts.lab_unsafe_bug) {
    spdlog::warn("deliberately broken variant {} (started by replikv lab)", *opts.lab_unsafe_bug);
  }

  // Before storage opens its files: the descriptors clients may take are settled first.
  std::string fds = apply_fd_budget(&cfg.limits.max_clients, cfg.nodes.size());
  if (!fds.empty()) spdlog::warn("{}", fds);

  auto server = Server::create(cfg);
  if (!server.is_ok()) {
    spdlog::critical("cannot start: {}", server.status().to_string());
    return 1;
  }
  if (Status st = server.value()->start(); !st.is_ok()) {
    spdlog::critical("cannot start: {}", st.to_string());
    return 1;
  }
  std::fflush(stdout);
  server.value()->run(/*handle_signals=*/true);
  return 0;
}

}  // namespace rkv
