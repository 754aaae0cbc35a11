// RocksStorage: Storage on rocksdb::DB, default column family only. Durability comes from
// replikv's own write-ahead log (storage/wal_log.h, in <dir>/wal): every batch is appended there
// first (write(sync=true) syncs it before returning), then applied to RocksDB with RocksDB's WAL
// disabled. Opening replays the log into RocksDB. Once the filled log segments hold a memtable's
// worth, RocksDB is flushed and they are released (deleted, or kept for reuse). Replaying a batch
// that RocksDB already holds is harmless: batches set keys to absolute values, so replaying the log
// from any point at or before the first unflushed batch yields the same store. Data written by
// RocksDB's own WAL (older stores) is still recovered by RocksDB at open.
//
// Raft log records and hard states (keys under "l") skip RocksDB: they are written to the
// write-ahead log and kept in memory (`log_keys`, storage/log_records.h), where reads find them. A
// log is appended at its end and cut from its front (compaction) soon after, and a hard state is
// rewritten at nearly every write, so inserting them into memtables only to sort, flush and compact
// them away cost more than everything else the store does. A segment is released only once no
// record's current value is there any more (`live_in_segment`); a record whose value stays
// current behind a lot of newer log is written to RocksDB as well (a checkpoint) and holds no
// segment after that. At open, after replay, the replayed records are checkpointed so that
// every recovered segment can go before anything is appended. Deletes of "l" keys are applied
// to both, so checkpointed records (and those of stores written before this scheme) are
// deleted as well.
#include <fcntl.h>
#include <rocksdb/cache.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/listener.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <system_error>
#include <thread>
#include <vector>

#include "storage/blob_files.h"
#include "storage/log_records.h"
#include "storage/storage.h"
#include "storage/wal_log.h"
#include "storage/wal_record.h"

namespace rkv {

namespace {

constexpr int kBloomBitsPerKey = 10;
constexpr int kMaxWriteBuffers = 4;
constexpr int kMaxBackgroundJobs = 2;
constexpr int kMaxOpenFiles = 512;
constexpr uint64_t kBytesPerSync = 1ull << 20;
// How long a Flush() that returned OK may take to be reported by the listener (FlushTracker).
constexpr std::chrono::milliseconds kFlushReportWait{1000};
constexpr size_t kMaxInfoLogBytes = 4ull << 20;  // per LOG file; one older file is kept
constexpr const char* kWalDir = "wal";
constexpr const char* kBlobDir = "images";   // blobs (storage.h), one file each
constexpr std::string_view kLogBegin = "l";  // Raft log records: [kLogBegin, kLogEnd)
constexpr std::string_view kLogEnd = "m";
constexpr size_t kCheckpointBatchBytes = 16ull << 20;
// The segment recorded for log records replayed at open (any id works: they are all
// checkpointed before the first append).
constexpr uint64_t kReplayed = 1;
// A live Raft log record in a sealed segment followed by this many times write_buffer_bytes of
// sealed log is checkpointed into RocksDB, so that the segment can be released.
constexpr uint64_t kKeepUncheckpointedBuffers = 2;
// Opening writes: RocksDB a new MANIFEST, OPTIONS file and info log, the write-ahead log a new
// segment of wal_first_segment_bytes. RocksDB does not survive running out of space there (an
// internal assertion aborts the process), so opening needs this much free besides the segment.
constexpr uint64_t kOpenHeadroomBytes = 1ull << 20;

bool is_log_key(std::string_view key) {
  return !key.empty() && key[0] == kLogBegin[0];
}

rocksdb::Slice to_slice(std::string_view s) {
  return {s.data(), s.size()};
}
std::string_view to_view(const rocksdb::Slice& s) {
  return {s.data(), s.size()};
}

// Maps a RocksDB status to ours; `what` says which operation failed, `dir` which store.
Status from_rocks(const rocksdb::Status& s, const std::string& dir, std::string_view what) {
  RKV_ASSERT(!s.ok());
  // getState() is the message without the code name, which our Status prints itself.
  std::string msg = "rocksdb " + std::string(what) + " in " + dir + ": " +
                    (s.getState() != nullptr ? std::string(s.getState()) : s.ToString());
  using C = rocksdb::Status::Code;
  switch (s.code()) {
    case C::kNotFound:
      return Status::not_found(std::move(msg));
    case C::kCorruption:
      return Status::corruption(std::move(msg));
    case C::kInvalidArgument:
    case C::kNotSupported:
      return Status::invalid_argument(std::move(msg));
    case C::kIOError:
      if (s.IsNoSpace()) return Status::resource_exhausted(std::move(msg));
      return Status::io_error(std::move(msg));
    case C::kBusy:
    case C::kTryAgain:
    case C::kShutdownInProgress:
      return Status::unavailable(std::move(msg));
    case C::kTimedOut:
    case C::kExpired:
      return Status::timeout(std::move(msg));
    case C::kAborted:
      return Status::aborted(std::move(msg));
    default:
      return Status::internal(std::move(msg));
  }
}

// The highest sequence number a completed flush wrote to a table file. RocksDB's Flush() can
// answer OK without having flushed (while it recovers from a background error, a full disk), so
// a log segment is released only once a completed flush is seen to cover every write made to
// RocksDB before the Flush() call: its records would otherwise live in a memtable alone, and a
// kill -9 would lose them.
// RocksDB calls OnFlushCompleted after it has installed the flush's result, and a Flush() that
// waited for that result may return first: flushed_through() waits a moment for the call.
class FlushTracker final : public rocksdb::EventListener {
 public:
  void OnFlushCompleted(rocksdb::DB* /*db*/, const rocksdb::FlushJobInfo& info) override {
    raise_to(info.largest_seqno);
  }
  void raise_to(uint64_t seq) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      flushed_ = std::max(flushed_, seq);
    }
    cv_.notify_all();
  }
  // Whether every write with a sequence number <= seq is in a table file, waiting up to
  // `wait` for a flush that has finished to be reported. Returns the figure reached.
  uint64_t flushed_through(uint64_t seq, std::chrono::milliseconds wait) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, wait, [&] { return flushed_ >= seq; });
    return flushed_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t flushed_ = 0;
};

