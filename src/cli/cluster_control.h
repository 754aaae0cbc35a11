// Control of a running local cluster (`replikv cluster up`) from another terminal.
//
// The supervisor (`cluster up`) owns the node processes and keeps one state file in the data
// dir, `cluster.json`, rewritten atomically (temp file + rename) whenever a node starts or
// exits. The commands here read it and act on the nodes by pid:
//
//   status              every node: pid, process state, isolation, ports, roles
//   kill NODE           SIGKILL (kill -9); the supervisor records the exit and keeps the others
//   pause / resume NODE SIGSTOP / SIGCONT
//   restart NODE        SIGTERM (SIGKILL after 10 s) if running, then asks the supervisor to
//                       start it again (a request file in <data_dir>/control) and waits for PING
//   isolate NODE        cuts the node's peer links (iptables on loopback; root only), clients
//                       still reach it; heal [NODE] restores them (every node when none named)
//
// Only the supervisor starts node processes, so every node stays its child whichever terminal
// asked. A pid is acted on only after /proc/<pid>/cmdline shows it runs that node's config, so a
// recycled pid is never signalled.
//
// Isolation: a node's messages travel on the connections it dials (to other nodes' peer ports);
// it receives on the connections others dial to its peer port. The supervisor runs node i with
// its own group id (kIsolationGidBase + its peer port), so three OUTPUT rules on `lo` cut both
// directions: anything to or from its peer port, and anything its group sends to another peer
// port. Every rule carries the comment "rkv-cluster:<base_port>:<node>"; `cluster up` removes its
// cluster's leftovers at start and all of them at exit.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/cluster.h"

namespace CLI {
class App;
}

namespace rkv {

inline constexpr gid_t kIsolationGidBase = 100000;
inline constexpr const char* kStateFileName = "cluster.json";

// One node as the state file records it.
struct NodeRecord {
  std::string id;  // "n1"
  pid_t pid = 0;   // 0: not running
  uint16_t port = 0, admin_port = 0, peer_port = 0;
  gid_t gid = 0;  // 0: runs with the supervisor's group (isolate unavailable)
  std::string config, log;
  std::string exit;  // how the last process ended ("killed by signal 9"), "" if never
  std::vector<std::string> extra_args;  // after `serve --config FILE` (not in the state file)
};

struct ClusterState {
  pid_t supervisor = 0;
  uint16_t base_port = 0;
  std::string data_dir;
  std::vector<NodeRecord> nodes;
};

std::string state_path(const std::string& data_dir);
// Writes atomically; false (and a message on stderr) when it cannot.
bool write_state(const ClusterState& s);
// nullopt (and why on stderr) when there is no readable state file or its supervisor is gone.
std::optional<ClusterState> read_state(const std::string& data_dir);

// Node i of the cluster `write_cluster_configs(o)` describes: its id, ports and absolute config
// path, its log in `log_dir`; own_gid: its own group id (needs root; partitions match on it).
NodeRecord node_record(const ClusterOptions& o, int i, bool own_gid, const std::string& log_dir);

// Starts `replikv serve --config n.config` as a child, its output appended to n.log, with group
// id n.gid when set (the isolation rules match on it). die_with_parent: SIGKILL it when the
// calling thread's process dies (the lab). Sets n.pid and clears n.exit; returns the pid, or 0.
pid_t spawn_node(const std::string& self_exe, NodeRecord& n, bool die_with_parent);

// Runs argv (PATH lookup), waits; returns its exit code, -1 if it could not run. Its stdout is
// appended to `out` when given; stderr is discarded.
int run_command(const std::vector<std::string>& argv, std::string* out = nullptr);

// Inserts `iptables -I OUTPUT -o lo -p tcp MATCH... -m comment --comment TAG -j DROP`; false
// when iptables refused.
bool add_drop_rule(const std::vector<std::string>& match, const std::string& tag);

// The pid of the live supervisor of `data_dir`'s cluster, or 0 (quietly) when there is none.
pid_t running_supervisor(const std::string& data_dir);

// The iptables comment tagging every isolation rule of one cluster ("rkv-cluster:7379:") and of
// one node ("rkv-cluster:7379:n2").
std::string firewall_tag(uint16_t base_port, const std::string& node = "");
// Deletes every OUTPUT rule whose comment starts with `tag`; returns how many.
int remove_firewall_rules(const std::string& tag);

// The control subcommands of `cluster`, parsed from the command line.
class ClusterControl {
 public:
  virtual ~ClusterControl() = default;
  virtual bool selected() const = 0;
  virtual int run() = 0;
};
std::unique_ptr<ClusterControl> add_cluster_control_commands(CLI::App& cluster);

}  // namespace rkv
