#include "check/promises.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <utility>

namespace rkv::check {
namespace {

// Every value of the two enums (core/config.h); a new mode must be added here and to the table.
constexpr CommitMode kCommitModes[] = {CommitMode::kQuorum, CommitMode::kAll, CommitMode::kAsync};
constexpr ReadMode kReadModes[] = {ReadMode::kLinearizable, ReadMode::kLease, ReadMode::kFollower};

TEST(PromisesTest, EveryCombinationHasExactlyOneEntry) {
  std::set<std::pair<CommitMode, ReadMode>> listed;
  for (const ModePromise& m : every_mode()) {
    EXPECT_TRUE(listed.insert({m.commit, m.read}).second)
        << "twice: " << to_string(m.commit) << " " << to_string(m.read);
    EXPECT_NE(std::string(m.reads_text), "");
    EXPECT_NE(std::string(m.writes_text), "");
  }
  EXPECT_EQ(listed.size(), std::size(kCommitModes) * std::size(kReadModes));
  for (CommitMode c : kCommitModes) {
    for (ReadMode r : kReadModes) {
      EXPECT_TRUE(listed.count({c, r})) << to_string(c) << " " << to_string(r);
      const ModePromise& m = mode_promise(c, r);
      EXPECT_EQ(m.commit, c);
      EXPECT_EQ(m.read, r);
    }
  }
}

TEST(PromisesTest, EveryModeIsInEnumOrder) {
  auto modes = every_mode();
  for (size_t i = 1; i < modes.size(); ++i) {
    EXPECT_LT(std::make_pair(modes[i - 1].commit, modes[i - 1].read),
              std::make_pair(modes[i].commit, modes[i].read));
  }
}

TEST(PromisesTest, WhatEachModePromises) {
  for (CommitMode c : {CommitMode::kQuorum, CommitMode::kAll}) {
    EXPECT_EQ(mode_promise(c, ReadMode::kLinearizable).reads, Promise::kLinearizable);
    EXPECT_EQ(mode_promise(c, ReadMode::kLease).reads, Promise::kLinearizable);
    EXPECT_EQ(mode_promise(c, ReadMode::kFollower).reads, Promise::kBoundedStaleness);
    for (ReadMode r : kReadModes)
      EXPECT_EQ(mode_promise(c, r).writes, Promise::kLinearizable);
  }
  for (ReadMode r : kReadModes) {
    EXPECT_EQ(mode_promise(CommitMode::kAsync, r).reads, Promise::kNone);
    EXPECT_EQ(mode_promise(CommitMode::kAsync, r).writes, Promise::kAckedOrListedLost);
  }
}

TEST(PromisesTest, NamesAndDescriptions) {
  EXPECT_STREQ(promise_name(Promise::kNone), "none");
  EXPECT_STREQ(promise_name(Promise::kLinearizable), "linearizable");
  EXPECT_STREQ(promise_name(Promise::kBoundedStaleness), "bounded-staleness");
  EXPECT_STREQ(promise_name(Promise::kAckedOrListedLost), "acked-or-listed-lost");
  const std::string d =
      describe_mode_promise(mode_promise(CommitMode::kQuorum, ReadMode::kFollower));
  EXPECT_EQ(d.rfind("commit=quorum read=follower: reads bounded-staleness (bounded-stale: ", 0), 0u)
      << d;
  EXPECT_NE(d.find("; writes linearizable (linearizable: "), std::string::npos) << d;
  const std::string a = describe_mode_promise(mode_promise(CommitMode::kAsync, ReadMode::kLease));
  EXPECT_NE(a.find("writes acked-or-listed-lost (every acknowledged write missing afterwards is "
                   "listed by LOSTWRITES"),
            std::string::npos)
      << a;
}

}  // namespace
}  // namespace rkv::check
