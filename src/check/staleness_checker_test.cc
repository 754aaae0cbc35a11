#include "check/staleness_checker.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <string>

#include "check/random_history.h"
#include "check/test_util.h"
#include "core/random.h"

namespace rkv::check {
namespace {

using testing_util::get;
using testing_util::set;

// Exactly what the replica reported, no margins.
constexpr StalenessBounds kExact{0, 0.0};

// An ok get of "k" served by a replica that reported `staleness_ms` and `behind`.
Op follower_get(int p, std::optional<std::string> v, int64_t inv, int64_t comp,
                int64_t staleness_ms, int64_t behind = 0) {
  Op o = get(p, "k", std::move(v), inv, comp);
  o.staleness_ms = staleness_ms;
  o.entries_behind = behind;
  return o;
}

bool contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

TEST(StalenessCheckerTest, CutoffSubtractsTheAllowance) {
  Op read = follower_get(1, "1", 100'000, 100'010, 10);
  EXPECT_EQ(staleness_cutoff(read, kExact), 90'000);
  EXPECT_EQ(staleness_cutoff(read, {500, 0.0}), 89'500);
  EXPECT_EQ(staleness_cutoff(read, {500, 0.25}), 87'000);
  // A fractional allowance rounds the cutoff down (fewer writes required).
  EXPECT_EQ(staleness_cutoff(read, {0, 0.00005}), 89'999);
  read.staleness_ms.reset();
  EXPECT_EQ(staleness_cutoff(read, {500, 0.25}), 99'500);
  read.staleness_ms = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(staleness_cutoff(read, kExact), std::numeric_limits<int64_t>::min());
}

TEST(StalenessCheckerTest, FreshReadsAreValid) {
  const auto r =
      check_bounded_staleness({set(1, "k", "a", 0, 10), get(2, "k", std::nullopt, 5, 6),
                               get(2, "k", "a", 20, 30), follower_get(3, "a", 40, 50, 0)},
                              kExact);
  EXPECT_EQ(r.verdict, Verdict::kValid) << r.explanation;
  EXPECT_EQ(r.ops, 4);
  EXPECT_EQ(r.keys, 1);
  EXPECT_TRUE(contains(r.explanation, "none of 3 ok reads on 1 keys")) << r.explanation;
}

TEST(StalenessCheckerTest, ReadWithoutReportMustBeFresh) {
  const auto r =
      check_bounded_staleness({set(1, "k", "a", 0, 10), get(2, "k", std::nullopt, 20, 30)}, kExact);
  ASSERT_EQ(r.verdict, Verdict::kViolation) << r.explanation;
  EXPECT_TRUE(contains(r.explanation, "staleness 0 ms (not reported: held to 0)")) << r.explanation;
  EXPECT_TRUE(contains(r.explanation, "it observed the initial absent state"));
}

TEST(StalenessCheckerTest, StaleReadWithinTheReportedBoundIsValid) {
  const std::vector<Op> h = {set(1, "k", "1", 0, 10), set(1, "k", "2", 1000, 1010),
                             follower_get(2, "1", 5000, 5100, 5)};
  // cutoff = 5000 - 5 ms = 0: nothing had to be seen.
  EXPECT_TRUE(check_bounded_staleness(h, kExact).ok);
}

TEST(StalenessCheckerTest, ReadMissingAWriteBeforeItsCutoffIsAViolation) {
  const std::vector<Op> h = {set(1, "k", "1", 0, 10), set(1, "k", "2", 1000, 1010),
                             follower_get(2, "1", 5000, 5100, 3)};
  const auto r = check_bounded_staleness(h, kExact);
  ASSERT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_EQ(r.failing_key, "k");
  // The explanation names the read, its report, the cutoff and the missed write.
  EXPECT_TRUE(contains(r.explanation,
                       "read p2 get \"k\" -> \"1\" ok [5000, 5100] staleness_ms=3 "
                       "entries_behind=0"))
      << r.explanation;
  EXPECT_TRUE(contains(r.explanation, "reported staleness 3 ms and 0 entries behind"));
  EXPECT_TRUE(contains(r.explanation, "cutoff = 5000 - 3 ms * (1 + 0) - 0 us slack = 2000"));
  EXPECT_TRUE(contains(r.explanation, "observed the state written by p1 set \"k\" \"1\" ok"));
  EXPECT_TRUE(contains(r.explanation, "precedes 1 acknowledged write(s)"));
  EXPECT_TRUE(contains(r.explanation, "    p1 set \"k\" \"2\" ok [1000, 1010]"));
  ASSERT_EQ(r.witness.size(), 3u);
  EXPECT_EQ(r.witness[0].value, "1");
  EXPECT_EQ(r.witness[1].value, "2");
  EXPECT_EQ(r.witness[2].type, OpType::kGet);

  // Slack or a rate margin that moves the cutoff before the write's completion excuse it.
  EXPECT_TRUE(check_bounded_staleness(h, {1000, 0.0}).ok);
  EXPECT_TRUE(check_bounded_staleness(h, {0, 0.5}).ok);
  EXPECT_FALSE(check_bounded_staleness(h, {989, 0.0}).ok);
}

TEST(StalenessCheckerTest, EntriesBehindExcuseThatManyMissedWrites) {
  std::vector<Op> h;
  for (int i = 1; i <= 4; ++i)
    h.push_back(set(1, "k", std::to_string(i), i * 100, i * 100 + 10));
  h.push_back(follower_get(2, "1", 10'000, 10'010, 0, 3));
  EXPECT_TRUE(check_bounded_staleness(h, kExact).ok);
  h.back().entries_behind = 2;
  const auto r = check_bounded_staleness(h, kExact);
  ASSERT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_TRUE(contains(r.explanation,
                       "precedes 3 acknowledged write(s) that completed before the "
                       "cutoff, more than the 2 allowed"))
      << r.explanation;
  // An absent read has missed every acknowledged write before its cutoff.
  h.back().value = std::nullopt;
  h.back().entries_behind = 3;
  EXPECT_FALSE(check_bounded_staleness(h, kExact).ok);
  h.back().entries_behind = 4;
  EXPECT_TRUE(check_bounded_staleness(h, kExact).ok);
}

TEST(StalenessCheckerTest, OnlyWritesDefinitelyAfterTheObservedOneCount) {
  // "2" overlaps "1", so "1" may have taken effect last.
  EXPECT_TRUE(check_bounded_staleness({set(1, "k", "1", 0, 100), set(2, "k", "2", 50, 60),
                                       follower_get(3, "1", 1000, 1010, 0)},
                                      kExact)
                  .ok);
  // Equal timestamps are concurrent.
  EXPECT_TRUE(check_bounded_staleness({set(1, "k", "1", 0, 50), set(2, "k", "2", 50, 60),
                                       follower_get(3, "1", 1000, 1010, 0)},
                                      kExact)
                  .ok);
  // An info write may take effect at any time after its invoke: it precedes nothing.
  EXPECT_TRUE(
      check_bounded_staleness({set(1, "k", "1", 0, 10, OpStatus::kInfo), set(2, "k", "2", 100, 110),
                               follower_get(3, "1", 1000, 1010, 0)},
                              kExact)
          .ok);
  // An info write is not acknowledged: an absent read need not have seen it.
  EXPECT_TRUE(check_bounded_staleness({set(1, "k", "1", 0, 10, OpStatus::kInfo),
                                       follower_get(3, std::nullopt, 1000, 1010, 0)},
                                      kExact)
                  .ok);
}

TEST(StalenessCheckerTest, PhantomReadsAreViolations) {
  auto r = check_bounded_staleness({follower_get(1, "z", 0, 10, 1000)}, kExact);
  ASSERT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_TRUE(contains(r.explanation, "1 phantom")) << r.explanation;
  EXPECT_TRUE(contains(r.explanation, "returns \"z\", but no ok or info set")) << r.explanation;
  // Written only by a failed set, or only after the read completed.
  EXPECT_FALSE(
      check_bounded_staleness(
          {set(1, "k", "z", 0, 5, OpStatus::kFail), follower_get(1, "z", 10, 20, 1000)}, kExact)
          .ok);
  EXPECT_FALSE(check_bounded_staleness(
                   {follower_get(1, "z", 10, 20, 1000), set(2, "k", "z", 21, 30)}, kExact)
                   .ok);
  // A concurrent or info write can be observed.
  EXPECT_TRUE(
      check_bounded_staleness({follower_get(1, "z", 10, 20, 0), set(2, "k", "z", 20, 30)}, kExact)
          .ok);
  EXPECT_TRUE(check_bounded_staleness({set(2, "k", "z", 0, kNoComplete, OpStatus::kInfo),
                                       follower_get(1, "z", 10, 20, 0)},
                                      kExact)
                  .ok);
}

TEST(StalenessCheckerTest, FailedAndInfoReadsImposeNothing) {
  Op info = follower_get(2, "never", 100, 110, 0);
  info.status = OpStatus::kInfo;
  Op fail = follower_get(2, std::nullopt, 200, 210, 0);
  fail.status = OpStatus::kFail;
  EXPECT_TRUE(check_bounded_staleness({set(1, "k", "1", 0, 10), info, fail}, kExact).ok);
}

TEST(StalenessCheckerTest, BadInput) {
  Op del = testing_util::op(1, OpType::kDel, "k", std::nullopt, 0, 1);
  auto r = check_bounded_staleness({set(1, "k", "1", 0, 10), del});
  EXPECT_EQ(r.verdict, Verdict::kBadInput);
  EXPECT_TRUE(contains(r.explanation, "defines only get and set")) << r.explanation;
  EXPECT_EQ(check_bounded_staleness({testing_util::incr(1, "k", 1, "1", 0, 1)}).verdict,
            Verdict::kBadInput);
  // Values must identify their write.
  r = check_bounded_staleness({set(1, "k", "1", 0, 10), set(2, "k", "1", 20, 30)});
  EXPECT_EQ(r.verdict, Verdict::kBadInput);
  EXPECT_TRUE(contains(r.explanation, "must be unique")) << r.explanation;
  // ... except that failed sets are dropped, and keys are separate registers.
  EXPECT_TRUE(
      check_bounded_staleness({set(1, "k", "1", 0, 10, OpStatus::kFail), set(2, "k", "1", 20, 30)})
          .ok);
  EXPECT_TRUE(check_bounded_staleness({set(1, "k", "1", 0, 10), set(2, "j", "1", 20, 30)}).ok);
  EXPECT_EQ(check_bounded_staleness({}, {-1, 0.0}).verdict, Verdict::kBadInput);
  EXPECT_EQ(check_bounded_staleness({}, {0, -0.1}).verdict, Verdict::kBadInput);
  EXPECT_EQ(check_bounded_staleness({}, {0, std::numeric_limits<double>::quiet_NaN()}).verdict,
            Verdict::kBadInput);
}

TEST(StalenessCheckerTest, SmallestFailingKeyIsReported) {
  std::vector<Op> h;
  for (int i = 0; i < 5; ++i)
    h.push_back(set(1, "big", std::to_string(i), i * 10, i * 10 + 5));
  h.push_back(get(1, "big", std::nullopt, 1000, 1010));
  h.push_back(set(2, "small", "x", 0, 5));
  h.push_back(get(2, "small", std::nullopt, 1000, 1010));
  h.push_back(get(2, "small", std::nullopt, 2000, 2010));
  const auto r = check_bounded_staleness(h, kExact);
  ASSERT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_EQ(r.failing_key, "small");
  EXPECT_TRUE(contains(r.explanation, "(2 keys fail, this one has the fewest operations)"));
  EXPECT_TRUE(contains(r.explanation, "2 read(s) fail (0 phantom, 2 missed"));
  EXPECT_TRUE(contains(r.explanation,
                       "other failing reads of this key:\n  p2 get \"small\" -> "
                       "null ok [2000, 2010] (missed 1)"))
      << r.explanation;
}

// A single register written through a leader and read from a replica that, at each read, last
// heard from the leader `lag` microseconds earlier (uniform in [0, 50 ms)) and had then applied
// all but `behind` (0..3) of the writes the leader had applied by that time. The replica
// reports floor(lag * report_fraction) ms and `behind` truthfully.
std::vector<Op> lagging_replica_history(uint64_t seed, double report_fraction) {
  Random rng(seed);
  std::vector<Planned> planned = plan_concurrent(rng, 6, 400, 2000, [&](int64_t i, int p) {
    return rng.chance(0.5) ? set(p, "k", "v" + std::to_string(i), 0, 0)
                           : get(p, "k", std::nullopt, 0, 0);
  });
  std::vector<int64_t> applied_at;  // the leader's writes, in the order they took effect
  std::vector<std::string> applied_value;
  std::vector<Op> h;
  for (Planned& x : planned) {
    Op& op = x.op;
    if (op.type == OpType::kSet) {
      const bool info = rng.chance(0.1);
      if (info) op.status = OpStatus::kInfo;
      if (info && rng.chance(0.5)) op.complete = kNoComplete;
      if (!info || rng.chance(0.5)) {
        applied_at.push_back(x.at);
        applied_value.push_back(*op.value);
      }
    } else {
      const auto lag = static_cast<int64_t>(rng.uniform(50'000));
      const auto known = static_cast<size_t>(
          std::upper_bound(applied_at.begin(), applied_at.end(), x.at - lag) - applied_at.begin());
      const size_t behind = rng.uniform(std::min<size_t>(known, 3) + 1);
      const size_t state = known - behind;
      op.value = state == 0 ? std::nullopt : std::optional(applied_value[state - 1]);
      op.staleness_ms = static_cast<int64_t>(static_cast<double>(lag) * report_fraction) / 1000;
      op.entries_behind = static_cast<int64_t>(behind);
    }
    h.push_back(op);
  }
  return h;
}

// slack 1 ms covers the report's rounding down to whole milliseconds.
constexpr StalenessBounds kMillisecondSlack{1000, 0.0};

TEST(StalenessCheckerRandomTest, TruthfulReplicaIsAlwaysValid) {
  for (uint64_t seed = 1; seed <= 100; ++seed) {
    const auto r = check_bounded_staleness(lagging_replica_history(seed, 1.0), kMillisecondSlack);
    ASSERT_EQ(r.verdict, Verdict::kValid) << "seed " << seed << "\n" << r.explanation;
  }
}

TEST(StalenessCheckerRandomTest, ReplicaReportingHalfItsStalenessIsCaught) {
  int caught = 0;
  for (uint64_t seed = 1; seed <= 100; ++seed) {
    const auto r = check_bounded_staleness(lagging_replica_history(seed, 0.5), kMillisecondSlack);
    ASSERT_NE(r.verdict, Verdict::kBadInput) << r.explanation;
    if (r.verdict == Verdict::kViolation) {
      ++caught;
      EXPECT_TRUE(contains(r.explanation, "acknowledged write(s) that completed before the cutoff"))
          << "seed " << seed << "\n"
          << r.explanation;
    }
  }
  EXPECT_GE(caught, 90);
}

// The failing reads of a single-key history by the definition, in O(reads * writes).
int64_t failing_reads_by_definition(const std::vector<Op>& h, const StalenessBounds& bounds) {
  int64_t failing = 0;
  for (const Op& r : h) {
    if (r.type != OpType::kGet || !r.ok()) continue;
    const Op* source = nullptr;
    for (const Op& w : h) {
      if (w.type == OpType::kSet && !w.fail() && r.value && w.value == r.value) source = &w;
    }
    if (r.value && (source == nullptr || source->invoke > r.complete)) {
      ++failing;
      continue;
    }
    if (source != nullptr && !source->ok()) continue;
    int64_t missed = 0;
    for (const Op& w : h) {
      if (w.type == OpType::kSet && w.ok() && w.complete < staleness_cutoff(r, bounds) &&
          (source == nullptr || source->complete < w.invoke)) {
        ++missed;
      }
    }
    if (missed > r.entries_behind.value_or(0)) ++failing;
  }
  return failing;
}

TEST(StalenessCheckerRandomTest, AgreesWithTheDefinition) {
  int valid = 0, multiple = 0;  // both outcomes, and several failing reads, must be exercised
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    Random rng(seed * 7919);
    // Every third seed reports truthfully; the others under-report or drop reports.
    const bool truthful = seed % 3 == 0;
    std::vector<Op> h =
        lagging_replica_history(seed, truthful ? 1.0 : 0.2 + 0.2 * static_cast<double>(seed % 4));
    for (Op& op : h) {
      if (truthful || op.type != OpType::kGet) continue;
      if (rng.chance(0.01)) op.value = "phantom";
      if (rng.chance(0.01)) op.staleness_ms.reset();
    }
    const StalenessBounds bounds{static_cast<int64_t>(rng.uniform(3000)), 0.1 * rng.unit()};
    const int64_t expected = failing_reads_by_definition(h, bounds);
    const auto r = check_bounded_staleness(h, bounds);
    valid += expected == 0;
    multiple += expected > 1;
    if (expected == 0) {
      EXPECT_EQ(r.verdict, Verdict::kValid) << "seed " << seed << "\n" << r.explanation;
    } else {
      ASSERT_EQ(r.verdict, Verdict::kViolation) << "seed " << seed;
      EXPECT_TRUE(contains(r.explanation, fmt::format(": {} read(s) fail", expected)))
          << "seed " << seed << " expected " << expected << "\n"
          << r.explanation.substr(0, 200);
    }
  }
  EXPECT_GE(valid, 5);
  EXPECT_GE(multiple, 5);
}

}  // namespace
}  // namespace rkv::check
