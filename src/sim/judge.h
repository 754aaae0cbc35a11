// Judging a run's client history, keyspace by keyspace, with the checkers each keyspace's mode
// promises (check/promises.h). Shared by the simulator and the fault lab (`replikv lab`), so a
// simulated run and a real-process run of the same keyspaces are held to the same promises.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "check/check_result.h"
#include "check/set_checker.h"
#include "check/staleness_checker.h"
#include "sim/workload.h"

namespace rkv::sim {

struct JudgeInputs {
  // On keyspaces that promise only acknowledged-or-listed writes (commit async), SMEMBERS
  // invoked before this time (the start of the final reads, in the history's microseconds) are
  // not judged: only what the cluster kept is promised.
  int64_t final_reads_us = std::numeric_limits<int64_t>::max();
  // Follower reads' allowance beyond what the replicas reported (bounded-staleness keyspaces).
  check::StalenessBounds staleness;
  // The set elements the nodes list as lost (LOSTWRITES) for a keyspace; unset: none.
  std::function<std::set<check::LostElement>(const std::string& keyspace)> listed_lost;
  // Asked before each keyspace; false stops judging (the simulator stops at its first failure).
  std::function<bool()> keep_going;
};

// Calls `judge(what, result)` once per check run, in keyspace order: `what` names the keyspace,
// its promise and the checker ("keyspace accounts (commit=quorum ...): linearizability
// (registers)"). Every op's key must start with the name of one of `keyspaces` and ':'.
// Leaderless and multi-leader keys are skipped (their checkers judge replica state).
void judge_history(const std::vector<SimKeyspace>& keyspaces, const std::vector<check::Op>& history,
                   const JudgeInputs& in,
                   const std::function<void(const std::string&, const check::CheckResult&)>& judge);

}  // namespace rkv::sim
