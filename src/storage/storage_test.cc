// Storage tests. The contract tests run against both MemStorage and RocksStorage; then come
// MemStorage's crash model and RocksStorage's disk behaviour, including tests with real child
// processes (a second process holding the lock; a writer killed with SIGKILL mid-run).
#include "storage/storage.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <ostream>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace rkv {
namespace {

namespace fs = std::filesystem;
using Pairs = std::vector<std::pair<std::string, std::string>>;

// ---------------------------------------------------------------------------------------------
// Helpers

// A fresh directory under /tmp, removed with everything in it at the end of the test.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/rkv_storage_test_XXXXXX";
    const char* p = mkdtemp(tmpl);
    RKV_ASSERT_MSG(p != nullptr, "mkdtemp failed");
    path_ = p;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

Pairs scan_all(Storage& s, std::string_view begin = "", std::string_view end = "",
               size_t limit = SIZE_MAX) {
  Pairs out;
  Status st = s.scan(begin, end, [&](std::string_view k, std::string_view v) {
    out.emplace_back(std::string(k), std::string(v));
    return out.size() < limit;
  });
  EXPECT_TRUE(st) << st.to_string();
  return out;
}

Status put(Storage& s, std::string_view k, std::string_view v, bool sync = false) {
  WriteBatch b;
  b.put(k, v);
  return s.write(b, sync);
}

Status del(Storage& s, std::string_view k, bool sync = false) {
  WriteBatch b;
  b.del(k);
  return s.write(b, sync);
}

// The value, "<absent>" when NotFound; any other error fails the test.
std::string get_or_absent(Storage& s, std::string_view k) {
  Result<std::string> r = s.get(k);
  if (r) return r.value();
  EXPECT_EQ(r.status().code(), Code::kNotFound) << r.status().to_string();
  return "<absent>";
}

std::string record_key(uint32_t i) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "rec:%08u", i);
  return buf;
}

// A Raft-log-shaped key (RocksStorage keeps "l" keys in its log and in memory only).
std::string log_record_key(uint32_t i) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "lw%c%08u", '\0', i);
  return std::string(buf, 11);
}
// The writer child cuts its log's front every 200 records: after writing record i, log records
// below log_cut(i) are deleted.
constexpr uint32_t kLogCutEvery = 200;
uint32_t log_cut(uint32_t i) {
  return i < kLogCutEvery ? 0 : i / kLogCutEvery * kLogCutEvery - kLogCutEvery / 2;
}

std::string record_value(uint32_t i) {
  std::string v = "value-" + std::to_string(i) + "-";
  v.resize(1000, static_cast<char>('a' + i % 26));
  return v;
}

// ---------------------------------------------------------------------------------------------
// Child processes. The process tests re-execute this binary with kChildEnv set; the child's work
// runs from a static initializer and never returns into gtest. Re-executing (rather than only
// forking) gives the child a clean process without the parent's RocksDB threads.

constexpr const char* kChildEnv = "RKV_STORAGE_TEST_CHILD";  // "writer" or "holder"
constexpr const char* kChildDirEnv = "RKV_STORAGE_TEST_DIR";
constexpr const char* kChildOutEnv = "RKV_STORAGE_TEST_OUT_FD";
constexpr const char* kChildInEnv = "RKV_STORAGE_TEST_IN_FD";
constexpr uint32_t kWriterMaxRecords = 1'000'000;  // far more than the parent lets it write
constexpr size_t kWriterBufferBytes = 64 << 10;    // small: memtable flushes during the run

bool write_all(int fd, const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// Writes records with sync=true; after each acknowledged write, reports the count of acked
// records to out_fd.
int child_writer(const std::string& dir, int out_fd) {
  RocksOptions options;
  options.write_buffer_bytes = kWriterBufferBytes;
  // Tiny log segments: the kill lands among segment rolls, releases and reuses.
  options.wal_first_segment_bytes = 4096;
  options.wal_max_segment_bytes = 16384;
  auto store = open_rocks_storage(dir, options);
  if (!store) return 2;
  for (uint32_t i = 0; i < kWriterMaxRecords; ++i) {
    WriteBatch b;
    b.put(record_key(i), record_value(i));
    b.put(log_record_key(i), record_value(i));
    if (i % kLogCutEvery == 0 && i > 0)
      b.delete_range(log_record_key(0), log_record_key(log_cut(i)));
    if (!(*store)->write(b, /*sync=*/true)) return 3;
    uint32_t acked = i + 1;
    if (!write_all(out_fd, &acked, sizeof(acked))) return 4;
  }
  return 0;
}

// fsync = never: writes kUnsyncedRecords records without a sync, then exits without closing the
// store (as a crash would; the parent then plays the power cut by damaging the log).
constexpr uint32_t kUnsyncedRecords = 600;
RocksOptions unsynced_options() {
  RocksOptions options;
  options.unsynced = true;
  options.wal_first_segment_bytes = 4096;
  options.wal_max_segment_bytes = 16384;
  return options;
}
int child_unsynced_writer(const std::string& dir) {
  auto store = open_rocks_storage(dir, unsynced_options());
  if (!store) return 2;
  for (uint32_t i = 0; i < kUnsyncedRecords; ++i) {
    WriteBatch b;
    b.put(record_key(i), record_value(i));
    b.put(log_record_key(i), record_value(i));
    if (!(*store)->write(b, /*sync=*/false)) return 3;
  }
  _exit(0);
}

// Opens the store, reports 'o' (opened) or 'e' (failed) and holds it until in_fd reaches EOF.
int child_holder(const std::string& dir, int out_fd, int in_fd) {
  auto store = open_rocks_storage(dir);
  char c = store ? 'o' : 'e';
  if (!write_all(out_fd, &c, 1)) return 4;
  char buf[16];
  while (::read(in_fd, buf, sizeof(buf)) != 0) {
  }
  return store ? 0 : 2;
}

[[maybe_unused]] const bool kRanAsChild = [] {
  const char* mode = std::getenv(kChildEnv);
  if (mode == nullptr) return false;
  const char* dir = std::getenv(kChildDirEnv);
  const char* out = std::getenv(kChildOutEnv);
  const char* in = std::getenv(kChildInEnv);
  if (dir == nullptr || out == nullptr) _exit(100);
  int out_fd = std::atoi(out);
  int in_fd = in ? std::atoi(in) : -1;
  if (std::strcmp(mode, "writer") == 0) _exit(child_writer(dir, out_fd));
  if (std::strcmp(mode, "holder") == 0) _exit(child_holder(dir, out_fd, in_fd));
  if (std::strcmp(mode, "unsynced") == 0) _exit(child_unsynced_writer(dir));
  _exit(101);
}();

// Starts this binary again as a child in `mode`. out_fd and in_fd (-1 for none) are the
// child's ends of pipes; every other descriptor is close-on-exec.
pid_t spawn_child(const std::string& mode, const std::string& dir, int out_fd, int in_fd) {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e)
    env_strings.emplace_back(*e);
  env_strings.push_back(std::string(kChildEnv) + "=" + mode);
  env_strings.push_back(std::string(kChildDirEnv) + "=" + dir);
  env_strings.push_back(std::string(kChildOutEnv) + "=" + std::to_string(out_fd));
  if (in_fd >= 0) env_strings.push_back(std::string(kChildInEnv) + "=" + std::to_string(in_fd));
  std::vector<char*> envp;
  for (auto& s : env_strings)
    envp.push_back(s.data());
  envp.push_back(nullptr);
  char exe[] = "/proc/self/exe";
  char* argv[] = {exe, nullptr};

  pid_t pid = fork();
  RKV_ASSERT(pid >= 0);
  if (pid == 0) {  // only async-signal-safe calls from here to exec
    fcntl(out_fd, F_SETFD, 0);
    if (in_fd >= 0) fcntl(in_fd, F_SETFD, 0);
    execve(exe, argv, envp.data());
    _exit(127);
  }
  return pid;
}

