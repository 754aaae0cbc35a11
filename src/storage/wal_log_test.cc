#include "storage/wal_log.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

namespace rkv {
namespace {

namespace fs = std::filesystem;

// Small segments so that a few hundred records roll through several of them.
constexpr WalLog::Options kSmall{4096, 16384, 1u << 20};

class WalLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("rkv-wal-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  Result<std::unique_ptr<WalLog>> open(std::vector<std::string>* got) {
    got->clear();
    return WalLog::open(dir_.string(), kSmall, [got](std::string_view r) {
      got->emplace_back(r);
      return Status::ok();
    });
  }
  static std::string rec(int i) { return "record-" + std::to_string(i) + std::string(i % 97, 'x'); }
  std::vector<fs::path> segments() const {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(dir_)) {
      if (e.path().extension() == ".log") out.push_back(e.path());
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  static std::string slurp(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
  }
  static void spit(const fs::path& p, const std::string& data) {
    std::ofstream f(p, std::ios::binary | std::ios::trunc);
    f << data;
  }
  // Appends rec(0) .. rec(n-1) to a fresh log and closes it.
  void write_records(int n, bool sync) {
    std::vector<std::string> got;
    auto log = open(&got);
    ASSERT_TRUE(log.is_ok()) << log.status().to_string();
    for (int i = 0; i < n; ++i)
      ASSERT_TRUE((*log)->append(rec(i), sync).is_ok());
  }
  // Rewrites the segment that holds `needle`, letting `edit` change its bytes at the offset
  // where `needle` starts.
  void patch(const std::string& needle, const std::function<void(std::string&, size_t)>& edit) {
    for (const fs::path& p : segments()) {
      std::string data = slurp(p);
      const size_t at = data.find(needle);
      if (at == std::string::npos) continue;
      edit(data, at);
      spit(p, data);
      return;
    }
    FAIL() << "no segment holds " << needle;
  }

  fs::path dir_;
};

TEST_F(WalLogTest, ReplaysEveryRecordInOrderAcrossSegments) {
  std::vector<std::string> got;
  {
    auto log = open(&got);
    ASSERT_TRUE(log.is_ok()) << log.status().to_string();
    EXPECT_TRUE(got.empty());
    for (int i = 0; i < 400; ++i)
      ASSERT_TRUE((*log)->append(rec(i), i % 7 == 0).is_ok());
    EXPECT_GT((*log)->current_segment(), 3u);  // it rolled
  }
  auto log = open(&got);
  ASSERT_TRUE(log.is_ok()) << log.status().to_string();
  ASSERT_EQ(got.size(), 400u);
  for (int i = 0; i < 400; ++i)
    EXPECT_EQ(got[static_cast<size_t>(i)], rec(i));
  // Appends after a reopen follow the recovered ones.
  ASSERT_TRUE((*log)->append("after", true).is_ok());
  log->reset();
  ASSERT_TRUE(open(&got).is_ok());
  ASSERT_EQ(got.size(), 401u);
  EXPECT_EQ(got.back(), "after");
}

// A log that is never synced (fsync = never) hands each sealed segment to the background
// thread to sync: every record is still replayed, in order, after a clean close, and a sync()
// after such rolls (SAVE, shutdown) returns once all of them are durable.
TEST_F(WalLogTest, UnsyncedLogRollsWithoutWaitingAndLosesNothing) {
  std::vector<std::string> got;
  {
    auto log = open(&got);
    ASSERT_TRUE(log.is_ok()) << log.status().to_string();
    for (int i = 0; i < 600; ++i)
      ASSERT_TRUE((*log)->append(rec(i), false).is_ok());
    EXPECT_GT((*log)->current_segment(), 3u);  // it rolled, unsynced
    ASSERT_TRUE((*log)->sync().is_ok());
    for (int i = 600; i < 800; ++i)
      ASSERT_TRUE((*log)->append(rec(i), false).is_ok());
  }
  auto log = open(&got);
  ASSERT_TRUE(log.is_ok()) << log.status().to_string();
  ASSERT_EQ(got.size(), 800u);
  for (int i = 0; i < 800; ++i)
    ASSERT_EQ(got[static_cast<size_t>(i)], rec(i));
}

TEST_F(WalLogTest, ReleasedSegmentsAreReusedAndTheirOldRecordsNeverReplayed) {
  std::vector<std::string> got;
  auto log = open(&got);
  ASSERT_TRUE(log.is_ok());
  int next = 0;
  for (int round = 0; round < 6; ++round) {
    for (int i = 0; i < 200; ++i)
      ASSERT_TRUE((*log)->append(rec(next++), false).is_ok());
    // Everything before the current segment is "durable elsewhere" now.
    (*log)->release_up_to((*log)->current_segment() - 1);
  }
  const uint64_t first_kept = (*log)->current_segment();
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE((*log)->append(rec(next++), true).is_ok());
  log->reset();
  auto again = open(&got);
  ASSERT_TRUE(again.is_ok()) << again.status().to_string();
  // Only what followed the last release comes back, in order, and nothing from reused files.
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.back(), rec(next - 1));
  for (size_t i = 1; i < got.size(); ++i) {
    const int a = std::stoi(got[i - 1].substr(7)), b = std::stoi(got[i].substr(7));
    EXPECT_EQ(b, a + 1);
  }
  EXPECT_LE(segments().size(), 4u);
  (void)first_kept;
}

TEST_F(WalLogTest, TornLastRecordIsDroppedAndEarlierOnesKept) {
  write_records(10, true);
  // Cut the last record short: garbage where its payload was, as a torn sector leaves it.
  patch(rec(9), [](std::string& data, size_t at) {
    for (size_t i = at + 5; i < at + rec(9).size(); ++i)
      data[i] = '\x5a';
  });
  std::vector<std::string> got;
  auto log = open(&got);
  ASSERT_TRUE(log.is_ok()) << log.status().to_string();
  ASSERT_EQ(got.size(), 9u);
  EXPECT_EQ(got.back(), rec(8));
}

// After a torn tail the recovered segments must be released before new records are written:
// the torn record would otherwise stand in front of them at the next open (and rightly look
// like damage in the middle). RocksStorage releases right after replaying.
TEST_F(WalLogTest, TornTailIsGoneOnceRecoveredSegmentsAreReleased) {
  write_records(10, true);
  patch(rec(9), [](std::string& data, size_t at) { data[at + 1] ^= 0x01; });
  std::vector<std::string> got;
  {
    auto log = open(&got);
    ASSERT_TRUE(log.is_ok()) << log.status().to_string();
    ASSERT_EQ(got.size(), 9u);
    (*log)->release_up_to((*log)->last_recovered_segment());
    ASSERT_TRUE((*log)->append("after the torn tail", true).is_ok());
  }
  auto log = open(&got);
  ASSERT_TRUE(log.is_ok()) << log.status().to_string();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], "after the torn tail");
}

