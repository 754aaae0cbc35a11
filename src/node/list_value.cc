#include "node/list_value.h"

#include <algorithm>

#include "core/assert.h"

namespace rkv {

namespace {

// An entry is: the length as a varint (7 bits per byte, low group first, high bit = more),
// the bytes, then the length again with its groups in reverse order (high group first, the
// high bit on every byte but the first), so that it reads from its last byte backwards.

size_t varint_size(size_t n) {
  size_t k = 1;
  while (n >= 0x80) {
    n >>= 7;
    ++k;
  }
  return k;
}

size_t entry_size(size_t len) {
  return 2 * varint_size(len) + len;
}

void write_entry(char* p, std::string_view v) {
  const size_t k = varint_size(v.size());
  size_t n = v.size();
  for (size_t i = 0; i < k; ++i, n >>= 7)
    p[i] = static_cast<char>((n & 0x7f) | (i + 1 < k ? 0x80 : 0));
  std::copy(v.begin(), v.end(), p + k);
  char* back = p + k + v.size();
  n = v.size();
  for (size_t i = 0; i < k; ++i, n >>= 7)  // group i at back[k - 1 - i], read first
    back[k - 1 - i] = static_cast<char>((n & 0x7f) | (i + 1 < k ? 0x80 : 0));
}

// The element at offset `off` of buf (and, in *size, the entry's size in bytes).
std::string_view read_entry(const std::string& buf, size_t off, size_t* size = nullptr) {
  size_t len = 0, k = 0;
  unsigned char b;
  do {
    b = static_cast<unsigned char>(buf[off + k]);
    len |= static_cast<size_t>(b & 0x7f) << (7 * k);
    ++k;
  } while (b & 0x80);
  if (size) *size = 2 * k + len;
  return std::string_view(buf).substr(off + k, len);
}

// The offset of the entry that ends at `end` of buf.
size_t entry_before(const std::string& buf, size_t end) {
  size_t len = 0, k = 0;
  unsigned char b;
  do {
    b = static_cast<unsigned char>(buf[end - 1 - k]);
    len |= static_cast<size_t>(b & 0x7f) << (7 * k);
    ++k;
  } while (b & 0x80);
  return end - 2 * k - len;
}

// The offset after skipping n entries from `off`.
size_t skip_entries(const std::string& buf, size_t off, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    size_t sz;
    read_entry(buf, off, &sz);
    off += sz;
  }
  return off;
}

// Makes room for `extra` more bytes at the end of buf, growing its capacity by doubling but no
// further than a full chunk (std::string's own growth would overshoot to twice a chunk).
void reserve_more(std::string& buf, size_t extra) {
  const size_t need = buf.size() + extra;
  if (need <= buf.capacity()) return;
  buf.reserve(std::max(need, std::min(2 * buf.capacity(), ListValue::kChunkBytes)));
}

}  // namespace

void ListValue::Chunks::regrow() {
  const size_t cap = std::max<size_t>(2, 2 * n_ + 2);
  std::vector<Chunk> v(cap);
  const size_t b = (cap - n_) / 2;
  for (size_t i = 0; i < n_; ++i)
    v[b + i] = std::move(v_[b_ + i]);
  v_ = std::move(v);
  b_ = b;
}

void ListValue::Chunks::emplace_back() {
  if (b_ + n_ == v_.size()) regrow();
  ++n_;
}

void ListValue::Chunks::emplace_front() {
  if (b_ == 0) regrow();
  --b_;
  ++n_;
}

void ListValue::Chunks::pop_front() {
  v_[b_] = Chunk();  // frees its buffer
  ++b_;
  --n_;
}

void ListValue::Chunks::pop_back() {
  v_[b_ + n_ - 1] = Chunk();
  --n_;
}

void ListValue::Chunks::insert_at(size_t i, Chunk c) {
  RKV_ASSERT(i <= n_);
  emplace_back();
  for (size_t k = n_ - 1; k > i; --k)
    (*this)[k] = std::move((*this)[k - 1]);
  (*this)[i] = std::move(c);
}

void ListValue::Chunks::erase_at(size_t i) {
  RKV_ASSERT(i < n_);
  for (size_t k = i; k + 1 < n_; ++k)
    (*this)[k] = std::move((*this)[k + 1]);
  pop_back();
}

std::string ListValue::position_id(uint64_t pos) {
  std::string id(8, '\0');
  for (int i = 0; i < 8; ++i)
    id[static_cast<size_t>(i)] = static_cast<char>((pos >> (56 - 8 * i)) & 0xff);
  return id;
}

bool ListValue::parse_position_id(std::string_view id, uint64_t* pos) {
  if (id.size() != 8) return false;
  uint64_t p = 0;
  for (char c : id)
    p = (p << 8) | static_cast<unsigned char>(c);
  *pos = p;
  return true;
}

