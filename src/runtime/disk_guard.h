// DiskGuard: whether this node takes writes, judged from the two signs of a full disk: the last
// attempt to persist a batch failed (until an attempt succeeds), and the data dir's file system
// has less free space than the configured reserve (Config::disk_reserve_bytes). Pure: the server
// feeds it write outcomes and statvfs figures, hands refusal() to Node::refuse_writes, and logs
// one line per change of state.
#pragma once

#include <cstdint>
#include <string>

namespace rkv {

// What a node keeps free on its data dir's file system, and the largest write-ahead log
// segment, fitted to the file system's size. The defaults suit a disk of gigabytes; on a small
// one (tens of MB) a 64 MiB reserve would refuse every write, and a 64 MiB segment (zero-filled
// ahead of use) could not be made. The automatic reserve is capped at an eighth of the file
// system, a segment at the largest power of two within a sixteenth; neither below 1 MiB.
// RocksDB's memtable keeps its size: a small one on a small disk makes RocksDB flush and
// compact there, and a compaction needs room up to the size of what it rewrites.
struct DiskBudget {
  uint64_t reserve_bytes;
  uint64_t wal_max_segment_bytes;
};
// `fs_bytes`: the file system's size (0: unknown, nothing is capped). `reserve_bytes` is kept
// as configured unless `reserve_auto`.
DiskBudget disk_budget(uint64_t fs_bytes, uint64_t reserve_bytes, bool reserve_auto,
                       uint64_t wal_max_segment_bytes);
// The size of the file system holding `path`, or of the nearest existing directory above it
// (0 when none can be read).
uint64_t file_system_bytes(const std::string& path);

class DiskGuard {
 public:
  explicit DiskGuard(uint64_t reserve_bytes) : reserve_bytes_(reserve_bytes) {}

  // Each returns true when writes went from accepted to refused or back.
  bool on_free_space(uint64_t free_bytes);
  bool on_write_failed(std::string error);
  bool on_write_ok();

  // Writes are refused.
  bool full() const { return !write_error_.empty() || below_reserve(); }
  bool below_reserve() const { return has_free_ && free_bytes_ < reserve_bytes_; }
  // The error of the failed write being retried; empty when the last write succeeded.
  const std::string& write_error() const { return write_error_; }
  // Free bytes at the last check (0 before the first).
  uint64_t free_bytes() const { return free_bytes_; }
  uint64_t reserve_bytes() const { return reserve_bytes_; }
  // Why writes are refused, for logs and INFO; empty when they are accepted.
  std::string reason() const;
  // The RESP error a refused write gets (Redis's MISCONF, as when Redis cannot persist); empty
  // when writes are accepted.
  std::string refusal() const;

 private:
  bool transition(bool was_full) const { return was_full != full(); }

  uint64_t reserve_bytes_;
  uint64_t free_bytes_ = 0;
  bool has_free_ = false;
  std::string write_error_;
};

}  // namespace rkv