TEST_F(WalLogTest, DamageWithRecordsBehindItIsCorruption) {
  write_records(10, true);
  patch(rec(4), [](std::string& data, size_t at) { data[at + 2] ^= 0x20; });
  std::vector<std::string> got;
  auto log = open(&got);
  ASSERT_FALSE(log.is_ok());
  EXPECT_EQ(log.status().code(), Code::kCorruption);
  EXPECT_NE(log.status().message().find("valid records follow"), std::string::npos)
      << log.status().to_string();
}

TEST_F(WalLogTest, DamagedHeaderInAnEarlierSegmentIsCorruption) {
  write_records(300, false);
  auto segs = segments();
  ASSERT_GE(segs.size(), 3u);
  std::string data = slurp(segs[0]);
  data[16 + 3] ^= 0x01;  // the first record's length
  spit(segs[0], data);
  std::vector<std::string> got;
  auto log = open(&got);
  ASSERT_FALSE(log.is_ok());
  EXPECT_EQ(log.status().code(), Code::kCorruption) << log.status().to_string();
}

TEST_F(WalLogTest, MissingSegmentInTheMiddleIsCorruption) {
  write_records(300, false);
  auto segs = segments();
  ASSERT_GE(segs.size(), 3u);
  fs::remove(segs[1]);
  std::vector<std::string> got;
  auto log = open(&got);
  ASSERT_FALSE(log.is_ok());
  EXPECT_EQ(log.status().code(), Code::kCorruption);
  EXPECT_NE(log.status().message().find("sequence jumps"), std::string::npos)
      << log.status().to_string();
}