// RocksDB recovers from a full disk by itself only once free space exceeds a margin of its own,
// polled every few seconds, and Resume() answers Busy meanwhile. replikv resumes it instead
// (RocksStorage::write calls Resume() when a write meets the error), as soon as a retry of the
// write finds room.
class NoAutoRecovery final : public rocksdb::EventListener {
 public:
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason /*reason*/, rocksdb::Status /*error*/,
                            bool* auto_recovery) override {
    *auto_recovery = false;
  }
};

rocksdb::CompressionType pick_compression() {
  const auto supported = rocksdb::GetSupportedCompressions();
  bool has_lz4 =
      std::find(supported.begin(), supported.end(), rocksdb::kLZ4Compression) != supported.end();
  return has_lz4 ? rocksdb::kLZ4Compression : rocksdb::kNoCompression;
}

// RocksDB's info log (<dir>/LOG), written by replikv rather than by RocksDB's own logger. On a
// full disk RocksDB's logger fails a write and aborts the process at its next line (an
// assertion in its file writer, compiled into the distribution's library); this one drops a
// line the disk refuses and goes on. At most kMaxInfoLogBytes per file; the previous file is
// kept as LOG.old. Errors are also logged to the node's own log.
class InfoLog final : public rocksdb::Logger {
 public:
  explicit InfoLog(std::string dir)
      : rocksdb::Logger(rocksdb::InfoLogLevel::INFO_LEVEL), path_(std::move(dir) + "/LOG") {
    std::lock_guard<std::mutex> lock(mu_);
    reopen(/*rotate=*/false);
  }
  ~InfoLog() override {
    if (fd_ >= 0) ::close(fd_);
  }

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
  }
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < GetInfoLogLevel()) return;
    char msg[2048];
    va_list copy;
    va_copy(copy, ap);
    const int n = std::vsnprintf(msg, sizeof(msg), format, copy);
    va_end(copy);
    if (n < 0) return;
    const std::string_view text(msg, std::min<size_t>(static_cast<size_t>(n), sizeof(msg) - 1));
    if (level >= rocksdb::InfoLogLevel::ERROR_LEVEL &&
        level != rocksdb::InfoLogLevel::HEADER_LEVEL) {
      spdlog::error("rocksdb ({}): {}", path_, text);
    }
    const auto now = std::chrono::system_clock::now();
    const std::time_t secs = std::chrono::system_clock::to_time_t(now);
    const auto micros =
        std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() %
        1000000;
    std::tm tm{};
    ::gmtime_r(&secs, &tm);
    char stamp[64];
    std::snprintf(stamp, sizeof(stamp), "%04d/%02d/%02d-%02d:%02d:%02d.%06lld ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<long long>(micros));
    std::string line;
    line.reserve(text.size() + 48);
    line.append(stamp).append(text).push_back('\n');
    std::lock_guard<std::mutex> lock(mu_);
    if (size_ + line.size() > kMaxInfoLogBytes) reopen(/*rotate=*/true);
    if (fd_ < 0) return;
    const ssize_t w = ::write(fd_, line.data(), line.size());  // a refused line is dropped
    if (w > 0) size_ += static_cast<uint64_t>(w);
  }
  size_t GetLogFileSize() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return size_;
  }

 private:
  void reopen(bool rotate) {
    if (fd_ >= 0) ::close(fd_);
    if (rotate) (void)::rename(path_.c_str(), (path_ + ".old").c_str());
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    struct stat st {};
    size_ = fd_ >= 0 && ::fstat(fd_, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
    // A LOG left too large by an earlier version starts over.
    if (!rotate && size_ > kMaxInfoLogBytes) reopen(/*rotate=*/true);
  }

  const std::string path_;
  mutable std::mutex mu_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

rocksdb::Options make_options(const RocksOptions& options, const std::string& dir) {
  rocksdb::Options o;
  o.info_log = std::make_shared<InfoLog>(dir);
  o.create_if_missing = options.create_if_missing;
  o.paranoid_checks = true;
  o.manual_wal_flush = false;
  // A torn last record (power loss mid-write, never acknowledged) is tolerated; a corrupt
  // record anywhere else fails the open with Corruption instead of silently dropping the
  // acknowledged writes behind it.
  o.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;

  // Write-heavy: large memtables, a few of them so writes do not stall during a flush.
  o.write_buffer_size = options.write_buffer_bytes;
  o.max_write_buffer_number = kMaxWriteBuffers;
  o.min_write_buffer_number_to_merge = 1;
  o.max_background_jobs = kMaxBackgroundJobs;
  o.compaction_style = rocksdb::kCompactionStyleLevel;
  // replikv serves reads from memory and reads RocksDB only while opening, so memtables are
  // write-optimised vectors (O(1) insert, sorted when flushed) rather than skip lists.
  o.memtable_factory = std::make_shared<rocksdb::VectorRepFactory>();
  o.allow_concurrent_memtable_write = false;
  o.level_compaction_dynamic_level_bytes = true;
  o.compression = pick_compression();
  o.bytes_per_sync = kBytesPerSync;
  o.max_open_files = kMaxOpenFiles;
  o.listeners.push_back(std::make_shared<NoAutoRecovery>());

  rocksdb::BlockBasedTableOptions t;
  t.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(kBloomBitsPerKey));
  t.cache_index_and_filter_blocks = true;
  t.pin_l0_filter_and_index_blocks_in_cache = true;
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  return o;
}

