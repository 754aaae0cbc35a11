#include "storage/wal_record.h"

#include <cstdint>

#include "core/assert.h"
#include "core/checksum.h"

namespace rkv {

namespace {
constexpr char kTypeDeletion = 0x0;
constexpr char kTypeValue = 0x1;
constexpr char kTypeRangeDeletion = 0xF;

void put_varint32(std::string& out, uint32_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
}  // namespace

WalRecord::WalRecord(const WriteBatch& batch) {
  size_t copied = 12;
  for (const WriteBatch::Item& item : batch.items()) {
    copied += 11 + item.key.size();  // a tag and up to two 5-byte lengths
    if (item.value.size() < kReferencedBytes) copied += item.value.size();
    if (item.tail.size() < kReferencedBytes) copied += item.tail.size();
  }
  buf_.reserve(copied);
  put_u64(buf_, 0);  // sequence: assigned by RocksDB when a replayed batch is applied
  put_u32(buf_, static_cast<uint32_t>(batch.size()));
  spans_.push_back({true, 0, buf_.size(), nullptr});
  size_t referenced = 0;
  for (const WriteBatch::Item& item : batch.items()) {
    switch (item.op) {
      case WriteBatch::Op::kPut:
        copy(std::string_view(&kTypeValue, 1));
        slice(item.key, &referenced);
        slice(item.value, &referenced, item.tail.view());
        break;
      case WriteBatch::Op::kDelete:
        copy(std::string_view(&kTypeDeletion, 1));
        slice(item.key, &referenced);
        break;
      case WriteBatch::Op::kDeleteRange:
        copy(std::string_view(&kTypeRangeDeletion, 1));
        slice(item.key, &referenced);
        slice(item.value, &referenced);
        break;
    }
  }
  pieces_.reserve(spans_.size());
  for (const Span& s : spans_) {
    pieces_.emplace_back(s.own ? buf_.data() + s.offset : s.ptr, s.len);
    size_ += s.len;
  }
}

void WalRecord::copy(std::string_view bytes) {
  if (!spans_.back().own) spans_.push_back({true, buf_.size(), 0, nullptr});
  buf_.append(bytes);
  spans_.back().len += bytes.size();
}

void WalRecord::reference(std::string_view bytes) {
  spans_.push_back({false, 0, bytes.size(), bytes.data()});
}

void WalRecord::slice(std::string_view bytes, size_t* referenced, std::string_view more) {
  RKV_ASSERT(bytes.size() + more.size() <= UINT32_MAX);
  std::string len;
  put_varint32(len, static_cast<uint32_t>(bytes.size() + more.size()));
  copy(len);
  for (std::string_view piece : {bytes, more}) {
    if (piece.empty()) continue;
    if (piece.size() >= kReferencedBytes && *referenced < kMaxReferenced) {
      ++*referenced;
      reference(piece);
    } else {
      copy(piece);
    }
  }
}

std::string WalRecord::str() const {
  std::string out;
  out.reserve(size_);
  for (std::string_view p : pieces_)
    out.append(p);
  return out;
}

}  // namespace rkv
