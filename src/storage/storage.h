// Storage: the one durable-state seam between protocol code and disk. An ordered byte-string
// key/value store with atomic batches. RocksStorage is the real disk; MemStorage serves unit
// tests and the simulator, and models a crash precisely: writes not yet synced are lost.
//
// Key space conventions (one store per node, partitioned by a one-byte tag then a name):
//   "d" <keyspace> "\0" <user key>      -> sealed user value record (see node/kv_state.h)
//   "l" <group>    "\0" <u64 BE index>  -> sealed Raft log entry
//   "l" <group>    "\1hs"               -> sealed Raft hard state (rewritten at every write)
//   "l" <group>    "\1snap"             -> sealed Raft snapshot image (at every compaction)
//   "m" <name>                          -> sealed metadata (node id, lost writes, and the hard
//                                          states and images of older data dirs)
// Values written by the project are sealed with core/checksum.h so corruption is detected.
// RocksStorage keeps every "l" key in memory and in its write-ahead log only, on the premise of
// a log: appended at its end, cut from its front (delete_range) or rewritten before long (those
// that are not are copied into RocksDB once they hold back the release of the log).
//
// Thread-safety: a Storage is used by one thread at a time, except RocksStorage::write, which
// may be called from a background syncer thread while the owner only reads (RocksDB allows it).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/shared_bytes.h"
#include "core/status.h"

namespace rkv {

class WriteBatch {
 public:
  enum class Op : unsigned char { kPut, kDelete, kDeleteRange };
  struct Item {
    Op op;
    std::string key;
    std::string value;  // kPut: the value (its head with a tail); kDeleteRange: the end key
    // kPut: the rest of the value, after `value`, its bytes shared (put_shared); empty otherwise.
    SharedBytes tail;
    // kPut with a value to produce when the batch is written (put_deferred); empty otherwise.
    std::function<std::string()> make_value;

    size_t value_size() const { return value.size() + tail.size(); }
  };

  void put(std::string_view key, std::string_view value) {
    items_.push_back({Op::kPut, std::string(key), std::string(value), {}, {}});
    bytes_ += key.size() + value.size();
  }
  // put() taking its strings over (no copy).
  void put_owned(std::string key, std::string value) {
    bytes_ += key.size() + value.size();
    items_.push_back({Op::kPut, std::move(key), std::move(value), {}, {}});
  }
  // A put of the value head + tail whose tail is not copied: a storage that keeps the value in
  // memory (RocksStorage's Raft log records) keeps the tail's buffer, which the Raft log holds
  // too. Storages that need the value in one piece join it (join_tails).
  void put_shared(std::string key, std::string head, SharedBytes tail) {
    bytes_ += key.size() + head.size() + tail.size();
    items_.push_back({Op::kPut, std::move(key), std::move(head), std::move(tail), {}});
  }
  // A put whose value is produced by `make_value` when the batch is written, on the thread that
  // writes it (the syncer, with fsync = "batch"): for values so large that encoding them (a copy
  // and a checksum of a keyspace image) should not hold up the caller. make_value must be safe
  // to call on another thread (capture immutable data by shared ownership) and is called once.
  // `size_hint`: its size, for bytes().
  void put_deferred(std::string key, size_t size_hint, std::function<std::string()> make_value) {
    bytes_ += key.size() + size_hint;
    items_.push_back({Op::kPut, std::move(key), {}, {}, std::move(make_value)});
  }
  // Produces every deferred value (Storage::write calls it first).
  void materialize() {
    for (Item& item : items_) {
      if (item.make_value) {
        item.value = item.make_value();
        item.make_value = nullptr;
      }
    }
  }
  bool has_deferred() const {
    for (const Item& item : items_) {
      if (item.make_value) return true;
    }
    return false;
  }
  // Appends every shared tail to its value, which then holds the whole value.
  void join_tails() {
    for (Item& item : items_) {
      if (item.tail.empty()) continue;
      item.value.append(item.tail.view());
      item.tail = SharedBytes();
    }
  }
  bool has_tails() const {
    for (const Item& item : items_) {
      if (!item.tail.empty()) return true;
    }
    return false;
  }
  void del(std::string_view key) {
    items_.push_back({Op::kDelete, std::string(key), {}, {}, {}});
    bytes_ += key.size();
  }
  // Deletes every key in [begin, end). Requires begin <= end (checked when the batch is
  // written: the whole batch is rejected with InvalidArgument); begin == end deletes nothing.
  // Unlike scan, an empty end is not "unbounded".
  void delete_range(std::string_view begin, std::string_view end) {
    items_.push_back({Op::kDeleteRange, std::string(begin), std::string(end), {}, {}});
    bytes_ += begin.size() + end.size();
  }
  void append(WriteBatch&& other) {
    for (auto& it : other.items_)
      items_.push_back(std::move(it));
    bytes_ += other.bytes_;
    other.clear();
  }
  void clear() {
    items_.clear();
    bytes_ = 0;
  }
  bool empty() const { return items_.empty(); }
  size_t size() const { return items_.size(); }
  size_t bytes() const { return bytes_; }
  const std::vector<Item>& items() const { return items_; }
  // For a storage that takes the keys and values over (Storage::write of an rvalue): the
  // batch is spent after that.
  std::vector<Item>& items() { return items_; }

