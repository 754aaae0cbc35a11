// Long simulator runs (ctest label "slow"): a wall-clock-bounded random sweep, and for each
// deliberately broken Raft variant, proof that the simulator catches it within a bounded number
// of seeds while the correct build passes those same seeds.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

#include "node/leaderless_engine.h"
#include "node/multileader_engine.h"
#include "raft/raft.h"
#include "sim/sim_test_util.h"
#include "sim/sweep.h"

namespace rkv::sim {
namespace {

constexpr uint64_t kBugSeedBudget = 200;

double env_double(const char* name, double fallback) {
  const char* v = std::getenv(name);
  return v ? std::atof(v) : fallback;
}

TEST(SimulatorSlow, TimeBoundedRandomSweepPasses) {
  RKV_SKIP_WITHOUT_RAFT();
  SweepOptions so;
  so.base = test_options(0, FaultLevel::kHigh, kNodeFindings);
  // A fresh range per day keeps the sweep exploring; RKV_SIM_FIRST_SEED pins it.
  const auto day = std::chrono::duration_cast<std::chrono::hours>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count() /
                   24;
  so.first = static_cast<uint64_t>(env_double("RKV_SIM_FIRST_SEED", 100'000.0 * (day % 1000)));
  so.last = so.first + 1'000'000;
  so.max_wall_seconds = env_double("RKV_SIM_SWEEP_SECONDS", 60);
  std::ostringstream out;
  SweepResult r = run_sweep(so, out);
  std::cout << out.str();
  EXPECT_TRUE(r.ok()) << out.str();
  EXPECT_GT(r.runs, 0u);
}

// Finds the first seed that catches `bug` (with a failure that mentions `by`, when given: the
// checker meant to catch it), then checks that the correct system passes every seed up to it.
void expect_caught(uint32_t bug, SimOptions o, uint64_t budget = kBugSeedBudget,
                   std::string_view by = {}) {
  RKV_SKIP_WITHOUT_RAFT();
  o.raft_bugs = bug;
  SimResult failed;
  std::optional<uint64_t> seed;
  for (uint64_t first = 1; first <= budget; first = *seed + 1) {
    seed = first_failing_seed(o, first, budget + 1 - first, &failed);
    if (!seed || failed.failure.find(by) != std::string::npos) break;
  }
  ASSERT_TRUE(seed.has_value()) << bug_name(bug) << " was not caught in " << budget << " seeds"
                                << (by.empty() ? "" : " by ") << by;
  std::cout << bug_name(bug) << " caught by seed " << *seed << ":\n" << failed.failure << "\n";
  o.raft_bugs = 0;
  const auto unbroken = first_failing_seed(o, 1, *seed);
  EXPECT_FALSE(unbroken.has_value()) << "the correct system fails seed " << *unbroken;
}

TEST(SimulatorSlow, CatchesVoteNotPersisted) {
  // A lost vote only bites when a second candidate of the same term asks the restarted voter:
  // rarer than the other bugs, so each seed runs longer, and more seeds may be needed.
  SimOptions o = test_options(0, FaultLevel::kHigh, kNodeFindings);
  o.ops = 3000;
  expect_caught(raft::kBugVoteNotPersisted, o, 5 * kBugSeedBudget);
}

TEST(SimulatorSlow, CatchesCommitCountsUnpersisted) {
  expect_caught(raft::kBugCommitCountsUnpersisted,
                test_options(0, FaultLevel::kHigh, kNodeFindings));
}

TEST(SimulatorSlow, CatchesIgnoreLogUpToDate) {
  expect_caught(raft::kBugIgnoreLogUpToDate, test_options(0, FaultLevel::kHigh, kNodeFindings));
}

TEST(SimulatorSlow, CatchesReadIndexNoQuorumCheck) {
  SimOptions o = test_options(0, FaultLevel::kHigh, kNodeFindings);
  o.workload = WorkloadKind::kRegisters;
  expect_caught(raft::kBugReadIndexNoQuorumCheck, o);
}

// The broken variants of the time-based and lost-write promises (issue: a paused leader's
// stale lease reads, a snapshot install that forgot lost writes). Each is caught by the checker
// of the mode whose promise it breaks; the runs are the default ones (2000 ops, medium faults),
// where pauses, focus keyspaces and lagging followers are drawn per seed.
TEST(SimulatorSlow, CatchesLeaseIgnoresPause) {
  // Follower reads served on the deposed leader also show it; the lease keyspace's own
  // linearizability checker must catch it too. Registers only: the bug shows in register
  // reads, and with the full mix (sets and counters, in transactions too) it takes more seeds
  // than the budget to meet a read of the lease keyspace at the deposed leader.
  // Rare per seed: since images are written beside the batches (which changed every seed's
  // draws) the first seed caught by this checker is 814 (before: 53).
  SimOptions o;
  o.workload = WorkloadKind::kRegisters;
  expect_caught(raft::kBugLeaseIgnoresPause, o, 5 * kBugSeedBudget,
                "read=lease: reads linearizable");
}

TEST(SimulatorSlow, CatchesStalenessIgnoresPause) {
  SimOptions o;
  expect_caught(raft::kBugStalenessIgnoresPause, o, 3 * kBugSeedBudget, "bounded staleness");
}

TEST(SimulatorSlow, CatchesSnapshotForgetsLost) {
  SimOptions o;
  expect_caught(raft::kBugSnapshotForgetsLost, o, 3 * kBugSeedBudget, "acknowledged-or-listed");
}

// Leaderless and multi-leader broken variants: the first seed (of `budget`, options from
// `make`) whose run with `bug` fails by a message containing `by`, and that the correct engine
// passes.
void expect_engine_caught(SimOptions (*make)(uint64_t), uint32_t bug, std::string_view by,
                          uint64_t budget, const char* conflict = "") {
  for (uint64_t seed = 1; seed <= budget; ++seed) {
    SimOptions o = make(seed);
    if (*conflict) o.conflict = conflict;
    o.raft_bugs = bug;
    SimResult broken = run_simulation(o);
    if (broken.ok || broken.failure.find(by) == std::string::npos) continue;
    o.raft_bugs = 0;
    SimResult correct = run_simulation(o);
    EXPECT_TRUE(correct.ok) << "the correct engine fails seed " << seed << ":\n" << correct.failure;
    std::cout << bug_name(bug) << " caught at seed " << seed << ": "
              << broken.failure.substr(0, broken.failure.find('\n')) << "\n";
    return;
  }
  ADD_FAILURE() << bug_name(bug) << " was not caught by \"" << by << "\" in " << budget << " seeds";
}

void expect_leaderless_caught(uint32_t bug, std::string_view by, uint64_t budget = kBugSeedBudget) {
  expect_engine_caught([](uint64_t s) { return leaderless_test_options(s); }, bug, by, budget);
}

// Rare: a stale repair is indistinguishable from read_repair = "off" except after a blocking
// repair read (first caught at seed 306 of the default draw).
TEST(SimulatorSlow, CatchesLeaderlessRepairWritesOlder) {
  expect_leaderless_caught(kBugRepairWritesOlder, "after a read with blocking repair",
                           4 * kBugSeedBudget);
}
TEST(SimulatorSlow, CatchesLeaderlessHintDropped) {
  expect_leaderless_caught(kBugHintDropped, "hint ownership");
}
TEST(SimulatorSlow, CatchesLeaderlessTimeoutCountsAsAck) {
  expect_leaderless_caught(kBugTimeoutCountsAsAck, "write quorum");
}
TEST(SimulatorSlow, CatchesLeaderlessTombstoneForgotten) {
  expect_leaderless_caught(kBugTombstoneForgotten, "DEL");
}

TEST(SimulatorSlow, LeaderlessSweepPasses) {
  SweepOptions so;
  so.base = leaderless_test_options(0);
  so.first = 1;
  so.last = 1'000'000;
  so.max_wall_seconds = env_double("RKV_SIM_SWEEP_SECONDS", 60);
  std::ostringstream out;
  SweepResult r = run_sweep(so, out);
  std::cout << out.str();
  EXPECT_TRUE(r.ok()) << out.str();
}

void expect_multileader_caught(uint32_t bug, std::string_view by, const char* conflict = "lww") {
  expect_engine_caught(multileader_test_options, bug, by, kBugSeedBudget, conflict);
}

TEST(SimulatorSlow, CatchesMultiLeaderCursorSkips) {
  expect_multileader_caught(kBugCursorSkips, "no silent loss");
}
TEST(SimulatorSlow, CatchesMultiLeaderLwwKeepsLocal) {
  expect_multileader_caught(kBugLwwKeepsLocal, "convergence");
}
TEST(SimulatorSlow, CatchesMultiLeaderTombstoneEarly) {
  expect_multileader_caught(kBugTombstoneEarly, "convergence");
}

TEST(SimulatorSlow, CatchesMultiLeaderSiblingsDropsConcurrent) {
  expect_multileader_caught(kBugSiblingsDropConcurrent, "no silent loss (siblings)", "siblings");
}

TEST(SimulatorSlow, CatchesMultiLeaderCrdtRemoveWins) {
  expect_multileader_caught(kBugCrdtRemoveWins, "convergence", "crdt");
}

TEST(SimulatorSlow, CatchesMultiLeaderCrdtCounterMax) {
  expect_multileader_caught(kBugCrdtCounterMax, "counter:", "crdt");
}

// Every conflict mode a user can configure, each for a third of the time.
TEST(SimulatorSlow, MultiLeaderSweepPasses) {
  for (const char* conflict : {"lww", "crdt", "siblings"}) {
    SweepOptions so;
    so.base = multileader_test_options(0);
    so.base.conflict = conflict;
    so.first = 1;
    so.last = 1'000'000;
    so.max_wall_seconds = env_double("RKV_SIM_SWEEP_SECONDS", 60) / 3;
    so.check_determinism = true;
    std::ostringstream out;
    SweepResult r = run_sweep(so, out);
    std::cout << conflict << ": " << out.str();
    EXPECT_TRUE(r.ok()) << conflict << ": " << out.str();
  }
}

}  // namespace
}  // namespace rkv::sim
