#include "runtime/fd_limit.h"

#include <gtest/gtest.h>

namespace rkv {
namespace {

TEST(FdBudgetTest, EnoughDescriptorsChangeNothing) {
  FdBudget b = plan_fd_budget(65536, 65536, 10000, 3);
  EXPECT_EQ(b.soft_limit, 65536u);
  EXPECT_EQ(b.max_clients, 10000u);
  EXPECT_FALSE(b.raised);
  EXPECT_FALSE(b.reduced);
}

TEST(FdBudgetTest, SoftLimitIsRaisedTowardWhatClientsNeedNeverPastHard) {
  FdBudget b = plan_fd_budget(1024, 1048576, 10000, 3);
  EXPECT_TRUE(b.raised);
  EXPECT_EQ(b.soft_limit, 10000u + kReservedFds + 6);
  EXPECT_EQ(b.max_clients, 10000u);
  EXPECT_FALSE(b.reduced);

  b = plan_fd_budget(1024, 4096, 10000, 1);
  EXPECT_TRUE(b.raised);
  EXPECT_EQ(b.soft_limit, 4096u);
  EXPECT_EQ(b.max_clients, 4096u - kReservedFds - 2);
  EXPECT_TRUE(b.reduced);
}

TEST(FdBudgetTest, ClientsAreCutToWhatFitsAndAtLeastOne) {
  FdBudget b = plan_fd_budget(128, 128, 10000, 0);
  EXPECT_FALSE(b.raised);
  EXPECT_EQ(b.max_clients, 128u - kReservedFds);
  EXPECT_TRUE(b.reduced);

  b = plan_fd_budget(50, 50, 10000, 5);
  EXPECT_EQ(b.max_clients, 1u);
  b = plan_fd_budget(128, 128, 4, 0);
  EXPECT_EQ(b.max_clients, 4u);
  EXPECT_FALSE(b.reduced);
}

}  // namespace
}  // namespace rkv
