#include "raft/quorum.h"

#include <gtest/gtest.h>

namespace rkv::quorum {
namespace {

TEST(Quorum, MajorityIndexIsTheHighestIndexHeldByAMajority) {
  EXPECT_EQ(majority_index({5}), 5u);
  EXPECT_EQ(majority_index({5, 1, 3}), 3u);
  EXPECT_EQ(majority_index({5, 1, 3, 2}), 2u);  // 3 of 4 needed
  EXPECT_EQ(majority_index({9, 9, 0, 0, 9}), 9u);
  EXPECT_EQ(majority_index({9, 8, 0, 0, 1}), 1u);
}

TEST(Quorum, QuorumIndexCountsAnyThreshold) {
  EXPECT_EQ(quorum_index({4, 7, 1}, 1), 7u);  // W=1
  EXPECT_EQ(quorum_index({4, 7, 1}, 3), 1u);  // W=N
}

TEST(Quorum, TallyDecidesAsSoonAsTheOutcomeIsCertain) {
  EXPECT_EQ(tally_majority(3, 1, 0), VoteResult::kPending);
  EXPECT_EQ(tally_majority(3, 2, 0), VoteResult::kWon);
  EXPECT_EQ(tally_majority(3, 1, 1), VoteResult::kPending);
  EXPECT_EQ(tally_majority(3, 1, 2), VoteResult::kLost);
  EXPECT_EQ(tally_majority(4, 2, 1), VoteResult::kPending);
  EXPECT_EQ(tally_majority(4, 2, 2), VoteResult::kLost);
  EXPECT_EQ(tally_majority(1, 1, 0), VoteResult::kWon);
  EXPECT_EQ(tally(5, 2, 0, 2), VoteResult::kWon);  // R=2 of N=5
  EXPECT_EQ(tally(5, 1, 4, 2), VoteResult::kLost);
}

}  // namespace
}  // namespace rkv::quorum
