// A minimal RESP reply decoder for the simulator's client model. It reads exactly one reply
// (RESP2, plus the RESP3 null/boolean/double forms) from a byte string as the node wrote it.
// Clients only need the outline of a reply: its kind, its text or integer, and, for arrays,
// the elements. Anything malformed is kInvalid (a node bug the simulator reports).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
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

// A SIBLINGS reply, [context, [[value|nil, hlc, dot, expire_at_ms], ...]]: the live values in
// reply order (tombstones have none) and, when `context` is given, the context. nullopt when
// the reply has another shape.
std::optional<std::vector<std::string>> sibling_values(const Reply& r,
                                                       std::string* context = nullptr);

// A RESP2 map (an array key, value, key, value ...) by key; a trailing odd element is ignored.
std::map<std::string, Reply> reply_fields(const Reply& r);

}  // namespace rkv::sim
