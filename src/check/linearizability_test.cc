#include "check/linearizability.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "check/random_history.h"
#include "check/test_util.h"

namespace rkv::check {
namespace {

using namespace testing_util;  // NOLINT

TEST(LinearizabilityTest, EmptyHistoryIsValid) {
  const auto r = check_linearizable({});
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.verdict, Verdict::kValid);
}

TEST(LinearizabilityTest, StaleReadIsExplained) {
  std::vector<Op> h = {set(1, "k", "1", 0, 10), set(1, "k", "2", 20, 30), get(2, "k", "1", 40, 50)};
  for (size_t i = 0; i < h.size(); ++i)
    h[i].line = static_cast<int64_t>(i + 1);
  const auto r = check_linearizable(h);
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_EQ(r.failing_key, "k");
  EXPECT_EQ(r.witness.size(), 3u);
  EXPECT_NE(r.explanation.find("cannot explain line 3: p2 get \"k\" -> \"1\""), std::string::npos)
      << r.explanation;
  EXPECT_NE(r.explanation.find("latest write acknowledged before the read began: line 2"),
            std::string::npos)
      << r.explanation;
}

TEST(LinearizabilityTest, ReportsTheFailingKeyWithFewestOps) {
  std::vector<Op> h;
  for (int i = 0; i < 10; ++i)
    h.push_back(set(1, "big", std::to_string(i), i * 10, i * 10 + 5));
  h.push_back(get(1, "big", "0", 200, 210));
  h.push_back(set(2, "small", "x", 0, 5));
  h.push_back(get(2, "small", "y", 10, 15));
  h.push_back(set(3, "fine", "x", 0, 5));
  h.push_back(get(3, "fine", "x", 10, 15));
  const auto r = check_linearizable(h);
  ASSERT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_EQ(r.failing_key, "small");
  EXPECT_EQ(r.keys, 3);
  EXPECT_NE(r.explanation.find("2 keys fail"), std::string::npos) << r.explanation;
}

TEST(LinearizabilityTest, WitnessIsCutAtTheFirstUnexplainableCompletion) {
  std::vector<Op> h;
  int64_t t = 0;
  for (int i = 0; i < 50; ++i, t += 20) {
    h.push_back(set(1, "k", std::to_string(i), t, t + 5));
    h.push_back(get(2, "k", std::to_string(i), t + 10, t + 15));
  }
  h.push_back(get(2, "k", "never", t, t + 5));  // fails here
  for (int i = 0; i < 50; ++i, t += 20)
    h.push_back(set(1, "k", "z", t + 10, t + 15));
  const auto r = check_linearizable(h);
  ASSERT_EQ(r.verdict, Verdict::kViolation);
  ASSERT_EQ(r.witness.size(), 101u);
  EXPECT_EQ(r.witness.back().value, "never");
  EXPECT_NE(r.explanation.find("earlier operations not shown"), std::string::npos);
}

TEST(LinearizabilityTest, InfoWriteMayTakeEffectAfterItsRecordedCompletion) {
  const std::vector<Op> h = {set(1, "k", "1", 0, 10), set(2, "k", "2", 20, 25, OpStatus::kInfo),
                             get(3, "k", "1", 30, 40), get(3, "k", "2", 50, 60)};
  EXPECT_TRUE(check_linearizable(h).ok);
}

TEST(LinearizabilityTest, OkWriteMayNotTakeEffectAfterItsCompletion) {
  const std::vector<Op> h = {set(1, "k", "1", 0, 10), set(2, "k", "2", 20, 25),
                             get(3, "k", "1", 30, 40), get(3, "k", "2", 50, 60)};
  EXPECT_EQ(check_linearizable(h).verdict, Verdict::kViolation);
}

TEST(LinearizabilityTest, CasAgainstAbsent) {
  Op cas = op(1, OpType::kCas, "k", "a", 0, 10);
  cas.expected = std::nullopt;
  EXPECT_TRUE(check_linearizable({cas, get(1, "k", "a", 20, 30)}).ok);
  std::vector<Op> h = {set(1, "k", "b", 0, 5), cas};
  h[1].invoke = 10;
  h[1].complete = 20;
  EXPECT_FALSE(check_linearizable(h).ok);
}

TEST(LinearizabilityTest, IncrOverflowCannotApply) {
  const std::vector<Op> h = {set(1, "k", "9223372036854775807", 0, 5),
                             incr(1, "k", 1, std::nullopt, 10, 20)};
  EXPECT_EQ(check_linearizable(h).verdict, Verdict::kViolation);
}

TEST(LinearizabilityTest, SetOpsAreBadInput) {
  const auto r = check_linearizable({op(1, OpType::kSadd, "s", "a", 0, 1)});
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.verdict, Verdict::kBadInput);
}

