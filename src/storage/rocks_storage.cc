// RocksStorage: Storage on rocksdb::DB, default column family only. Durability comes from
// replikv's own write-ahead log (storage/wal_log.h, in <dir>/wal): every batch is appended there
// first (write(sync=true) syncs it before returning), then applied to RocksDB with RocksDB's WAL
// disabled. Opening replays the log into RocksDB. Once the filled log segments hold a memtable's
// worth, RocksDB is flushed and they are released (deleted, or kept for reuse). Replaying a batch
// that RocksDB already holds is harmless: batches set keys to absolute values, so replaying the log
// from any point at or before the first unflushed batch yields the same store. Data written by
// RocksDB's own WAL (older stores) is still recovered by RocksDB at open.
#include <rocksdb/cache.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <system_error>
#include <thread>

#include "storage/storage.h"
#include "storage/wal_log.h"

namespace rkv {

namespace {

constexpr int kBloomBitsPerKey = 10;
constexpr int kMaxWriteBuffers = 4;
constexpr int kMaxBackgroundJobs = 2;
constexpr int kMaxOpenFiles = 512;
constexpr uint64_t kBytesPerSync = 1ull << 20;
constexpr size_t kKeepInfoLogFiles = 4;
constexpr size_t kMaxInfoLogBytes = 16ull << 20;
constexpr size_t kBatchItemOverhead = 24;  // tag + varint lengths, to size the rocksdb batch
constexpr const char* kWalDir = "wal";

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

rocksdb::CompressionType pick_compression() {
  const auto supported = rocksdb::GetSupportedCompressions();
  bool has_lz4 =
      std::find(supported.begin(), supported.end(), rocksdb::kLZ4Compression) != supported.end();
  return has_lz4 ? rocksdb::kLZ4Compression : rocksdb::kNoCompression;
}

rocksdb::Options make_options(const RocksOptions& options) {
  rocksdb::Options o;
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
  o.keep_log_file_num = kKeepInfoLogFiles;
  o.max_log_file_size = kMaxInfoLogBytes;

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
  return name == "LOCK" || name == "IDENTITY" || name == kWalDir || starts("LOG") ||
         starts("MANIFEST-") || starts("OPTIONS-") || ends(".log") || ends(".sst") ||
         ends(".blob") || ends(".dbtmp");
}

// Refuses a path that is not a directory, and a directory without CURRENT that holds files
// RocksDB did not write: RocksDB would otherwise create a fresh store among them.
Status check_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::file_status st = fs::status(dir, ec);
  if (ec || st.type() == fs::file_type::not_found) return Status::ok();  // RocksDB will say
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

}  // namespace

struct RocksStorage::Impl {
  std::string dir;
  std::unique_ptr<rocksdb::DB> db;
  std::unique_ptr<WalLog> wal;
  std::mutex write_mu;         // one writer at a time (the loop or the syncer thread)
  uint64_t seen_segment = 0;   // the log segment current at the last write
  uint64_t release_bytes = 0;  // sealed log bytes that make it worth flushing and releasing

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
      while (true) {
        cv.wait(lock, [&] { return stop || release_upto > done; });
        if (stop) return;
        const uint64_t upto = release_upto;
        lock.unlock();
        rocksdb::Status s = db->Flush(rocksdb::FlushOptions());
        if (s.ok()) wal->release_up_to(upto);  // else: kept, and replayed at the next open
        lock.lock();
        done = upto;
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
  RKV_RETURN_IF_ERROR(check_dir(dir));
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(make_options(options), dir, &raw);
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
  impl->db.reset(raw);
  rocksdb::WriteOptions replay_wo;
  replay_wo.disableWAL = true;
  WalLog::Options wal_options;
  wal_options.first_segment_bytes = options.wal_first_segment_bytes;
  wal_options.max_segment_bytes = options.wal_max_segment_bytes;
  auto wal = WalLog::open(dir + "/" + kWalDir, wal_options, [&](std::string_view record) -> Status {
    rocksdb::WriteBatch b{std::string(record)};
    rocksdb::Status ws = impl->db->Write(replay_wo, &b);
    return ws.ok() ? Status::ok() : from_rocks(ws, dir, "log replay");
  });
  if (!wal.is_ok()) return wal.status();
  impl->wal = std::move(wal).value();
  if (impl->wal->last_recovered_segment() > 0) {
    // What the old segments held is in memtables now: flush, then they can go.
    rocksdb::Status fs = impl->db->Flush(rocksdb::FlushOptions());
    if (!fs.ok()) return from_rocks(fs, dir, "flush after log replay");
    impl->wal->release_up_to(impl->wal->last_recovered_segment());
  }
  impl->seen_segment = impl->wal->current_segment();
  impl->release_bytes = options.write_buffer_bytes;
  impl->start_releaser();
  return std::make_unique<RocksStorage>(std::move(impl));
}

Status RocksStorage::write(const WriteBatch& batch, bool sync) {
  RKV_RETURN_IF_ERROR(batch.validate());
  rocksdb::WriteBatch wb(batch.bytes() + kBatchItemOverhead * batch.size());
  for (const WriteBatch::Item& item : batch.items()) {
    rocksdb::Status s;
    switch (item.op) {
      case WriteBatch::Op::kPut:
        s = wb.Put(item.key, item.value);
        break;
      case WriteBatch::Op::kDelete:
        s = wb.Delete(item.key);
        break;
      case WriteBatch::Op::kDeleteRange:
        if (item.key < item.value) s = wb.DeleteRange(item.key, item.value);
        break;
    }
    if (!s.ok()) return from_rocks(s, impl_->dir, "write batch");
  }
  if (wb.Count() == 0) return sync ? this->sync() : Status::ok();
  std::lock_guard<std::mutex> lock(impl_->write_mu);
  RKV_RETURN_IF_ERROR(impl_->wal->append(std::string_view(wb.Data()), sync));
  rocksdb::WriteOptions wo;
  wo.disableWAL = true;  // the batch is in our log already
  rocksdb::Status s = impl_->db->Write(wo, &wb);
  if (!s.ok()) return from_rocks(s, impl_->dir, "write");
  // A segment filled up. Once the sealed segments hold as much as a memtable, flush RocksDB
  // and release them: flushing at every segment would make many small SST files to compact.
  const uint64_t cur = impl_->wal->current_segment();
  if (cur != impl_->seen_segment) {
    impl_->seen_segment = cur;
    if (impl_->wal->sealed_bytes() >= impl_->release_bytes) impl_->request_release(cur - 1);
  }
  return Status::ok();
}

Status RocksStorage::sync() {
  std::lock_guard<std::mutex> lock(impl_->write_mu);
  return impl_->wal->sync();
}

Result<std::string> RocksStorage::get(std::string_view key) {
  std::string value;
  rocksdb::Status s = impl_->db->Get(rocksdb::ReadOptions(), to_slice(key), &value);
  if (s.IsNotFound()) return Status::not_found("key not found in rocksdb store " + impl_->dir);
  if (!s.ok()) return from_rocks(s, impl_->dir, "get");
  return value;
}

Status RocksStorage::scan(std::string_view begin, std::string_view end,
                          const std::function<bool(std::string_view, std::string_view)>& fn) {
  if (!end.empty() && begin >= end) return Status::ok();
  rocksdb::ReadOptions ro;
  rocksdb::Slice upper = to_slice(end);  // must outlive the iterator
  if (!end.empty()) ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro));
  for (it->Seek(to_slice(begin)); it->Valid(); it->Next()) {
    if (!fn(to_view(it->key()), to_view(it->value()))) break;
  }
  if (!it->status().ok()) return from_rocks(it->status(), impl_->dir, "scan");
  return Status::ok();
}

const std::string& RocksStorage::dir() const {
  return impl_->dir;
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
  return sst + mem;
}

Result<std::unique_ptr<Storage>> open_rocks_storage(const std::string& dir,
                                                    const RocksOptions& options) {
  auto r = RocksStorage::open(dir, options);
  if (!r) return r.status();
  return std::unique_ptr<Storage>(std::move(r).value());
}

}  // namespace rkv