// Reads exactly n bytes; false on EOF, error or a 60 s silence.
bool read_exact(int fd, void* data, size_t n) {
  char* p = static_cast<char*>(data);
  while (n > 0) {
    pollfd pfd{fd, POLLIN, 0};
    int ready = poll(&pfd, 1, 60'000);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return false;
    ssize_t r = ::read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

struct Pipe {
  int read_end = -1;
  int write_end = -1;
  Pipe() {
    int fds[2];
    RKV_ASSERT(pipe2(fds, O_CLOEXEC) == 0);
    read_end = fds[0];
    write_end = fds[1];
  }
  ~Pipe() {
    close_read();
    close_write();
  }
  void close_read() {
    if (read_end >= 0) ::close(read_end);
    read_end = -1;
  }
  void close_write() {
    if (write_end >= 0) ::close(write_end);
    write_end = -1;
  }
};

// ---------------------------------------------------------------------------------------------
// The contract, against both implementations.

enum class Backend { kMem, kRocks };
void PrintTo(Backend b, std::ostream* os) {
  *os << (b == Backend::kMem ? "Mem" : "Rocks");
}

class StorageTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::kMem) {
      store_ = std::make_unique<MemStorage>();
      return;
    }
    auto r = open_rocks_storage(dir_.sub("db"));
    ASSERT_TRUE(r) << r.status().to_string();
    store_ = std::move(r).value();
  }

  Storage& s() { return *store_; }

  TempDir dir_;
  std::unique_ptr<Storage> store_;
};

INSTANTIATE_TEST_SUITE_P(Backends, StorageTest, ::testing::Values(Backend::kMem, Backend::kRocks),
                         [](const auto& info) {
                           return info.param == Backend::kMem ? "Mem" : "Rocks";
                         });

TEST_P(StorageTest, GetOfMissingKeyIsNotFound) {
  Result<std::string> r = s().get("nope");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().code(), Code::kNotFound);
}

TEST_P(StorageTest, PutThenGetReturnsLatestValue) {
  ASSERT_TRUE(put(s(), "k", "v1"));
  EXPECT_EQ(get_or_absent(s(), "k"), "v1");
  ASSERT_TRUE(put(s(), "k", "v2", /*sync=*/true));
  EXPECT_EQ(get_or_absent(s(), "k"), "v2");
  ASSERT_TRUE(put(s(), "empty", ""));
  EXPECT_EQ(get_or_absent(s(), "empty"), "");
}

// A deferred value is produced when the batch is written, once, on the writing thread, and
// stored like any other (also under the Raft log's "l" keys, which RocksStorage keeps apart).
TEST_P(StorageTest, DeferredValuesAreProducedWhenWritten) {
  int calls = 0;
  std::thread::id produced_on;
  WriteBatch b;
  b.put("a", "1");
  b.put_deferred("b", 5, [&] {
    ++calls;
    produced_on = std::this_thread::get_id();
    return std::string("large");
  });
  b.put_deferred(std::string("l") + "grp" + '\1' + "snap", 3, [&] {
    ++calls;
    return std::string("img");
  });
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(b.bytes(), 1u + 1 + 1 + 5 + 9 + 3);
  std::thread writer([&] { ASSERT_TRUE(s().write(std::move(b), true)); });
  writer.join();
  EXPECT_EQ(calls, 2);
  EXPECT_NE(produced_on, std::this_thread::get_id());
  EXPECT_EQ(get_or_absent(s(), "a"), "1");
  EXPECT_EQ(get_or_absent(s(), "b"), "large");
  EXPECT_EQ(get_or_absent(s(), std::string("l") + "grp" + '\1' + "snap"), "img");
}

TEST_P(StorageTest, KeysAndValuesAreBinarySafe) {
  std::string key("a\0b\xff", 4);
  std::string value("\0\x01\x02\xfe\xff", 5);
  std::string big(1 << 20, 'x');
  big[12345] = '\0';
  ASSERT_TRUE(put(s(), key, value));
  ASSERT_TRUE(put(s(), "big", big));
  EXPECT_EQ(get_or_absent(s(), key), value);
  EXPECT_EQ(get_or_absent(s(), std::string("a\0b", 3)), "<absent>");
  EXPECT_EQ(get_or_absent(s(), "big"), big);
}

TEST_P(StorageTest, DeleteRemovesKeyAndToleratesMissingKey) {
  ASSERT_TRUE(put(s(), "a", "1"));
  ASSERT_TRUE(put(s(), "b", "2"));
  ASSERT_TRUE(del(s(), "a"));
  ASSERT_TRUE(del(s(), "never-there"));
  EXPECT_EQ(get_or_absent(s(), "a"), "<absent>");
  EXPECT_EQ(get_or_absent(s(), "b"), "2");
}

TEST_P(StorageTest, DeleteRangeIsHalfOpen) {
  for (const char* k : {"a", "b", "b\x01", "c", "cc", "d", "e"})
    ASSERT_TRUE(put(s(), k, k));
  WriteBatch b;
  b.delete_range("b", "d");
  ASSERT_TRUE(s().write(b, false));
  EXPECT_EQ(scan_all(s()), (Pairs{{"a", "a"}, {"d", "d"}, {"e", "e"}}));
}

TEST_P(StorageTest, EmptyDeleteRangeDeletesNothing) {
  ASSERT_TRUE(put(s(), "b", "1"));
  WriteBatch b;
  b.delete_range("b", "b");
  ASSERT_TRUE(s().write(b, true));
  EXPECT_EQ(get_or_absent(s(), "b"), "1");
}