  // OK unless some delete_range has begin > end. Storage::write checks this before applying
  // anything, so a bad batch changes nothing.
  Status validate() const {
    for (const Item& item : items_) {
      if (item.op == Op::kDeleteRange && item.key > item.value) {
        return Status::invalid_argument("write batch: delete_range begin is after end");
      }
    }
    return Status::ok();
  }

 private:
  std::vector<Item> items_;
  size_t bytes_ = 0;
};

class Storage {
 public:
  virtual ~Storage() = default;

  // Applies the batch atomically. With sync, returns only after the batch (and everything
  // written before it) is durable: it survives a crash of the process and of the machine.
  // Without sync it survives a process crash (kill -9) on RocksStorage but not a machine
  // crash; on MemStorage it is lost by crash() until a later sync.
  virtual Status write(const WriteBatch& batch, bool sync) = 0;
  // The same, free to take the batch's keys and values over instead of copying them (the
  // write paths hand their batch on). On error the batch is left whole (its deferred values
  // produced), so that the caller can write it again: a full disk fails a write, and the
  // same batch succeeds once space returns.
  virtual Status write(WriteBatch&& batch, bool sync) { return write(std::as_const(batch), sync); }

  // Makes every earlier write durable.
  virtual Status sync() = 0;

  // Looks a key up. NotFound when absent.
  virtual Result<std::string> get(std::string_view key) = 0;

  // Visits keys in [begin, end) in byte order (end "" = to the end of the store) until fn
  // returns false. The views passed to fn are valid only during that call; fn must not write
  // to this store.
  virtual Status scan(
      std::string_view begin, std::string_view end,
      const std::function<bool(std::string_view key, std::string_view value)>& fn) = 0;

  // What opening the store dropped to recover from damage (see RocksOptions::unsynced), for
  // the operator's log; empty when nothing was dropped.
  virtual std::string recovery_note() const { return {}; }

  // Finishes what opening could not (RocksStorage: the flush after replaying its log, on a full
  // disk); OK when nothing is left. Until it succeeds every write fails, so a driver tries it
  // before taking writes, and again while it fails. Same threading rule as write().
  virtual Status finish_open() { return Status::ok(); }

  // Blobs: large immutable values (keyspace images) kept beside the ordered store, one file
  // each (RocksStorage: <dir>/images/<name>), written outside the stream of batches so that a
  // write of hundreds of megabytes does not hold up the group commit of the writes behind it.
  // A blob is framed with its length and a checksum: read_blob returns Corruption for a damaged
  // or truncated one, NotFound for an absent one. write_blob is durable on return (written to a
  // temporary name, synced, renamed, the directory synced): a crash leaves the old content or the
  // new, never a mix. Names are [A-Za-z0-9._-]+ (InvalidArgument otherwise).
  // Thread-safety: write_blob and remove_blob may run on another thread concurrently with every
  // other method, for different names (they share no state with the batches).
  virtual Status write_blob(std::string_view name, std::string_view data) = 0;
  // A blob written in parts, as it is produced (a keyspace image streamed while it is built):
  // append_blob adds a part (`first`: the first, which starts the blob afresh); finish_blob
  // writes `head` over the blob's first bytes (what was known only at the end), checks that
  // the parts came to `length` bytes (one that failed leaves it short: nothing is finished),
  // and makes the blob durable as write_blob does. Until finished the blob is not listed, not
  // readable, and a crash leaves only a leftover that the next open removes. A failed part or
  // finish discards what the parts wrote. Same threading rule as write_blob.
  virtual Status append_blob(std::string_view name, std::string_view data, bool first) = 0;
  virtual Status finish_blob(std::string_view name, std::string_view head, uint64_t length) = 0;
  virtual Result<std::string> read_blob(std::string_view name) = 0;
  // OK when the blob is absent already.
  virtual Status remove_blob(std::string_view name) = 0;
  // Every blob's name, sorted. Leftovers of writes a crash interrupted are not listed (and are
  // removed by the next write_blob or remove_blob of the same name).
  virtual Result<std::vector<std::string>> list_blobs() = 0;

