// libFuzzer entry point (Clang only): the input is split into chunks by its first byte, fed to
// the parser as a connection would, and every verdict is checked against the parser contract.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/assert.h"
#include "resp/parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t chunk = data[0] % 16 + 1;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  rkv::resp::ParseLimits limits;
  limits.max_bulk_len = 1024;
  limits.max_args = 64;
  limits.max_inline_len = 256;
  rkv::resp::Parser parser(limits);
  std::string buf;
  size_t fed = 0;
  while (fed < input.size()) {
    const size_t n = std::min(chunk, input.size() - fed);
    buf.append(input.substr(fed, n));
    fed += n;
    while (!buf.empty()) {
      size_t consumed = 0;
      const auto r = parser.parse(buf, &consumed);
      if (r == rkv::resp::ParseResult::kError) return 0;
      if (r == rkv::resp::ParseResult::kNeedMore) {
        RKV_ASSERT(consumed == 0);
        RKV_ASSERT(parser.expected_size() <= buf.size() + limits.max_bulk_len + 2);
        break;
      }
      RKV_ASSERT(consumed > 0 && consumed <= buf.size());
      RKV_ASSERT(parser.args().size() <= limits.max_args);
      buf.erase(0, consumed);
    }
  }
  return 0;
}