TEST_P(StorageTest, BackwardDeleteRangeRejectsTheWholeBatch) {
  ASSERT_TRUE(put(s(), "m", "1"));
  WriteBatch b;
  b.put("x", "1");
  b.del("m");
  b.delete_range("z", "a");
  Status st = s().write(b, true);
  EXPECT_EQ(st.code(), Code::kInvalidArgument) << st.to_string();
  EXPECT_EQ(get_or_absent(s(), "x"), "<absent>");
  EXPECT_EQ(get_or_absent(s(), "m"), "1");
}

TEST_P(StorageTest, BatchAppliesAllItemsInOrder) {
  ASSERT_TRUE(put(s(), "old1", "o"));
  ASSERT_TRUE(put(s(), "old2", "o"));
  WriteBatch b;
  b.put("k1", "first");
  b.put("k1", "second");  // later item wins
  b.put("gone", "x");
  b.del("gone");  // deleted within the same batch
  b.delete_range("old", "old~");
  b.put("old2", "revived");  // a put after a range delete in the same batch survives it
  ASSERT_TRUE(s().write(b, false));
  EXPECT_EQ(scan_all(s()), (Pairs{{"k1", "second"}, {"old2", "revived"}}));
}

TEST_P(StorageTest, EmptyBatchIsFine) {
  WriteBatch b;
  EXPECT_TRUE(s().write(b, false));
  EXPECT_TRUE(s().write(b, true));
  EXPECT_TRUE(s().sync());
  EXPECT_TRUE(scan_all(s()).empty());
}

TEST_P(StorageTest, ScanVisitsKeysInUnsignedByteOrder) {
  std::vector<std::string> keys = {"b", "a", "ab", std::string("a\0", 2), "\x7f", "\x80", "\xff",
                                   "",  "B", "aa"};
  for (const auto& k : keys)
    ASSERT_TRUE(put(s(), k, "v:" + k));
  std::map<std::string, std::string> want;  // std::string compares bytes as unsigned char
  for (const auto& k : keys)
    want[k] = "v:" + k;
  EXPECT_EQ(scan_all(s()), Pairs(want.begin(), want.end()));
  EXPECT_EQ(scan_all(s()).back().first, "\xff");
}

TEST_P(StorageTest, ScanBoundsAreHalfOpenAndEmptyEndIsUnbounded) {
  for (const char* k : {"a", "b", "c", "d"})
    ASSERT_TRUE(put(s(), k, k));
  EXPECT_EQ(scan_all(s(), "b", "d"), (Pairs{{"b", "b"}, {"c", "c"}}));
  EXPECT_EQ(scan_all(s(), "bb", "c\x01"), (Pairs{{"c", "c"}}));
  EXPECT_EQ(scan_all(s(), "c", ""), (Pairs{{"c", "c"}, {"d", "d"}}));
  EXPECT_EQ(scan_all(s(), "", "b"), (Pairs{{"a", "a"}}));
  EXPECT_TRUE(scan_all(s(), "b", "b").empty());
  EXPECT_TRUE(scan_all(s(), "d", "b").empty());
  EXPECT_TRUE(scan_all(s(), "e", "").empty());
}

TEST_P(StorageTest, ScanStopsWhenCallbackReturnsFalse) {
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE(put(s(), "k" + std::to_string(i), "v"));
  Pairs got = scan_all(s(), "", "", 3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].first, "k0");
  EXPECT_EQ(got[2].first, "k2");
}

// Random batches against a std::map model; keys share prefixes so ranges overlap.
TEST_P(StorageTest, RandomBatchesMatchAnOrderedMapModel) {
  std::mt19937 rng(20261121);
  std::map<std::string, std::string> model;
  // Keys on both sides of and inside the Raft log range ("l"..., which RocksStorage keeps apart).
  static const char* const kPrefixes[] = {"d", "k", "l", "lg1", "m", "z"};
  auto key = [&] {
    std::string k = kPrefixes[rng() % 6];
    if (k == "lg1") k.push_back('\0');
    return k + std::to_string(rng() % 10);
  };
  for (int round = 0; round < 300; ++round) {
    WriteBatch b;
    int n = 1 + static_cast<int>(rng() % 5);
    for (int i = 0; i < n; ++i) {
      uint32_t op = rng() % 10;
      if (op < 6) {
        std::string k = key(), v = std::to_string(rng());
        if (op < 2) {  // a head and a shared tail
          const size_t cut = rng() % (v.size() + 1);
          b.put_shared(k, v.substr(0, cut), SharedBytes(v.substr(cut)));
        } else {
          b.put(k, v);
        }
        model[k] = v;
      } else if (op < 9) {
        std::string k = key();
        b.del(k);
        model.erase(k);
      } else {
        std::string lo = key(), hi = key();
        if (hi < lo) std::swap(lo, hi);
        b.delete_range(lo, hi);
        model.erase(model.lower_bound(lo), model.lower_bound(hi));
      }
    }
    ASSERT_TRUE(s().write(b, round % 7 == 0));
    if (round % 50 == 0) {
      ASSERT_EQ(scan_all(s()), Pairs(model.begin(), model.end())) << "round " << round;
    }
  }
  EXPECT_EQ(scan_all(s()), Pairs(model.begin(), model.end()));
  for (const char* prefix : kPrefixes) {
    for (int i = 0; i < 10; ++i) {
      std::string k = prefix;
      if (k == "lg1") k.push_back('\0');
      k += std::to_string(i);
      auto it = model.find(k);
      EXPECT_EQ(get_or_absent(s(), k), it == model.end() ? "<absent>" : it->second) << k;
    }
  }
  // Scans bounded inside, across and around the log range.
  for (auto [lo, hi] : std::vector<std::pair<std::string, std::string>>{{"", "l"},
                                                                        {"k5", "l3"},
                                                                        {"l", "m"},
                                                                        {"l5", "lg1"},
                                                                        {"l2", "z"},
                                                                        {"m", ""},
                                                                        {"lz", ""}}) {
    Pairs want(model.lower_bound(lo), hi.empty() ? model.end() : model.lower_bound(hi));
    Pairs got;
    ASSERT_TRUE(s().scan(lo, hi, [&](std::string_view k, std::string_view v) {
      got.emplace_back(std::string(k), std::string(v));
      return true;
    }));
    EXPECT_EQ(got, want) << "[" << lo << ", " << hi << ")";
  }
}

// ---------------------------------------------------------------------------------------------
// MemStorage's crash model.

