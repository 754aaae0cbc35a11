// RaftGroup on a small in-process cluster (MiniCluster): what a primary keyspace does when the
// driver reports a full disk (Node::refuse_writes). The Raft core's side (whom it hands to,
// no campaigns, a stuck write) is pinned in raft_features_test.cc; here, the node around it.
#include "node/raft_group.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "node/mini_cluster_test_util.h"
#include "node/node.h"

namespace rkv {
namespace {

constexpr char kFull[] = "MISCONF writes are refused while the disk is full (test)";

class PrimaryCluster : public MiniCluster {
 public:
  PrimaryCluster() : MiniCluster(3, two_keyspaces("kv", Model::kPrimary)) {}

  const RaftGroup& group(int i) { return *node(i).engine(1)->as_primary(); }
  // The node every live node agrees leads the keyspace, or -1.
  int leader() {
    int l = -1;
    for (int i = 0; i < 3; ++i) {
      if (!down_.count(i) && group(i).is_leader()) l = i;
    }
    if (l < 0) return -1;
    for (int i = 0; i < 3; ++i) {
      if (!down_.count(i) && group(i).leader_index() != l) return -1;
    }
    return l;
  }
  int wait_leader(int64_t within_ms) {
    for (int64_t t = 0; t < within_ms && leader() < 0; t += 10)
      advance(10);
    return leader();
  }
  bool noted(int i, const std::string& part) {
    for (const auto& n : node(i).take_notes()) {
      if (n.text.find(part) != std::string::npos) return true;
    }
    return false;
  }
};

TEST(RaftGroupDiskFull, LeaderHandsOverAndTheKeyspaceKeepsTakingWrites) {
  PrimaryCluster c;
  const int full = c.wait_leader(5000);
  ASSERT_GE(full, 0);
  EXPECT_EQ(c.run(full, {"SET", "kv:a", "1"}), "+OK\r\n");
  (void)c.node(full).take_notes();

  c.node(full).refuse_writes(kFull);
  // Within an election timeout (10 ticks of 25 ms), another node leads.
  c.advance(250);
  const int next = c.leader();
  ASSERT_GE(next, 0);
  EXPECT_NE(next, full);
  EXPECT_EQ(c.group(full).status(25).disk_full_handoffs, 1u);
  // Summed over its primary keyspaces (it may lead `default` too).
  EXPECT_GE(c.node(full).disk_full_handoffs(), 1u);
  EXPECT_TRUE(c.noted(full, "the disk is full: handing leadership to"));

  EXPECT_EQ(c.run(next, {"SET", "kv:b", "2"}), "+OK\r\n");
  // The full node refuses writes itself, still serves reads, and follows the log.
  EXPECT_EQ(c.run(full, {"SET", "kv:c", "3"}), std::string("-") + kFull + "\r\n");
  EXPECT_EQ(c.run(full, {"GET", "kv:b"}), "$1\r\n2\r\n");
  EXPECT_EQ(c.group(full).raft().commit(), c.group(next).raft().commit());

  // It does not take leadership back while its disk is full: with the new leader gone, the
  // third node is elected, with the full node's vote.
  c.set_down(next, true);
  const int third = 3 - full - next;
  EXPECT_EQ(c.wait_leader(5000), third);
  c.advance(2000);
  EXPECT_EQ(c.leader(), third);
  EXPECT_EQ(c.run(third, {"SET", "kv:d", "4"}), "+OK\r\n");

  // Room again: it takes writes (relayed) and may lead again.
  c.node(full).refuse_writes("");
  EXPECT_EQ(c.run(full, {"SET", "kv:e", "5"}), "+OK\r\n");
  EXPECT_EQ(c.run(full, {"GET", "kv:d"}), "$1\r\n4\r\n");
}

TEST(RaftGroupDiskFull, FollowerWithAFullDiskChangesNothing) {
  PrimaryCluster c;
  const int l = c.wait_leader(5000);
  ASSERT_GE(l, 0);
  const int f = (l + 1) % 3;
  c.node(f).refuse_writes(kFull);
  c.advance(1000);
  EXPECT_EQ(c.leader(), l);
  EXPECT_EQ(c.group(f).status(25).disk_full_handoffs, 0u);
  EXPECT_EQ(c.run(l, {"SET", "kv:a", "1"}), "+OK\r\n");
  EXPECT_EQ(c.run(f, {"GET", "kv:a"}), "$1\r\n1\r\n");
}

}  // namespace
}  // namespace rkv