// Names RocksDB itself puts in a store directory, including while it is still being created
// (a crash during the first open may leave these without CURRENT).
bool is_rocks_file(const std::string& name) {
  auto starts = [&](std::string_view p) { return name.rfind(p, 0) == 0; };
  auto ends = [&](std::string_view s) {
    return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
  };
  return name == "LOCK" || name == "IDENTITY" || name == kWalDir || name == kBlobDir ||
         starts("LOG") || starts("MANIFEST-") || starts("OPTIONS-") || ends(".log") ||
         ends(".sst") || ends(".blob") || ends(".dbtmp");
}

// Refuses a path that is not a directory, and a directory without CURRENT that holds files
// RocksDB did not write: RocksDB would otherwise create a fresh store among them.
Status check_dir(const std::string& dir, bool create) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::file_status st = fs::status(dir, ec);
  if (st.type() == fs::file_type::not_found && create) {
    // A new store: its parent directories too, as `mkdir -p` would (RocksDB makes only the
    // last one).
    if (!fs::create_directories(dir, ec) && ec) {
      return Status::io_error("cannot create the data directory " + dir + ": " + ec.message());
    }
    return Status::ok();
  }
  if (ec) return Status::ok();  // RocksDB will say
  if (st.type() != fs::file_type::directory) {
    return Status::invalid_argument("cannot open rocksdb store in " + dir +
                                    ": the path exists and is not a directory");
  }
  if (fs::exists(fs::path(dir) / "CURRENT", ec)) return Status::ok();
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (!is_rocks_file(name)) {
      return Status::invalid_argument("cannot open rocksdb store in " + dir +
                                      ": the directory holds '" + name +
                                      "' but no RocksDB store (no CURRENT file)");
    }
  }
  if (ec) return Status::io_error("cannot list " + dir + ": " + ec.message());
  return Status::ok();
}

// Deletes the table files (.sst) of `dir` that the store's current version does not name:
// output of a flush or compaction that failed or was interrupted, which RocksDB itself deletes
// only once it has opened. The store's LOCK is held meanwhile, so that tables a live process is
// writing are never touched; a store another process holds is left alone (its open fails later
// and says so). Best effort: what cannot be listed or removed stays.
void remove_unreferenced_tables(const std::string& dir, const RocksOptions& options) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(fs::path(dir) / "CURRENT", ec)) return;
  const std::string lock_path = dir + "/LOCK";
  const int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CLOEXEC);
  if (lock_fd < 0) return;
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  if (::fcntl(lock_fd, F_SETLK, &fl) != 0) {
    ::close(lock_fd);
    return;
  }
  std::set<std::string> live;
  bool listed = false;
  {
    rocksdb::DB* raw = nullptr;
    rocksdb::Options o = make_options(options, dir);
    o.create_if_missing = false;
    if (rocksdb::DB::OpenForReadOnly(o, dir, &raw).ok()) {
      std::unique_ptr<rocksdb::DB> db(raw);
      std::vector<rocksdb::LiveFileMetaData> files;
      db->GetLiveFilesMetaData(&files);
      for (const rocksdb::LiveFileMetaData& f : files)
        live.insert(fs::path(f.name).filename());
      listed = true;
      (void)db->Close();
    }
  }
  uint64_t freed = 0;
  if (listed) {
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      const std::string name = entry.path().filename().string();
      if (entry.path().extension() != ".sst" || live.count(name)) continue;
      const uint64_t size = entry.file_size(ec);
      if (fs::remove(entry.path(), ec)) freed += size;
    }
  }
  fl.l_type = F_UNLCK;
  (void)::fcntl(lock_fd, F_SETLK, &fl);
  ::close(lock_fd);
  if (freed > 0) {
    spdlog::warn(
        "{}: removed {} bytes of unfinished table files (a flush or compaction cut "
        "short) to make room to open",
        dir, freed);
  }
}

}  // namespace

