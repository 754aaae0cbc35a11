#include "node/index_queue.h"

#include <gtest/gtest.h>

#include <string>

namespace rkv {
namespace {

TEST(IndexQueue, FindsAndErasesByIndexAnywhere) {
  IndexQueue<std::string> q;
  for (uint64_t i : {3, 5, 6, 9})
    q.push_back(i, "v" + std::to_string(i));
  ASSERT_NE(q.find(3), nullptr);
  EXPECT_EQ(q.find(6)->second, "v6");
  EXPECT_EQ(q.find(4), nullptr);
  EXPECT_EQ(q.find(10), nullptr);
  EXPECT_EQ(q.find(1), nullptr);
  q.erase(6);  // from the middle
  EXPECT_EQ(q.find(6), nullptr);
  q.erase(3);  // from the front
  q.erase(7);  // absent: nothing happens
  ASSERT_EQ(q.size(), 2u);
  EXPECT_EQ(q.begin()->first, 5u);
  EXPECT_EQ(q.back().first, 9u);
  EXPECT_EQ(q.rbegin()->second, "v9");
  q.clear();
  EXPECT_TRUE(q.empty());
  q.erase(9);
  q.push_back(2, "again");  // after clear, any index
  EXPECT_EQ(q.find(2)->second, "again");
}

TEST(IndexQueueDeathTest, RefusesAnIndexThatDoesNotIncrease) {
  IndexQueue<int> q;
  q.push_back(5, 0);
  EXPECT_DEATH(q.push_back(5, 1), "increase");
}

}  // namespace
}  // namespace rkv
