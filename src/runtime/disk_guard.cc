#include "runtime/disk_guard.h"

#include <fmt/format.h>

#include <utility>

namespace rkv {

bool DiskGuard::on_free_space(uint64_t free_bytes) {
  const bool was = full();
  free_bytes_ = free_bytes;
  has_free_ = true;
  return transition(was);
}

bool DiskGuard::on_write_failed(std::string error) {
  const bool was = full();
  // A write error without a message would read as "no error".
  write_error_ = error.empty() ? "unknown storage error" : std::move(error);
  return transition(was);
}

bool DiskGuard::on_write_ok() {
  const bool was = full();
  write_error_.clear();
  return transition(was);
}

std::string DiskGuard::reason() const {
  if (!write_error_.empty()) return "a write to disk failed: " + write_error_;
  if (below_reserve()) {
    return fmt::format("{} bytes free on the data dir's file system, below disk_reserve_bytes = {}",
                       free_bytes_, reserve_bytes_);
  }
  return {};
}

std::string DiskGuard::refusal() const {
  if (!full()) return {};
  return "MISCONF writes are refused while the disk is full (" + reason() +
         "); reads are served, and writes resume by themselves once there is room";
}

}  // namespace rkv
