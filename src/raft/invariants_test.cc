#include "raft/invariants.h"

#include <gtest/gtest.h>

#include "raft/raft_test_util.h"

namespace rkv::raft {
namespace {

using testing::drain;
using testing::paper_config;

TEST(Invariants, TwoLeadersInOneTermViolateElectionSafety) {
  Random ra(1), rb(2);
  Raft a(paper_config(1, {1}), ra), b(paper_config(1, {1}), rb);  // two one-node "clusters"
  for (Raft* r : {&a, &b}) {
    while (r->role() != Role::kLeader)
      r->tick();
    drain(*r);
  }
  InvariantChecker c;
  c.set_node(1, &a);
  EXPECT_TRUE(c.check().is_ok());
  c.set_node(2, &b);
  Status s = c.check();
  EXPECT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("election safety"), std::string::npos) << s.message();
  EXPECT_FALSE(c.check().is_ok());  // sticky
}

TEST(Invariants, SameIndexAndTermWithDifferentDataViolateLogMatching) {
  PersistentState pa = testing::log_with_terms({1, 1}, 1);
  PersistentState pb = pa;
  pb.entries[1].data = "different";
  Random ra(1), rb(2);
  Raft a(paper_config(1, {1, 2, 3}), ra, pa), b(paper_config(2, {1, 2, 3}), rb, pb);
  InvariantChecker c;
  c.set_node(1, &a);
  c.set_node(2, &b);
  Status s = c.check();
  EXPECT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("log matching"), std::string::npos) << s.message();
}

TEST(Invariants, DifferentEntriesAppliedAtOneIndexViolateStateMachineSafety) {
  InvariantChecker c;
  EXPECT_TRUE(c.record_applied(1, Entry{1, 5, EntryType::kNormal, "a"}).is_ok());
  EXPECT_TRUE(c.record_applied(2, Entry{1, 5, EntryType::kNormal, "a"}).is_ok());
  Status s = c.record_applied(3, Entry{2, 5, EntryType::kNormal, "b"});
  EXPECT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("state-machine safety"), std::string::npos);
}

TEST(Invariants, HealthyClusterPassesEveryCheck) {
  testing::Cluster c(3);
  ASSERT_TRUE(c.elect(1));
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(c.propose(1, "v" + std::to_string(i)).is_ok());
  c.settle();
  EXPECT_TRUE(c.violation().is_ok());
  EXPECT_GT(c.checker.checks(), 20u);
  EXPECT_EQ(c.checker.leader_history().at(c.raft(1).term()), 1u);
}

}  // namespace
}  // namespace rkv::raft
