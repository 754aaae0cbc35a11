#include "sim/workload.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <set>

namespace rkv::sim {
namespace {

using check::OpStatus;
using check::OpType;

TEST(Workload, ErrorsThatProveNothingRanAreFail) {
  EXPECT_EQ(Workload::classify_error("TRYAGAIN no leader"), OpStatus::kFail);
  EXPECT_EQ(Workload::classify_error("MOVED 0 127.0.0.1:7002"), OpStatus::kFail);
  EXPECT_EQ(Workload::classify_error("ERR syntax error"), OpStatus::kFail);
  EXPECT_EQ(Workload::classify_error("ERR value is not an integer or out of range"),
            OpStatus::kFail);
  EXPECT_EQ(Workload::classify_error("TIMEOUT commit not confirmed"), OpStatus::kInfo);
  EXPECT_EQ(Workload::classify_error("ERR something new"), OpStatus::kInfo);
}

TEST(Workload, SplitMembers) {
  EXPECT_EQ(split_words("SADD k e2"), (std::vector<std::string>{"SADD", "k", "e2"}));
  EXPECT_EQ(split_words(""), std::vector<std::string>{});
  EXPECT_EQ(split_words(" e3  e4"), (std::vector<std::string>{"e3", "e4"}));
}

TEST(Workload, RepliesBecomeOutcomes) {
  FaultMix mix;
  Workload w(
      WorkloadKind::kRegisters, mix, 1,
      {SimKeyspace{"accounts", check::mode_promise(CommitMode::kQuorum, ReadMode::kLinearizable), 1,
                   std::nullopt}});
  ClientOp cas;
  cas.op.type = OpType::kCas;
  Reply nil;
  nil.kind = Reply::kNull;
  w.complete(cas, nil);
  EXPECT_EQ(cas.op.status, OpStatus::kFail);  // comparison failed: nothing written

  ClientOp incr;
  incr.op.type = OpType::kIncr;
  Reply n;
  n.kind = Reply::kInteger;
  n.integer = 5;
  w.complete(incr, n);
  EXPECT_EQ(incr.op.status, OpStatus::kOk);
  EXPECT_EQ(incr.op.value, "5");

  ClientOp get;
  get.op.type = OpType::kGet;
  w.complete(get, nil);
  EXPECT_EQ(get.op.status, OpStatus::kOk);
  EXPECT_FALSE(get.op.value.has_value());

  ClientOp smembers;
  smembers.op.type = OpType::kSmembers;
  Reply members;
  members.kind = Reply::kArray;
  members.elements.resize(2);
  members.elements[0].kind = members.elements[1].kind = Reply::kBulk;
  members.elements[0].text = "e1";
  members.elements[1].text = "e9";
  w.complete(smembers, members);
  EXPECT_EQ(smembers.op.members, (std::vector<std::string>{"e1", "e9"}));
}

std::vector<SimKeyspace> every_mode_keyspaces() {
  std::vector<SimKeyspace> out;
  for (const check::ModePromise& m : check::every_mode())
    out.push_back(
        {fmt::format("{}-{}", to_string(m.commit), to_string(m.read)), m, 1, std::nullopt});
  return out;
}

TEST(Workload, DrawsAreDeterministicAndOnTheirKeyspacesKeys) {
  FaultMix mix;
  Workload a(WorkloadKind::kAll, mix, 2, every_mode_keyspaces()),
      b(WorkloadKind::kAll, mix, 2, every_mode_keyspaces());
  Random ra(5), rb(5);
  std::set<int> used;
  std::set<std::string> commands;
  for (int i = 0; i < 500; ++i) {
    ClientOp x = a.next(i % 2, ra), y = b.next(i % 2, rb);
    EXPECT_EQ(x.args, y.args);
    const SimKeyspace& ks = a.keyspaces()[static_cast<size_t>(x.keyspace)];
    EXPECT_EQ(x.op.key.rfind(ks.name + ":", 0), 0u);
    used.insert(x.keyspace);
    commands.insert(x.args[0]);
  }
  EXPECT_EQ(used.size(), a.keyspaces().size());
  // Collections are drawn too: sets, and counters kept in hash fields.
  for (const char* c : {"SADD", "SMEMBERS", "INCRBY", "HINCRBY", "HGET", "GET"})
    EXPECT_TRUE(commands.count(c)) << c;
}

// Each keyspace gets the workload its promise is checked on.
TEST(Workload, FamiliesFollowEachModesPromise) {
  FaultMix mix;
  Workload w(WorkloadKind::kAll, mix, 2, every_mode_keyspaces());
  Random rng(9);
  for (int i = 0; i < 2000; ++i) {
    ClientOp c = w.next(i % 2, rng);
    const check::ModePromise& m = w.keyspaces()[static_cast<size_t>(c.keyspace)].mode;
    if (m.writes == check::Promise::kAckedOrListedLost) {
      EXPECT_EQ(c.family, Family::kSet);
    } else if (m.reads == check::Promise::kBoundedStaleness) {
      EXPECT_EQ(c.family, Family::kRegister);
      EXPECT_TRUE(c.op.type == OpType::kGet || c.op.type == OpType::kSet);
    }
    EXPECT_EQ(Workload::family_of(c.op.key), c.family);
  }
  for (const ClientOp& c : w.final_reads()) {
    EXPECT_TRUE(c.final_read);
    EXPECT_EQ(c.read_mode, ReadMode::kLinearizable);
  }
}

// Counters of even index run in transactions with a twin; a reply showing the twin different
// (a transaction seen in part) is a violation, and the first reply is the op's outcome.
TEST(Workload, TransactionSeenInPartIsAViolation) {
  FaultMix mix;
  mix.counter_keys = 2;
  Workload w(
      WorkloadKind::kCounter, mix, 1,
      {SimKeyspace{"accounts", check::mode_promise(CommitMode::kQuorum, ReadMode::kLinearizable), 1,
                   std::nullopt}});
  Random rng(3);
  ClientOp txn, plain;
  for (int i = 0; i < 100 && (txn.transaction.empty() || plain.args.empty()); ++i) {
    ClientOp c = w.next(0, rng);
    if (c.op.type != OpType::kIncr) continue;
    (c.transaction.empty() ? plain : txn) = c;
  }
  ASSERT_EQ(txn.transaction.size(), 2u);
  EXPECT_EQ(txn.transaction[0], txn.args);
  EXPECT_EQ(txn.transaction[1][1], txn.op.key + "t");
  auto integers = [](std::vector<int64_t> v) {
    Reply r;
    r.kind = Reply::kArray;
    for (int64_t x : v) {
      Reply e;
      e.kind = Reply::kInteger;
      e.integer = x;
      r.elements.push_back(e);
    }
    return r;
  };
  w.complete(txn, integers({5, 5}));
  EXPECT_EQ(txn.op.status, OpStatus::kOk);
  EXPECT_EQ(txn.op.value, "5");
  EXPECT_EQ(w.take_violation(), std::nullopt);
  w.complete(txn, integers({5, 4}));
  EXPECT_NE(w.take_violation(), std::nullopt);
  w.complete(txn, integers({5}));
  EXPECT_NE(w.take_violation(), std::nullopt);
  EXPECT_EQ(w.take_violation(), std::nullopt);  // reported once
}

}  // namespace
}  // namespace rkv::sim
