#include "multileader/stability.h"

#include <gtest/gtest.h>

namespace rkv::multileader {
namespace {

TEST(Stability, NothingIsStableUntilEveryMemberReported) {
  Stability s(3);
  s.report(0, 10, {{10, 5}, {20, 3}});
  s.report(1, 20, {{10, 5}, {20, 3}});
  EXPECT_FALSE(s.known_all());
  EXPECT_EQ(s.stable(10), 0u);
  EXPECT_FALSE(s.covers({{10, 1}}));
  s.report(2, 30, {{10, 4}});
  EXPECT_TRUE(s.known_all());
  EXPECT_EQ(s.stable(10), 4u);
  EXPECT_EQ(s.stable(20), 0u);  // member 2 holds none of actor 20's log
  EXPECT_TRUE(s.covers({{10, 4}}));
  EXPECT_FALSE(s.covers({{10, 5}}));
}

TEST(Stability, FrontierIsEachMembersOwnPosition) {
  Stability s(2);
  s.report(0, 10, {{10, 7}, {20, 2}});
  s.report(1, 20, {{10, 6}, {20, 9}});
  EXPECT_EQ(s.frontier(), (AppliedVector{{10, 7}, {20, 9}}));
  EXPECT_FALSE(s.covers(s.frontier()));
  s.report(0, 10, {{10, 7}, {20, 9}});
  s.report(1, 20, {{10, 7}, {20, 9}});
  EXPECT_TRUE(s.covers(s.frontier()));
}

TEST(Stability, AWipedMemberComesBackUnderANewActor) {
  Stability s(2);
  s.report(0, 10, {{10, 3}, {20, 3}});
  s.report(1, 20, {{10, 3}, {20, 3}});
  EXPECT_EQ(s.stable(20), 3u);
  s.report(1, 21, {});  // data dir lost: nothing held
  EXPECT_EQ(s.stable(10), 0u);
  EXPECT_EQ(s.actor_of(1), 21u);
}

}  // namespace
}  // namespace rkv::multileader
