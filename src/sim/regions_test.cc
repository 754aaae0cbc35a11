#include "sim/regions.h"

#include <gtest/gtest.h>

namespace rkv::sim {
namespace {

TEST(RegionLayout, DefaultIsOneRegionOfLanLinks) {
  RegionLayout l;
  EXPECT_EQ(l.count(), 1);
  EXPECT_TRUE(l.same_region(0, 6));
  EXPECT_EQ(l.max_one_way_us(), 0);
}

TEST(RegionLayout, SpreadsNodesRoundRobin) {
  Random rng(7);
  RegionLayout l = RegionLayout::draw(3, 7, false, rng);
  EXPECT_EQ(l.count(), 3);
  for (int i = 0; i < 7; ++i)
    EXPECT_EQ(l.region_of(i), i % 3) << i;
  EXPECT_EQ(l.members(0), 0b1001001);
  EXPECT_EQ(l.members(1), 0b0010010);
  EXPECT_EQ(l.members(2), 0b0100100);
  EXPECT_TRUE(l.same_region(1, 4));
  EXPECT_FALSE(l.same_region(1, 2));
  EXPECT_EQ(RegionLayout::name(0), "r1");
}

TEST(RegionLayout, WanLinksAreDrawnWithinTheirBoundsAndSymmetric) {
  for (uint64_t seed = 1; seed <= 50; ++seed) {
    Random rng(seed);
    RegionLayout l = RegionLayout::draw(3, 6, true, rng);
    int64_t most = 0;
    for (int a = 0; a < 3; ++a) {
      for (int b = 0; b < 3; ++b) {
        if (a == b) continue;
        const WanLink& w = l.link(a, b);
        EXPECT_EQ(&w, &l.link(b, a));
        EXPECT_GE(w.base_us, kWanBaseMinUs);
        EXPECT_LE(w.base_us, kWanBaseMaxUs);
        EXPECT_GE(w.jitter_us, kWanJitterMinUs);
        EXPECT_LE(w.jitter_us, std::max(kWanJitterMinUs, w.base_us / 4));
        EXPECT_GE(w.loss, 0);
        EXPECT_LE(w.loss, kWanLossMax);
        most = std::max(most, w.base_us + w.jitter_us);
      }
    }
    EXPECT_EQ(l.max_one_way_us(), most);
    l.drop_loss();
    EXPECT_EQ(l.link(0, 1).loss, 0);
  }
}

TEST(RegionLayout, SameSeedSameLayout) {
  Random a(42), b(42);
  EXPECT_EQ(RegionLayout::draw(2, 5, true, a).describe(),
            RegionLayout::draw(2, 5, true, b).describe());
}

TEST(RegionLayout, WithoutLossNoLinkLoses) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    Random rng(seed);
    RegionLayout l = RegionLayout::draw(3, 3, false, rng);
    EXPECT_EQ(l.link(0, 1).loss, 0);
    EXPECT_EQ(l.link(1, 2).loss, 0);
  }
}

TEST(RegionLayout, DescribesItsLayout) {
  Random rng(1);
  const std::string d = RegionLayout::draw(2, 3, false, rng).describe();
  EXPECT_NE(d.find("2 regions: r1 {0,2} r2 {1}; WAN (one way) r1<->r2 "), std::string::npos) << d;
  EXPECT_NE(d.find("ms jitter, loss 0.0000"), std::string::npos) << d;
  EXPECT_EQ(RegionLayout().describe().find("1 region:"), 0u);
}

TEST(RegionLayout, CutOffSeparatesARegionFromTheRest) {
  Random rng(3);
  RegionLayout l = RegionLayout::draw(2, 5, false, rng);
  Partition p = l.cut_off(1);  // nodes 1 and 3
  EXPECT_FALSE(p.is_healed());
  EXPECT_EQ(p.description(), "region r2 {1,3} cut off");
  for (int i = 0; i < 5; ++i) {
    for (int j = 0; j < 5; ++j)
      EXPECT_EQ(p.can_send(i, j), l.same_region(i, j)) << i << "->" << j;
  }
}

}  // namespace
}  // namespace rkv::sim
