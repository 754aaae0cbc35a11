// WalRecord: a storage batch laid out as RocksDB's WriteBatch representation (what the
// write-ahead log's replay hands to rocksdb::WriteBatch::Iterate), without copying large values.
//
//   [u64 LE sequence = 0][u32 LE count] then per item, default column family:
//     put           0x01 varint32(key size) key varint32(value size) value
//     delete        0x00 varint32(key size) key
//     delete range  0x0F varint32(begin size) begin varint32(end size) end
//
// Tags, lengths and small values are copied into one buffer; values of kReferencedBytes or
// more are referenced where they are (the batch must outlive pieces()), so a snapshot image
// or a large entry goes to the log file without an intermediate copy.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "storage/storage.h"

namespace rkv {

class WalRecord {
 public:
  static constexpr size_t kReferencedBytes = 4096;
  // More referenced pieces than this are copied instead (pwritev takes at most 1024 buffers).
  static constexpr size_t kMaxReferenced = 256;

  explicit WalRecord(const WriteBatch& batch);
  // The record, in order; views into the batch and into this object.
  const std::vector<std::string_view>& pieces() const { return pieces_; }
  size_t size() const { return size_; }
  // The pieces joined (tests).
  std::string str() const;

 private:
  struct Span {
    bool own;  // a range of buf_, or a whole referenced value
    size_t offset;
    size_t len;
    const char* ptr;
  };
  void copy(std::string_view bytes);
  void reference(std::string_view bytes);
  // A length-prefixed string: bytes then more (a value's head and its shared tail).
  void slice(std::string_view bytes, size_t* referenced, std::string_view more = {});

  std::string buf_;
  std::vector<Span> spans_;
  std::vector<std::string_view> pieces_;
  size_t size_ = 0;
};

}  // namespace rkv
