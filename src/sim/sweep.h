// Running many seeds: sweeps over a seed range with an optional wall-clock bound, the
// determinism check (each seed twice, same trace hash), and the per-run summary lines that
// `replikv sim` prints.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "sim/options.h"
#include "sim/simulator.h"

namespace rkv::sim {

struct SweepOptions {
  SimOptions base;                 // base.seed is ignored; seeds come from [first, last]
  uint64_t first = 1, last = 1;    // inclusive
  double max_wall_seconds = 0;     // stop starting new seeds after this long; 0 = no bound
  bool check_determinism = false;  // run every seed twice and compare trace hashes
  std::string history_path;  // single seed: the history; sweeps: failing seeds' as PATH.<seed>
  bool verbose = false;      // print drawn parameters and every fault of every run
};

struct SweepResult {
  uint64_t runs = 0;
  std::vector<uint64_t> failing_seeds;
  uint64_t events = 0;
  int64_t ops = 0;
  int64_t sim_us = 0;
  double wall_seconds = 0;   // time spent inside runs (sum)
  bool raft_active = false;  // some run had Raft groups to check

  bool ok() const { return failing_seeds.empty(); }
};

// One line: "seed 7 ok: 2000 ops (1712 ok, 201 fail, 87 info), 31.2 s simulated, ...".
std::string summary_line(const SimOptions& o, const SimResult& r);

SweepResult run_sweep(const SweepOptions& options, std::ostream& out);

}  // namespace rkv::sim
