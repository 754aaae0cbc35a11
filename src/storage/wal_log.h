// WalLog: the write-ahead log under RocksStorage. RocksDB's own WAL grows its file with every
// append, so each fdatasync also writes the inode (a second synchronous I/O on every commit).
// WalLog appends into segment files that were filled with zeros and synced before use: their
// size never changes while records are written, so a sync flushes data blocks only.
//
// Layout: <dir>/<id, 16 hex digits>.log, ids increasing. A segment starts with a header
// {magic u64, id u64}; records follow, each
//   {u32 len, u64 seq, u64 segment id, u64 header checksum (of those three), u64 payload
//   checksum} payload
// Sequence numbers run on across segments without a gap, so a missing segment is detected. When
// the writer moves to the next segment it seals the current one with a zero-length record. The
// rest of a segment is zeros, or, in a reused file, records of an older segment (their segment
// id differs): either ends it.
//
// Recovery (replay at open): records are handed out in order. A record that fails a checksum
// is a torn write, and tolerated (dropped), only when nothing was written after it: no record
// of its segment follows it and no later segment holds a record. Anything else is Corruption
// naming the segment and offset: acknowledged writes behind a damaged record are never dropped.
//
// Space: the owner calls release_up_to(id) once everything in segments <= id is durable
// elsewhere (RocksDB flushed its memtables); those files are deleted, or kept (two at most) to
// be reused as later segments. A background thread prepares the next segment while the current
// one fills: a kept file gets a new header; else a new file is filled with zeros and synced when
// the log is being synced (so that a sync writes data blocks only), or only allocated when not.
// When the log is not being synced, the same thread also syncs each sealed segment in the
// background, and sync() waits for those first.
// Sizes start small and double up to Options::max_segment_bytes, so an idle store stays small.
//
// Thread-safety: append/sync/rolled_segment may be called from one thread at a time;
// release_up_to from any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "core/status.h"

namespace rkv {

class WalLog {
 public:
  struct Options {
    uint64_t first_segment_bytes = 1ull << 20;
    uint64_t max_segment_bytes = 64ull << 20;
    uint32_t max_record_bytes = 1u << 30;  // larger appends are refused (InvalidArgument)
    // The log was written without syncs (fsync = never). A power cut can then leave holes
    // anywhere in it, since the kernel writes dirty pages back in no particular order: damage
    // in the middle of the log (a broken record with valid ones behind it, a record sequence
    // that jumps, a segment without a valid header) ends the log there instead of failing
    // open(); what followed is dropped and described by recovery_note().
    bool damage_ends_log = false;
  };

  // Opens `dir` (created if missing), hands every recovered record to `replay` in order (an
  // error from it aborts the open), and starts a fresh segment after them. The recovered
  // segments stay until released: call release_up_to(last_recovered_segment()) once their
  // records are durable elsewhere, and before appending when the log had a torn tail (the
  // torn record would otherwise stand in front of the new records at the next open).
  static Result<std::unique_ptr<WalLog>> open(
      const std::string& dir, const Options& options,
      const std::function<Status(std::string_view record)>& replay);
  ~WalLog();

  // Appends one record; with sync, returns once it (and every earlier record) is durable.
  // Without sync it is in the OS page cache: it survives a process crash, not a power cut.
  Status append(std::string_view record, bool sync);
  // Appends the pieces joined as one record (written with one pwritev; at most 1000 pieces).
  Status append(std::span<const std::string_view> pieces, bool sync);
  Status sync();

  // Id of the segment records go to now, and of the last segment open() recovered (0: none).
  uint64_t current_segment() const { return cur_id_; }
  uint64_t last_recovered_segment() const { return last_recovered_; }
  // What open() dropped to recover from damage in the middle of the log (damage_ends_log);
  // empty when it dropped nothing but, at most, a torn last record.
  const std::string& recovery_note() const { return recovery_note_; }
  // Deletes every segment with id <= `id` that is not the current one.
  void release_up_to(uint64_t id);

  // Bytes of the segments before the current one that are not released yet.
  uint64_t sealed_bytes() const;
  // The highest id of a sealed, unreleased segment that the sealed segments after it outweigh
  // by at least `bytes` (0: none): what lies beyond the newest `bytes` of the sealed log.
  uint64_t sealed_beyond_newest(uint64_t bytes) const;

 private:
  WalLog(std::string dir, Options options);
  Status open_segment(uint64_t id, uint64_t size);
  Status roll(uint64_t need);
  void prepare_loop();
  bool closing_pending() const;
  std::string path_of(uint64_t id) const;

  const std::string dir_;
  const Options options_;
  int fd_ = -1;                  // current segment
  uint64_t cur_id_ = 0;          // its id
  uint64_t cur_size_ = 0;        // its size
  uint64_t offset_ = 0;          // next write position in it
  uint64_t writeback_from_ = 0;  // unsynced appends from here on have not been handed to writeback
  uint64_t next_seq_ = 1;
  uint64_t last_recovered_ = 0;
  std::string recovery_note_;
  bool dirty_ = false;             // written since the last sync
  uint64_t syncs_in_segment_ = 0;  // sync() calls since the current segment was opened

  // Background preparation of the next segment and the list of files on disk.
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<uint64_t, uint64_t>> files_;     // (id, size) of every segment on disk
  uint64_t want_id_ = 0, want_size_ = 0;                // segment the preparer should make
  bool want_zero_ = false;                              // ... zero-filled (else only allocated)
  uint64_t ready_id_ = 0, ready_size_ = 0;              // segment it has made (0: none)
  std::vector<std::pair<std::string, uint64_t>> free_;  // released files kept for reuse
  Status prepare_error_;
  // Sealed segments of an unsynced log that the preparer syncs and closes: (fd, id).
  std::deque<std::pair<int, uint64_t>> closing_;
  bool closing_busy_ = false;  // the preparer is syncing one of them now
  Status closing_error_;       // the first failure, reported by sync()
  bool stop_ = false;
  std::thread preparer_;
};

}  // namespace rkv
