#include "storage/wal_log.h"

#include <fcntl.h>  // sync_file_range (_GNU_SOURCE: g++ defines it)
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <vector>

#include "core/assert.h"
#include "core/checksum.h"

namespace rkv {

namespace {

constexpr uint64_t kMagic = 0x31474f4c564b5252ull;  // "RRKVLOG1"
constexpr size_t kSegmentHeader = 16;               // magic, id
// len u32, seq u64, segment id u64, header sum u64 (of the three), payload sum u64
constexpr size_t kRecordHeader = 36;
constexpr size_t kMaxPieces = 1000;  // buffers of one append (pwritev takes up to 1024)
constexpr size_t kMaxFreeSegments = 2;
constexpr uint64_t kAlign = 4096;
constexpr uint64_t kWritebackBytes = 1ull << 20;
constexpr size_t kZeroChunk = 256u << 10;

std::string errno_text(int err) {
  return std::error_code(err, std::generic_category()).message();
}

Status io_error(const std::string& what, const std::string& path, int err) {
  return Status::io_error("wal: " + what + " " + path + ": " + errno_text(err));
}

std::string hex_id(uint64_t id) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i) {
    s[static_cast<size_t>(i)] = kDigits[id & 0xf];
    id >>= 4;
  }
  return s;
}

// Parses "<16 hex>.log"; false for any other name.
bool parse_name(const std::string& name, uint64_t* id) {
  if (name.size() != 20 || name.compare(16, 4, ".log") != 0) return false;
  uint64_t v = 0;
  for (size_t i = 0; i < 16; ++i) {
    const char c = name[i];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) return false;
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  *id = v;
  return v != 0;
}

uint64_t header_sum(uint32_t len, uint64_t seq, uint64_t seg) {
  char b[20];
  std::memcpy(b, &len, 4);
  std::memcpy(b + 4, &seq, 8);
  std::memcpy(b + 12, &seg, 8);
  return checksum64(std::string_view(b, sizeof b));
}

std::string record_header(uint32_t len, uint64_t seq, uint64_t seg, uint64_t payload_sum) {
  std::string head;
  head.reserve(kRecordHeader);
  put_u32(head, len);
  put_u64(head, seq);
  put_u64(head, seg);
  put_u64(head, header_sum(len, seq, seg));
  put_u64(head, payload_sum);
  return head;
}

Status write_all(int fd, const char* p, size_t n, uint64_t off, const std::string& path) {
  while (n > 0) {
    ssize_t w = ::pwrite(fd, p, n, static_cast<off_t>(off));
    if (w < 0) {
      if (errno == EINTR) continue;
      return io_error("write to", path, errno);
    }
    p += w;
    n -= static_cast<size_t>(w);
    off += static_cast<uint64_t>(w);
  }
  return Status::ok();
}

Status sync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return io_error("open directory", dir, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return io_error("sync directory", dir, err);
  return Status::ok();
}

// Makes segment `id` of `size` bytes under a temporary name, syncs it and renames it into
// place, so that a crash never leaves a half-made segment under a real name. With `reuse` (a
// released segment at least `size` long, already under a temporary name) only its header is
// rewritten: its old records stay but name another segment id, so recovery stops at them; its
// blocks are written already, so appends into it change no metadata. Otherwise the file is
// filled with zeros (`zero_fill`: syncs into written blocks flush data only) or just allocated
// (unwritten extents read as zeros; cheaper to make, but a sync into one also records its
// conversion: right for a log that is not synced).
Status make_segment(const std::string& dir, const std::string& path, uint64_t id, uint64_t size,
                    bool zero_fill, const std::string& reuse = {}) {
  const std::string tmp = reuse.empty() ? path + ".tmp" : reuse;
  int fd =
      ::open(tmp.c_str(),
             reuse.empty() ? O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC : O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) return io_error("create", tmp, errno);
  std::string head;
  put_u64(head, kMagic);
  put_u64(head, id);
  Status st = write_all(fd, head.data(), head.size(), 0, tmp);
  if (st.is_ok() && reuse.empty() && !zero_fill) {
    const int rc = ::posix_fallocate(fd, 0, static_cast<off_t>(size));
    if (rc != 0) st = io_error("allocate", tmp, rc);
  }
  static const std::string zeros(kZeroChunk, '\0');
  for (uint64_t off = kSegmentHeader; st.is_ok() && reuse.empty() && zero_fill && off < size;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kZeroChunk, size - off));
    st = write_all(fd, zeros.data(), n, off, tmp);
    off += n;
    // Synced chunk by chunk: one large writeback would queue the commit syncs of the current
    // segment behind it (a latency spike every time a segment is prepared).
    if (st.is_ok() && ::fdatasync(fd) != 0) st = io_error("sync", tmp, errno);
  }
  if (st.is_ok() && ::fdatasync(fd) != 0) st = io_error("sync", tmp, errno);
  ::close(fd);
  if (st.is_ok() && ::rename(tmp.c_str(), path.c_str()) != 0) st = io_error("rename", tmp, errno);
  if (st.is_ok()) st = sync_dir(dir);
  if (!st.is_ok()) ::unlink(tmp.c_str());
  return st;
}

