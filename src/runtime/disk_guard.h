// DiskGuard: whether this node takes writes, judged from the two signs of a full disk: the last
// attempt to persist a batch failed (until an attempt succeeds), and the data dir's file system
// has less free space than the configured reserve (Config::disk_reserve_bytes). Pure: the server
// feeds it write outcomes and statvfs figures, hands refusal() to Node::refuse_writes, and logs
// one line per change of state.
#pragma once

#include <cstdint>
#include <string>

namespace rkv {

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
