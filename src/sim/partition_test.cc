#include "sim/partition.h"

#include <gtest/gtest.h>

namespace rkv::sim {
namespace {

int reach_count(const Partition& p, int from) {
  int k = 0;
  for (int j = 0; j < p.nodes(); ++j)
    k += (j != from && p.can_send(from, j)) ? 1 : 0;
  return k;
}

TEST(Partition, HealedConnectsEveryone) {
  Partition p = Partition::healed(5);
  EXPECT_TRUE(p.is_healed());
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(reach_count(p, i), 4);
}

TEST(Partition, AllAloneCutsEveryLink) {
  Partition p = Partition::all_alone(5);
  EXPECT_FALSE(p.is_healed());
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(reach_count(p, i), 0);
    EXPECT_TRUE(p.can_send(i, i));
  }
}

TEST(Partition, IsolateOneCutsBothWays) {
  Random rng(1);
  for (int n = 3; n <= kMaxNodes; ++n) {
    Partition p = Partition::make(PartitionShape::kIsolateOne, n, rng);
    int isolated = 0;
    for (int i = 0; i < n; ++i) {
      if (reach_count(p, i) == 0)
        ++isolated;
      else
        EXPECT_EQ(reach_count(p, i), n - 2);
    }
    EXPECT_EQ(isolated, 1) << n;
  }
}

TEST(Partition, SplitLeavesAtMostOneMajority) {
  Random rng(2);
  for (int iter = 0; iter < 200; ++iter) {
    const int n = 2 + static_cast<int>(rng.uniform(6));
    Partition p = Partition::make(PartitionShape::kMajoritySplit, n, rng);
    EXPECT_FALSE(p.is_healed());
    int in_majority = 0;
    for (int i = 0; i < n; ++i) {
      if (reach_count(p, i) + 1 > n / 2) ++in_majority;
      for (int j = 0; j < n; ++j)
        EXPECT_EQ(p.can_send(i, j), p.can_send(j, i));  // symmetric
    }
    EXPECT_TRUE(in_majority == 0 || in_majority > n / 2) << p.description();
  }
}

TEST(Partition, BridgeNodeReachesBothHalvesWhichCannotMeet) {
  Random rng(3);
  for (int n = 3; n <= kMaxNodes; ++n) {
    Partition p = Partition::make(PartitionShape::kBridge, n, rng);
    int bridges = 0;
    for (int i = 0; i < n; ++i)
      bridges += reach_count(p, i) == n - 1 ? 1 : 0;
    EXPECT_EQ(bridges, 1) << p.description();
    EXPECT_FALSE(p.is_healed());
  }
}

TEST(Partition, RingGivesEveryNodeAMajorityButNotTheSameOne) {
  Random rng(4);
  for (int n = 5; n <= kMaxNodes; ++n) {
    Partition p = Partition::make(PartitionShape::kRing, n, rng);
    EXPECT_FALSE(p.is_healed()) << p.description();
    for (int i = 0; i < n; ++i) {
      EXPECT_GT(reach_count(p, i) + 1, n / 2) << p.description();
      EXPECT_LT(reach_count(p, i), n - 1) << p.description();
    }
  }
}

TEST(Partition, OneWayIsAsymmetric) {
  Random rng(5);
  for (int iter = 0; iter < 20; ++iter) {
    Partition p = Partition::make(PartitionShape::kOneWay, 3, rng);
    bool asymmetric = false;
    for (int i = 0; i < 3; ++i) {
      for (int j = 0; j < 3; ++j)
        asymmetric |= p.can_send(i, j) != p.can_send(j, i);
    }
    EXPECT_TRUE(asymmetric) << p.description();
  }
}

TEST(Partition, SameSeedSameShape) {
  Random a(9), b(9);
  for (int s = 0; s < kShapeCount; ++s) {
    Partition x = Partition::make(static_cast<PartitionShape>(s), 7, a);
    Partition y = Partition::make(static_cast<PartitionShape>(s), 7, b);
    EXPECT_EQ(x.description(), y.description());
  }
}

TEST(Partition, CutOffSeparatesTheMembersFromTheRest) {
  Partition p = Partition::cut_off(5, 0b00110, "nodes 1 and 2");
  EXPECT_FALSE(p.is_healed());
  EXPECT_EQ(p.description(), "nodes 1 and 2");
  EXPECT_TRUE(p.can_send(1, 2));
  EXPECT_TRUE(p.can_send(0, 4));
  for (int in : {1, 2}) {
    for (int out : {0, 3, 4}) {
      EXPECT_FALSE(p.can_send(in, out));
      EXPECT_FALSE(p.can_send(out, in));
    }
  }
}

}  // namespace
}  // namespace rkv::sim
