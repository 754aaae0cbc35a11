// What a simulation run is asked to do (SimOptions, from the command line) and the fault mix a
// seed draws for itself (FaultMix, swarm testing: every seed explores a different corner).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/config.h"
#include "core/random.h"
#include "sim/partition.h"

namespace rkv::sim {

enum class WorkloadKind : unsigned char { kRegisters, kSet, kCounter, kAll };
enum class FaultLevel : unsigned char { kNone, kLow, kMedium, kHigh };

// Fault families that --disable can switch off (bisecting which fault a failure needs).
enum FaultFamily : uint32_t {
  kFamilyLoss = 1u << 0,
  kFamilyDuplicate = 1u << 1,
  kFamilyReorder = 1u << 2,
  kFamilyTail = 1u << 3,  // long-tail delays
  kFamilyPartition = 1u << 4,
  kFamilyCrash = 1u << 5,
  kFamilyTorn = 1u << 6,  // torn last write on crash
  kFamilyPause = 1u << 7,
  kFamilyClock = 1u << 8,  // drift, offsets and jumps
  kFamilyDisk = 1u << 9,   // full disks: batch and image writes refused for a while
};
// "dup,torn" -> mask; nullopt on an unknown name. Names: loss dup reorder tail partition crash
// torn pause clock disk.
std::optional<uint32_t> parse_families(std::string_view list);
std::string families_text(uint32_t mask);

const char* to_string(WorkloadKind w);
const char* to_string(FaultLevel f);
std::optional<WorkloadKind> parse_workload(std::string_view s);
std::optional<FaultLevel> parse_fault_level(std::string_view s);
// "vote-not-persisted" -> raft::kBugVoteNotPersisted, "hint-dropped" -> kBugHintDropped
// (leaderless_engine.h), "cursor-skips" -> kBugCursorSkips (multileader_engine.h), ...; nullopt
// when unknown.
std::optional<uint32_t> parse_bug(std::string_view s);
const char* bug_name(uint32_t bug);  // inverse of parse_bug for a single bug; "" for none

struct SimOptions {
  uint64_t seed = 1;
  // kPrimary: one Raft keyspace per (commit, read) mode; kLeaderless: one leaderless keyspace
  // whose n/r/w, sloppy, read_repair and conflict each seed draws; kMultiLeader: one
  // multi-leader keyspace (conflict = "lww") whose MultiLeaderSettings each seed draws.
  Model model = Model::kPrimary;
  int nodes = 3;       // 1..kMaxNodes; leaderless: 0 = each seed draws 3..7
  int clients = 5;     // simulated client processes
  int64_t ops = 2000;  // client operations issued in the safety phase
  FaultLevel faults = FaultLevel::kMedium;
  WorkloadKind workload = WorkloadKind::kAll;
  uint32_t raft_bugs = 0;  // raft::Bug flags (or leaderless, multi-leader kBug*): a broken variant
  uint32_t disabled = 0;   // FaultFamily flags switched off after the draw
  // Simulated-time bounds of the phases.
  int64_t safety_max_ms = 120'000;     // the safety phase ends here even if ops remain
  int64_t liveness_issue_ms = 2'000;   // after healing, clients keep starting ops this long
  int64_t liveness_bound_ms = 10'000;  // every op started after healing must succeed within
  // A client gives up on a reply after this long; 0: each seed draws it from 150..1000 ms
  // (short ones make clients retry on other nodes while one is paused or partitioned).
  int64_t op_timeout_ms = 0;
  // Multi-leader: the keyspace's conflict mode ("lww", "crdt", "siblings"); empty: drawn per
  // seed.
  std::string conflict;
  // Multi-leader: the keyspace's max_clock_skew_ms; 0: the configured default (500 ms).
  int64_t max_clock_skew_ms = 0;
  // Multi-leader: the keyspace's state_chunk_bytes; 0: the default (one chunk per transfer here).
  int64_t state_chunk_bytes = 0;
  // Multi-leader: regions the nodes are spread over, round-robin (sim/regions.h); links
  // between regions are WAN links. 0: each seed draws 1..3 (at most one per node). The other
  // models always run in one region (their timeouts assume LAN delays).
  int regions = 0;
  // Raft invariants are checked after every `check_every` events (1 = every event).
  int64_t check_every = 1;
  bool collect_history = true;  // keep the history (needed for the end-of-run checkers)
};

// The per-seed draw. Every field is printed at the start of a run.
struct FaultMix {
  // network
  int64_t delay_min_us = 100, delay_max_us = 2'000;  // uniform one-way delay
  double tail_p = 0;                                 // chance of a long-tail delay
  int64_t tail_max_us = 0;
  double loss = 0, duplicate = 0, reorder = 0;  // per-message probabilities
  // disks
  int64_t disk_min_us = 50, disk_max_us = 1'000;
  double torn_p = 0;  // chance that a crash tears the last unsynced write
  // nemesis: one action every ~interval (exponential), chosen by weight
  int64_t fault_interval_ms = 0;  // 0: no faults
  double w_partition = 0, w_crash = 0, w_pause = 0, w_clock = 0;
  std::array<bool, kShapeCount> shapes{};  // partition shapes this seed uses
  int64_t partition_max_ms = 0, down_max_ms = 0, pause_max_ms = 0;
  int max_down = 0;  // most nodes crashed at once
  // Fault hook at the call site: chance that a node crashes just after granting a vote (the
  // moment a lost vote record matters), then restarts quickly.
  double vote_crash_p = 0;
  // clocks
  int64_t drift_ppm_max = 0;  // each node's drift is uniform in [-max, +max] ppm
  int64_t offset_max_ms = 0;  // each node's initial offset
  int64_t jump_max_ms = 0;    // forward clock jumps up to this
  // workload shape
  int register_keys = 8, set_keys = 2, counter_keys = 2;
  int64_t think_max_us = 2'000;  // client pause between operations

  // Draws a mix for `level` from `rng` (the run's own seed stream).
  static FaultMix draw(FaultLevel level, int nodes, Random& rng);
  // Zeroes the families in `mask` (after drawing, so other parameters stay as the seed drew).
  void disable(uint32_t mask);
  std::string describe() const;
};

// "replikv sim --model primary --seed 7 --nodes 3 ..." — the options that differ from the
// defaults, so a failing run can be pasted back into a shell.
std::string reproduce_command(const SimOptions& o);

}  // namespace rkv::sim