Result<std::string> read_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_error("open", path, errno);
  struct stat sb {};
  if (::fstat(fd, &sb) != 0) {
    int err = errno;
    ::close(fd);
    return io_error("stat", path, err);
  }
  std::string data(static_cast<size_t>(sb.st_size), '\0');
  size_t got = 0;
  while (got < data.size()) {
    ssize_t r = ::pread(fd, data.data() + got, data.size() - got, static_cast<off_t>(got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      int err = r < 0 ? errno : EIO;
      ::close(fd);
      return io_error("read", path, err);
    }
    got += static_cast<size_t>(r);
  }
  ::close(fd);
  return data;
}

// What one segment holds, as recovery reads it.
struct Parsed {
  size_t end = 0;           // offset after the last good record
  bool damaged = false;     // a record at `end` failed its checks
  std::string why;          // what failed
  bool later_data = false;  // a record header is valid somewhere after the damage
};

// A record header at `pos` whose checksum holds; `*owner` is the segment it was written for (a
// reused segment holds older segments' records after its own). len 0 marks a sealed segment.
bool header_ok(std::string_view seg, size_t pos, uint32_t* len, uint64_t* seq, uint64_t* owner) {
  if (pos + kRecordHeader > seg.size()) return false;
  const char* p = seg.data() + pos;
  *len = get_u32(p);
  *seq = get_u64(p + 4);
  *owner = get_u64(p + 12);
  return get_u64(p + 20) == header_sum(*len, *seq, *owner);
}

// Whether a header of segment `id` with a sequence number >= `from` starts anywhere in
// [begin, end): proof that records were written after that point.
bool later_record(std::string_view seg, size_t begin, size_t end, uint64_t id, uint64_t from) {
  for (size_t p = begin; p + kRecordHeader <= seg.size() && p < end; ++p) {
    if (get_u64(seg.data() + p + 12) != id) continue;  // cheap filter before the checksum
    uint32_t l = 0;
    uint64_t s = 0, o = 0;
    if (header_ok(seg, p, &l, &s, &o) && s >= from) return true;
  }
  return false;
}

}  // namespace

WalLog::WalLog(std::string dir, Options options) : dir_(std::move(dir)), options_(options) {}

std::string WalLog::path_of(uint64_t id) const {
  return dir_ + "/" + hex_id(id) + ".log";
}