TEST(MemStorageCrash, UnsyncedWritesAreLost) {
  MemStorage m;
  ASSERT_TRUE(put(m, "synced", "1", /*sync=*/true));
  ASSERT_TRUE(put(m, "unsynced", "2"));
  EXPECT_EQ(get_or_absent(m, "unsynced"), "2");  // visible before the crash
  m.crash();
  EXPECT_EQ(get_or_absent(m, "synced"), "1");
  EXPECT_EQ(get_or_absent(m, "unsynced"), "<absent>");
}

TEST(MemStorageCrash, CrashRollsBackOverwritesAndDeletes) {
  MemStorage m;
  WriteBatch b;
  b.put("a", "1");
  b.put("b", "1");
  b.put("c", "1");
  ASSERT_TRUE(m.write(b, true));
  ASSERT_TRUE(put(m, "a", "2"));
  ASSERT_TRUE(del(m, "b"));
  WriteBatch r;
  r.delete_range("c", "d");
  ASSERT_TRUE(m.write(r, false));
  m.crash();
  EXPECT_EQ(scan_all(m), (Pairs{{"a", "1"}, {"b", "1"}, {"c", "1"}}));
}

TEST(MemStorageCrash, SyncedWriteMakesEarlierWritesDurable) {
  MemStorage m;
  ASSERT_TRUE(put(m, "a", "1"));
  ASSERT_TRUE(put(m, "b", "2", /*sync=*/true));
  ASSERT_TRUE(put(m, "c", "3"));
  ASSERT_TRUE(m.sync());
  ASSERT_TRUE(put(m, "d", "4"));
  m.crash();
  EXPECT_EQ(scan_all(m), (Pairs{{"a", "1"}, {"b", "2"}, {"c", "3"}}));
  // The store keeps working after a crash, with the same model.
  ASSERT_TRUE(put(m, "e", "5"));
  m.crash();
  EXPECT_EQ(get_or_absent(m, "e"), "<absent>");
}

TEST(MemStorageCrash, TornWriteKeepsATruncatedLastPut) {
  MemStorage m;
  ASSERT_TRUE(put(m, "base", "ok", /*sync=*/true));
  ASSERT_TRUE(put(m, "x", "0123456789"));
  WriteBatch b;
  b.put("y", "abcdef");
  b.del("base");  // not a put: does not survive
  ASSERT_TRUE(m.write(b, false));
  m.crash(/*torn_last_write=*/true);
  EXPECT_EQ(get_or_absent(m, "y"), "abc");
  EXPECT_EQ(get_or_absent(m, "x"), "<absent>");
  EXPECT_EQ(get_or_absent(m, "base"), "ok");
  m.crash();  // the torn record is on "disk" now
  EXPECT_EQ(get_or_absent(m, "y"), "abc");
}

TEST(MemStorageCrash, TornWriteOverwritingADurableValueShortensIt) {
  MemStorage m;
  ASSERT_TRUE(put(m, "k", "durable-value", /*sync=*/true));
  ASSERT_TRUE(put(m, "k", "new-value!"));
  m.crash(true);
  EXPECT_EQ(get_or_absent(m, "k"), "new-v");
}

TEST(MemStorageCrash, TornCrashWithoutUnsyncedPutsIsAPlainCrash) {
  MemStorage m;
  ASSERT_TRUE(put(m, "a", "1", /*sync=*/true));
  ASSERT_TRUE(del(m, "a"));
  m.crash(true);
  EXPECT_EQ(scan_all(m), (Pairs{{"a", "1"}}));
  ASSERT_TRUE(m.sync());
  m.crash(true);  // nothing unsynced at all
  EXPECT_EQ(scan_all(m), (Pairs{{"a", "1"}}));
}

TEST(MemStorageCrash, SyncCountCountsSyncPoints) {
  MemStorage m;
  EXPECT_EQ(m.sync_count(), 0u);
  ASSERT_TRUE(put(m, "a", "1"));
  ASSERT_TRUE(put(m, "b", "1"));
  EXPECT_EQ(m.sync_count(), 0u);
  ASSERT_TRUE(put(m, "c", "1", /*sync=*/true));
  EXPECT_EQ(m.sync_count(), 1u);
  ASSERT_TRUE(m.sync());
  EXPECT_EQ(m.sync_count(), 2u);
  WriteBatch bad;
  bad.delete_range("z", "a");
  EXPECT_FALSE(m.write(bad, true));  // rejected: no sync point
  EXPECT_EQ(m.sync_count(), 2u);
}

TEST_P(StorageTest, BlobsAreWrittenReadListedAndRemoved) {
  EXPECT_EQ(s().read_blob("image.a.1").status().code(), Code::kNotFound);
  auto none = s().list_blobs();
  ASSERT_TRUE(none.is_ok());
  EXPECT_TRUE(none->empty());
  std::string big(3u << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i)
    big[i] = static_cast<char>(i * 7);
  ASSERT_TRUE(s().write_blob("image.a.2", big));
  ASSERT_TRUE(s().write_blob("image.a.1", "one"));
  ASSERT_TRUE(s().write_blob("image.a.1", ""));  // replaced
  auto b = s().read_blob("image.a.2");
  ASSERT_TRUE(b.is_ok()) << b.status().to_string();
  EXPECT_EQ(*b, big);
  b = s().read_blob("image.a.1");
  ASSERT_TRUE(b.is_ok()) << b.status().to_string();
  EXPECT_EQ(*b, "");
  auto names = s().list_blobs();
  ASSERT_TRUE(names.is_ok());
  EXPECT_EQ(*names, (std::vector<std::string>{"image.a.1", "image.a.2"}));
  ASSERT_TRUE(s().remove_blob("image.a.2"));
  ASSERT_TRUE(s().remove_blob("image.a.2"));  // absent: fine
  EXPECT_EQ(s().read_blob("image.a.2").status().code(), Code::kNotFound);
  for (const char* bad : {"", "..", "a/b", "x.tmp", "a b"}) {
    EXPECT_EQ(s().write_blob(bad, "x").code(), Code::kInvalidArgument) << bad;
  }
  // Blobs are not keys: batches and scans never see them.
  EXPECT_TRUE(scan_all(s()).empty());
}

