#include "versions/hlc.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "core/random.h"

namespace rkv::versions {
namespace {

TEST(Hlc, PackingKeepsWallAndLogicalApartAndOrdersByWallFirst) {
  const uint64_t ts = make_hlc(1'700'000'000'123, 42);
  EXPECT_EQ(hlc_wall_ms(ts), 1'700'000'000'123);
  EXPECT_EQ(hlc_logical(ts), 42u);
  EXPECT_EQ(hlc_wall_ms(make_hlc(kHlcMaxWallMs, kHlcMaxLogical)), kHlcMaxWallMs);
  EXPECT_EQ(hlc_logical(make_hlc(kHlcMaxWallMs, kHlcMaxLogical)), kHlcMaxLogical);
  EXPECT_LT(make_hlc(5, kHlcMaxLogical), make_hlc(6, 0));
  EXPECT_LT(make_hlc(5, 1), make_hlc(5, 2));
}

TEST(Hlc, NowFollowsThePhysicalClockWhenItIsAhead) {
  HlcClock clock;
  EXPECT_EQ(clock.now(1000), make_hlc(1000, 0));
  EXPECT_EQ(clock.now(1005), make_hlc(1005, 0));
  EXPECT_EQ(clock.last(), make_hlc(1005, 0));
}

TEST(Hlc, NowIsStrictlyMonotonicWhenThePhysicalClockStandsStillOrGoesBackwards) {
  HlcClock clock;
  uint64_t prev = clock.now(10'000);
  for (int64_t physical : {10'000, 9'000, 9'999, 0, -5, 10'000, 3}) {
    const uint64_t ts = clock.now(physical);
    EXPECT_GT(ts, prev) << "physical " << physical;
    EXPECT_EQ(hlc_wall_ms(ts), 10'000);  // the wall part never goes back with the clock
    prev = ts;
  }
  EXPECT_EQ(hlc_logical(prev), 7u);
  EXPECT_EQ(clock.now(10'001), make_hlc(10'001, 0));  // physical time catches up: counter resets
}

TEST(Hlc, ObserveMakesTheNextTimestampGreaterThanTheRemoteOne) {
  HlcClock clock(500);
  clock.now(1000);
  const uint64_t remote = make_hlc(1400, 9);  // 400 ms ahead: within the bound
  EXPECT_TRUE(clock.observe(remote, 1000));
  EXPECT_EQ(clock.last(), remote);
  EXPECT_EQ(clock.now(1000), make_hlc(1400, 10));
  // A remote timestamp behind us changes nothing.
  EXPECT_TRUE(clock.observe(make_hlc(3, 0), 1000));
  EXPECT_EQ(clock.now(1001), make_hlc(1400, 11));
  EXPECT_EQ(clock.rejected(), 0u);
}

TEST(Hlc, ObserveRejectsFarFutureTimestampsAndLeavesTheClockAlone) {
  HlcClock clock(500);
  const uint64_t before = clock.now(1000);
  EXPECT_FALSE(clock.observe(make_hlc(1501, 0), 1000));  // 501 ms ahead
  EXPECT_FALSE(clock.observe(~uint64_t{0}, 1000));
  EXPECT_EQ(clock.rejected(), 2u);
  EXPECT_EQ(clock.last(), before);
  EXPECT_EQ(clock.now(1000), before + 1);
  EXPECT_TRUE(clock.observe(make_hlc(1500, kHlcMaxLogical), 1000));  // exactly at the bound
  EXPECT_EQ(clock.rejected(), 2u);
  // The bound is measured from the physical clock handed in, not from the HLC.
  HlcClock zero(0);
  EXPECT_FALSE(zero.observe(make_hlc(1001, 0), 1000));
  EXPECT_TRUE(zero.observe(make_hlc(1000, 5), 1000));
}

TEST(Hlc, LogicalOverflowAdvancesTheWallPartInsteadOfWrapping) {
  HlcClock clock;
  ASSERT_TRUE(clock.observe(make_hlc(2000, kHlcMaxLogical), 2000));
  EXPECT_EQ(clock.now(2000), make_hlc(2001, 0));

  HlcClock busy;
  uint64_t prev = busy.now(5000);
  for (int i = 0; i < 3 * 65536 + 10; ++i) {  // a stopped physical clock, many events
    const uint64_t ts = busy.now(5000);
    ASSERT_GT(ts, prev);
    prev = ts;
  }
  EXPECT_EQ(hlc_wall_ms(prev), 5003);
  EXPECT_EQ(hlc_logical(prev), 10u);
}

TEST(Hlc, RestoreNeverGoesBelowAPersistedTimestamp) {
  HlcClock clock;
  clock.restore(make_hlc(9000, 4));
  EXPECT_EQ(clock.now(100), make_hlc(9000, 5));  // restarted with a clock that went back
  clock.restore(make_hlc(10, 0));                // an older floor does not move it back
  EXPECT_EQ(clock.now(100), make_hlc(9000, 6));
}

TEST(Hlc, PhysicalTimeOutsideTheRepresentableRangeIsClamped) {
  HlcClock clock;
  EXPECT_EQ(clock.now(-100), make_hlc(0, 1));  // above the fresh clock's last() of 0
  EXPECT_EQ(clock.now(kHlcMaxWallMs + 1000), make_hlc(kHlcMaxWallMs, 0));
}

// Random walks of a physical clock that jumps around, local events and remote timestamps (some
// far ahead): every now() exceeds everything returned or accepted before, is at least the
// physical clock, and never runs further ahead of the largest physical time or accepted remote
// wall than the counter overflows account for.
TEST(Hlc, RandomWalksKeepEveryTimestampAboveEverythingSeenBefore) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    Random rng(seed);
    HlcClock clock(200);
    uint64_t floor = 0;
    int64_t physical = 1'000'000;
    int64_t highest_wall_seen = 0;
    uint64_t rejected = 0;
    for (int step = 0; step < 5000; ++step) {
      physical += static_cast<int64_t>(rng.range(0, 40)) - 20;  // drifts both ways
      highest_wall_seen = std::max(highest_wall_seen, physical);
      if (rng.chance(0.3)) {
        const int64_t wall = physical + static_cast<int64_t>(rng.range(0, 500)) - 250;
        const uint64_t remote = make_hlc(wall, static_cast<uint32_t>(rng.uniform(65536)));
        const bool accepted = clock.observe(remote, physical);
        ASSERT_EQ(accepted, wall <= physical + 200) << "seed " << seed;
        if (accepted) {
          floor = std::max(floor, remote);
          highest_wall_seen = std::max(highest_wall_seen, wall);
        } else {
          ++rejected;
        }
      } else {
        const uint64_t ts = clock.now(physical);
        ASSERT_GT(ts, floor) << "seed " << seed << " step " << step;
        ASSERT_GE(hlc_wall_ms(ts), physical);
        ASSERT_LE(hlc_wall_ms(ts), highest_wall_seen + 1);
        floor = ts;
      }
      ASSERT_EQ(clock.last(), floor);
    }
    EXPECT_EQ(clock.rejected(), rejected);
    EXPECT_GT(rejected, 0u);
  }
}

}  // namespace
}  // namespace rkv::versions
