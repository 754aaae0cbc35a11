#include "runtime/disk_guard.h"

#include <gtest/gtest.h>

namespace rkv {
namespace {

TEST(DiskGuard, AcceptsWritesUntilToldOtherwise) {
  DiskGuard g(100);
  EXPECT_FALSE(g.full());
  EXPECT_EQ(g.refusal(), "");
  EXPECT_EQ(g.reason(), "");
}

TEST(DiskGuard, FreeSpaceBelowTheReserveRefusesWritesAndRecovers) {
  DiskGuard g(100);
  EXPECT_FALSE(g.on_free_space(100));  // at the reserve: still room
  EXPECT_TRUE(g.on_free_space(99));
  EXPECT_TRUE(g.full());
  EXPECT_TRUE(g.below_reserve());
  EXPECT_EQ(g.refusal().rfind("MISCONF ", 0), 0u);
  EXPECT_NE(g.reason().find("99 bytes free"), std::string::npos);
  EXPECT_FALSE(g.on_free_space(50));  // no change of state, no second log line
  EXPECT_TRUE(g.on_free_space(1000));
  EXPECT_FALSE(g.full());
}

TEST(DiskGuard, ZeroReserveNeverRefusesOnFreeSpace) {
  DiskGuard g(0);
  EXPECT_FALSE(g.on_free_space(0));
  EXPECT_FALSE(g.full());
}

TEST(DiskGuard, FailedWriteRefusesUntilAWriteSucceeds) {
  DiskGuard g(100);
  EXPECT_FALSE(g.on_free_space(1000));
  EXPECT_TRUE(g.on_write_failed("no space left on device"));
  EXPECT_TRUE(g.full());
  EXPECT_FALSE(g.below_reserve());
  EXPECT_NE(g.refusal().find("no space left on device"), std::string::npos);
  EXPECT_FALSE(g.on_write_failed("again"));  // a failed retry: still full
  EXPECT_EQ(g.write_error(), "again");
  EXPECT_TRUE(g.on_write_ok());
  EXPECT_FALSE(g.full());
  EXPECT_FALSE(g.on_write_ok());
}

TEST(DiskGuard, BothSignsMustClearBeforeWritesResume) {
  DiskGuard g(100);
  EXPECT_TRUE(g.on_write_failed("ENOSPC"));
  EXPECT_FALSE(g.on_free_space(10));
  EXPECT_FALSE(g.on_write_ok());  // the retry succeeded, but the reserve is still eaten into
  EXPECT_TRUE(g.full());
  EXPECT_TRUE(g.on_free_space(500));
  EXPECT_FALSE(g.full());
}

TEST(DiskGuard, AnEmptyErrorStillCountsAsAFailure) {
  DiskGuard g(0);
  EXPECT_TRUE(g.on_write_failed(""));
  EXPECT_TRUE(g.full());
  EXPECT_FALSE(g.write_error().empty());
}

}  // namespace
}  // namespace rkv