struct RocksStorage::Impl {
  std::string dir;
  std::unique_ptr<rocksdb::DB> db;
  std::shared_ptr<FlushTracker> flushes;
  std::unique_ptr<WalLog> wal;
  std::mutex write_mu;         // one writer at a time (the loop or the syncer thread)
  uint64_t seen_segment = 0;   // the log segment current at the last write
  uint64_t release_bytes = 0;  // sealed log bytes that make it worth flushing and releasing
  uint64_t requested_upto = 0;

  // Guarded by write_mu. The live Raft log records, each with the log segment its value was
  // written to (0: the value is in RocksDB too, checkpointed), and per segment the number of
  // live records whose value is there: a segment can go once that count is 0.
  LogRecords log_keys;
  std::map<uint64_t, uint64_t> live_in_segment;

  void unpin(uint64_t segment) {
    if (segment == 0) return;
    auto p = live_in_segment.find(segment);
    RKV_ASSERT(p != live_in_segment.end() && p->second > 0);
    --p->second;
  }
  // Sets a log record to the value head + tail (the tail's bytes shared, not copied).
  void log_put(std::string key, std::string_view head, SharedBytes tail, uint64_t segment) {
    if (auto replaced = log_keys.put(std::move(key), head, std::move(tail), segment)) {
      unpin(*replaced);
    }
    if (segment == 0) return;
    if (live_in_segment.empty() || live_in_segment.rbegin()->first != segment) {
      live_in_segment.emplace_hint(live_in_segment.end(), segment, 1);
    } else {
      ++live_in_segment.rbegin()->second;
    }
  }
  void log_delete_range(std::string_view begin, std::string_view end) {
    const std::string_view lo_key = std::max(begin, kLogBegin);
    const std::string_view hi_key = std::min(end, kLogEnd);
    if (lo_key >= hi_key) return;
    log_keys.erase_range(lo_key, hi_key, [this](uint64_t segment) { unpin(segment); });
  }
  void log_delete(std::string_view key) {
    log_keys.erase(key, [this](uint64_t segment) { unpin(segment); });
  }
  // The highest segment id below `below` such that it and every segment before it hold no live
  // log record (0: none). Forgets the counts of the segments it passes.
  uint64_t releasable_below(uint64_t below) {
    while (!live_in_segment.empty() && live_in_segment.begin()->first < below) {
      if (live_in_segment.begin()->second > 0) return live_in_segment.begin()->first - 1;
      live_in_segment.erase(live_in_segment.begin());
    }
    return below - 1;
  }
  // Writes the live log records whose value is in a segment below `below` to RocksDB as well
  // (they then pin no segment: the next flush makes them durable there). For records that
  // outlive many segments, such as the tail of a log nobody writes to any more.
  Status checkpoint_below(uint64_t below) {
    rocksdb::WriteBatch cp;
    std::vector<LogRecords::Record*> in_cp;
    auto put_batch = [&]() -> Status {
      rocksdb::WriteOptions wo;
      wo.disableWAL = true;  // durable once flushed, before any segment holding them goes
      rocksdb::Status ws = db->Write(wo, &cp);
      if (!ws.ok()) return from_rocks(ws, dir, "log checkpoint");
      for (LogRecords::Record* rec : in_cp) {
        unpin(rec->segment);
        rec->segment = 0;
      }
      cp.Clear();
      in_cp.clear();
      return Status::ok();
    };
    Status st;
    log_keys.scan_from("", [&](std::string_view k, LogRecords::Record& rec) {
      if (rec.segment == 0 || rec.segment >= below) return true;
      const rocksdb::Slice key = to_slice(k);
      const rocksdb::Slice value[2] = {to_slice(rec.head()), to_slice(rec.tail().view())};
      rocksdb::Status ps = cp.Put(rocksdb::SliceParts(&key, 1), rocksdb::SliceParts(value, 2));
      if (!ps.ok()) {
        st = from_rocks(ps, dir, "log checkpoint");
        return false;
      }
      in_cp.push_back(&rec);
      if (cp.GetDataSize() >= kCheckpointBatchBytes) st = put_batch();
      return st.is_ok();
    });
    RKV_RETURN_IF_ERROR(st);
    if (cp.Count() > 0) RKV_RETURN_IF_ERROR(put_batch());
    return Status::ok();
  }

  // The last segment recovered at open while the flush after replay has not succeeded yet (0:
  // done). Nothing may be appended until then: a torn record at the end of the recovered log
  // would stand in front of the new records at the next open.
  uint64_t replayed_upto = 0;
  std::string open_note;  // why that flush failed at open, for recovery_note()