// A blob written in parts as it is produced: unseen until finished, finished with the head that
// was known only at the end, and never finished when a part is missing.
TEST_P(StorageTest, BlobsWrittenInPartsAreFinishedWithTheirHead) {
  std::string body((2u << 20) + 12345, '\0');
  for (size_t i = 0; i < body.size(); ++i)
    body[i] = static_cast<char>(i * 13 + i / 511);
  const std::string head = "count=42";
  const std::string placeholder(head.size(), '\0');
  const std::string_view b(body);
  auto write_parts = [&](std::string_view name, bool skip_middle) {
    EXPECT_TRUE(s().append_blob(name, placeholder + std::string(b.substr(0, 1u << 20)), true));
    auto listed = s().list_blobs();
    EXPECT_TRUE(listed.is_ok() && std::find(listed->begin(), listed->end(), name) == listed->end());
    EXPECT_EQ(s().read_blob(name).status().code(), Code::kNotFound);
    if (!skip_middle) {
      EXPECT_TRUE(s().append_blob(name, b.substr(1u << 20, 1u << 20), false));
    }
    EXPECT_TRUE(s().append_blob(name, b.substr(2u << 20), false));
    return s().finish_blob(name, head, head.size() + body.size());
  };
  ASSERT_TRUE(write_parts("image.p.1", false));
  auto got = s().read_blob("image.p.1");
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  EXPECT_EQ(*got, head + body);
  Status short_one = write_parts("image.p.2", true);
  EXPECT_FALSE(short_one.is_ok());
  EXPECT_EQ(s().read_blob("image.p.2").status().code(), Code::kNotFound);
  auto names = s().list_blobs();
  ASSERT_TRUE(names.is_ok());
  EXPECT_EQ(*names, (std::vector<std::string>{"image.p.1"}));
  // One part, finished; a finish without any part fails.
  ASSERT_TRUE(s().append_blob("image.p.3", "xxyz", true));
  ASSERT_TRUE(s().finish_blob("image.p.3", "ab", 4));
  got = s().read_blob("image.p.3");
  ASSERT_TRUE(got.is_ok());
  EXPECT_EQ(*got, "abyz");
  EXPECT_FALSE(s().finish_blob("image.p.4", "ab", 4).is_ok());
  EXPECT_EQ(s().append_blob("x.tmp", "x", true).code(), Code::kInvalidArgument);
}

TEST(MemStorageCrash, AnUnfinishedBlobIsGoneAfterACrash) {
  MemStorage m;
  ASSERT_TRUE(m.append_blob("image.a.1", "abc", true));
  m.crash();
  ASSERT_TRUE(m.append_blob("image.a.1", "def", false));
  EXPECT_FALSE(m.finish_blob("image.a.1", "", 6).is_ok());
  EXPECT_EQ(m.read_blob("image.a.1").status().code(), Code::kNotFound);
}

TEST(MemStorageCrash, BlobsSurviveACrash) {
  MemStorage m;
  ASSERT_TRUE(m.write_blob("image.a.1", "img"));
  m.crash();
  auto b = m.read_blob("image.a.1");
  ASSERT_TRUE(b.is_ok());
  EXPECT_EQ(*b, "img");
}

// ---------------------------------------------------------------------------------------------
// RocksStorage on disk.

class RocksStorageTest : public ::testing::Test {
 protected:
  std::unique_ptr<RocksStorage> open(const RocksOptions& options = {}) {
    auto r = RocksStorage::open(db_, options);
    EXPECT_TRUE(r) << r.status().to_string();
    return r ? std::move(r).value() : nullptr;
  }
  // Bytes in the write-ahead log's directory (files come and go meanwhile: the preparer and
  // the releaser work in the background).
  uint64_t wal_bytes() const {
    uint64_t n = 0;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(db_ + "/wal", ec)) {
      uint64_t size = fs::file_size(e.path(), ec);
      if (!ec) n += size;
    }
    return n;
  }

  TempDir tmp_;
  std::string db_ = tmp_.sub("db");
};

TEST_F(RocksStorageTest, ReopenKeepsSyncedAndUnsyncedWrites) {
  {
    auto s = open();
    ASSERT_TRUE(s);
    ASSERT_TRUE(put(*s, "synced", "1", true));
    ASSERT_TRUE(put(*s, "unsynced", "2", false));
    ASSERT_TRUE(put(*s, "deleted", "3", false));
    ASSERT_TRUE(del(*s, "deleted", false));
  }
  auto s = open();
  ASSERT_TRUE(s);
  EXPECT_EQ(scan_all(*s), (Pairs{{"synced", "1"}, {"unsynced", "2"}}));
}

// A log record torn by a crash is dropped at the next open, and the store keeps opening after
// it: the torn record does not stand in front of later writes. (Here the store was closed
// cleanly first, so RocksDB holds the torn write already; only the log is damaged.)
TEST_F(RocksStorageTest, TornLastLogRecordDoesNotStopLaterOpens) {
  {
    auto s = open();
    ASSERT_TRUE(s);
    ASSERT_TRUE(put(*s, "kept", "value-kept", true));
    ASSERT_TRUE(put(*s, "torn", "value-torn-by-the-crash", true));
  }
  bool patched = false;
  for (const auto& e : std::filesystem::directory_iterator(db_ + "/wal")) {
    std::fstream f(e.path(), std::ios::in | std::ios::out | std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(f)), {});
    const size_t at = data.find("value-torn");
    if (at == std::string::npos) continue;
    f.seekp(static_cast<std::streamoff>(at + 3));
    f.put('X');
    patched = true;
  }
  ASSERT_TRUE(patched);
  for (int round = 0; round < 2; ++round) {
    auto s = open();
    ASSERT_TRUE(s) << "open " << round + 2;
    EXPECT_EQ(get_or_absent(*s, "kept"), "value-kept");
    ASSERT_TRUE(put(*s, "after" + std::to_string(round), "1", true));
  }
  auto s = open();
  ASSERT_TRUE(s);
  EXPECT_EQ(get_or_absent(*s, "after0"), "1");
  EXPECT_EQ(get_or_absent(*s, "after1"), "1");
}

// Stands in for a full disk while it lives: nothing can be written past `bytes` into any file
// (RLIMIT_FSIZE), so a log record that would reach beyond it fails, as a write meeting ENOSPC
// would. SIGXFSZ is ignored meanwhile, so that the writes fail with EFBIG instead of killing
// the process. (Segments that cannot be made, the other way a full disk shows, are covered by
// tests/test_disk_full.py on a real tmpfs.)
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    old_handler_ = ::signal(SIGXFSZ, SIG_IGN);
    ::getrlimit(RLIMIT_FSIZE, &old_);
    rlimit lim = old_;
    lim.rlim_cur = bytes;
    ::setrlimit(RLIMIT_FSIZE, &lim);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &old_);
    ::signal(SIGXFSZ, old_handler_);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;

 private:
  rlimit old_{};
  sighandler_t old_handler_;
};