void ListValue::set_head_position(uint64_t pos) {
  RKV_ASSERT(size_ == 0);
  head_ = pos;
}

void ListValue::push_back(std::string_view v) {
  const size_t n = entry_size(v.size());
  if (chunks_.empty() || (chunks_.back().used() + n > kChunkBytes && chunks_.back().count > 0)) {
    // A new chunk of a growing list gets its full size at once: growing it step by step would
    // leave the freed smaller buffers behind as fragments.
    chunks_.emplace_back();
    if (chunks_.size() > 1) chunks_.back().buf.reserve(std::max(n, kChunkBytes));
  }
  Chunk& c = chunks_.back();
  reserve_more(c.buf, n);
  const size_t at = c.buf.size();
  c.buf.resize(at + n);
  write_entry(c.buf.data() + at, v);
  c.count++;
  size_++;
  bytes_ += v.size();
}

void ListValue::push_front(std::string_view v) {
  const size_t n = entry_size(v.size());
  if (chunks_.empty() || (chunks_.front().used() + n > kChunkBytes && chunks_.front().count > 0)) {
    // A new front chunk of a growing list is filled from its end: the pushes that follow
    // write into the room before its first entry.
    chunks_.emplace_front();
    if (chunks_.size() > 1) {
      Chunk& c = chunks_.front();
      const size_t room = std::max(n, kChunkBytes);
      c.buf.resize(room);
      c.begin = static_cast<uint32_t>(room);
    }
  }
  Chunk& c = chunks_.front();
  if (c.begin < n) {  // room in front: as much again as the chunk holds (amortized O(1))
    const size_t grow = std::max(n - c.begin, std::min(std::max(c.used(), n), kChunkBytes));
    c.buf.insert(0, grow, '\0');
    c.begin += static_cast<uint32_t>(grow);
  }
  c.begin -= static_cast<uint32_t>(n);
  write_entry(c.buf.data() + c.begin, v);
  c.count++;
  size_++;
  bytes_ += v.size();
  head_--;
}

std::string ListValue::pop_front() {
  RKV_ASSERT(size_ > 0);
  Chunk& c = chunks_.front();
  size_t sz;
  std::string v(read_entry(c.buf, c.begin, &sz));
  c.begin += static_cast<uint32_t>(sz);
  c.count--;
  if (c.count == 0) chunks_.pop_front();
  size_--;
  bytes_ -= v.size();
  head_++;
  return v;
}

std::string ListValue::pop_back() {
  RKV_ASSERT(size_ > 0);
  Chunk& c = chunks_.back();
  const size_t off = entry_before(c.buf, c.buf.size());
  std::string v(read_entry(c.buf, off));
  c.buf.resize(off);
  c.count--;
  if (c.count == 0) chunks_.pop_back();
  size_--;
  bytes_ -= v.size();
  return v;
}

void ListValue::drop_front(size_t n) {
  RKV_ASSERT(n <= size_);
  while (n > 0) {
    Chunk& c = chunks_.front();
    if (c.count <= n) {
      n -= c.count;
      size_ -= c.count;
      head_ += c.count;
      for (size_t off = c.begin; off < c.buf.size();) {
        size_t sz;
        bytes_ -= read_entry(c.buf, off, &sz).size();
        off += sz;
      }
      chunks_.pop_front();
      continue;
    }
    for (; n > 0; --n)
      pop_front();
  }
}

void ListValue::drop_back(size_t n) {
  RKV_ASSERT(n <= size_);
  while (n > 0) {
    Chunk& c = chunks_.back();
    if (c.count <= n) {
      n -= c.count;
      size_ -= c.count;
      for (size_t off = c.begin; off < c.buf.size();) {
        size_t sz;
        bytes_ -= read_entry(c.buf, off, &sz).size();
        off += sz;
      }
      chunks_.pop_back();
      continue;
    }
    for (; n > 0; --n)
      pop_back();
  }
}

ListValue::Cursor ListValue::locate(size_t i) const {
  RKV_ASSERT(i < size_);
  if (i < size_ / 2) {
    size_t ci = 0;
    while (i >= chunks_[ci].count) {
      i -= chunks_[ci].count;
      ++ci;
    }
    const Chunk& c = chunks_[ci];
    return {ci, skip_entries(c.buf, c.begin, i)};
  }
  size_t from_end = size_ - 1 - i;  // entries after it
  size_t ci = chunks_.size() - 1;
  while (from_end >= chunks_[ci].count) {
    from_end -= chunks_[ci].count;
    --ci;
  }
  const Chunk& c = chunks_[ci];
  size_t off = c.buf.size();
  for (size_t k = 0; k <= from_end; ++k)
    off = entry_before(c.buf, off);
  return {ci, off};
}

