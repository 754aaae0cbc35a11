// Checksums and framing helpers for every record the project itself frames (log entries,
// metadata, peer frames). XXH3-64 from libxxhash.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace rkv {

uint64_t checksum64(std::string_view data);
// checksum64 of the pieces joined, without joining them.
uint64_t checksum64(std::span<const std::string_view> pieces);

// checksum64 of bytes given a piece at a time (a file read back in steps, say).
class Checksum64Stream {
 public:
  Checksum64Stream();
  ~Checksum64Stream();
  Checksum64Stream(const Checksum64Stream&) = delete;
  Checksum64Stream& operator=(const Checksum64Stream&) = delete;
  void update(std::string_view piece);
  uint64_t digest() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Little-endian fixed-width encoding helpers.
inline void put_u32(std::string& out, uint32_t v) {
  char b[4];
  for (int i = 0; i < 4; ++i)
    b[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  out.append(b, 4);
}
inline void put_u64(std::string& out, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i)
    b[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  out.append(b, 8);
}
inline uint32_t get_u32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= static_cast<uint32_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}
inline uint64_t get_u64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}
// Big-endian u64, for keys whose byte order must follow numeric order (log indexes).
inline void put_u64_be(std::string& out, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i)
    b[i] = static_cast<char>((v >> (8 * (7 - i))) & 0xff);
  out.append(b, 8);
}
inline uint64_t get_u64_be(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

// A checksummed record: [u64 checksum of payload][payload]. seal() frames, unseal() verifies
// and returns the payload (or false when the record is corrupt or truncated).
std::string seal(std::string_view payload);
// The same record built in place, without copying the payload: seal_begin reserves the checksum
// at the front of an empty `out`, the caller appends the payload, seal_end fills the checksum.
void seal_begin(std::string* out);
void seal_end(std::string* out);
bool unseal(std::string_view record, std::string_view* payload);

}  // namespace rkv