  // Flushes RocksDB's memtables and says whether every write made to it before the call is now
  // in a table file (FlushTracker): only then may log segments holding those writes go.
  Status flush_all(const char* what) {
    const uint64_t seq = db->GetLatestSequenceNumber();
    rocksdb::Status fs = db->Flush(rocksdb::FlushOptions());
    if (!fs.ok()) return from_rocks(fs, dir, what);
    if (const uint64_t got = flushes->flushed_through(seq, kFlushReportWait); got < seq) {
      return Status::resource_exhausted(std::string("rocksdb ") + what + " in " + dir +
                                        ": RocksDB reported success but flushed only up to "
                                        "sequence " +
                                        std::to_string(got) + " of " + std::to_string(seq));
    }
    return Status::ok();
  }

  Status finish_replay() {
    if (replayed_upto == 0) return Status::ok();
    rocksdb::Status rs = db->Resume();  // clears the error of an earlier failed flush, if any
    if (!rs.ok()) return from_rocks(rs, dir, "flush after log replay");
    RKV_RETURN_IF_ERROR(flush_all("flush after log replay"));
    wal->release_up_to(replayed_upto);
    replayed_upto = 0;
    return Status::ok();
  }

  // Releases log segments in the background: flush RocksDB's memtables (everything written so
  // far reaches SST files), then delete the segments that held it.
  std::mutex mu;
  std::condition_variable cv;
  uint64_t release_upto = 0;
  bool stop = false;
  std::thread releaser;

  void start_releaser() {
    releaser = std::thread([this] {
      std::unique_lock<std::mutex> lock(mu);
      uint64_t done = 0;
      bool failing = false;  // the last flush failed (logged once per streak)
      while (true) {
        cv.wait(lock, [&] { return stop || release_upto > done; });
        if (stop) return;
        const uint64_t upto = release_upto;
        lock.unlock();
        const Status fs = flush_all("flush");
        const bool flushed = fs.is_ok();
        if (flushed) wal->release_up_to(upto);  // else: kept, and replayed at the next open
        if (!flushed && !failing) {
          spdlog::warn("write-ahead log segments are kept until a flush succeeds: {}",
                       fs.to_string());
        }
        failing = !flushed;
        lock.lock();
        if (flushed) {
          done = upto;
        } else {
          // Tried again shortly (a full disk may have room by then), not in a tight loop.
          cv.wait_for(lock, std::chrono::milliseconds(200), [&] { return stop; });
        }
      }
    });
  }
  void request_release(uint64_t upto) {
    {
      std::lock_guard<std::mutex> lock(mu);
      release_upto = std::max(release_upto, upto);
    }
    cv.notify_one();
  }

  ~Impl() {
    {
      std::lock_guard<std::mutex> lock(mu);
      stop = true;
    }
    cv.notify_one();
    if (releaser.joinable()) releaser.join();
    wal.reset();  // syncs what it holds
    // Nothing to report to: every acknowledged write is in the log, replayed at the next open.
    if (db) (void)db->Close();
  }
};

