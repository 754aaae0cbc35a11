// A minimal RESP reply decoder for the simulator's client model. It reads exactly one reply
// (RESP2, plus the RESP3 null/boolean/double forms) from a byte string as the node wrote it.
// Clients only need the outline of a reply: its kind, its text or integer, and, for arrays,
// the elements. Anything malformed is kInvalid (a node bug the simulator reports).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rkv::sim {

struct Reply {
  enum Kind : unsigned char { kInvalid, kSimple, kError, kInteger, kBulk, kNull, kArray };
  Kind kind = kInvalid;
  std::string text;  // simple string, error message (without '-'), bulk payload
  int64_t integer = 0;
  std::vector<Reply> elements;  // kArray
};

// Parses the first reply in `bytes`. Trailing bytes after it are ignored.
Reply parse_reply(std::string_view bytes);

}  // namespace rkv::sim