// A write the disk refuses fails without harm and leaves its batch whole; the same batch fails
// again while the disk stays full and succeeds once there is room, and reopening finds every
// write that succeeded (the retried one included). With a synced log and an unsynced one (which
// hands each sealed segment to a background thread before making the next).
TEST_F(RocksStorageTest, AWriteTheDiskRefusesCanBeWrittenAgainOnceThereIsRoom) {
  for (const bool synced : {true, false}) {
    SCOPED_TRACE(synced ? "synced log" : "unsynced log");
    const std::string dir = tmp_.sub(synced ? "synced" : "unsynced");
    RocksOptions options;
    options.wal_first_segment_bytes = 64 << 10;
    options.wal_max_segment_bytes = 64 << 10;
    options.unsynced = !synced;
    const std::string value(4096, 'v');
    std::vector<std::string> written;
    {
      auto r = RocksStorage::open(dir, options);
      ASSERT_TRUE(r) << r.status().to_string();
      auto s = std::move(r).value();
      WriteBatch refused;
      {
        FileSizeLimit full(32 << 10);  // half way into the first segment
        for (int i = 0; i < 200 && refused.empty(); ++i) {
          WriteBatch b;
          b.put(record_key(static_cast<uint32_t>(i)), value);
          b.put(log_record_key(static_cast<uint32_t>(i)), value);
          Status st = s->write(std::move(b), synced);
          if (st) {
            written.push_back(record_key(static_cast<uint32_t>(i)));
          } else {
            refused = std::move(b);
          }
        }
        ASSERT_FALSE(refused.empty()) << "no write failed under the file size limit";
        ASSERT_EQ(refused.size(), 2u);
        EXPECT_EQ(refused.items()[0].value, value);
        EXPECT_EQ(refused.items()[1].value, value);
        EXPECT_FALSE(s->write(std::move(refused), synced));  // still full
        ASSERT_EQ(refused.size(), 2u);
      }
      written.push_back(refused.items()[0].key);
      ASSERT_TRUE(s->write(std::move(refused), synced));
      ASSERT_TRUE(put(*s, "after", "1", synced));
      written.push_back("after");
    }
    auto r = RocksStorage::open(dir, options);
    ASSERT_TRUE(r) << r.status().to_string();
    auto s = std::move(r).value();
    for (const std::string& k : written) {
      EXPECT_EQ(get_or_absent(*s, k), k == "after" ? "1" : value) << k;
    }
    EXPECT_EQ(scan_all(*s, "r", "s").size() + 1, written.size());
  }
}

TEST_F(RocksStorageTest, ManyWritesSurviveFlushesAndReopen) {
  RocksOptions options;
  options.write_buffer_bytes = 64 << 10;  // forces memtable flushes into SST files
  constexpr uint32_t kRecords = 2000;
  {
    auto s = open(options);
    ASSERT_TRUE(s);
    for (uint32_t i = 0; i < kRecords; ++i) {
      ASSERT_TRUE(put(*s, record_key(i), record_value(i), i % 100 == 0));
    }
    WriteBatch b;
    b.delete_range(record_key(100), record_key(200));
    ASSERT_TRUE(s->write(b, true));
    EXPECT_GT(s->approximate_bytes(), 0u);
    EXPECT_NE(s->stats().find("Compaction"), std::string::npos);
    EXPECT_EQ(s->dir(), db_);
  }
  auto s = open(options);
  ASSERT_TRUE(s);
  for (uint32_t i = 0; i < kRecords; ++i) {
    bool deleted = i >= 100 && i < 200;
    ASSERT_EQ(get_or_absent(*s, record_key(i)), deleted ? "<absent>" : record_value(i)) << i;
  }
  EXPECT_EQ(scan_all(*s).size(), kRecords - 100);
  bool has_sst = false;
  for (const auto& e : fs::directory_iterator(db_))
    has_sst |= e.path().extension() == ".sst";
  EXPECT_TRUE(has_sst) << "expected memtable flushes to write SST files";
}

// Raft log records ("l" keys) live in the write-ahead log and in memory, not in RocksDB. A log
// appended at its end and cut from its front lets the segments go (the log directory stays
// small), while the live records, the other keys and the cuts survive reopening, including
// records put in a segment that stayed because of them and those checkpointed at an open.
TEST_F(RocksStorageTest, RaftLogRecordsSurviveReleasesAndReopens) {
  RocksOptions options;
  options.write_buffer_bytes = 64 << 10;
  options.wal_first_segment_bytes = 16 << 10;
  options.wal_max_segment_bytes = 16 << 10;
  auto log_key = [](uint64_t i) {
    std::string k("lg\0", 3);
    for (int b = 7; b >= 0; --b)
      k.push_back(static_cast<char>((i >> (8 * b)) & 0xff));
    return k;
  };
  const std::string value(200, 'v');
  uint64_t first = 1, next = 1;  // live log: [first, next)
  for (int open_round = 0; open_round < 6; ++open_round) {
    auto s = open(options);
    ASSERT_TRUE(s);
    for (uint64_t i = first; i < next; ++i)
      ASSERT_EQ(get_or_absent(*s, log_key(i)), value + std::to_string(i)) << open_round << " " << i;
    EXPECT_EQ(get_or_absent(*s, log_key(first - 1)), "<absent>");
    EXPECT_EQ(get_or_absent(*s, "m/hs"), first == 1 ? "<absent>" : std::to_string(next))
        << open_round;
    // Odd rounds append a few records only: the earlier ones must outlive two opens.
    const int steps = open_round % 2 == 0 ? 3000 : 5;
    for (int step = 0; step < steps; ++step) {
      WriteBatch b;
      if (next % 2 == 0) {  // as Raft writes entries: a sealed head, the entry's data shared
        b.put_shared(log_key(next), value.substr(0, 25),
                     SharedBytes(value.substr(25) + std::to_string(next)));
      } else {
        b.put(log_key(next), value + std::to_string(next));
      }
      ++next;
      b.put("m/hs", std::to_string(next));
      if (next - first > 500) {  // compaction: the front goes
        first = next - 100;
        b.delete_range(std::string("lg\0", 3), log_key(first));
      }
      ASSERT_TRUE(s->write(b, step % 50 == 0));
    }
    // Segments are released behind the cut (by a background thread: waited for, boundedly):
    // far less than the 3000 records' 600 kB stays.
    for (int wait = 0; wait < 1000 && wal_bytes() >= (400u << 10); ++wait)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_LT(wal_bytes(), 400u << 10) << open_round;
    size_t live = 0;
    ASSERT_TRUE(s->scan(std::string("lg\0", 3), std::string("lg\1", 3),
                        [&](std::string_view, std::string_view) { return ++live, true; }));
    EXPECT_EQ(live, next - first);
  }
}