Result<std::unique_ptr<WalLog>> WalLog::open(
    const std::string& dir, const Options& options,
    const std::function<Status(std::string_view)>& replay) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::io_error("wal: cannot create " + dir + ": " + ec.message());
  std::vector<std::pair<uint64_t, uint64_t>> segs;  // (id, size)
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    uint64_t id = 0;
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".tmp") == 0) {
      fs::remove(entry.path(), ec);  // a segment whose preparation a crash interrupted
      continue;
    }
    if (!parse_name(name, &id)) {
      return Status::corruption("wal: unexpected file '" + name + "' in " + dir);
    }
    segs.emplace_back(id, 0);
  }
  if (ec) return Status::io_error("wal: cannot list " + dir + ": " + ec.message());
  std::sort(segs.begin(), segs.end());

  std::unique_ptr<WalLog> log(new WalLog(dir, options));
  uint64_t expected = 1;
  bool seq_known = false;
  std::string torn_at;  // set once a tolerated torn tail was seen: nothing may follow it
  // Damage in the middle of the log: an error, or (damage_ends_log) where the log ends.
  bool ended = false;
  std::string ended_at;      // what ended it
  bool dropped = false;      // records of the segment where it ended follow the damage
  size_t ended_segment = 0;  // index in segs of that segment
  auto damaged = [&](const std::string& what, size_t index, bool records_follow) {
    if (!options.damage_ends_log) return Status::corruption("wal: " + what);
    ended = true;
    ended_at = what;
    dropped = records_follow;
    ended_segment = index;
    return Status::ok();
  };
  for (size_t index = 0; index < segs.size() && !ended; ++index) {
    auto& [id, size] = segs[index];
    const std::string path = log->path_of(id);
    auto data = read_file(path);
    if (!data.is_ok()) return data.status();
    const std::string& seg = *data;
    size = seg.size();
    if (seg.size() < kSegmentHeader || get_u64(seg.data()) != kMagic ||
        get_u64(seg.data() + 8) != id) {
      RKV_RETURN_IF_ERROR(damaged("segment " + path + " has no valid header", index,
                                  later_record(seg, 0, seg.size(), id, 0)));
      break;
    }
    size_t pos = kSegmentHeader;
    std::string damage;
    while (pos + kRecordHeader <= seg.size()) {
      uint32_t len = 0;
      uint64_t seq = 0, owner = 0;
      if (!header_ok(seg, pos, &len, &seq, &owner)) {
        const bool zero = std::all_of(seg.begin() + static_cast<ptrdiff_t>(pos),
                                      seg.begin() + static_cast<ptrdiff_t>(pos + kRecordHeader),
                                      [](char c) { return c == 0; });
        if (!zero) damage = "record header fails its checksum";
        break;
      }
      if (owner != id) break;  // an older segment's record in a reused file: the end
      if (len == 0) break;     // sealed: the writer moved on to the next segment here
      if (len > seg.size() - pos - kRecordHeader) {
        damage = "record runs past the end of the segment";
        break;
      }
      const std::string_view payload(seg.data() + pos + kRecordHeader, len);
      if (get_u64(seg.data() + pos + 28) != checksum64(payload)) {
        damage = "record payload fails its checksum";
        break;
      }
      if (!torn_at.empty()) {
        return Status::corruption("wal: " + torn_at + " is followed by valid records in " + path +
                                  ": the log is damaged in the middle");
      }
      if (seq_known && seq != expected) {
        RKV_RETURN_IF_ERROR(damaged("record sequence jumps from " + std::to_string(expected - 1) +
                                        " to " + std::to_string(seq) + " at " + path + " offset " +
                                        std::to_string(pos),
                                    index, true));
        break;
      }
      seq_known = true;
      RKV_RETURN_IF_ERROR(replay(payload));
      expected = seq + 1;
      pos += kRecordHeader + len;
    }
    // A damaged record is tolerated only as the torn last write of the log: no record of this
    // segment may follow it (nor any record in a later segment, checked as those are read).
    // Otherwise acknowledged writes behind it would be dropped silently.
    if (!damage.empty() && !ended) {
      const bool follows = later_record(seg, pos + 1, seg.size(), id, seq_known ? expected : 0);
      if (options.damage_ends_log) {
        RKV_RETURN_IF_ERROR(
            damaged(damage + " at " + path + " offset " + std::to_string(pos), index, follows));
      } else if (follows) {
        return Status::corruption("wal: " + damage + " at " + path + " offset " +
                                  std::to_string(pos) + ", and valid records follow it");
      } else {
        torn_at = "a torn record (" + damage + ") at " + path + " offset " + std::to_string(pos);
      }
    }
  }
  if (ended) {
    // Later segments with records are dropped (left to be released with the rest); a torn
    // last record with nothing after it is just the crash's last write, not worth a note.
    size_t later = 0;
    for (size_t i = ended_segment + 1; i < segs.size(); ++i) {
      auto data = read_file(log->path_of(segs[i].first));
      if (!data.is_ok()) return data.status();
      if (later_record(*data, kSegmentHeader, data->size(), segs[i].first, 0)) ++later;
    }
    if (dropped || later > 0) {
      log->recovery_note_ = "wal: " + ended_at + ": the log ends there, and what follows it (" +
                            std::to_string(later) +
                            " later segment(s) with records) is dropped: written without fsync, "
                            "it was not promised to survive a power cut";
    }
  }
  log->next_seq_ = expected;
  log->last_recovered_ = segs.empty() ? 0 : segs.back().first;
  for (const auto& s : segs)
    log->files_.push_back(s);
  RKV_RETURN_IF_ERROR(log->open_segment(log->last_recovered_ + 1, options.first_segment_bytes));
  log->preparer_ = std::thread([l = log.get()] { l->prepare_loop(); });
  return log;
}

WalLog::~WalLog() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (preparer_.joinable()) preparer_.join();
  for (const auto& [fd, id] : closing_) {
    (void)::fdatasync(fd);
    ::close(fd);
  }
  if (fd_ >= 0) {
    if (dirty_) (void)::fdatasync(fd_);
    ::close(fd_);
  }
}

