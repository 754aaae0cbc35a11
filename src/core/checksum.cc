#include "core/checksum.h"

#include <xxhash.h>

namespace rkv {

uint64_t checksum64(std::string_view data) {
  return XXH3_64bits(data.data(), data.size());
}

std::string seal(std::string_view payload) {
  std::string out;
  out.reserve(payload.size() + 8);
  put_u64(out, checksum64(payload));
  out.append(payload);
  return out;
}

bool unseal(std::string_view record, std::string_view* payload) {
  if (record.size() < 8) return false;
  std::string_view body = record.substr(8);
  if (get_u64(record.data()) != checksum64(body)) return false;
  *payload = body;
  return true;
}

}  // namespace rkv
