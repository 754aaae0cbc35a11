#include "check/set_checker.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "check/random_history.h"
#include "check/test_util.h"
#include "core/random.h"

namespace rkv::check {
namespace {

using testing_util::op;

Op sadd(int p, std::string e, int64_t inv, int64_t comp, OpStatus st = OpStatus::kOk) {
  return op(p, OpType::kSadd, "s", std::move(e), inv, comp, st);
}
Op smembers(int p, std::vector<std::string> m, int64_t inv, int64_t comp) {
  Op o = op(p, OpType::kSmembers, "s", std::nullopt, inv, comp);
  o.members = std::move(m);
  return o;
}

TEST(SetCheckerTest, AcknowledgedAddsMustBeVisible) {
  EXPECT_TRUE(check_set({sadd(1, "a", 0, 10), smembers(2, {"a"}, 20, 30)}).ok);
  const auto r = check_set({sadd(1, "a", 0, 10), sadd(1, "b", 0, 10), smembers(2, {"b"}, 20, 30)});
  ASSERT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_EQ(r.failing_key, "s");
  EXPECT_NE(r.explanation.find("lost \"a\""), std::string::npos) << r.explanation;
  EXPECT_NE(r.explanation.find("1 lost element(s), 0 phantom(s)"), std::string::npos);
  ASSERT_EQ(r.witness.size(), 2u);
  EXPECT_EQ(r.witness[0].type, OpType::kSadd);
  EXPECT_EQ(r.witness[1].type, OpType::kSmembers);
}

TEST(SetCheckerTest, ConcurrentAddNeedNotBeVisible) {
  EXPECT_TRUE(check_set({sadd(1, "a", 0, 20), smembers(2, {}, 20, 30)}).ok);
  EXPECT_TRUE(check_set({sadd(1, "a", 0, 20), smembers(2, {"a"}, 5, 6)}).ok);
}

TEST(SetCheckerTest, PhantomsAreElementsNeverAttemptedBeforeTheRead) {
  auto r = check_set({smembers(2, {"z"}, 20, 30)});
  ASSERT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_NE(r.explanation.find("phantom \"z\""), std::string::npos) << r.explanation;
  EXPECT_FALSE(check_set({sadd(1, "a", 0, 10, OpStatus::kFail), smembers(2, {"a"}, 20, 30)}).ok);
  EXPECT_FALSE(check_set({smembers(2, {"a"}, 20, 30), sadd(1, "a", 31, 40)}).ok);
  EXPECT_TRUE(
      check_set({sadd(1, "a", 0, kNoComplete, OpStatus::kInfo), smembers(2, {"a"}, 20, 30)}).ok);
}

TEST(SetCheckerTest, InfoAndFailedReadsImposeNothing) {
  Op read = smembers(2, {}, 20, 30);
  read.status = OpStatus::kInfo;
  EXPECT_TRUE(check_set({sadd(1, "a", 0, 10), read}).ok);
}

TEST(SetCheckerTest, OtherOpsAreBadInput) {
  EXPECT_EQ(check_set({testing_util::get(1, "s", "x", 0, 1)}).verdict, Verdict::kBadInput);
}

TEST(SetCheckerTest, SmallestFailingKeyIsReported) {
  std::vector<Op> h;
  for (int i = 0; i < 5; ++i)
    h.push_back(sadd(1, std::to_string(i), i, i + 1));
  h.push_back(smembers(1, {}, 100, 110));
  Op a = sadd(2, "x", 0, 1);
  a.key = "t";
  Op b = smembers(2, {}, 5, 6);
  b.key = "t";
  h.push_back(a);
  h.push_back(b);
  const auto r = check_set(h);
  EXPECT_EQ(r.failing_key, "t");
  EXPECT_NE(r.explanation.find("2 keys fail"), std::string::npos);
}

SetCheckOptions listing(std::initializer_list<LostElement> lost) {
  return SetCheckOptions{std::set<LostElement>(lost)};
}

TEST(SetCheckerListedLossTest, UnlistedLossIsAViolation) {
  const std::vector<Op> h = {sadd(1, "a", 0, 10), sadd(1, "b", 0, 10), smembers(2, {}, 20, 30)};
  const auto r = check_set(h, listing({{"s", "b"}}));
  ASSERT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_NE(r.explanation.find("1 lost element(s), 0 phantom(s) (1 missing element(s) excused as "
                               "listed lost)"),
            std::string::npos)
      << r.explanation;
  EXPECT_NE(r.explanation.find("lost \"a\""), std::string::npos);
  EXPECT_NE(r.explanation.find("and not listed as lost"), std::string::npos);
  EXPECT_EQ(r.explanation.find("lost \"b\""), std::string::npos);
  // A listing names its key: the same element listed on another key excuses nothing.
  EXPECT_FALSE(check_set(h, listing({{"t", "a"}, {"s", "b"}})).ok);
}

TEST(SetCheckerListedLossTest, ListedLossIsValid) {
  const std::vector<Op> h = {sadd(1, "a", 0, 10), sadd(1, "b", 0, 10), smembers(2, {"a"}, 20, 30),
                             smembers(2, {"a"}, 40, 50)};
  const auto r = check_set(h, listing({{"s", "b"}}));
  EXPECT_EQ(r.verdict, Verdict::kValid) << r.explanation;
  EXPECT_NE(r.explanation.find("(1 listed as lost: 1 acknowledged element(s) missing as listed, 0 "
                               "listed but present in the final read)"),
            std::string::npos)
      << r.explanation;
  EXPECT_TRUE(r.notes.empty());
  // Seen by an early read, gone from the final one: what a failover does to an async write.
  EXPECT_TRUE(check_set({sadd(1, "a", 0, 10), smembers(2, {"a"}, 20, 30), smembers(2, {}, 40, 50)},
                        listing({{"s", "a"}}))
                  .ok);
}

TEST(SetCheckerListedLossTest, ListedButPresentIsValidWithANote) {
  const auto r =
      check_set({sadd(1, "a", 0, 10), smembers(2, {}, 20, 30), smembers(2, {"a"}, 40, 50)},
                listing({{"s", "a"}}));
  EXPECT_EQ(r.verdict, Verdict::kValid) << r.explanation;
  ASSERT_EQ(r.notes.size(), 1u);
  EXPECT_EQ(r.notes[0],
            "listed as lost but present in the final read: key \"s\" element \"a\" (p2 smembers "
            "\"s\" -> {\"a\"} ok [40, 50])");
  EXPECT_NE(r.explanation.find("1 listed but present in the final read"), std::string::npos);
  // Only the final read counts for the note.
  EXPECT_TRUE(check_set({sadd(1, "a", 0, 10), smembers(2, {"a"}, 20, 30), smembers(2, {}, 40, 50)},
                        listing({{"s", "a"}}))
                  .notes.empty());
}

TEST(SetCheckerListedLossTest, ListingNoSaddExplainsIsANote) {
  const auto r = check_set({sadd(1, "a", 0, 10, OpStatus::kFail), smembers(2, {}, 20, 30)},
                           listing({{"s", "a"}, {"u", "x"}}));
  EXPECT_TRUE(r.ok) << r.explanation;
  ASSERT_EQ(r.notes.size(), 2u);
  EXPECT_EQ(r.notes[0], "listed as lost but no ok or info sadd of it: key \"s\" element \"a\"");
  EXPECT_EQ(r.notes[1], "listed as lost but no ok or info sadd of it: key \"u\" element \"x\"");
}

TEST(SetCheckerListedLossTest, PhantomsAreStillViolations) {
  const auto r = check_set({smembers(2, {"z"}, 20, 30)}, listing({{"s", "z"}}));
  EXPECT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_NE(r.explanation.find("phantom \"z\""), std::string::npos) << r.explanation;
}

TEST(SetCheckerListedLossTest, NotesAreBounded) {
  std::vector<Op> h;
  std::set<LostElement> lost;
  std::vector<std::string> all;
  for (int i = 0; i < 30; ++i) {
    h.push_back(sadd(1, "e" + std::to_string(i), i, i + 1));
    lost.insert({"s", "e" + std::to_string(i)});
    all.push_back("e" + std::to_string(i));
  }
  h.push_back(smembers(2, all, 100, 110));
  const auto r = check_set(h, SetCheckOptions{lost});
  EXPECT_TRUE(r.ok);
  ASSERT_EQ(r.notes.size(), 21u);
  EXPECT_EQ(r.notes.back(), "... 10 more notes");
}

// A grow-only set simulated with random concurrency passes; dropping an acknowledged element
// from one later read, or adding one never attempted, fails.
TEST(SetCheckerRandomTest, GeneratedHistoriesPassAndMutationsFail) {
  for (uint64_t seed = 1; seed <= 100; ++seed) {
    Random rng(seed);
    std::vector<Planned> planned = plan_concurrent(rng, 5, 200, 50, [&](int64_t i, int p) {
      return rng.chance(0.5) ? sadd(p, "e" + std::to_string(i), 0, 0) : smembers(p, {}, 0, 0);
    });
    std::set<std::string> current;
    std::vector<Op> h;
    for (Planned& x : planned) {
      if (x.op.type == OpType::kSadd) {
        if (rng.chance(0.1)) x.op.status = OpStatus::kInfo;
        if (x.op.ok() || rng.chance(0.5)) current.insert(*x.op.value);
      } else {
        x.op.members.assign(current.begin(), current.end());
      }
      h.push_back(x.op);
    }
    ASSERT_TRUE(check_set(h).ok) << "seed " << seed << check_set(h).explanation;

    // Lost: remove an acknowledged element from a read that began after the ack.
    bool mutated = false;
    for (size_t i = 0; i < h.size() && !mutated; ++i) {
      if (h[i].type != OpType::kSadd || !h[i].ok()) continue;
      for (Op& r : h) {
        if (r.type != OpType::kSmembers || r.invoke <= h[i].complete) continue;
        auto& m = r.members;
        m.erase(std::find(m.begin(), m.end(), *h[i].value));
        mutated = true;
        break;
      }
    }
    if (mutated) {
      const auto r = check_set(h);
      ASSERT_EQ(r.verdict, Verdict::kViolation) << "seed " << seed;
      EXPECT_NE(r.explanation.find("lost"), std::string::npos);
    }
  }
}

// An async grow-only set: now and then a failover removes the last few elements applied, and
// the servers list each removed element. Valid with the listing; dropping from the listing an
// acknowledged element that a later read missed makes it a violation.
TEST(SetCheckerListedLossTest, GeneratedFailoversPassOnlyWithTheirListing) {
  int unlisted_caught = 0;
  for (uint64_t seed = 1; seed <= 100; ++seed) {
    Random rng(seed);
    std::vector<Planned> planned = plan_concurrent(rng, 5, 200, 50, [&](int64_t i, int p) {
      return rng.chance(0.5) ? sadd(p, "e" + std::to_string(i), 0, 0) : smembers(p, {}, 0, 0);
    });
    std::vector<std::string> current;  // in the order applied
    std::set<LostElement> lost;
    std::vector<Op> h;
    for (Planned& x : planned) {
      if (x.op.type == OpType::kSadd) {
        if (rng.chance(0.1)) x.op.status = OpStatus::kInfo;
        if (x.op.ok() || rng.chance(0.5)) current.push_back(*x.op.value);
        if (rng.chance(0.05)) {
          for (size_t n = rng.uniform(4); n > 0 && !current.empty(); --n) {
            lost.insert({"s", current.back()});
            current.pop_back();
          }
        }
      } else {
        x.op.members = current;
      }
      h.push_back(x.op);
    }
    h.push_back(smembers(99, current, 1'000'000, 1'000'010));  // the final read
    const auto r = check_set(h, SetCheckOptions{lost});
    ASSERT_TRUE(r.ok) << "seed " << seed << "\n" << r.explanation;
    ASSERT_TRUE(r.notes.empty()) << r.notes[0];

    for (const Op& a : h) {
      if (a.type != OpType::kSadd || !a.ok() || lost.erase({"s", *a.value}) == 0) continue;
      const auto unlisted = check_set(h, SetCheckOptions{lost});
      ASSERT_EQ(unlisted.verdict, Verdict::kViolation) << "seed " << seed;
      EXPECT_NE(unlisted.explanation.find("lost \"" + *a.value + "\""), std::string::npos)
          << unlisted.explanation;
      ++unlisted_caught;
      break;
    }
  }
  EXPECT_GT(unlisted_caught, 50);
}

}  // namespace
}  // namespace rkv::check
