#include "sim/options.h"

#include <fmt/format.h>

#include "node/leaderless_engine.h"
#include "node/multileader_engine.h"
#include "raft/raft.h"

namespace rkv::sim {

const char* to_string(WorkloadKind w) {
  switch (w) {
    case WorkloadKind::kRegisters:
      return "registers";
    case WorkloadKind::kSet:
      return "set";
    case WorkloadKind::kCounter:
      return "counter";
    case WorkloadKind::kAll:
      return "all";
  }
  return "?";
}

const char* to_string(FaultLevel f) {
  switch (f) {
    case FaultLevel::kNone:
      return "none";
    case FaultLevel::kLow:
      return "low";
    case FaultLevel::kMedium:
      return "medium";
    case FaultLevel::kHigh:
      return "high";
  }
  return "?";
}

std::optional<WorkloadKind> parse_workload(std::string_view s) {
  for (auto w :
       {WorkloadKind::kRegisters, WorkloadKind::kSet, WorkloadKind::kCounter, WorkloadKind::kAll}) {
    if (s == to_string(w)) return w;
  }
  return std::nullopt;
}

std::optional<FaultLevel> parse_fault_level(std::string_view s) {
  for (auto f : {FaultLevel::kNone, FaultLevel::kLow, FaultLevel::kMedium, FaultLevel::kHigh}) {
    if (s == to_string(f)) return f;
  }
  return std::nullopt;
}

namespace {
struct BugName {
  uint32_t bug;
  const char* name;
};
constexpr BugName kBugNames[] = {
    {raft::kBugVoteNotPersisted, "vote-not-persisted"},
    {raft::kBugCommitCountsUnpersisted, "commit-unpersisted"},
    {raft::kBugIgnoreLogUpToDate, "ignore-log-up-to-date"},
    {raft::kBugReadIndexNoQuorumCheck, "read-index-no-quorum"},
    {raft::kBugLeaseIgnoresPause, "lease-ignores-pause"},
    {raft::kBugStalenessIgnoresPause, "staleness-ignores-pause"},
    {raft::kBugSnapshotForgetsLost, "snapshot-forgets-lost"},
    {kBugRepairWritesOlder, "repair-writes-older"},
    {kBugHintDropped, "hint-dropped"},
    {kBugTimeoutCountsAsAck, "timeout-counts-as-ack"},
    {kBugTombstoneForgotten, "tombstone-forgotten"},
    {kBugCursorSkips, "cursor-skips"},
    {kBugLwwKeepsLocal, "lww-keeps-local"},
    {kBugTombstoneEarly, "tombstone-early"},
    {kBugSiblingsDropConcurrent, "siblings-drops-concurrent"},
    {kBugCrdtRemoveWins, "crdt-remove-wins"},
    {kBugCrdtCounterMax, "crdt-counter-max"},
};
}  // namespace

std::optional<uint32_t> parse_bug(std::string_view s) {
  if (s == "none") return 0u;
  for (const auto& b : kBugNames) {
    if (s == b.name) return b.bug;
  }
  return std::nullopt;
}

const char* bug_name(uint32_t bug) {
  for (const auto& b : kBugNames) {
    if (bug == b.bug) return b.name;
  }
  return "";
}

FaultMix FaultMix::draw(FaultLevel level, int nodes, Random& rng) {
  FaultMix m;
  // Every seed gets its own network and disk speeds, faults or not.
  m.delay_min_us = static_cast<int64_t>(rng.range(50, 500));
  m.delay_max_us = m.delay_min_us + static_cast<int64_t>(rng.range(200, 5'000));
  m.disk_min_us = static_cast<int64_t>(rng.range(20, 500));
  m.disk_max_us = m.disk_min_us + static_cast<int64_t>(rng.range(100, 4'000));
  m.register_keys = static_cast<int>(rng.range(2, 12));
  m.set_keys = static_cast<int>(rng.range(1, 3));
  m.counter_keys = static_cast<int>(rng.range(1, 3));
  m.think_max_us = static_cast<int64_t>(rng.range(0, 5'000));
  if (level == FaultLevel::kNone) return m;

  const double s = level == FaultLevel::kLow ? 0.3 : level == FaultLevel::kMedium ? 1.0 : 2.5;
  // Each fault family is switched on or off per seed, then given a random strength.
  auto on = [&](double p) { return rng.chance(std::min(1.0, p * (0.6 + 0.4 * s))); };
  if (on(0.5)) m.loss = rng.unit() * 0.05 * s;
  if (on(0.4)) m.duplicate = rng.unit() * 0.05 * s;
  if (on(0.5)) m.reorder = rng.unit() * 0.2 * s;
  if (on(0.3)) {
    m.tail_p = rng.unit() * 0.02 * s;
    m.tail_max_us = static_cast<int64_t>(rng.range(10'000, 1'000'000));
  }
  m.torn_p = on(0.5) ? rng.unit() : 0;
  m.fault_interval_ms = static_cast<int64_t>(rng.range(100, 3'000) / s);
  m.w_partition = on(0.8) ? rng.unit() : 0;
  m.w_crash = on(0.7) ? rng.unit() : 0;
  m.w_pause = on(0.5) ? rng.unit() : 0;
  m.w_clock = on(0.4) ? rng.unit() * 0.5 : 0;
  bool any_shape = false;
  for (int i = 0; i < kShapeCount; ++i) {
    m.shapes[static_cast<size_t>(i)] = rng.chance(0.6);
    any_shape |= m.shapes[static_cast<size_t>(i)];
  }
  if (!any_shape) m.shapes[rng.uniform(kShapeCount)] = true;
  m.partition_max_ms = static_cast<int64_t>(rng.range(200, 5'000));
  m.down_max_ms = static_cast<int64_t>(rng.range(100, 5'000));
  m.pause_max_ms = static_cast<int64_t>(rng.range(50, 3'000));
  m.max_down = static_cast<int>(rng.range(1, static_cast<uint64_t>(nodes)));
  m.drift_ppm_max = on(0.6) ? static_cast<int64_t>(rng.range(0, 200'000)) : 0;
  m.offset_max_ms = static_cast<int64_t>(rng.range(0, 100'000));
  m.jump_max_ms = m.w_clock > 0 ? static_cast<int64_t>(rng.range(10, 3'000)) : 0;
  m.vote_crash_p = on(0.4) ? rng.unit() * 0.5 : 0;
  return m;
}

namespace {
struct FamilyName {
  uint32_t bit;
  std::string_view name;
};
constexpr FamilyName kFamilies[] = {
    {kFamilyLoss, "loss"}, {kFamilyDuplicate, "dup"},       {kFamilyReorder, "reorder"},
    {kFamilyTail, "tail"}, {kFamilyPartition, "partition"}, {kFamilyCrash, "crash"},
    {kFamilyTorn, "torn"}, {kFamilyPause, "pause"},         {kFamilyClock, "clock"},
    {kFamilyDisk, "disk"},
};
}  // namespace

std::optional<uint32_t> parse_families(std::string_view list) {
  uint32_t mask = 0;
  while (!list.empty()) {
    const size_t comma = list.find(',');
    const std::string_view name = list.substr(0, comma);
    bool found = false;
    for (const auto& f : kFamilies) {
      if (f.name == name) {
        mask |= f.bit;
        found = true;
      }
    }
    if (!found) return std::nullopt;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return mask;
}

std::string families_text(uint32_t mask) {
  std::string s;
  for (const auto& f : kFamilies) {
    if (!(mask & f.bit)) continue;
    if (!s.empty()) s += ",";
    s += f.name;
  }
  return s;
}

void FaultMix::disable(uint32_t mask) {
  if (mask & kFamilyLoss) loss = 0;
  if (mask & kFamilyDuplicate) duplicate = 0;
  if (mask & kFamilyReorder) reorder = 0;
  if (mask & kFamilyTail) tail_p = 0;
  if (mask & kFamilyPartition) w_partition = 0;
  if (mask & kFamilyCrash) w_crash = vote_crash_p = 0;
  if (mask & kFamilyTorn) torn_p = 0;
  if (mask & kFamilyPause) w_pause = 0;
  if (mask & kFamilyClock) {
    w_clock = 0;
    drift_ppm_max = offset_max_ms = jump_max_ms = 0;
  }
}

std::string FaultMix::describe() const {
  std::string shapes_text;
  for (int i = 0; i < kShapeCount; ++i) {
    if (!shapes[static_cast<size_t>(i)]) continue;
    if (!shapes_text.empty()) shapes_text += ",";
    shapes_text += shape_name(static_cast<PartitionShape>(i));
  }
  return fmt::format(
      "  network: delay {}..{} us, tail p={:.4f} up to {} us, loss={:.4f} dup={:.4f} "
      "reorder={:.4f}\n"
      "  disk: latency {}..{} us, torn write on crash p={:.3f}\n"
      "  nemesis: every ~{} ms, weights partition={:.2f} crash={:.2f} pause={:.2f} clock={:.2f}\n"
      "  partitions: shapes [{}], last up to {} ms; crash: down up to {} ms, at most {} down; "
      "pause up to {} ms; crash after a vote p={:.3f}\n"
      "  clocks: drift up to +-{} ppm, offset up to {} ms, jumps up to {} ms\n"
      "  workload: {} register keys, {} set keys, {} counter keys, think up to {} us",
      delay_min_us, delay_max_us, tail_p, tail_max_us, loss, duplicate, reorder, disk_min_us,
      disk_max_us, torn_p, fault_interval_ms, w_partition, w_crash, w_pause, w_clock, shapes_text,
      partition_max_ms, down_max_ms, max_down, pause_max_ms, vote_crash_p, drift_ppm_max,
      offset_max_ms, jump_max_ms, register_keys, set_keys, counter_keys, think_max_us);
}

std::string reproduce_command(const SimOptions& o) {
  const SimOptions d;
  std::string s = fmt::format("replikv sim --model {} --seed {}", to_string(o.model), o.seed);
  if (o.nodes != d.nodes) s += fmt::format(" --nodes {}", o.nodes);
  if (o.clients != d.clients) s += fmt::format(" --clients {}", o.clients);
  if (o.ops != d.ops) s += fmt::format(" --ops {}", o.ops);
  if (o.faults != d.faults) s += fmt::format(" --faults {}", to_string(o.faults));
  if (o.workload != d.workload) s += fmt::format(" --workload {}", to_string(o.workload));
  if (o.raft_bugs != 0) s += fmt::format(" --bug {}", bug_name(o.raft_bugs));
  if (o.disabled != 0) s += fmt::format(" --disable {}", families_text(o.disabled));
  if (o.check_every != d.check_every) s += fmt::format(" --check-every {}", o.check_every);
  if (o.op_timeout_ms != d.op_timeout_ms) s += fmt::format(" --op-timeout-ms {}", o.op_timeout_ms);
  if (o.conflict != d.conflict) s += fmt::format(" --conflict {}", o.conflict);
  if (o.max_clock_skew_ms != d.max_clock_skew_ms) {
    s += fmt::format(" --max-clock-skew-ms {}", o.max_clock_skew_ms);
  }
  if (o.regions != d.regions) s += fmt::format(" --regions {}", o.regions);
  if (o.state_chunk_bytes != d.state_chunk_bytes) {
    s += fmt::format(" --state-chunk-bytes {}", o.state_chunk_bytes);
  }
  return s;
}

}  // namespace rkv::sim
