#include "check/leaderless_checker.h"

#include <gtest/gtest.h>

namespace rkv::check {
namespace {

using versions::Dot;
using versions::Sibling;
using versions::Versioned;
using versions::VersionVector;

constexpr versions::ActorId kA = (0ull << 32) | 7, kB = (1ull << 32) | 9;

Sibling value(std::string v, uint64_t hlc) {
  Sibling s;
  s.value = std::move(v);
  s.hlc = hlc;
  return s;
}

Op op(OpType t, std::string key, std::optional<std::string> v, int64_t invoke, int64_t complete) {
  Op o;
  o.type = t;
  o.key = std::move(key);
  o.value = std::move(v);
  o.invoke = invoke;
  o.complete = complete;
  return o;
}

TEST(LeaderlessLedger, ASupersededSiblingThatComesBackIsAViolation) {
  LeaderlessLedger ledger(ConflictMode::kSiblings);
  Versioned a;
  a.update(kA, {}, value("v1", 10));
  EXPECT_EQ(ledger.observe(0, "k", a, 1), "");
  Versioned b = a;
  b.update(kA, a.context(), value("v2", 20));  // replaces v1
  EXPECT_EQ(ledger.observe(0, "k", b, 2), "");
  ASSERT_EQ(b.siblings().size(), 1u);
  // Concurrent writes at two replicas are fine as siblings.
  Versioned c;
  c.update(kB, {}, value("v3", 15));
  Versioned both = b;
  both.merge(c);
  EXPECT_EQ(ledger.observe(1, "k", both, 3), "");
  // A value stored again under a second dot: the SET ran twice.
  Versioned again = both;
  again.update(kB, {}, value("v3", 30));
  EXPECT_NE(ledger.observe(1, "k", again, 4).find("ran twice"), std::string::npos);
}

TEST(LeaderlessChecker, AnAcknowledgedWriteMissingFromAHomeIsLost) {
  LeaderlessLedger ledger(ConflictMode::kSiblings);
  Versioned a;
  a.update(kA, {}, value("v1", 10));
  ASSERT_EQ(ledger.observe(0, "k", a, 1), "");
  std::vector<LeaderlessOp> h = {{op(OpType::kSet, "k", "v1", 0, 5), 1}};
  HomeObjects homes = {{"k", {{0, a}, {1, Versioned{}}}}};
  LeaderlessFacts f;
  f.conflict = ConflictMode::kSiblings;
  CheckResult r = check_leaderless(h, ledger, homes, f);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.explanation.find("lost"), std::string::npos) << r.explanation;
  homes["k"][1].second = a;
  EXPECT_TRUE(check_leaderless(h, ledger, homes, f).ok);
  EXPECT_FALSE(check_leaderless_convergence({{"k", {{0, a}, {1, Versioned{}}}}}).ok);
}

TEST(LeaderlessChecker, UnderLwwAGreaterConcurrentWriteMayDiscardAnAcknowledgedOne) {
  LeaderlessLedger ledger(ConflictMode::kLww);
  Versioned a, b;
  a.update(kA, {}, value("v1", 10));
  b.update(kB, {}, value("v2", 20));
  ASSERT_EQ(ledger.observe(0, "k", a, 1), "");
  ASSERT_EQ(ledger.observe(1, "k", b, 2), "");
  Versioned m = a;
  m.merge(b);
  m.resolve_lww();
  std::vector<LeaderlessOp> h = {{op(OpType::kSet, "k", "v1", 0, 5), 1}};
  LeaderlessFacts f;
  f.n = 1;
  f.conflict = ConflictMode::kLww;
  EXPECT_TRUE(check_leaderless(h, ledger, {{"k", {{0, m}}}}, f).ok);
  f.conflict = ConflictMode::kSiblings;  // ... but never when siblings are kept
  EXPECT_FALSE(check_leaderless(h, ledger, {{"k", {{0, m}}}}, f).ok);
}

TEST(LeaderlessChecker, AReadAfterAnOverlappingWriteMustNotReturnWhatItReplaced) {
  LeaderlessLedger ledger(ConflictMode::kSiblings);
  Versioned a;
  a.update(kA, {}, value("v1", 10));
  ASSERT_EQ(ledger.observe(0, "k", a, 1), "");
  Versioned b = a;
  b.update(kA, a.context(), value("v2", 20));
  ASSERT_EQ(ledger.observe(0, "k", b, 2), "");
  LeaderlessFacts f;
  f.n = 3;
  f.sloppy = false;
  f.conflict = ConflictMode::kSiblings;
  std::vector<LeaderlessOp> h = {{op(OpType::kSet, "k", "v1", 0, 5), 2},
                                 {op(OpType::kSet, "k", "v2", 6, 9), 2},
                                 {op(OpType::kGet, "k", "v1", 10, 12), 2}};
  HomeObjects homes = {{"k", {{0, b}}}};
  CheckResult r = check_leaderless(h, ledger, homes, f);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.explanation.find("stale read"), std::string::npos) << r.explanation;
  h[2].replicas = 1;  // R + W = N: no promise
  EXPECT_TRUE(check_leaderless(h, ledger, homes, f).ok);
}

}  // namespace
}  // namespace rkv::check