// fsync = never: a power cut can leave a hole anywhere in what was not synced. The log then
// ends at the first damage, what follows is dropped and said so, and appending goes on.
TEST_F(WalLogTest, UnsyncedLogEndsAtDamageInTheMiddle) {
  WalLog::Options opts = kSmall;
  opts.damage_ends_log = true;
  auto open_unsynced = [&](std::vector<std::string>* got) {
    got->clear();
    return WalLog::open(dir_.string(), opts, [got](std::string_view r) {
      got->emplace_back(r);
      return Status::ok();
    });
  };
  auto expect_prefix = [](const std::vector<std::string>& got, int n) {
    ASSERT_EQ(got.size(), static_cast<size_t>(n));
    for (int i = 0; i < n; ++i)
      EXPECT_EQ(got[static_cast<size_t>(i)], rec(i));
  };
  struct Case {
    const char* name;
    std::function<void()> damage;
    int survivors;  // records before the damage
    const char* note;
  };
  int first_of_second = -1;  // index of the first record of the second segment
  const Case cases[] = {
      {"a broken record with valid ones behind it",
       [&] { patch(rec(150), [](std::string& d, size_t at) { d[at + 3] ^= 0x40; }); }, 150,
       "payload fails its checksum"},
      {"a missing segment",
       [&] {
         auto segs = segments();
         fs::remove(segs[1]);
       },
       -1, "sequence jumps"},
      {"a segment without a valid header",
       [&] {
         auto segs = segments();
         std::string d = slurp(segs[1]);
         d[0] ^= 0x01;
         spit(segs[1], d);
       },
       -1, "no valid header"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    fs::remove_all(dir_);
    write_records(300, false);
    ASSERT_GE(segments().size(), 3u);
    {
      std::vector<std::string> got;
      auto log = open(&got);  // what the second segment starts with
      ASSERT_TRUE(log.is_ok());
      std::string second = slurp(segments()[1]);
      for (int i = 0; i < 300 && first_of_second < 0; ++i) {
        if (second.find(rec(i)) != std::string::npos) first_of_second = i;
      }
    }
    ASSERT_GT(first_of_second, 0);
    c.damage();
    const int survivors = c.survivors >= 0 ? c.survivors : first_of_second;
    std::vector<std::string> strict;
    EXPECT_FALSE(open(&strict).is_ok()) << "without damage_ends_log it is corruption";
    std::vector<std::string> got;
    auto log = open_unsynced(&got);
    ASSERT_TRUE(log.is_ok()) << log.status().to_string();
    expect_prefix(got, survivors);
    EXPECT_NE((*log)->recovery_note().find(c.note), std::string::npos) << (*log)->recovery_note();
    EXPECT_NE((*log)->recovery_note().find("is dropped"), std::string::npos);
    // As the storage does: the recovered segments go once replayed, then appends follow.
    (*log)->release_up_to((*log)->last_recovered_segment());
    ASSERT_TRUE((*log)->append("after", true).is_ok());
    (*log).reset();  // closed
    auto again = open_unsynced(&got);
    ASSERT_TRUE(again.is_ok()) << again.status().to_string();
    ASSERT_EQ(got.size(), 1u);  // the replayed prefix was released with its segments
    EXPECT_EQ(got[0], "after");
    EXPECT_EQ((*again)->recovery_note(), "");
    first_of_second = -1;
  }
}

TEST_F(WalLogTest, UnsyncedLogWithATornLastRecordSaysNothingWasDropped) {
  write_records(10, false);
  patch(rec(9), [](std::string& data, size_t at) { data[at + 2] ^= 0x20; });
  WalLog::Options opts = kSmall;
  opts.damage_ends_log = true;
  std::vector<std::string> got;
  auto log = WalLog::open(dir_.string(), opts, [&got](std::string_view r) {
    got.emplace_back(r);
    return Status::ok();
  });
  ASSERT_TRUE(log.is_ok()) << log.status().to_string();
  EXPECT_EQ(got.size(), 9u);
  EXPECT_EQ((*log)->recovery_note(), "");
}

TEST_F(WalLogTest, ForeignFileAndOversizedRecordAreRefused) {
  std::vector<std::string> got;
  {
    auto log = open(&got);
    ASSERT_TRUE(log.is_ok());
    EXPECT_EQ((*log)->append(std::string((1u << 20) + 1, 'x'), false).code(),
              Code::kInvalidArgument);
    EXPECT_EQ((*log)->append("", false).code(), Code::kInvalidArgument);
  }
  spit(dir_ / "notes.txt", "hello");
  auto log = open(&got);
  ASSERT_FALSE(log.is_ok());
  EXPECT_NE(log.status().message().find("notes.txt"), std::string::npos);
}

}  // namespace
}  // namespace rkv