  // Memory the storage engine holds within bounds of its own settings (RocksStorage: its
  // memtables and block cache), which the node's memory limit leaves out as Redis leaves out
  // its replication and AOF buffers (docs/configuration.md, [memory]). Thread-safe.
  virtual uint64_t engine_memory_bytes() const { return 0; }
};

// In-memory storage with a crash model for tests and the simulator.
class MemStorage final : public Storage {
 public:
  MemStorage();
  ~MemStorage() override;
  using Storage::write;
  Status write(const WriteBatch& batch, bool sync) override;
  Status sync() override;
  Result<std::string> get(std::string_view key) override;
  Status scan(std::string_view begin, std::string_view end,
              const std::function<bool(std::string_view, std::string_view)>& fn) override;
  // Blobs are kept in memory and survive crash() (write_blob is durable on return).
  Status write_blob(std::string_view name, std::string_view data) override;
  Status append_blob(std::string_view name, std::string_view data, bool first) override;
  Status finish_blob(std::string_view name, std::string_view head, uint64_t length) override;
  Result<std::string> read_blob(std::string_view name) override;
  Status remove_blob(std::string_view name) override;
  Result<std::vector<std::string>> list_blobs() override;

  // Simulates a crash: every write since the last sync is forgotten. With torn_last_write,
  // the last unsynced put with a non-empty value (if any) survives with its value cut to half
  // its length (rounded down), as a torn sector would leave it, so that checksums must catch
  // it. What survives a crash is durable from then on.
  void crash(bool torn_last_write = false);
  // Number of sync points so far (tests assert group commit with it).
  uint64_t sync_count() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct RocksOptions {
  size_t block_cache_bytes = 64ull << 20;
  size_t write_buffer_bytes = 64ull << 20;
  // replikv's write-ahead log (storage/wal_log.h): segment sizes start here and double.
  uint64_t wal_first_segment_bytes = 1ull << 20;
  uint64_t wal_max_segment_bytes = 64ull << 20;
  bool create_if_missing = true;
  // The store is written without syncs (fsync = never): a power cut may leave holes anywhere
  // in the unsynced tail of its write-ahead log. Opening then ends the log at the first
  // damage and drops what follows (recovery_note() says what), where it would otherwise
  // refuse to open: with syncs, damage in the middle means acknowledged writes are gone.
  bool unsynced = false;
};

// Storage on a RocksDB database in one directory. RocksDB types stay behind the pimpl so that
// this header does not pull in RocksDB.
//
// Opening on a full disk succeeds for reads when only the flush after replaying the log fails
// (recovery_note() says so); writes fail with ResourceExhausted until that flush succeeds
// (finish_open). With less free space than opening writes (about 1 MiB plus the first log
// segment) it fails with ResourceExhausted instead: RocksDB aborts when it runs out there.
// Opening fails (never crashes) when the directory is held by another live process (RocksDB's
// LOCK file: IOError naming the directory), when it holds a damaged store (Corruption), or when
// it holds files that are not a RocksDB store (InvalidArgument: we refuse to create a store
// over foreign files). Every error message names the directory.
class RocksStorage final : public Storage {
 public:
  static Result<std::unique_ptr<RocksStorage>> open(const std::string& dir,
                                                    const RocksOptions& options = {});
  // Closes the database; writes acknowledged without sync survive (they are in the WAL).
  ~RocksStorage() override;

  Status write(const WriteBatch& batch, bool sync) override;
  // Raft log records move into the in-memory log.
  Status write(WriteBatch&& batch, bool sync) override;
  Status sync() override;
  Result<std::string> get(std::string_view key) override;
  Status scan(std::string_view begin, std::string_view end,
              const std::function<bool(std::string_view, std::string_view)>& fn) override;

  Status write_blob(std::string_view name, std::string_view data) override;
  Status append_blob(std::string_view name, std::string_view data, bool first) override;
  Status finish_blob(std::string_view name, std::string_view head, uint64_t length) override;
  Result<std::string> read_blob(std::string_view name) override;
  Status remove_blob(std::string_view name) override;
  Result<std::vector<std::string>> list_blobs() override;

  const std::string& dir() const;
  std::string recovery_note() const override;
  Status finish_open() override;
  // RocksDB's human-readable statistics dump (the "rocksdb.stats" property), for admin pages.
  std::string stats() const;
  // Approximate bytes held: live SST files plus memtables. Cheap; for metrics and limits.
  uint64_t approximate_bytes() const;
  uint64_t engine_memory_bytes() const override;

  struct Impl;  // opaque; only open() can build one
  explicit RocksStorage(std::unique_ptr<Impl> impl);

 private:
  std::unique_ptr<Impl> impl_;
};

// Opens (creating when allowed) a RocksDB store in `dir`. Same as RocksStorage::open.
Result<std::unique_ptr<Storage>> open_rocks_storage(const std::string& dir,
                                                    const RocksOptions& options = {});

}  // namespace rkv
