#include "check/counter_checker.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "check/random_history.h"
#include "check/test_util.h"
#include "core/random.h"

namespace rkv::check {
namespace {

using testing_util::get;
using testing_util::incr;

TEST(CounterCheckerTest, ReadsWithinBoundsPass) {
  EXPECT_TRUE(check_counter({}).ok);
  EXPECT_TRUE(check_counter({get(1, "c", std::nullopt, 0, 5)}).ok);
  EXPECT_TRUE(check_counter({incr(1, "c", 1, "1", 0, 10), get(2, "c", "1", 20, 30)}).ok);
  // concurrent incr: 0 or 1
  EXPECT_TRUE(check_counter({incr(1, "c", 1, std::nullopt, 0, 50), get(2, "c", "0", 20, 30)}).ok);
  EXPECT_TRUE(check_counter({incr(1, "c", 1, std::nullopt, 0, 50), get(2, "c", "1", 20, 30)}).ok);
}

TEST(CounterCheckerTest, TooHighOrTooLowFails) {
  auto r = check_counter({incr(1, "c", 1, std::nullopt, 0, 10), get(2, "c", "2", 20, 30)});
  ASSERT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_EQ(r.failing_key, "c");
  EXPECT_NE(r.explanation.find("value 2 outside the possible range [1, 1]"), std::string::npos)
      << r.explanation;
  EXPECT_FALSE(check_counter({incr(1, "c", 1, std::nullopt, 0, 10), get(2, "c", "0", 20, 30)}).ok);
  EXPECT_FALSE(check_counter({get(2, "c", "abc", 20, 30)}).ok);
}

TEST(CounterCheckerTest, NegativeDeltasAreBoundedSeparately) {
  // +5 certain, -3 concurrent: a read may see 5 or 2, nothing else.
  const Op plus = incr(1, "c", 5, std::nullopt, 0, 10);
  const Op minus = incr(2, "c", -3, std::nullopt, 20, 60);
  EXPECT_TRUE(check_counter({plus, minus, get(3, "c", "5", 30, 40)}).ok);
  EXPECT_TRUE(check_counter({plus, minus, get(3, "c", "2", 30, 40)}).ok);
  auto r = check_counter({plus, minus, get(3, "c", "1", 30, 40)});
  EXPECT_NE(r.explanation.find("[2, 5]"), std::string::npos) << r.explanation;
  EXPECT_FALSE(check_counter({plus, minus, get(3, "c", "6", 30, 40)}).ok);
  // Once -3 completed it is certain.
  EXPECT_FALSE(check_counter({plus, minus, get(3, "c", "5", 70, 80)}).ok);
}

TEST(CounterCheckerTest, InfoIncrsMayOrMayNotApply) {
  const Op plus = incr(1, "c", 5, std::nullopt, 0, 10);
  const Op maybe = incr(2, "c", -3, std::nullopt, 20, kNoComplete, OpStatus::kInfo);
  EXPECT_TRUE(check_counter({plus, maybe, get(3, "c", "5", 1000, 1010)}).ok);
  EXPECT_TRUE(check_counter({plus, maybe, get(3, "c", "2", 1000, 1010)}).ok);
  // Before the info incr was invoked: only 0 or 5.
  EXPECT_FALSE(check_counter({plus, maybe, get(3, "c", "-3", 5, 15)}).ok);
  const Op failed = incr(2, "c", -3, std::nullopt, 20, 30, OpStatus::kFail);
  EXPECT_FALSE(check_counter({plus, failed, get(3, "c", "2", 1000, 1010)}).ok);
}

TEST(CounterCheckerTest, IncrResultCountsItself) {
  EXPECT_TRUE(
      check_counter({incr(1, "c", -2, std::nullopt, 0, 10), incr(1, "c", 1, "-1", 20, 30)}).ok);
  EXPECT_FALSE(
      check_counter({incr(1, "c", -2, std::nullopt, 0, 10), incr(1, "c", 1, "1", 20, 30)}).ok);
}

TEST(CounterCheckerTest, OtherOpsAreBadInput) {
  EXPECT_EQ(check_counter({testing_util::set(1, "c", "1", 0, 1)}).verdict, Verdict::kBadInput);
}

TEST(CounterCheckerRandomTest, GeneratedHistoriesPassAndShiftedReadsFail) {
  for (uint64_t seed = 1; seed <= 100; ++seed) {
    Random rng(seed);
    std::vector<Planned> planned = plan_concurrent(rng, 8, 300, 50, [&](int64_t, int p) {
      return rng.chance(0.5)
                 ? incr(p, "c", static_cast<int64_t>(rng.uniform(21)) - 10, std::nullopt, 0, 0)
                 : get(p, "c", std::nullopt, 0, 0);
    });
    int64_t value = 0;
    std::vector<Op> h;
    for (Planned& x : planned) {
      if (x.op.type == OpType::kIncr) {
        const double r = rng.unit();
        if (r < 0.1) {
          x.op.status = OpStatus::kInfo;
          if (rng.chance(0.5)) value += x.op.delta;
        } else if (r < 0.15) {
          x.op.status = OpStatus::kFail;
        } else {
          value += x.op.delta;
          if (rng.chance(0.5)) x.op.value = std::to_string(value);
        }
      } else {
        x.op.value = std::to_string(value);
      }
      h.push_back(x.op);
    }
    ASSERT_TRUE(check_counter(h).ok) << "seed " << seed << check_counter(h).explanation;
    // Shift one read far outside anything reachable.
    for (Op& op : h) {
      if (op.type == OpType::kGet) {
        op.value = std::to_string(std::stoll(*op.value) + (rng.chance(0.5) ? 100000 : -100000));
        break;
      }
    }
    ASSERT_EQ(check_counter(h).verdict, Verdict::kViolation) << "seed " << seed;
  }
}

}  // namespace
}  // namespace rkv::check
