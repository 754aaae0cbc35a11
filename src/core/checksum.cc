#include "core/checksum.h"

#define XXH_STATIC_LINKING_ONLY  // XXH3_state_t by value: no allocation per checksum
#include <xxhash.h>

#include "core/assert.h"

namespace rkv {

uint64_t checksum64(std::string_view data) {
  return XXH3_64bits(data.data(), data.size());
}

uint64_t checksum64(std::span<const std::string_view> pieces) {
  if (pieces.size() == 1) return checksum64(pieces[0]);
  XXH3_state_t state;
  XXH3_64bits_reset(&state);
  for (std::string_view p : pieces)
    XXH3_64bits_update(&state, p.data(), p.size());
  return XXH3_64bits_digest(&state);
}

struct Checksum64Stream::State {
  XXH3_state_t xxh;
};

Checksum64Stream::Checksum64Stream() : state_(std::make_unique<State>()) {
  XXH3_64bits_reset(&state_->xxh);
}

Checksum64Stream::~Checksum64Stream() = default;

void Checksum64Stream::update(std::string_view piece) {
  XXH3_64bits_update(&state_->xxh, piece.data(), piece.size());
}

uint64_t Checksum64Stream::digest() const {
  return XXH3_64bits_digest(&state_->xxh);
}

std::string seal(std::string_view payload) {
  std::string out;
  out.reserve(payload.size() + 8);
  put_u64(out, checksum64(payload));
  out.append(payload);
  return out;
}

void seal_begin(std::string* out) {
  RKV_ASSERT(out->empty());
  out->append(8, '\0');
}

void seal_end(std::string* out) {
  RKV_ASSERT(out->size() >= 8);
  std::string sum;
  put_u64(sum, checksum64(std::string_view(*out).substr(8)));
  out->replace(0, 8, sum);
}

bool unseal(std::string_view record, std::string_view* payload) {
  if (record.size() < 8) return false;
  std::string_view body = record.substr(8);
  if (get_u64(record.data()) != checksum64(body)) return false;
  *payload = body;
  return true;
}

}  // namespace rkv