RocksStorage::RocksStorage(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RocksStorage::~RocksStorage() = default;

Result<std::unique_ptr<RocksStorage>> RocksStorage::open(const std::string& dir,
                                                         const RocksOptions& options) {
  if (dir.empty()) return Status::invalid_argument("rocksdb store directory is empty");
  RKV_RETURN_IF_ERROR(check_dir(dir, options.create_if_missing));
  {
    std::error_code ec;
    std::filesystem::space_info space = std::filesystem::space(dir, ec);
    const uint64_t need = kOpenHeadroomBytes + options.wal_first_segment_bytes;
    if (!ec && space.available < need) {
      // A flush or compaction that ran out of space, or was cut short by kill -9, leaves its
      // unfinished table behind until RocksDB opens: remove it first.
      remove_unreferenced_tables(dir, options);
      space = std::filesystem::space(dir, ec);
    }
    if (!ec && space.available < need) {
      return Status::resource_exhausted(
          "cannot open rocksdb store in " + dir + ": " + std::to_string(space.available) +
          " bytes free on its file system, and opening needs about " + std::to_string(need) +
          " (a new RocksDB manifest and a write-ahead log segment); free some space and start "
          "again (disk_reserve_bytes keeps a node from filling its disk this far)");
    }
  }
  rocksdb::DB* raw = nullptr;
  auto flushes = std::make_shared<FlushTracker>();
  rocksdb::Options db_options = make_options(options, dir);
  db_options.listeners.push_back(flushes);
  rocksdb::Status s = rocksdb::DB::Open(db_options, dir, &raw);
  if (!s.ok()) {
    RKV_ASSERT(raw == nullptr);
    Status st = from_rocks(s, dir, "open");
    if (s.IsIOError() && s.ToString().find("LOCK") != std::string::npos) {
      return Status::io_error("cannot open rocksdb store in " + dir +
                              ": it is locked by another live process (or by another open "
                              "handle in this process) using the same directory (" +
                              s.ToString() + ")");
    }
    return st;
  }
  auto impl = std::make_unique<Impl>();
  impl->dir = dir;
  // The store is ours now (RocksDB's lock): blobs whose writing a crash cut short go.
  remove_blob_leftovers(dir + "/" + kBlobDir);
  impl->db.reset(raw);
  // What RocksDB holds after opening is in its table files (it flushes what it recovers).
  flushes->raise_to(impl->db->GetLatestSequenceNumber());
  impl->flushes = std::move(flushes);
  // Log records checkpointed at an earlier open (or written by older versions) are in RocksDB.
  {
    rocksdb::ReadOptions ro;
    rocksdb::Slice upper = to_slice(kLogEnd);
    ro.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(impl->db->NewIterator(ro));
    for (it->Seek(to_slice(kLogBegin)); it->Valid(); it->Next())
      impl->log_put(it->key().ToString(), to_view(it->value()), {}, 0);
    if (!it->status().ok()) return from_rocks(it->status(), dir, "load log records");
  }
  rocksdb::WriteOptions replay_wo;
  replay_wo.disableWAL = true;
  WalLog::Options wal_options;
  wal_options.first_segment_bytes = options.wal_first_segment_bytes;
  wal_options.max_segment_bytes = options.wal_max_segment_bytes;
  wal_options.damage_ends_log = options.unsynced;
  // Each record is a rocksdb::WriteBatch: log puts go to log_keys, the rest to RocksDB.
  struct Splitter : rocksdb::WriteBatch::Handler {
    Impl* impl;
    rocksdb::WriteBatch rest;
    rocksdb::Status PutCF(uint32_t cf, const rocksdb::Slice& k, const rocksdb::Slice& v) override {
      if (cf != 0) return rocksdb::Status::Corruption("log record names a column family");
      if (is_log_key(to_view(k))) {
        impl->log_put(k.ToString(), to_view(v), {}, kReplayed);
        return rocksdb::Status::OK();
      }
      return rest.Put(k, v);
    }
    rocksdb::Status DeleteCF(uint32_t cf, const rocksdb::Slice& k) override {
      if (cf != 0) return rocksdb::Status::Corruption("log record names a column family");
      if (is_log_key(to_view(k))) impl->log_delete(to_view(k));
      return rest.Delete(k);
    }
    rocksdb::Status DeleteRangeCF(uint32_t cf, const rocksdb::Slice& b,
                                  const rocksdb::Slice& e) override {
      if (cf != 0) return rocksdb::Status::Corruption("log record names a column family");
      impl->log_delete_range(to_view(b), to_view(e));
      return rest.DeleteRange(b, e);
    }
  };
  auto wal = WalLog::open(dir + "/" + kWalDir, wal_options, [&](std::string_view record) -> Status {
    rocksdb::WriteBatch b{std::string(record)};
    Splitter split;
    split.impl = impl.get();
    rocksdb::Status ws = b.Iterate(&split);
    if (ws.ok() && split.rest.Count() > 0) ws = impl->db->Write(replay_wo, &split.rest);
    return ws.ok() ? Status::ok() : from_rocks(ws, dir, "log replay");
  });
  if (!wal.is_ok()) return wal.status();
  impl->wal = std::move(wal).value();
  if (impl->wal->last_recovered_segment() > 0) {
    // Checkpoint: the replayed live log records go to RocksDB too, then RocksDB is flushed,
    // and every recovered segment can go (before any append: a torn tail must not precede new
    // records).
    RKV_RETURN_IF_ERROR(impl->checkpoint_below(kReplayed + 1));
    impl->replayed_upto = impl->wal->last_recovered_segment();
    // A full disk fails the flush; the store still opens, for reads, and finish_open() and
    // every write try the flush again before anything is appended.
    if (Status fs = impl->finish_replay(); !fs.is_ok()) impl->open_note = fs.to_string();
  }
  impl->live_in_segment.clear();
  impl->seen_segment = impl->wal->current_segment();
  impl->release_bytes = options.write_buffer_bytes;
  impl->start_releaser();
  return std::make_unique<RocksStorage>(std::move(impl));
}

Status RocksStorage::write(const WriteBatch& batch, bool sync) {
  WriteBatch copy = batch;
  return write(std::move(copy), sync);
}

Status RocksStorage::write(WriteBatch&& batch, bool sync) {
  RKV_RETURN_IF_ERROR(batch.validate());
  batch.materialize();
  // Empty delete ranges are dropped: RocksDB refuses them.
  std::erase_if(batch.items(), [](const WriteBatch::Item& item) {
    return item.op == WriteBatch::Op::kDeleteRange && !(item.key < item.value);
  });
  if (batch.empty()) return sync ? this->sync() : Status::ok();
  bool has_log_puts = false;
  for (const WriteBatch::Item& item : batch.items()) {
    if (item.op == WriteBatch::Op::kPut && is_log_key(item.key)) has_log_puts = true;
    // RocksDB's format (WalRecord's too) has 32-bit lengths.
    if (item.key.size() > UINT32_MAX || item.value_size() > UINT32_MAX) {
      return Status::invalid_argument("write batch: a key or value over 4 GiB");
    }
  }
  // The log record is the whole batch. Without log puts it is also what RocksDB applies (one
  // rocksdb::WriteBatch serves both); with them, the record is laid out straight from the
  // batch (WalRecord: log entries and images are not copied on the way to the file) and
  // RocksDB applies the rest.
  rocksdb::WriteBatch wb;
  rocksdb::WriteBatch rest;
  for (const WriteBatch::Item& item : batch.items()) {
    if (has_log_puts && item.op == WriteBatch::Op::kPut && is_log_key(item.key)) continue;
    rocksdb::WriteBatch& to = has_log_puts ? rest : wb;
    rocksdb::Status s;
    switch (item.op) {
      case WriteBatch::Op::kPut:
        if (item.tail.empty()) {
          s = to.Put(item.key, item.value);
        } else {
          const rocksdb::Slice key = to_slice(item.key);
          const rocksdb::Slice value[2] = {to_slice(item.value), to_slice(item.tail.view())};
          s = to.Put(rocksdb::SliceParts(&key, 1), rocksdb::SliceParts(value, 2));
        }
        break;
      case WriteBatch::Op::kDelete:
        s = to.Delete(item.key);
        break;
      case WriteBatch::Op::kDeleteRange:
        s = to.DeleteRange(item.key, item.value);
        break;
    }
    if (!s.ok()) return from_rocks(s, impl_->dir, "write batch");
  }
  std::lock_guard<std::mutex> lock(impl_->write_mu);
  RKV_RETURN_IF_ERROR(impl_->finish_replay());
  if (has_log_puts) {
    WalRecord record(batch);
    RKV_RETURN_IF_ERROR(impl_->wal->append(record.pieces(), sync));
  } else {
    RKV_RETURN_IF_ERROR(impl_->wal->append(std::string_view(wb.Data()), sync));
  }
  const uint64_t cur = impl_->wal->current_segment();  // the segment the record went to
  // RocksDB first, then the in-memory log records (which take the batch's strings over): a
  // failure here leaves the batch whole for the caller to write again. The record is in the log
  // twice then, which replay tolerates (a batch sets keys to absolute values).
  rocksdb::WriteBatch* to_db = has_log_puts ? &rest : &wb;
  if (to_db->Count() > 0) {
    rocksdb::WriteOptions wo;
    wo.disableWAL = true;  // the batch is in our log already
    rocksdb::Status s = impl_->db->Write(wo, to_db);
    // A background error (a flush that found the disk full) stops every write until resumed;
    // Resume() flushes again and fails the same way while the disk is still full.
    if (!s.ok() && impl_->db->Resume().ok()) s = impl_->db->Write(wo, to_db);
    if (!s.ok()) return from_rocks(s, impl_->dir, "write");
  }
  for (WriteBatch::Item& item : batch.items()) {
    if (!is_log_key(item.key) && item.op != WriteBatch::Op::kDeleteRange) continue;
    switch (item.op) {
      case WriteBatch::Op::kPut:
        impl_->log_put(std::move(item.key), item.value, std::move(item.tail), cur);
        break;
      case WriteBatch::Op::kDelete:
        impl_->log_delete(item.key);
        break;
      case WriteBatch::Op::kDeleteRange:
        impl_->log_delete_range(item.key, item.value);
        break;
    }
  }
  // A segment filled up. Once the sealed segments hold as much as a memtable, flush RocksDB
  // and release those that pin no live log record: flushing at every segment would make many
  // small SST files to compact.
  if (cur != impl_->seen_segment) {
    impl_->seen_segment = cur;
    if (impl_->wal->sealed_bytes() >= impl_->release_bytes) {
      uint64_t upto = impl_->releasable_below(cur);
      const uint64_t old =
          impl_->wal->sealed_beyond_newest(kKeepUncheckpointedBuffers * impl_->release_bytes);
      if (upto < old) {
        // Live records behind the newest sealed log hold back its release (a log nobody
        // appends to or cuts any more would pin its segments for good): they go to RocksDB,
        // and the segments with them.
        RKV_RETURN_IF_ERROR(impl_->checkpoint_below(old + 1));
        upto = impl_->releasable_below(cur);
      }
      if (upto > impl_->requested_upto) {
        impl_->requested_upto = upto;
        impl_->request_release(upto);
      }
    }
  }
  return Status::ok();
}

Status RocksStorage::sync() {
  std::lock_guard<std::mutex> lock(impl_->write_mu);
  return impl_->wal->sync();
}

Result<std::string> RocksStorage::get(std::string_view key) {
  if (is_log_key(key)) {
    std::lock_guard<std::mutex> lock(impl_->write_mu);
    const LogRecords::Record* rec = impl_->log_keys.find(key);
    if (rec == nullptr) return Status::not_found("key not found in rocksdb store " + impl_->dir);
    return rec->value();
  }
  std::string value;
  rocksdb::Status s = impl_->db->Get(rocksdb::ReadOptions(), to_slice(key), &value);
  if (s.IsNotFound()) return Status::not_found("key not found in rocksdb store " + impl_->dir);
  if (!s.ok()) return from_rocks(s, impl_->dir, "get");
  return value;
}

Status RocksStorage::scan(std::string_view begin, std::string_view end,
                          const std::function<bool(std::string_view, std::string_view)>& fn) {
  if (!end.empty() && begin >= end) return Status::ok();
  // In key order: RocksDB below the log records, the log records (from log_keys: RocksDB's
  // checkpointed copies are never read), RocksDB above them.
  bool go_on = true;
  auto scan_db = [&](std::string_view lo, std::string_view hi) -> Status {
    if (!go_on || (!hi.empty() && lo >= hi)) return Status::ok();
    rocksdb::ReadOptions ro;
    rocksdb::Slice upper = to_slice(hi);  // must outlive the iterator
    if (!hi.empty()) ro.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro));
    for (it->Seek(to_slice(lo)); it->Valid(); it->Next()) {
      if (!fn(to_view(it->key()), to_view(it->value()))) {
        go_on = false;
        break;
      }
    }
    if (!it->status().ok()) return from_rocks(it->status(), impl_->dir, "scan");
    return Status::ok();
  };
  const bool ends_below_log = !end.empty() && end <= kLogBegin;
  RKV_RETURN_IF_ERROR(scan_db(begin, ends_below_log ? end : kLogBegin));
  if (go_on && !ends_below_log && (begin < kLogEnd)) {
    std::lock_guard<std::mutex> lock(impl_->write_mu);
    std::string scratch;  // a value in two pieces, joined
    impl_->log_keys.scan_from(std::max(begin, kLogBegin),
                              [&](std::string_view k, LogRecords::Record& rec) {
                                if (!end.empty() && k >= end) return false;
                                if (!fn(k, rec.value(&scratch))) go_on = false;
                                return go_on;
                              });
  }
  if (end.empty() || end > kLogEnd) RKV_RETURN_IF_ERROR(scan_db(std::max(begin, kLogEnd), end));
  return Status::ok();
}

