#include "runtime/disk_guard.h"

#include <fmt/format.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <bit>
#include <filesystem>
#include <utility>

namespace rkv {

DiskBudget disk_budget(uint64_t fs_bytes, uint64_t reserve_bytes, bool reserve_auto,
                       uint64_t wal_max_segment_bytes) {
  DiskBudget b{reserve_bytes, wal_max_segment_bytes};
  if (fs_bytes == 0) return b;
  constexpr uint64_t kFloor = 1ull << 20;
  if (reserve_auto) b.reserve_bytes = std::min(reserve_bytes, std::max(kFloor, fs_bytes / 8));
  b.wal_max_segment_bytes =
      std::min(wal_max_segment_bytes, std::max(kFloor, std::bit_floor(fs_bytes / 16)));
  return b;
}

uint64_t file_system_bytes(const std::string& path) {
  std::error_code ec;
  std::filesystem::path p = std::filesystem::absolute(path.empty() ? "." : path, ec);
  if (ec) return 0;
  while (true) {
    struct statvfs fs {};
    if (::statvfs(p.c_str(), &fs) == 0) return static_cast<uint64_t>(fs.f_blocks) * fs.f_frsize;
    if (!p.has_parent_path() || p.parent_path() == p) return 0;
    p = p.parent_path();
  }
}

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