// Many concurrent info writes make the search exponential; a tiny budget must say "unknown",
// not "violation".
TEST(LinearizabilityTest, BudgetExceededIsUnknownNotViolation) {
  std::vector<Op> h;
  for (int i = 0; i < 20; ++i) {
    h.push_back(set(i, "k", std::to_string(i), 0, kNoComplete, OpStatus::kInfo));
  }
  for (int i = 0; i < 20; ++i) {
    h.push_back(get(50 + i, "k", std::to_string(i), 100 + i * 10, 105 + i * 10));
  }
  h.push_back(get(99, "k", "0", 400, 410));  // 0 was overwritten after it was read
  LinearizabilityOptions small;
  small.max_steps_per_key = 50;
  const auto r = check_linearizable(h, small);
  EXPECT_EQ(r.verdict, Verdict::kUnknown);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.explanation.find("unknown: search budget exceeded"), std::string::npos);
  EXPECT_EQ(check_linearizable(h).verdict, Verdict::kViolation);  // the default budget suffices
}

TEST(LinearizabilityTest, ReadOfAValueNoOperationWroteIsExplained) {
  const auto r = check_linearizable({set(1, "k", "1", 0, 10), get(2, "k", "7", 5, 30)});
  ASSERT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_NE(r.explanation.find("no operation on this key ever wrote \"7\""), std::string::npos)
      << r.explanation;
}

// With fewer info writes the memoised search settles the same shape of history exactly.
TEST(LinearizabilityTest, ConcurrentInfoWritesThenImpossibleReadIsAViolation) {
  std::vector<Op> h;
  for (int i = 0; i < 12; ++i) {
    h.push_back(set(i, "k", std::to_string(i), 0, kNoComplete, OpStatus::kInfo));
  }
  h.push_back(get(99, "k", "nope", 100, 110));
  EXPECT_EQ(check_linearizable(h).verdict, Verdict::kViolation);
  h.back().value = "7";
  EXPECT_TRUE(check_linearizable(h).ok);
}

TEST(LinearizabilityTest, MemoryBudgetIsEnforced) {
  Random rng(7);
  RegisterHistoryOptions o;
  o.ops = 2000;
  const auto h = generate_register_history(rng, o);
  LinearizabilityOptions small;
  small.max_memo_bytes_per_key = 4096;
  EXPECT_EQ(check_linearizable(h, small).verdict, Verdict::kUnknown);
}

// --- randomized: histories of a real register are linearizable; one bad read is caught ---

RegisterHistoryOptions random_options(Random& rng) {
  RegisterHistoryOptions o;
  o.processes = static_cast<int>(rng.range(2, 10));
  o.keys = static_cast<int>(rng.range(1, 4));
  o.ops = static_cast<int64_t>(rng.range(20, 400));
  o.max_latency = static_cast<int64_t>(rng.range(5, 200));
  o.info_fraction = rng.chance(0.5) ? 0.0 : 0.15;
  return o;
}

TEST(LinearizabilityRandomTest, GeneratedHistoriesPass) {
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    Random rng(seed);
    const auto h = generate_register_history(rng, random_options(rng));
    const auto r = check_linearizable(h);
    ASSERT_TRUE(r.ok) << "seed " << seed << "\n" << r.explanation;
  }
}

TEST(LinearizabilityRandomTest, ReadOfANeverWrittenValueFails) {
  int mutated = 0;
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    Random rng(seed);
    auto h = generate_register_history(rng, random_options(rng));
    std::vector<size_t> reads;
    for (size_t i = 0; i < h.size(); ++i) {
      if (h[i].type == OpType::kGet && h[i].ok()) reads.push_back(i);
    }
    if (reads.empty()) continue;
    Op& victim = h[reads[rng.uniform(reads.size())]];
    victim.value = "never-written";
    ++mutated;
    const auto r = check_linearizable(h);
    ASSERT_EQ(r.verdict, Verdict::kViolation) << "seed " << seed;
    EXPECT_EQ(r.failing_key, victim.key);
    EXPECT_NE(r.explanation.find("\"never-written\""), std::string::npos);
  }
  EXPECT_GT(mutated, 150);
}

// A read returning a value that was overwritten by a write acknowledged before the read began
// (values are unique, so nothing can bring it back) must fail.
TEST(LinearizabilityRandomTest, StaleReadFails) {
  int mutated = 0;
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    Random rng(seed);
    RegisterHistoryOptions o = random_options(rng);
    o.only_set_get_del = true;
    o.info_fraction = seed % 2 == 0 ? 0.0 : 0.05;
    auto h = generate_register_history(rng, o);
    for (size_t ri = 0; ri < h.size(); ++ri) {
      Op& r = h[ri];
      if (r.type != OpType::kGet || !r.ok()) continue;
      const Op* stale = nullptr;
      for (const Op& w : h) {
        if (w.key != r.key || w.type != OpType::kSet || !w.ok()) continue;
        for (const Op& w2 : h) {
          if (w2.key == r.key && w2.type != OpType::kGet && w2.ok() && w.complete < w2.invoke &&
              w2.complete < r.invoke) {
            stale = &w;
            break;
          }
        }
        if (stale != nullptr) break;
      }
      if (stale == nullptr) continue;
      r.value = stale->value;
      ++mutated;
      const auto res = check_linearizable(h);
      ASSERT_EQ(res.verdict, Verdict::kViolation) << "seed " << seed << " read line " << r.line;
      EXPECT_EQ(res.failing_key, r.key);
      break;
    }
  }
  EXPECT_GT(mutated, 100);
}

