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

TEST(LeaderlessChecker, ExpiringWritesExcuseMissingReadsOnlyOnceTheyMayHaveExpired) {
  // hlc readings carry wall ms in their upper bits (versions/hlc.h).
  const int64_t epoch = 1'700'000'000'000;
  auto hlc_at = [&](int64_t wall_ms) { return static_cast<uint64_t>(wall_ms) << 16; };
  LeaderlessLedger ledger(ConflictMode::kSiblings);
  Versioned a;
  Sibling v1 = value("v1", hlc_at(epoch + 1));
  v1.expire_at_ms = epoch + 1 + 100;  // PX 100, written at t = 1 ms
  a.update(kA, {}, v1);
  ASSERT_EQ(ledger.observe(0, "k", a, 1000), "");
  LeaderlessFacts f;
  f.n = 3;
  f.sloppy = false;
  f.conflict = ConflictMode::kSiblings;
  f.epoch_ms = epoch;
  f.max_clock_ahead_ms = 10;
  HomeObjects homes = {{"k", {{0, a}}}};
  // A nil read long after the expiry: fine. At the end the value is not asked for either.
  std::vector<LeaderlessOp> h = {{op(OpType::kSet, "k", "v1", 0, 5000), 2},
                                 {op(OpType::kGet, "k", std::nullopt, 200'000, 201'000), 2}};
  EXPECT_TRUE(check_leaderless(h, ledger, homes, f).ok);
  EXPECT_TRUE(check_leaderless(h, ledger, {{"k", {{0, Versioned{}}}}}, f).ok);
  // A nil read well before any clock could show it expired: a missed write.
  h[1].op.invoke = 20'000;
  h[1].op.complete = 21'000;
  CheckResult r = check_leaderless(h, ledger, homes, f);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.explanation.find("read missed"), std::string::npos) << r.explanation;
  // Within the clocks' spread of the expiry: excused.
  f.max_clock_ahead_ms = 90;
  EXPECT_TRUE(check_leaderless(h, ledger, homes, f).ok);

  // What an expiring write replaced must not come back when it expires.
  LeaderlessLedger l2(ConflictMode::kSiblings);
  Versioned old;
  old.update(kA, {}, value("v0", hlc_at(epoch)));
  ASSERT_EQ(l2.observe(0, "j", old, 500), "");
  Versioned exp = old;
  Sibling v2 = value("v2", hlc_at(epoch + 2));
  v2.expire_at_ms = epoch + 2 + 50;
  exp.update(kA, old.context(), v2);
  ASSERT_EQ(l2.observe(0, "j", exp, 2000), "");
  std::vector<LeaderlessOp> h2 = {{op(OpType::kSet, "j", "v0", 0, 600), 2},
                                  {op(OpType::kSet, "j", "v2", 1000, 3000), 2}};
  EXPECT_TRUE(check_leaderless(h2, l2, {{"j", {{0, exp}, {1, exp}}}}, f).ok);
  r = check_leaderless(h2, l2, {{"j", {{0, exp}, {1, old}}}}, f);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.explanation.find("came back"), std::string::npos) << r.explanation;
}

}  // namespace
}  // namespace rkv::check
