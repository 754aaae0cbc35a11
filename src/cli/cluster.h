// `replikv cluster up`: runs a local cluster of N nodes on loopback, one process each, and
// supervises them until Ctrl-C: a node that dies is reported and the others keep running; the
// control commands of cluster_control.h kill, pause, restart or isolate a node from another
// terminal. `replikv status`: prints every node's replication state.
#pragma once

#include <cstdint>
#include <string>

namespace rkv {

struct ClusterOptions {
  int nodes = 3;
  uint16_t base_port = 7379;  // node i: client port base+i, admin base+1000+i, peer base+10000+i
  std::string data_dir = "./data/cluster";
  std::string fsync = "batch";
};

// Writes one config file per node into data_dir (node-N.toml) and returns 0, or prints why not.
int write_cluster_configs(const ClusterOptions& opts);
// Starts every node, writes <data_dir>/cluster.json (cluster_control.h) and supervises until
// SIGINT/SIGTERM/SIGHUP; then stops every node, removes the cluster's isolation rules and the
// state file. Returns 0, or non-zero when it could not start (bad options, already running).
// Nodes die with the supervisor (PR_SET_PDEATHSIG) if it is killed outright; its isolation rules
// are then removed by the next `cluster up` on the same base port.
int run_cluster_up(const ClusterOptions& opts, const std::string& self_exe);
// Queries each node's admin /status (ports from base_port as above) and prints a table.
int run_status(int nodes, uint16_t base_port);

}  // namespace rkv
