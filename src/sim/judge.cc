#include "sim/judge.h"

#include <fmt/format.h>

#include <map>
#include <string_view>

#include "check/counter_checker.h"
#include "check/linearizability.h"
#include "check/promises.h"
#include "core/assert.h"

namespace rkv::sim {

void judge_history(
    const std::vector<SimKeyspace>& keyspaces, const std::vector<check::Op>& history,
    const JudgeInputs& in,
    const std::function<void(const std::string&, const check::CheckResult&)>& judge) {
  // Each keyspace's history, split by key family (the key's prefix names its keyspace).
  struct Split {
    std::vector<check::Op> registers, sets, counters;
  };
  std::vector<Split> split(keyspaces.size());
  std::map<std::string, size_t, std::less<>> by_name;
  for (size_t k = 0; k < keyspaces.size(); ++k)
    by_name[keyspaces[k].name] = k;
  for (const auto& op : history) {
    auto it = by_name.find(std::string_view(op.key).substr(0, op.key.find(':')));
    RKV_ASSERT(it != by_name.end());
    Split& sp = split[it->second];
    switch (Workload::family_of(op.key)) {
      case Family::kRegister:
        sp.registers.push_back(op);
        break;
      case Family::kSet:
        sp.sets.push_back(op);
        break;
      case Family::kCounter:
        sp.counters.push_back(op);
        break;
      case Family::kLeaderless:
      case Family::kMultiLeader:
        break;  // check_leaderless_history, check_multileader
    }
  }
  for (size_t k = 0; k < keyspaces.size() && (!in.keep_going || in.keep_going()); ++k) {
    const SimKeyspace& ks = keyspaces[k];
    Split& sp = split[k];
    const std::string where =
        fmt::format("keyspace {} ({})", ks.name, check::describe_mode_promise(ks.mode));
    if (ks.mode.writes == check::Promise::kAckedOrListedLost) {
      // Only what the cluster kept is promised: the adds and the final reads.
      std::erase_if(sp.sets, [&](const check::Op& op) {
        return op.type == check::OpType::kSmembers && op.invoke < in.final_reads_us;
      });
      check::SetCheckOptions opts;
      if (in.listed_lost) opts.listed_lost = in.listed_lost(ks.name);
      judge(where + ": acknowledged-or-listed (set)", check::check_set(sp.sets, opts));
      continue;
    }
    if (ks.mode.reads == check::Promise::kBoundedStaleness) {
      std::vector<check::Op> follower_reads, linear;
      for (const check::Op& op : sp.registers) {
        const bool follower_read = op.type == check::OpType::kGet && op.staleness_ms.has_value();
        (follower_read ? follower_reads : linear).push_back(op);
        if (op.type == check::OpType::kSet) follower_reads.push_back(op);
      }
      if (!follower_reads.empty()) {
        judge(where + ": bounded staleness (registers)",
              check::check_bounded_staleness(follower_reads, in.staleness));
      }
      if (!linear.empty()) {
        judge(where + ": linearizability of writes and final reads (registers)",
              check::check_linearizable(linear));
      }
      continue;
    }
    if (!sp.registers.empty()) {
      judge(where + ": linearizability (registers)", check::check_linearizable(sp.registers));
    }
    if (!sp.sets.empty()) judge(where + ": set-full (grow-only set)", check::check_set(sp.sets));
    if (!sp.counters.empty()) judge(where + ": counter", check::check_counter(sp.counters));
  }
}

}  // namespace rkv::sim
