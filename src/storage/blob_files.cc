#include "storage/blob_files.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/checksum.h"

namespace rkv {

namespace {

constexpr std::string_view kMagic = "RKVBLOB1";
constexpr size_t kHeaderBytes = 24;
constexpr std::string_view kTmpSuffix = ".tmp";
// Written in pieces of this size, each handed to writeback as soon as it is written, and each
// waited for before the next but one is written: the device never holds more than about two
// pieces of the blob in its queue, so the group commit's syncs of the write-ahead log on the
// same device do not wait behind hundreds of megabytes of image (seen as followers'
// acknowledgements late enough to cost the leader its quorum), and the final sync is short.
constexpr size_t kWritePiece = 1u << 20;

std::string path_of(const std::string& dir, std::string_view name) {
  std::string p = dir;
  p += '/';
  p.append(name);
  return p;
}

Status errno_status(int err, const std::string& what) {
  std::string msg = what + ": " + std::strerror(err);
  if (err == ENOSPC || err == EDQUOT) return Status::resource_exhausted(msg);
  return Status::io_error(msg);
}

Status write_all(int fd, const char* p, size_t n, const std::string& path) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, std::min(n, kWritePiece));
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno_status(errno, "cannot write " + path);
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return Status::ok();
}

Status sync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno_status(errno, "cannot open directory " + dir);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return errno_status(err, "cannot sync directory " + dir);
  return Status::ok();
}

}  // namespace

bool valid_blob_name(std::string_view name) {
  if (name.empty() || name == "." || name == "..") return false;
  if (name.size() >= kTmpSuffix.size() &&
      name.substr(name.size() - kTmpSuffix.size()) == kTmpSuffix) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

Status write_blob_file(const std::string& dir, std::string_view name, std::string_view data) {
  if (!valid_blob_name(name)) {
    return Status::invalid_argument("invalid blob name '" + std::string(name) + "'");
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::io_error("cannot create directory " + dir + ": " + ec.message());
  const std::string final_path = path_of(dir, name);
  const std::string tmp = final_path + std::string(kTmpSuffix);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return errno_status(errno, "cannot create " + tmp);
  std::string header(kMagic);
  put_u64(header, data.size());
  put_u64(header, checksum64(data));
  Status st = write_all(fd, header.data(), header.size(), tmp);
  off_t written = static_cast<off_t>(header.size()), flushed = 0;
  for (size_t off = 0; st.is_ok() && off < data.size(); off += kWritePiece) {
    const size_t n = std::min(kWritePiece, data.size() - off);
    st = write_all(fd, data.data() + off, n, tmp);
    if (!st.is_ok()) break;
    // Start writeback of this piece; wait for the one before it. Errors are left to the
    // fdatasync below, which reports them.
    (void)::sync_file_range(
        fd, flushed, written - flushed,
        SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
    flushed = written;
    written += static_cast<off_t>(n);
    (void)::sync_file_range(fd, flushed, written - flushed, SYNC_FILE_RANGE_WRITE);
  }
  if (st.is_ok() && ::fdatasync(fd) != 0) st = errno_status(errno, "cannot sync " + tmp);
  ::close(fd);
  if (st.is_ok() && ::rename(tmp.c_str(), final_path.c_str()) != 0) {
    st = errno_status(errno, "cannot rename " + tmp);
  }
  if (!st.is_ok()) {
    ::unlink(tmp.c_str());  // a full disk gets its space back
    return st;
  }
  return sync_dir(dir);
}

Status append_blob_file(const std::string& dir, std::string_view name, std::string_view data,
                        bool first) {
  if (!valid_blob_name(name)) {
    return Status::invalid_argument("invalid blob name '" + std::string(name) + "'");
  }
  if (first) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return Status::io_error("cannot create directory " + dir + ": " + ec.message());
  }
  const std::string tmp = path_of(dir, name) + std::string(kTmpSuffix);
  const int fd =
      ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (first ? O_TRUNC : 0), 0644);
  if (fd < 0) return errno_status(errno, "cannot create " + tmp);
  Status st;
  const off_t start = ::lseek(fd, 0, SEEK_END);
  if (start < 0) st = errno_status(errno, "cannot size " + tmp);
  if (st.is_ok() && first) {
    st = write_all(fd, std::string(kHeaderBytes, '\0').data(), kHeaderBytes, tmp);
  }
  if (st.is_ok()) st = write_all(fd, data.data(), data.size(), tmp);
  if (st.is_ok()) {
    // As write_blob_file does piece by piece (kWritePiece): what came before this part is
    // waited for, and this part's writeback starts now.
    const off_t back = std::max<off_t>(0, start - static_cast<off_t>(2 * kWritePiece));
    if (start > back) {
      (void)::sync_file_range(
          fd, back, start - back,
          SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
    }
    (void)::sync_file_range(fd, start, 0, SYNC_FILE_RANGE_WRITE);
  }
  ::close(fd);
  if (!st.is_ok()) ::unlink(tmp.c_str());  // a full disk gets its space back
  return st;
}

Status finish_blob_file(const std::string& dir, std::string_view name, std::string_view head,
                        uint64_t length) {
  if (!valid_blob_name(name)) {
    return Status::invalid_argument("invalid blob name '" + std::string(name) + "'");
  }
  const std::string final_path = path_of(dir, name);
  const std::string tmp = final_path + std::string(kTmpSuffix);
  const int fd = ::open(tmp.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return errno_status(errno, "cannot open " + tmp + " (a part was not written)");
  auto pwrite_all = [&](const char* p, size_t n, off_t at) {
    while (n > 0) {
      const ssize_t w = ::pwrite(fd, p, n, at);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return errno_status(errno, "cannot write " + tmp);
      p += w;
      n -= static_cast<size_t>(w);
      at += w;
    }
    return Status::ok();
  };
  Status st;
  const off_t size = ::lseek(fd, 0, SEEK_END);
  if (size < 0) {
    st = errno_status(errno, "cannot size " + tmp);
  } else if (static_cast<uint64_t>(size) != kHeaderBytes + length || head.size() > length) {
    st = Status::io_error(tmp + " holds " + std::to_string(size) + " bytes where " +
                          std::to_string(kHeaderBytes + length) +
                          " were written: a part of the blob was not written");
  }
  if (st.is_ok()) st = pwrite_all(head.data(), head.size(), static_cast<off_t>(kHeaderBytes));
  Checksum64Stream sum;
  std::string piece(std::min<uint64_t>(kWritePiece, length), '\0');
  for (uint64_t off = 0; st.is_ok() && off < length;) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(piece.size(), length - off));
    const ssize_t r = ::pread(fd, piece.data(), want, static_cast<off_t>(kHeaderBytes + off));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      st = r < 0 ? errno_status(errno, "cannot read back " + tmp)
                 : Status::io_error(tmp + ": shorter than it was a moment ago");
      break;
    }
    sum.update(std::string_view(piece.data(), static_cast<size_t>(r)));
    off += static_cast<uint64_t>(r);
  }
  if (st.is_ok()) {
    std::string header(kMagic);
    put_u64(header, length);
    put_u64(header, sum.digest());
    st = pwrite_all(header.data(), header.size(), 0);
  }
  if (st.is_ok() && ::fdatasync(fd) != 0) st = errno_status(errno, "cannot sync " + tmp);
  ::close(fd);
  if (st.is_ok() && ::rename(tmp.c_str(), final_path.c_str()) != 0) {
    st = errno_status(errno, "cannot rename " + tmp);
  }
  if (!st.is_ok()) {
    ::unlink(tmp.c_str());
    return st;
  }
  return sync_dir(dir);
}