// Makes segment `id` current: the one the preparer made when it fits, else a new one now.
Status WalLog::open_segment(uint64_t id, uint64_t size) {
  size = std::max<uint64_t>(size, kAlign);
  size = (size + kAlign - 1) / kAlign * kAlign;
  bool ready = false;
  {
    std::unique_lock<std::mutex> lock(mu_);
    // Wait for a preparation of this very segment that is under way, then judge its size.
    cv_.wait(lock, [&] { return want_id_ != id || ready_id_ == id || !prepare_error_.is_ok(); });
    ready = ready_id_ == id && ready_size_ >= size;
    if (ready) size = ready_size_;
  }
  const std::string path = path_of(id);
  if (!ready) {
    RKV_RETURN_IF_ERROR(make_segment(dir_, path, id, size, syncs_in_segment_ > 0));
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return io_error("open", path, errno);
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
  offset_ = kSegmentHeader;
  writeback_from_ = offset_;
  cur_size_ = size;
  dirty_ = false;
  std::lock_guard<std::mutex> lock(mu_);
  cur_id_ = id;
  files_.emplace_back(id, size);
  // Ask for the next one, twice the size (up to the maximum), zero-filled if the log is being
  // synced.
  want_id_ = id + 1;
  want_size_ = std::min<uint64_t>(options_.max_segment_bytes, size * 2);
  want_zero_ = syncs_in_segment_ > 0;
  syncs_in_segment_ = 0;
  cv_.notify_all();
  return Status::ok();
}

void WalLog::prepare_loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [&] {
      return stop_ || !closing_.empty() || (want_id_ != 0 && ready_id_ != want_id_);
    });
    if (stop_) return;
    if (want_id_ == 0 || ready_id_ == want_id_) {  // the next segment first, then this
      const auto [fd, id] = closing_.front();
      closing_.pop_front();
      closing_busy_ = true;
      lock.unlock();
      Status st = ::fdatasync(fd) == 0 ? Status::ok() : io_error("sync", path_of(id), errno);
      ::close(fd);
      lock.lock();
      closing_busy_ = false;
      if (!st.is_ok() && closing_error_.is_ok()) closing_error_ = st;
      cv_.notify_all();
      continue;
    }
    const uint64_t id = want_id_;
    uint64_t size = want_size_;
    std::string reuse;
    for (size_t i = 0; i < free_.size(); ++i) {
      if (free_[i].second >= size) {
        reuse = free_[i].first;
        size = free_[i].second;
        free_.erase(free_.begin() + static_cast<ptrdiff_t>(i));
        break;
      }
    }
    lock.unlock();
    Status st = make_segment(dir_, path_of(id), id, size, want_zero_, reuse);
    lock.lock();
    if (st.is_ok()) {
      ready_id_ = id;
      ready_size_ = size;
    } else {
      prepare_error_ = st;  // open_segment makes the segment itself and reports the error
      ready_id_ = 0;
      want_id_ = 0;
    }
    cv_.notify_all();
  }
}

Status WalLog::roll(uint64_t need) {
  // fd_ < 0: an earlier roll sealed this segment and handed it to the preparer, then failed to
  // open the next one (a full disk); this is the append trying again.
  if (fd_ >= 0 && offset_ + kRecordHeader <= cur_size_) {
    // Seal: a zero-length record tells recovery that what follows in this file (zeros, or an
    // older segment's records when the file was reused) is not part of the log.
    const std::string eos = record_header(0, next_seq_, cur_id_, 0);
    RKV_RETURN_IF_ERROR(write_all(fd_, eos.data(), eos.size(), offset_, path_of(cur_id_)));
    dirty_ = true;
  }
  if (fd_ >= 0 && dirty_ && syncs_in_segment_ == 0) {
    // The log is not being synced (fsync = never): nobody waits for this segment to reach the
    // disk, and syncing a whole segment of writes here stalled the writer for up to 100s of ms.
    // The preparer thread syncs and closes it; meanwhile no writeback of the next segment is
    // started (append), so its records normally reach the disk after this one's.
    std::lock_guard<std::mutex> lock(mu_);
    closing_.push_back({fd_, cur_id_});
    fd_ = -1;
    dirty_ = false;
    cv_.notify_all();
  } else if (dirty_) {
    // Records of this segment must be durable before any record of the next one is.
    if (::fdatasync(fd_) != 0) return io_error("sync", path_of(cur_id_), errno);
    dirty_ = false;
  }
  uint64_t size = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    size = want_size_;
    prepare_error_ = Status::ok();
  }
  const uint64_t least = std::max<uint64_t>(options_.first_segment_bytes, kSegmentHeader + need);
  size = std::max<uint64_t>(size, least);
  Status st = open_segment(cur_id_ + 1, size);
  // A nearly full disk may still hold a segment of the first size: writes go on until it
  // fills, instead of failing while a larger one cannot be made.
  if (!st.is_ok() && size > least) st = open_segment(cur_id_ + 1, least);
  return st;
}

