#include "leaderless/phi_accrual.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>

#include "core/random.h"

namespace rkv::leaderless {
namespace {

// Heartbeats every `interval` ms from t = 0; returns the time of the last one.
int64_t beat_regularly(PhiAccrual* d, int64_t interval, int count, int64_t start = 0) {
  int64_t t = start;
  for (int i = 0; i < count; ++i, t += interval)
    d->heartbeat(t);
  return t - interval;
}

// The first silence (in ms) after which phi reaches `level`.
int64_t silence_until(const PhiAccrual& d, int64_t last, double level) {
  for (int64_t s = 0; s < 1000000; ++s) {
    if (d.phi(last + s) >= level) return s;
  }
  return -1;
}

// -log10 of the exact normal tail, for comparison with the logistic approximation.
double exact_phi(double y) {
  return -std::log10(0.5 * std::erfc(y / std::sqrt(2.0)));
}

TEST(PhiAccrual, NothingIsSuspectedBeforeTheFirstHeartbeat) {
  PhiAccrual d;
  EXPECT_FALSE(d.has_heartbeat());
  EXPECT_EQ(d.phi(0), 0.0);
  EXPECT_EQ(d.phi(1000000), 0.0);
  EXPECT_TRUE(d.available(1000000, 8));
}

TEST(PhiAccrual, OneHeartbeatUsesThePrior) {
  PhiAccrual d;  // first_interval_ms = 1000: mean 1000, std dev 250
  d.heartbeat(5000);
  EXPECT_EQ(d.samples(), 0u);
  EXPECT_EQ(d.last_heartbeat_ms(), 5000);
  EXPECT_DOUBLE_EQ(d.mean_interval_ms(), 1000);
  EXPECT_DOUBLE_EQ(d.std_dev_ms(), 250);
  EXPECT_NEAR(d.phi(6000), std::log10(2.0), 1e-12);  // silence = mean: even odds of lateness
  EXPECT_LT(d.phi(5500), 0.01);
  EXPECT_GT(d.phi(8000), 8);  // 8 std devs past the mean
}

TEST(PhiAccrual, RegularHeartbeatsKeepPhiLow) {
  PhiAccrual d(PhiAccrual::Options{.first_interval_ms = 100});
  int64_t t = 0;
  for (int i = 0; i < 500; ++i, t += 100) {
    d.heartbeat(t);
    EXPECT_LT(d.phi(t + 50), 0.2);    // y = -0.5 with the 100 ms floor
    EXPECT_LT(d.phi(t + 100), 0.35);  // when the next one is due: log10(2)
  }
  EXPECT_DOUBLE_EQ(d.mean_interval_ms(), 100);
  EXPECT_DOUBLE_EQ(d.std_dev_ms(), 100);  // the floor: the history has no spread at all
  EXPECT_EQ(d.samples(), 100u);           // the window
}

TEST(PhiAccrual, PhiGrowsMonotonicallyWithSilence) {
  PhiAccrual d(PhiAccrual::Options{.first_interval_ms = 100});
  const int64_t last = beat_regularly(&d, 100, 50);
  double prev = d.phi(last);
  for (int64_t s = 1; s <= 100000; ++s) {
    const double p = d.phi(last + s);
    ASSERT_GE(p, prev) << s;
    ASSERT_TRUE(std::isfinite(p)) << s;
    prev = p;
  }
  EXPECT_GT(prev, 1e6);
  // Even absurd silences stay finite.
  EXPECT_TRUE(std::isfinite(d.phi(std::numeric_limits<int64_t>::max())));
}

// With a steady 100 ms rhythm (std dev at its 100 ms floor) phi reaches 8 after 623 ms of
// silence, 6.2 mean intervals; at a 1 s rhythm the same floor is tighter relative to the mean:
// 1523 ms. Either way, 5 intervals of silence is far past the threshold for the 1 s rhythm and
// 7 for the 100 ms one.
TEST(PhiAccrual, SilenceOfSeveralIntervalsCrossesEight) {
  PhiAccrual fast(PhiAccrual::Options{.first_interval_ms = 100});
  const int64_t last_fast = beat_regularly(&fast, 100, 100);
  EXPECT_EQ(silence_until(fast, last_fast, 8), 623);
  EXPECT_GT(fast.phi(last_fast + 700), 8);

  PhiAccrual slow;
  const int64_t last_slow = beat_regularly(&slow, 1000, 100);
  EXPECT_EQ(silence_until(slow, last_slow, 8), 1523);
  EXPECT_GT(slow.phi(last_slow + 5000), 8);
  EXPECT_FALSE(slow.available(last_slow + 5000, 8));
  EXPECT_TRUE(slow.available(last_slow + 1000, 8));
}

TEST(PhiAccrual, JitteryHistorySuspectsLaterThanRegularOne) {
  PhiAccrual regular, jittery;
  const int64_t last_regular = beat_regularly(&regular, 1000, 100);
  Random rnd(7);
  int64_t t = 0;
  for (int i = 0; i < 100; ++i) {
    jittery.heartbeat(t);
    t += 500 + static_cast<int64_t>(rnd.uniform(1001));  // 500..1500 ms, mean ~1000
  }
  const int64_t last = jittery.last_heartbeat_ms();
  EXPECT_NEAR(jittery.mean_interval_ms(), 1000, 60);
  EXPECT_GT(jittery.std_dev_ms(), 250);
  for (int64_t silence : {1200, 1500, 2000, 3000}) {
    EXPECT_LT(jittery.phi(last + silence), regular.phi(last_regular + silence)) << silence;
  }
  EXPECT_LT(silence_until(regular, last_regular, 8), silence_until(jittery, last, 8));
}

TEST(PhiAccrual, LogisticApproximationTracksTheNormalTail) {
  PhiAccrual d;
  const int64_t last = beat_regularly(&d, 1000, 10);  // mean 1000, std dev 100
  for (int y = -2; y <= 3; ++y) {
    const double silence = 1000 + 100.0 * y;
    // The CDF's absolute error (<= 1.4e-4) is a relative error in the small tail: at y = 3
    // phi reads 2.909 against 2.870.
    EXPECT_NEAR(d.phi(last + static_cast<int64_t>(silence)), exact_phi(y), 0.05) << y;
  }
}

TEST(PhiAccrual, AcceptablePauseShiftsTheCurve) {
  PhiAccrual plain, patient(PhiAccrual::Options{.acceptable_pause_ms = 3000});
  const int64_t last = beat_regularly(&plain, 1000, 20);
  beat_regularly(&patient, 1000, 20);
  for (int64_t s : {0, 500, 1000, 1500, 2000})
    EXPECT_DOUBLE_EQ(patient.phi(last + s + 3000), plain.phi(last + s));
  EXPECT_DOUBLE_EQ(patient.mean_interval_ms(), 1000);  // reported without the pause
}

TEST(PhiAccrual, OnlyTheNewestWindowOfIntervalsCounts) {
  PhiAccrual d(PhiAccrual::Options{.window = 10});
  int64_t t = beat_regularly(&d, 1000, 30);
  EXPECT_DOUBLE_EQ(d.mean_interval_ms(), 1000);
  t = beat_regularly(&d, 200, 10, t + 200);  // 10 intervals of 200 ms push the 1000s out
  EXPECT_EQ(d.samples(), 10u);
  EXPECT_DOUBLE_EQ(d.mean_interval_ms(), 200);
  d.heartbeat(t + 1200);
  EXPECT_DOUBLE_EQ(d.mean_interval_ms(), 300);  // nine of 200 and one of 1200
}

TEST(PhiAccrual, LongGapsCanBeLeftOutOfTheHistory) {
  PhiAccrual keeps, skips(PhiAccrual::Options{.max_sample_interval_ms = 5000});
  const int64_t last = beat_regularly(&keeps, 1000, 10);
  beat_regularly(&skips, 1000, 10);
  keeps.heartbeat(last + 60000);  // back after a minute away
  skips.heartbeat(last + 60000);
  EXPECT_GT(keeps.mean_interval_ms(), 6000);
  EXPECT_DOUBLE_EQ(skips.mean_interval_ms(), 1000);
  EXPECT_EQ(skips.last_heartbeat_ms(), last + 60000);  // the heartbeat itself still counts
  EXPECT_LT(skips.phi(last + 60000 + 500), 0.01);
  EXPECT_GT(skips.phi(last + 60000 + 3000), 8);  // and the old rhythm is expected again
}

TEST(PhiAccrual, SameTimeHeartbeatsAreAZeroInterval) {
  PhiAccrual d;
  d.heartbeat(100);
  d.heartbeat(100);
  EXPECT_EQ(d.samples(), 1u);
  EXPECT_DOUBLE_EQ(d.mean_interval_ms(), 0);
  EXPECT_DOUBLE_EQ(d.std_dev_ms(), 100);
  EXPECT_EQ(d.phi(50), d.phi(100));  // a query from the past clamps to no silence
}

TEST(PhiAccrualDeathTest, TimeGoingBackwardsIsABug) {
  PhiAccrual d;
  d.heartbeat(1000);
  EXPECT_DEATH(d.heartbeat(999), "time went backwards");
  EXPECT_DEATH({ PhiAccrual bad(PhiAccrual::Options{.window = 0}); }, "assertion failed");
  EXPECT_DEATH({ PhiAccrual bad(PhiAccrual::Options{.min_std_dev_ms = 0}); }, "assertion failed");
}

}  // namespace
}  // namespace rkv::leaderless