Status RocksStorage::finish_open() {
  std::lock_guard<std::mutex> lock(impl_->write_mu);
  return impl_->finish_replay();
}

// Blobs touch only their own directory: safe beside the batches on any thread.
Status RocksStorage::write_blob(std::string_view name, std::string_view data) {
  return write_blob_file(impl_->dir + "/" + kBlobDir, name, data);
}

Status RocksStorage::append_blob(std::string_view name, std::string_view data, bool first) {
  return append_blob_file(impl_->dir + "/" + kBlobDir, name, data, first);
}

Status RocksStorage::finish_blob(std::string_view name, std::string_view head, uint64_t length) {
  return finish_blob_file(impl_->dir + "/" + kBlobDir, name, head, length);
}

Result<std::string> RocksStorage::read_blob(std::string_view name) {
  return read_blob_file(impl_->dir + "/" + kBlobDir, name);
}

Status RocksStorage::remove_blob(std::string_view name) {
  return remove_blob_file(impl_->dir + "/" + kBlobDir, name);
}

Result<std::vector<std::string>> RocksStorage::list_blobs() {
  return list_blob_files(impl_->dir + "/" + kBlobDir);
}

const std::string& RocksStorage::dir() const {
  return impl_->dir;
}

std::string RocksStorage::recovery_note() const {
  std::string note = impl_->wal->recovery_note();
  if (!impl_->open_note.empty()) {
    if (!note.empty()) note += "; ";
    note += impl_->open_note +
            " (the store opened for reads; writes fail until the flush succeeds, retried with "
            "each write)";
  }
  return note;
}