// A log nobody appends to or cuts any more (an idle Raft group), and a record rewritten at every
// write (a hard state), must not keep the write-ahead log from being released.
TEST_F(RocksStorageTest, IdleRaftLogRecordsDoNotHoldTheWriteAheadLog) {
  RocksOptions options;
  options.write_buffer_bytes = 64 << 10;
  options.wal_first_segment_bytes = 16 << 10;
  options.wal_max_segment_bytes = 16 << 10;
  auto key = [](char log, uint64_t i) {
    std::string k{'l', log, '\0'};
    for (int b = 7; b >= 0; --b)
      k.push_back(static_cast<char>((i >> (8 * b)) & 0xff));
    return k;
  };
  const std::string value(200, 'v');
  const std::string busy_hs("lg\1hs", 5), idle_hs("li\1hs", 5);
  uint64_t first = 1, next = 1;
  for (int open_round = 0; open_round < 3; ++open_round) {
    auto s = open(options);
    ASSERT_TRUE(s);
    if (open_round == 0) {
      WriteBatch b;
      for (uint64_t i = 1; i <= 3; ++i)  // checkpointed to RocksDB from a head and a tail
        b.put_shared(key('i', i), "id", SharedBytes("le" + std::to_string(i)));
      b.put(idle_hs, "idle-hs");
      ASSERT_TRUE(s->write(b, true));
    }
    for (int step = 0; step < 6000; ++step) {
      WriteBatch b;
      b.put(key('g', next), value + std::to_string(next));
      ++next;
      b.put(busy_hs, std::to_string(next));
      if (next - first > 500) {
        first = next - 100;
        b.delete_range(key('g', 0), key('g', first));
      }
      ASSERT_TRUE(s->write(b, false));
    }
    // 1.2 MB were written; what stays is bounded by the newest sealed log kept unchecked
    // (2 write buffers) plus the segments in flight.
    for (int wait = 0; wait < 1000 && wal_bytes() >= (300u << 10); ++wait)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_LT(wal_bytes(), 300u << 10) << open_round;
    for (uint64_t i = 1; i <= 3; ++i)
      EXPECT_EQ(get_or_absent(*s, key('i', i)), "idle" + std::to_string(i)) << open_round;
    EXPECT_EQ(get_or_absent(*s, idle_hs), "idle-hs");
    EXPECT_EQ(get_or_absent(*s, busy_hs), std::to_string(next));
    for (uint64_t i = first; i < next; ++i)
      ASSERT_EQ(get_or_absent(*s, key('g', i)), value + std::to_string(i))
          << open_round << " " << i;
  }
  auto s = open(options);
  ASSERT_TRUE(s);
  for (uint64_t i = 1; i <= 3; ++i)
    EXPECT_EQ(get_or_absent(*s, key('i', i)), "idle" + std::to_string(i));
  EXPECT_EQ(get_or_absent(*s, idle_hs), "idle-hs");
  EXPECT_EQ(get_or_absent(*s, busy_hs), std::to_string(next));
  EXPECT_EQ(get_or_absent(*s, key('g', first - 1)), "<absent>");
  for (uint64_t i = first; i < next; ++i)
    ASSERT_EQ(get_or_absent(*s, key('g', i)), value + std::to_string(i)) << i;
}

TEST_F(RocksStorageTest, BlobFilesSurviveReopenAndDamageIsDetected) {
  {
    auto st = open();
    ASSERT_TRUE(st);
    ASSERT_TRUE(st->write_blob("image.k.7", std::string(100000, 'v')));
    ASSERT_TRUE(st->write_blob("image.k.8", "eight"));
  }
  // A write a crash interrupted leaves a temporary file: not listed, not read, removed by the
  // next open (and by the next write or removal of the name).
  { std::ofstream(db_ + "/images/image.k.9.tmp") << "half"; }
  auto st = open();
  ASSERT_TRUE(st);
  EXPECT_FALSE(fs::exists(db_ + "/images/image.k.9.tmp"));
  { std::ofstream(db_ + "/images/image.k.9.tmp") << "half"; }
  auto names = st->list_blobs();
  ASSERT_TRUE(names.is_ok());
  EXPECT_EQ(*names, (std::vector<std::string>{"image.k.7", "image.k.8"}));
  auto b = st->read_blob("image.k.7");
  ASSERT_TRUE(b.is_ok()) << b.status().to_string();
  EXPECT_EQ(*b, std::string(100000, 'v'));
  ASSERT_TRUE(st->remove_blob("image.k.9"));
  EXPECT_FALSE(fs::exists(db_ + "/images/image.k.9.tmp"));
  // A flipped byte, and a cut file, are corruption naming the file.
  {
    std::fstream f(db_ + "/images/image.k.7", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(5000);
    f.put('X');
  }
  b = st->read_blob("image.k.7");
  ASSERT_FALSE(b.is_ok());
  EXPECT_EQ(b.status().code(), Code::kCorruption);
  EXPECT_NE(b.status().message().find("image.k.7"), std::string::npos);
  fs::resize_file(db_ + "/images/image.k.8", 26);
  b = st->read_blob("image.k.8");
  ASSERT_FALSE(b.is_ok());
  EXPECT_EQ(b.status().code(), Code::kCorruption) << b.status().to_string();
}

TEST_F(RocksStorageTest, OpenWithoutCreateFailsOnMissingDir) {
  RocksOptions options;
  options.create_if_missing = false;
  auto r = RocksStorage::open(db_, options);
  ASSERT_FALSE(r);
  EXPECT_NE(r.status().message().find(db_), std::string::npos) << r.status().to_string();
}

TEST_F(RocksStorageTest, OpenCreatesMissingParentDirectories) {
  const std::string nested = db_ + "/a/b/data";
  auto r = RocksStorage::open(nested);
  ASSERT_TRUE(r) << r.status().to_string();
  EXPECT_TRUE(fs::exists(nested + "/CURRENT"));
}

TEST_F(RocksStorageTest, OpenFailsClearlyOnGarbageCurrentFile) {
  fs::create_directories(db_);
  std::ofstream(db_ + "/CURRENT") << "\x01\x02 this is not a manifest name";
  auto r = RocksStorage::open(db_);
  ASSERT_FALSE(r);
  EXPECT_NE(r.status().message().find(db_), std::string::npos) << r.status().to_string();
}

TEST_F(RocksStorageTest, OpenFailsClearlyOnGarbageManifest) {
  fs::create_directories(db_);
  std::ofstream(db_ + "/CURRENT") << "MANIFEST-000001\n";
  std::ofstream manifest(db_ + "/MANIFEST-000001", std::ios::binary);
  std::mt19937 rng(7);
  for (int i = 0; i < 4096; ++i)
    manifest.put(static_cast<char>(rng()));
  manifest.close();
  auto r = RocksStorage::open(db_);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().code(), Code::kCorruption) << r.status().to_string();
  EXPECT_NE(r.status().message().find(db_), std::string::npos) << r.status().to_string();
}