Status WalLog::append(std::string_view record, bool sync) {
  return append(std::span<const std::string_view>(&record, 1), sync);
}

Status WalLog::append(std::span<const std::string_view> pieces, bool sync) {
  RKV_ASSERT(pieces.size() < kMaxPieces);
  uint64_t size = 0;
  for (std::string_view p : pieces)
    size += p.size();
  if (size == 0 || size > options_.max_record_bytes) {
    return Status::invalid_argument("wal: record of " + std::to_string(size) + " bytes (1 to " +
                                    std::to_string(options_.max_record_bytes) + " allowed)");
  }
  const uint64_t need = kRecordHeader + size;
  // Room is kept for the seal record after this one.
  if (offset_ + need + kRecordHeader > cur_size_) RKV_RETURN_IF_ERROR(roll(need + kRecordHeader));
  const uint32_t len = static_cast<uint32_t>(size);
  std::string head = record_header(len, next_seq_, cur_id_, checksum64(pieces));
  iovec iov[kMaxPieces + 1];
  size_t n = 0;
  iov[n++] = {head.data(), head.size()};
  for (std::string_view p : pieces) {
    if (!p.empty()) iov[n++] = {const_cast<char*>(p.data()), p.size()};
  }
  size_t first = 0;  // iov[first..n) is what is left to write
  uint64_t off = offset_;
  while (first < n) {
    ssize_t w = ::pwritev(fd_, iov + first, static_cast<int>(n - first), static_cast<off_t>(off));
    if (w < 0) {
      if (errno == EINTR) continue;
      return io_error("write to", path_of(cur_id_), errno);
    }
    off += static_cast<uint64_t>(w);
    // A short write: skip the buffers written whole, trim the one written in part.
    size_t left = static_cast<size_t>(w);
    while (first < n && left >= iov[first].iov_len) {
      left -= iov[first].iov_len;
      ++first;
    }
    if (left > 0) {
      iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
  offset_ += need;
  ++next_seq_;
  dirty_ = true;
  if (sync) return this->sync();
  if (offset_ - writeback_from_ >= kWritebackBytes && !closing_pending()) {
    // Unsynced appends (fsync = never): start writing them out now, without waiting, so that
    // the sync when this segment is sealed finds little left to do instead of stalling on a
    // whole segment of dirty pages.
    (void)::sync_file_range(fd_, static_cast<off_t>(writeback_from_),
                            static_cast<off_t>(offset_ - writeback_from_), SYNC_FILE_RANGE_WRITE);
    writeback_from_ = offset_;
  }
  return Status::ok();
}

bool WalLog::closing_pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return !closing_.empty() || closing_busy_;
}

Status WalLog::sync() {
  ++syncs_in_segment_;
  {
    // Earlier segments handed to the preparer are durable first.
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return closing_.empty() && !closing_busy_; });
    if (!closing_error_.is_ok()) return closing_error_;
  }
  if (!dirty_) return Status::ok();
  if (::fdatasync(fd_) != 0) return io_error("sync", path_of(cur_id_), errno);
  dirty_ = false;
  return Status::ok();
}

void WalLog::release_up_to(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  while (!files_.empty() && files_.front().first <= id && files_.front().first != cur_id_) {
    // Oldest first, each step made durable: a crash never leaves a gap in the middle.
    const auto [fid, size] = files_.front();
    const std::string path = path_of(fid);
    if (free_.size() < kMaxFreeSegments) {
      const std::string spare = dir_ + "/spare-" + hex_id(fid) + ".tmp";
      if (::rename(path.c_str(), spare.c_str()) == 0) {
        free_.emplace_back(spare, size);
      } else {
        ::unlink(path.c_str());
      }
    } else {
      ::unlink(path.c_str());
    }
    files_.pop_front();
    (void)sync_dir(dir_);
  }
}

uint64_t WalLog::sealed_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t n = 0;
  for (const auto& f : files_) {
    if (f.first != cur_id_) n += f.second;
  }
  return n;
}

uint64_t WalLog::sealed_beyond_newest(uint64_t bytes) const {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t newer = 0;
  for (auto it = files_.rbegin(); it != files_.rend(); ++it) {
    if (it->first == cur_id_) continue;
    if (newer >= bytes) return it->first;
    newer += it->second;
  }
  return 0;
}

}  // namespace rkv
