// `replikv cluster up`: runs a local cluster of N nodes on loopback, one process each, and
// stops them on Ctrl-C. `replikv status`: prints every node's replication state.
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
int run_cluster_up(const ClusterOptions& opts, const std::string& self_exe);
// Queries each node's admin /status (ports from base_port as above) and prints a table.
int run_status(int nodes, uint16_t base_port);

}  // namespace rkv
