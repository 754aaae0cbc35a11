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
  // A deliberately broken variant (raft.h `enum Bug`, by its simulator name) for the fault lab
  // to show that its checks catch it. Refused unless the parent process is `replikv lab` and
  // named itself in REPLIKV_LAB_PARENT: a normal start can never run one.
  std::optional<std::string> lab_unsafe_bug;
  // The lab's control file (Config::lab_control_file): clock skew and jumps, slow fsync.
  // Refused on the same terms as lab_unsafe_bug.
  std::optional<std::string> lab_control_file;
};

int run_serve(const ServeOptions& opts);

}  // namespace rkv