TEST_F(RocksStorageTest, OpenRefusesADirectoryOfForeignFiles) {
  fs::create_directories(db_);
  std::ofstream(db_ + "/notes.txt") << "not a database";
  auto r = RocksStorage::open(db_);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << r.status().to_string();
  EXPECT_NE(r.status().message().find("notes.txt"), std::string::npos);
  EXPECT_FALSE(fs::exists(db_ + "/CURRENT")) << "must not create a store among foreign files";
}

TEST_F(RocksStorageTest, OpenRefusesAPathThatIsAFile) {
  std::ofstream(db_) << "a file";
  auto r = RocksStorage::open(db_);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << r.status().to_string();
}

TEST_F(RocksStorageTest, OpenFailsWhileAnotherProcessHoldsTheStore) {
  Pipe from_child, to_child;
  pid_t pid = spawn_child("holder", db_, from_child.write_end, to_child.read_end);
  from_child.close_write();
  to_child.close_read();
  char c = 0;
  ASSERT_TRUE(read_exact(from_child.read_end, &c, 1));
  ASSERT_EQ(c, 'o') << "the child could not open the store";

  auto r = RocksStorage::open(db_);
  EXPECT_FALSE(r);
  if (!r) {
    EXPECT_EQ(r.status().code(), Code::kIOError);
    EXPECT_NE(r.status().message().find("locked"), std::string::npos) << r.status().to_string();
    EXPECT_NE(r.status().message().find(db_), std::string::npos) << r.status().to_string();
  }

  to_child.close_write();  // the child closes the store and exits
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_TRUE(open()) << "the store must open once the other process is gone";
}

// A writer process acknowledges records one by one (sync=true) and is killed with SIGKILL in
// the middle; every record it acknowledged must be there after reopening, and nothing it had
// not yet tried to write. Each batch also appends to a Raft-log-shaped range whose front is cut
// now and then: its live records survive, and the cut ones stay cut.
// A power cut under fsync = never can leave a hole in the middle of the write-ahead log (the
// kernel writes dirty pages back in no order). Such a store opens with what precedes the hole,
// says what it dropped, and carries on; opened as a synced store it is refused.
TEST_F(RocksStorageTest, UnsyncedStoreWithAHoleInItsLogOpensWithThePrefix) {
  Pipe unused;
  pid_t pid = spawn_child("unsynced", db_, unused.write_end, -1);
  unused.close_write();
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "writer status " << status;
  std::vector<fs::path> segs;
  for (const auto& e : fs::directory_iterator(db_ + "/wal"))
    segs.push_back(e.path());
  std::sort(segs.begin(), segs.end());
  ASSERT_GE(segs.size(), 3u);
  {
    std::fstream f(segs[1], std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(60);  // inside the segment's first record (16-byte segment header, 36-byte header)
    char c = 0;
    f.get(c);
    f.seekp(60);
    f.put(static_cast<char>(c ^ 0x10));
  }
  {
    auto strict = RocksStorage::open(db_);
    ASSERT_FALSE(strict.is_ok());
    EXPECT_EQ(strict.status().code(), Code::kCorruption) << strict.status().to_string();
  }
  uint32_t kept = 0;
  {
    auto s = open(unsynced_options());
    ASSERT_TRUE(s);
    EXPECT_NE(s->recovery_note().find("the log ends there"), std::string::npos)
        << s->recovery_note();
    while (kept < kUnsyncedRecords && get_or_absent(*s, record_key(kept)) == record_value(kept))
      ++kept;
    EXPECT_GT(kept, 0u);
    EXPECT_LT(kept, kUnsyncedRecords);
    for (uint32_t i = kept; i < kUnsyncedRecords; ++i) {
      ASSERT_EQ(get_or_absent(*s, record_key(i)), "<absent>") << i;
      ASSERT_EQ(get_or_absent(*s, log_record_key(i)), "<absent>") << i;
    }
    for (uint32_t i = 0; i < kept; ++i)
      ASSERT_EQ(get_or_absent(*s, log_record_key(i)), record_value(i)) << i;
    ASSERT_TRUE(put(*s, "after", "1", false));
  }
  auto s = open(unsynced_options());
  ASSERT_TRUE(s);
  EXPECT_EQ(s->recovery_note(), "");
  EXPECT_EQ(get_or_absent(*s, "after"), "1");
  EXPECT_EQ(get_or_absent(*s, record_key(kept - 1)), record_value(kept - 1));
  EXPECT_EQ(get_or_absent(*s, record_key(kept)), "<absent>");
}

TEST_F(RocksStorageTest, SigkilledWriterLosesNoAcknowledgedRecord) {
  constexpr uint32_t kKillAfter = 1500;  // past several log segment rolls and releases
  Pipe acks;
  pid_t pid = spawn_child("writer", db_, acks.write_end, -1);
  acks.close_write();
  uint32_t acked = 0;
  while (acked < kKillAfter) {
    ASSERT_TRUE(read_exact(acks.read_end, &acked, sizeof(acked)))
        << "writer died early after " << acked << " acks";
  }
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  uint32_t later = 0;  // acks sent before the kill landed still count
  while (read_exact(acks.read_end, &later, sizeof(later)))
    acked = later;
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "writer status " << status;

  auto s = open();
  ASSERT_TRUE(s);
  for (uint32_t i = 0; i < acked; ++i) {
    ASSERT_EQ(get_or_absent(*s, record_key(i)), record_value(i)) << "acked record " << i;
  }
  // Record `acked` may or may not have reached the WAL; later ones were never written.
  std::string maybe = get_or_absent(*s, record_key(acked));
  EXPECT_TRUE(maybe == "<absent>" || maybe == record_value(acked));
  std::vector<std::string> log_left;
  ASSERT_TRUE(s->scan(log_record_key(0), log_record_key(kWriterMaxRecords),
                      [&](std::string_view k, std::string_view) {
                        log_left.emplace_back(k);
                        return true;
                      }));
  const uint32_t cut = log_cut(acked - 1);
  for (uint32_t i = std::max(cut, log_cut(acked)); i < acked; ++i) {
    ASSERT_EQ(get_or_absent(*s, log_record_key(i)), record_value(i)) << "acked log record " << i;
  }
  ASSERT_FALSE(log_left.empty());
  EXPECT_GE(log_left.front(), log_record_key(cut)) << "a cut log record came back";
  EXPECT_LE(log_left.back(), log_record_key(acked));
  size_t present = scan_all(*s).size() - log_left.size();
  EXPECT_TRUE(present == acked || present == acked + 1) << present << " vs " << acked;
}

}  // namespace
}  // namespace rkv