void remove_blob_leftovers(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) return;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() > kTmpSuffix.size() &&
        name.compare(name.size() - kTmpSuffix.size(), kTmpSuffix.size(), kTmpSuffix) == 0) {
      std::filesystem::remove(entry.path(), ec);
    }
  }
}

Result<std::string> read_blob_file(const std::string& dir, std::string_view name) {
  if (!valid_blob_name(name)) {
    return Status::invalid_argument("invalid blob name '" + std::string(name) + "'");
  }
  const std::string path = path_of(dir, name);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::not_found("no blob file " + path);
    return errno_status(errno, "cannot open " + path);
  }
  auto fail = [&](Status st) {
    ::close(fd);
    return st;
  };
  char header[kHeaderBytes];
  size_t got = 0;
  while (got < kHeaderBytes) {
    const ssize_t r = ::read(fd, header + got, kHeaderBytes - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return fail(errno_status(errno, "cannot read " + path));
    if (r == 0) return fail(Status::corruption(path + ": truncated blob header"));
    got += static_cast<size_t>(r);
  }
  if (std::string_view(header, kMagic.size()) != kMagic) {
    return fail(Status::corruption(path + ": not a blob file (bad magic)"));
  }
  const uint64_t size = get_u64(header + 8);
  const uint64_t sum = get_u64(header + 16);
  const off_t file_size = ::lseek(fd, 0, SEEK_END);
  if (file_size < 0 || static_cast<uint64_t>(file_size) != kHeaderBytes + size) {
    return fail(Status::corruption(path + ": length " + std::to_string(file_size) +
                                   " does not match its header (" +
                                   std::to_string(kHeaderBytes + size) + ")"));
  }
  std::string data(size, '\0');
  size_t off = 0;
  while (off < size) {
    const ssize_t r = ::pread(fd, data.data() + off, std::min<size_t>(size - off, kWritePiece),
                              static_cast<off_t>(kHeaderBytes + off));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return fail(errno_status(errno, "cannot read " + path));
    if (r == 0) return fail(Status::corruption(path + ": truncated blob"));
    off += static_cast<size_t>(r);
  }
  ::close(fd);
  if (checksum64(data) != sum) return Status::corruption(path + ": blob failed its checksum");
  return data;
}

Status remove_blob_file(const std::string& dir, std::string_view name) {
  if (!valid_blob_name(name)) {
    return Status::invalid_argument("invalid blob name '" + std::string(name) + "'");
  }
  const std::string path = path_of(dir, name);
  const std::string tmp = path + std::string(kTmpSuffix);
  ::unlink(tmp.c_str());
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return Status::ok();
    return errno_status(errno, "cannot remove " + path);
  }
  return Status::ok();
}

Result<std::vector<std::string>> list_blob_files(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) return out;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (valid_blob_name(name)) out.push_back(std::move(name));
  }
  if (ec) return Status::io_error("cannot list " + dir + ": " + ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace rkv
