#include "check/leaderless_blackbox.h"

#include <gtest/gtest.h>

namespace rkv::check {
namespace {

BlackboxOp op(OpType type, std::string key, int64_t invoke, int64_t complete, int replicas = 2) {
  BlackboxOp b;
  b.op.type = type;
  b.op.key = std::move(key);
  b.op.invoke = invoke;
  b.op.complete = complete;
  b.replicas = replicas;
  return b;
}

BlackboxOp set(std::string key, std::string value, int64_t invoke, int64_t complete,
               int replicas = 2, OpStatus status = OpStatus::kOk) {
  BlackboxOp b = op(OpType::kSet, std::move(key), invoke,
                    status == OpStatus::kInfo ? kNoComplete : complete, replicas);
  b.op.value = std::move(value);
  b.op.status = status;
  return b;
}

BlackboxOp del(std::string key, int64_t invoke, int64_t complete) {
  return op(OpType::kDel, std::move(key), invoke, complete);
}

BlackboxOp get(std::string key, std::optional<std::string> value, int64_t invoke, int64_t complete,
               int replicas = 2) {
  BlackboxOp b = op(OpType::kGet, std::move(key), invoke, complete, replicas);
  b.op.value = std::move(value);
  return b;
}

BlackboxOp siblings(std::string key, std::vector<std::string> members, int64_t invoke,
                    int64_t complete) {
  BlackboxOp b = op(OpType::kSmembers, std::move(key), invoke, complete);
  b.op.members = std::move(members);
  return b;
}

const BlackboxFacts kSiblingsStrict{3, false, false};
const BlackboxFacts kLwwStrict{3, false, true};

TEST(LeaderlessBlackboxTest, KeptWritesAndFreshReadsAreValid) {
  std::vector<BlackboxOp> h = {set("k", "v1", 0, 10), get("k", "v1", 20, 30),
                               siblings("k", {"v1"}, 40, 50)};
  auto w = set("k", "v2", 60, 70);
  w.covered = {"v1"};
  h.push_back(w);
  h.push_back(get("k", "v2", 80, 90));
  const auto r = check_leaderless_blackbox(h, {{"k", {"v2"}}}, kSiblingsStrict);
  EXPECT_TRUE(r.ok) << r.explanation;
  EXPECT_EQ(r.ops, 5);
}

TEST(LeaderlessBlackboxTest, AcknowledgedValueMissingWithoutLaterWriteIsLost) {
  // v1 was acknowledged; v0 finished before v1 started, so it cannot have replaced it.
  const std::vector<BlackboxOp> h = {set("k", "v0", 0, 10), set("k", "v1", 20, 30)};
  const auto r = check_leaderless_blackbox(h, {{"k", {"v0"}}}, kSiblingsStrict);
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.failing_key, "k");
  EXPECT_NE(r.explanation.find("rule 1"), std::string::npos) << r.explanation;
  EXPECT_NE(r.explanation.find("\"v1\""), std::string::npos) << r.explanation;
  // Under LWW an earlier write may carry the greater clock reading: allowed (counted by the
  // nodes as lww_discarded, not judged here).
  EXPECT_TRUE(check_leaderless_blackbox(h, {{"k", {"v0"}}}, kLwwStrict).ok);
  // A later write, even of unknown outcome, may have replaced it.
  auto h2 = h;
  h2.push_back(set("k", "v2", 40, 0, 2, OpStatus::kInfo));
  EXPECT_TRUE(check_leaderless_blackbox(h2, {{"k", {"v0"}}}, kSiblingsStrict).ok);
  // A failed write applied nothing.
  auto h3 = h;
  h3.push_back(set("k", "v3", 40, 50, 2, OpStatus::kFail));
  EXPECT_FALSE(check_leaderless_blackbox(h3, {{"k", {"v0"}}}, kSiblingsStrict).ok);
  // A value with a short expiry may be gone.
  auto h4 = h;
  h4[1].expires_soon = true;
  EXPECT_TRUE(check_leaderless_blackbox(h4, {{"k", {"v0"}}}, kSiblingsStrict).ok);
}

TEST(LeaderlessBlackboxTest, ReplacedValueBackInHealedClusterIsCaught) {
  std::vector<BlackboxOp> h = {set("k", "v1", 0, 10), siblings("k", {"v1"}, 20, 30)};
  auto w = set("k", "v2", 40, 50);
  w.covered = {"v1"};
  h.push_back(w);
  const auto r = check_leaderless_blackbox(h, {{"k", {"v1", "v2"}}}, kSiblingsStrict);
  ASSERT_FALSE(r.ok);
  EXPECT_NE(r.explanation.find("rule 2"), std::string::npos) << r.explanation;
  // LWW ignores contexts: nothing is promised of them.
  EXPECT_TRUE(check_leaderless_blackbox(h, {{"k", {"v1", "v2"}}}, kLwwStrict).ok);
}

TEST(LeaderlessBlackboxTest, ReadMissingAnOverlappingAcknowledgedWrite) {
  const std::vector<BlackboxOp> nil_read = {set("k", "v1", 0, 10), get("k", std::nullopt, 20, 30)};
  const auto r = check_leaderless_blackbox(nil_read, {{"k", {"v1"}}}, kSiblingsStrict);
  ASSERT_FALSE(r.ok);
  EXPECT_NE(r.explanation.find("rule 3a"), std::string::npos) << r.explanation;
  EXPECT_FALSE(check_leaderless_blackbox(nil_read, {{"k", {"v1"}}}, kLwwStrict).ok);
  // Quorums that need not overlap (R + W <= N), sloppy quorums, a read that started before the
  // write finished, or a DEL that ran: nil is allowed.
  auto one = nil_read;
  one[1].replicas = 1;
  EXPECT_TRUE(check_leaderless_blackbox(one, {{"k", {"v1"}}}, kSiblingsStrict).ok);
  EXPECT_TRUE(check_leaderless_blackbox(nil_read, {{"k", {"v1"}}}, {3, true, false}).ok);
  auto early = nil_read;
  early[1].op.invoke = 5;
  EXPECT_TRUE(check_leaderless_blackbox(early, {{"k", {"v1"}}}, kSiblingsStrict).ok);
  auto deleted = nil_read;
  deleted.push_back(del("k", 12, 15));
  EXPECT_TRUE(check_leaderless_blackbox(deleted, {}, kSiblingsStrict).ok);

  // A read returning what an overlapping acknowledged write had replaced.
  std::vector<BlackboxOp> stale = {set("k", "v1", 0, 10), siblings("k", {"v1"}, 20, 30)};
  auto w = set("k", "v2", 40, 50);
  w.covered = {"v1"};
  stale.push_back(w);
  stale.push_back(get("k", "v1", 60, 70));
  const auto s = check_leaderless_blackbox(stale, {{"k", {"v2"}}}, kSiblingsStrict);
  ASSERT_FALSE(s.ok);
  EXPECT_NE(s.explanation.find("rule 3b"), std::string::npos) << s.explanation;
  EXPECT_EQ(s.witness.size(), 2u);
}

TEST(LeaderlessBlackboxTest, ReadWithoutTheAcknowledgedValue) {
  // v1 finished before v2 started: v2 cannot have been replaced by it, so a quorum SIBLINGS
  // read after v2 must show v2.
  const std::vector<BlackboxOp> h = {set("k", "v1", 0, 10), set("k", "v2", 20, 30),
                                     siblings("k", {"v1"}, 40, 50)};
  const FinalValues finals = {{"k", {"v1", "v2"}}};
  const auto r = check_leaderless_blackbox(h, finals, kSiblingsStrict);
  ASSERT_FALSE(r.ok);
  EXPECT_NE(r.explanation.find("rule 3c"), std::string::npos) << r.explanation;
  EXPECT_NE(r.explanation.find("\"v2\""), std::string::npos) << r.explanation;
  // Under siblings a GET returns one sibling: not judged by (c).
  auto as_get = h;
  as_get[2] = get("k", "v1", 40, 50);
  EXPECT_TRUE(check_leaderless_blackbox(as_get, finals, kSiblingsStrict).ok);
  // Under LWW any other write of the key may carry the greater clock reading, an earlier one
  // included: the GET may return v1.
  EXPECT_TRUE(check_leaderless_blackbox(as_get, finals, kLwwStrict).ok);
  const std::vector<BlackboxOp> lww_ok = {set("k", "v2", 20, 30), get("k", "v2", 40, 50),
                                          set("k", "v3", 45, 60), get("k", "v3", 70, 80)};
  EXPECT_TRUE(check_leaderless_blackbox(lww_ok, {{"k", {"v3"}}}, kLwwStrict).ok);
  // A concurrent write (started before v2 finished) may have replaced it under siblings.
  auto concurrent = h;
  concurrent.push_back(set("k", "v3", 25, 35));
  EXPECT_TRUE(check_leaderless_blackbox(concurrent, {{"k", {"v1", "v3"}}}, kSiblingsStrict).ok)
      << check_leaderless_blackbox(concurrent, {{"k", {"v1", "v3"}}}, kSiblingsStrict).explanation;
}

TEST(LeaderlessBlackboxTest, InventedValuesAreCaught) {
  const std::vector<BlackboxOp> h = {set("k", "v1", 0, 10), get("k", "zz", 20, 30)};
  const auto r = check_leaderless_blackbox(h, {{"k", {"v1"}}}, kSiblingsStrict);
  ASSERT_FALSE(r.ok);
  EXPECT_NE(r.explanation.find("rule 4"), std::string::npos) << r.explanation;
  // A value of another key, or held at the end without any SET.
  EXPECT_FALSE(check_leaderless_blackbox({set("k", "v1", 0, 10)}, {{"k", {"v1"}}, {"j", {"v1"}}},
                                         kSiblingsStrict)
                   .ok);
  // A read returning a value whose SET started after the read finished.
  const std::vector<BlackboxOp> future = {get("k", "v1", 0, 5), set("k", "v1", 10, 20)};
  EXPECT_FALSE(check_leaderless_blackbox(future, {{"k", {"v1"}}}, kSiblingsStrict).ok);
}

}  // namespace
}  // namespace rkv::check
