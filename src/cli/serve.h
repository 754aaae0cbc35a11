// `replikv serve`: runs one node until SIGINT/SIGTERM or SHUTDOWN.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace rkv {

struct ServeOptions {
  std::string config_path;  // empty: embedded defaults
  std::optional<uint16_t> port, admin_port;
  std::optional<std::string> data_dir, fsync, bind, node_id, log_level;
  // [tls] overrides, named as redis-server's.
  std::optional<uint16_t> tls_port;
  std::optional<std::string> tls_cert_file, tls_key_file, tls_ca_cert_file, tls_auth_clients;
};

int run_serve(const ServeOptions& opts);

}  // namespace rkv
