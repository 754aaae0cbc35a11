// Little helpers for compact binary encodings (LEB128 varints, length-prefixed bytes), shared
// by every codec that is not protobuf-shaped (versions, leaderless messages, stored records).
// Readers consume from a string_view and are total: false on truncated or overlong input.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace rkv {

inline void put_varint(std::string* out, uint64_t v) {
  char buf[10];
  size_t n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<char>(v);
  out->append(buf, n);
}

// Consumes one varint from the front of *in; on failure *in is left unchanged. Canonical: a
// truncated, overlong (a trailing zero group, more than 10 bytes) or overflowing varint is
// refused, so every value has exactly one accepted encoding.
inline bool get_varint(std::string_view* in, uint64_t* v) {
  uint64_t result = 0;
  for (size_t i = 0; i < in->size() && i < 10; ++i) {
    const auto byte = static_cast<uint8_t>((*in)[i]);
    if (i == 9 && byte > 1) return false;  // would not fit in 64 bits
    if (i > 0 && byte == 0) return false;  // overlong
    result |= uint64_t{byte & 0x7fu} << (7 * i);
    if ((byte & 0x80) == 0) {
      in->remove_prefix(i + 1);
      *v = result;
      return true;
    }
  }
  return false;
}

inline uint64_t zigzag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
inline int64_t unzigzag(uint64_t v) {
  return static_cast<int64_t>((v >> 1) ^ (~(v & 1) + 1));
}

inline void put_bytes(std::string* out, std::string_view b) {
  put_varint(out, b.size());
  out->append(b);
}

inline bool get_bytes(std::string_view* in, std::string_view* b) {
  std::string_view rest = *in;
  uint64_t n = 0;
  if (!get_varint(&rest, &n) || n > rest.size()) return false;
  *b = rest.substr(0, n);
  *in = rest.substr(n);
  return true;
}

inline void put_u8(std::string* out, uint8_t v) {
  out->push_back(static_cast<char>(v));
}

inline bool get_u8(std::string_view* in, uint8_t* v) {
  if (in->empty()) return false;
  *v = static_cast<uint8_t>(in->front());
  in->remove_prefix(1);
  return true;
}

}  // namespace rkv