std::string RocksStorage::stats() const {
  std::string out;
  if (!impl_->db->GetProperty(rocksdb::DB::Properties::kStats, &out)) return {};
  return out;
}

uint64_t RocksStorage::approximate_bytes() const {
  uint64_t sst = 0;
  uint64_t mem = 0;
  (void)impl_->db->GetIntProperty(rocksdb::DB::Properties::kLiveSstFilesSize, &sst);
  (void)impl_->db->GetIntProperty(rocksdb::DB::Properties::kCurSizeAllMemTables, &mem);
  std::lock_guard<std::mutex> lock(impl_->write_mu);
  return sst + mem + impl_->log_keys.bytes();
}

uint64_t RocksStorage::engine_memory_bytes() const {
  uint64_t mem = 0;
  uint64_t cache = 0;
  // Flushed memtables still referenced (pinned) included: they are freed a moment later.
  (void)impl_->db->GetIntProperty(rocksdb::DB::Properties::kSizeAllMemTables, &mem);
  (void)impl_->db->GetIntProperty(rocksdb::DB::Properties::kBlockCacheUsage, &cache);
  return mem + cache;
}

Result<std::unique_ptr<Storage>> open_rocks_storage(const std::string& dir,
                                                    const RocksOptions& options) {
  auto r = RocksStorage::open(dir, options);
  if (!r) return r.status();
  return std::unique_ptr<Storage>(std::move(r).value());
}

}  // namespace rkv