TEST(LinearizabilityRandomTest, LongSingleKeyHistoryWithConcurrencyTen) {
  Random rng(2026);
  RegisterHistoryOptions o;
  o.processes = 10;
  o.keys = 1;
  o.ops = 4000;
  o.info_fraction = 0.01;
  const auto h = generate_register_history(rng, o);
  const auto r = check_linearizable(h);
  EXPECT_TRUE(r.ok) << r.explanation;
}

TEST(LinearizabilityRandomTest, SameSeedSameExplanation) {
  auto run = [] {
    Random rng(99);
    RegisterHistoryOptions o;
    o.keys = 5;
    o.ops = 300;
    auto h = generate_register_history(rng, o);
    for (Op& op : h) {
      if (op.type == OpType::kGet && op.ok()) op.value = "bad";
    }
    return check_linearizable(h).explanation;
  };
  EXPECT_EQ(run(), run());
}

// --- cross-check against brute force on small histories ---

namespace brute {

// The register model written independently of the checker: nullopt result = cannot apply.
std::optional<std::optional<std::string>> apply_op(const std::optional<std::string>& s,
                                                   const Op& op) {
  switch (op.type) {
    case OpType::kGet:
      if (op.value != s) return std::nullopt;
      return s;
    case OpType::kSet:
      return op.value;
    case OpType::kDel:
      return std::optional<std::string>();
    case OpType::kCas:
      if (op.expected != s) return std::nullopt;
      return op.value;
    case OpType::kAppend:
      return s.value_or("") + *op.value;
    case OpType::kIncr: {
      long long cur = 0;
      if (s) {
        size_t used = 0;
        try {
          cur = std::stoll(*s, &used);
        } catch (...) {
          return std::nullopt;
        }
        if (used != s->size()) return std::nullopt;
      }
      const std::string next = std::to_string(cur + op.delta);
      if (op.ok() && op.value && *op.value != next) return std::nullopt;
      return next;
    }
    default:
      return std::nullopt;
  }
}

// Tries every subset of info ops and every order of the chosen ops consistent with real time.
bool linearizable(const std::vector<Op>& all) {
  std::vector<Op> ops;
  for (const Op& op : all) {
    if (op.fail() || (op.info() && op.type == OpType::kGet)) continue;
    ops.push_back(op);
  }
  const size_t n = ops.size();
  for (uint32_t mask = 0; mask < (1u << n); ++mask) {
    std::vector<int> chosen;
    bool ok_all = true;
    for (size_t i = 0; i < n; ++i) {
      if (mask & (1u << i)) {
        chosen.push_back(static_cast<int>(i));
      } else if (ops[i].ok()) {
        ok_all = false;
      }
    }
    if (!ok_all) continue;
    std::sort(chosen.begin(), chosen.end());
    do {
      bool order_ok = true;
      for (size_t a = 0; a < chosen.size() && order_ok; ++a) {
        for (size_t b = a + 1; b < chosen.size() && order_ok; ++b) {
          const Op& first = ops[chosen[a]];
          const Op& later = ops[chosen[b]];
          const int64_t later_complete = later.info() ? kNoComplete : later.complete;
          if (later_complete < first.invoke) order_ok = false;
        }
      }
      if (!order_ok) continue;
      std::optional<std::string> s;
      bool applied = true;
      for (int i : chosen) {
        auto next = apply_op(s, ops[i]);
        if (!next) {
          applied = false;
          break;
        }
        s = *next;
      }
      if (applied) return true;
    } while (std::next_permutation(chosen.begin(), chosen.end()));
  }
  return false;
}

}  // namespace brute

TEST(LinearizabilityRandomTest, AgreesWithBruteForceOnSmallHistories) {
  int violations = 0;
  for (uint64_t seed = 1; seed <= 3000; ++seed) {
    Random rng(seed);
    RegisterHistoryOptions o;
    o.processes = static_cast<int>(rng.range(2, 4));
    o.ops = static_cast<int64_t>(rng.range(2, 8));
    o.max_latency = 20;
    o.info_fraction = 0.3;
    auto h = generate_register_history(rng, o);
    // Corrupt some reads with values that occur elsewhere in the history (or absent).
    std::vector<std::optional<std::string>> values = {std::nullopt};
    for (const Op& op : h) {
      if (op.value) values.push_back(op.value);
    }
    for (Op& op : h) {
      if (op.type == OpType::kGet && rng.chance(0.3)) op.value = values[rng.uniform(values.size())];
      if (op.type == OpType::kIncr && op.ok() && op.value && rng.chance(0.3)) {
        op.value = std::to_string(rng.uniform(4));
      }
    }
    const bool expected = brute::linearizable(h);
    violations += expected ? 0 : 1;
    const auto r = check_linearizable(h);
    ASSERT_EQ(r.ok, expected) << "seed " << seed << "\n" << r.explanation;
  }
  EXPECT_GT(violations, 100);
}

}  // namespace
}  // namespace rkv::check
