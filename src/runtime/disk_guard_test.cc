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

constexpr uint64_t kMiB = 1ull << 20;

TEST(DiskBudget, ALargeFileSystemKeepsTheDefaults) {
  const DiskBudget b = disk_budget(500ull << 30, 64 * kMiB, true, 64 * kMiB);
  EXPECT_EQ(b.reserve_bytes, 64 * kMiB);
  EXPECT_EQ(b.wal_max_segment_bytes, 64 * kMiB);
}

TEST(DiskBudget, ASmallFileSystemGetsAnEighthAsReserveAndSmallerSegments) {
  const DiskBudget b = disk_budget(40 * kMiB, 64 * kMiB, true, 64 * kMiB);
  EXPECT_EQ(b.reserve_bytes, 5 * kMiB);
  EXPECT_EQ(b.wal_max_segment_bytes, 2 * kMiB);  // a power of two within a sixteenth
}

TEST(DiskBudget, AConfiguredReserveIsKept) {
  EXPECT_EQ(disk_budget(40 * kMiB, 64 * kMiB, false, 64 * kMiB).reserve_bytes, 64 * kMiB);
  EXPECT_EQ(disk_budget(40 * kMiB, 0, false, 64 * kMiB).reserve_bytes, 0u);
}

TEST(DiskBudget, NeverBelowOneMiBAndNothingCappedWhenTheSizeIsUnknown) {
  const DiskBudget tiny = disk_budget(2 * kMiB, 64 * kMiB, true, 64 * kMiB);
  EXPECT_EQ(tiny.reserve_bytes, kMiB);
  EXPECT_EQ(tiny.wal_max_segment_bytes, kMiB);
  const DiskBudget unknown = disk_budget(0, 64 * kMiB, true, 64 * kMiB);
  EXPECT_EQ(unknown.reserve_bytes, 64 * kMiB);
  EXPECT_EQ(unknown.wal_max_segment_bytes, 64 * kMiB);
}

TEST(DiskBudget, TheFileSystemOfAPathNotMadeYetIsItsNearestParents) {
  const uint64_t tmp = file_system_bytes("/tmp");
  EXPECT_GT(tmp, 0u);
  EXPECT_EQ(file_system_bytes("/tmp/rkv-no-such-dir/data/deeper"), tmp);
}

}  // namespace
}  // namespace rkv