std::string_view ListValue::entry_at(Cursor c) const {
  return read_entry(chunks_[c.chunk].buf, c.off);
}

void ListValue::step_forward(Cursor* c) const {
  size_t sz;
  read_entry(chunks_[c->chunk].buf, c->off, &sz);
  c->off += sz;
  if (c->off == chunks_[c->chunk].buf.size()) {
    ++c->chunk;
    c->off = chunks_[c->chunk].begin;
  }
}

void ListValue::step_back(Cursor* c) const {
  if (c->off == chunks_[c->chunk].begin) {
    --c->chunk;
    c->off = chunks_[c->chunk].buf.size();
  }
  c->off = entry_before(chunks_[c->chunk].buf, c->off);
}

std::string_view ListValue::at(size_t i) const {
  return entry_at(locate(i));
}

void ListValue::set(size_t i, std::string_view v) {
  const Cursor cur = locate(i);
  Chunk& c = chunks_[cur.chunk];
  size_t old_size;
  const size_t old_len = read_entry(c.buf, cur.off, &old_size).size();
  const size_t n = entry_size(v.size());
  std::string enc(n, '\0');
  write_entry(enc.data(), v);
  c.buf.replace(cur.off, old_size, enc);
  bytes_ = bytes_ - old_len + v.size();
  split_if_full(cur.chunk);
}

void ListValue::insert(size_t i, std::string_view v, bool front_moves) {
  RKV_ASSERT(i <= size_);
  if (i == 0) {  // the new element takes head - 1; or the head's position and the rest move up
    push_front(v);
    if (!front_moves) head_++;
    return;
  }
  if (i == size_) {  // the new element takes tail + 1; or the tail's and the rest move down
    push_back(v);
    if (front_moves) head_--;
    return;
  }
  const Cursor cur = locate(i);
  Chunk& c = chunks_[cur.chunk];
  const size_t n = entry_size(v.size());
  std::string enc(n, '\0');
  write_entry(enc.data(), v);
  c.buf.insert(cur.off, enc);
  c.count++;
  size_++;
  bytes_ += v.size();
  if (front_moves) head_--;
  split_if_full(cur.chunk);
}

void ListValue::erase(size_t i, bool front_moves) {
  const Cursor cur = locate(i);
  Chunk& c = chunks_[cur.chunk];
  size_t sz;
  bytes_ -= read_entry(c.buf, cur.off, &sz).size();
  if (cur.off == c.begin) {
    c.begin += static_cast<uint32_t>(sz);
  } else {
    c.buf.erase(cur.off, sz);
  }
  c.count--;
  size_--;
  if (front_moves) head_++;
  tidy(cur.chunk);
}

void ListValue::split_if_full(size_t ci) {
  Chunk& c = chunks_[ci];
  if (c.used() <= kChunkBytes || c.count < 2) return;
  const uint32_t keep = c.count / 2;
  const size_t mid = skip_entries(c.buf, c.begin, keep);
  Chunk tail;
  tail.buf.assign(c.buf, mid, std::string::npos);
  tail.count = c.count - keep;
  c.buf.resize(mid);
  c.buf.shrink_to_fit();
  c.count = keep;
  chunks_.insert_at(ci + 1, std::move(tail));
}

void ListValue::tidy(size_t ci) {
  if (chunks_[ci].count == 0) {
    chunks_.erase_at(ci);
    return;
  }
  if (chunks_[ci].used() >= kChunkBytes / 4) return;
  // Into the previous chunk when both fit in one, else take in the next one.
  auto merge = [&](size_t into, size_t from) {
    Chunk& a = chunks_[into];
    Chunk& b = chunks_[from];
    a.buf.append(b.buf, b.begin, std::string::npos);
    a.count += b.count;
    chunks_.erase_at(from);
  };
  if (ci > 0 && chunks_[ci - 1].used() + chunks_[ci].used() <= kChunkBytes) {
    merge(ci - 1, ci);
  } else if (ci + 1 < chunks_.size() &&
             chunks_[ci].used() + chunks_[ci + 1].used() <= kChunkBytes) {
    merge(ci, ci + 1);
  }
}

bool ListValue::valid() const {
  size_t n = 0, bytes = 0;
  for (size_t ci = 0; ci < chunks_.size(); ++ci) {
    const Chunk& c = chunks_[ci];
    if (c.count == 0 || c.begin > c.buf.size()) return false;
    size_t off = c.begin, k = 0;
    while (off < c.buf.size()) {
      size_t sz;
      const std::string_view v = read_entry(c.buf, off, &sz);
      if (entry_before(c.buf, off + sz) != off) return false;
      bytes += v.size();
      off += sz;
      ++k;
    }
    if (off != c.buf.size() || k != c.count) return false;
    n += k;
  }
  return n == size_ && bytes == bytes_;
}

}  // namespace rkv
