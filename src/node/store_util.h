// Helpers shared by the files that implement Store's commands (store*.cc):
// Redis's error texts and overflow-checked arithmetic. Internal to src/node.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "node/zset_index.h"
#include "resp/writer.h"

namespace rkv::store_util {

inline constexpr std::string_view kErrNotInt = "ERR value is not an integer or out of range";
inline constexpr std::string_view kErrSyntax = "ERR syntax error";
// Redis names its limit proto-max-bulk-len; replikv's is max_value_len (same role).
inline constexpr std::string_view kErrTooBig =
    "ERR string exceeds maximum allowed size (proto-max-bulk-len)";

inline constexpr std::string_view kErrRange =
    "ERR value is out of range, value must between -9223372036854775807 and "
    "9223372036854775807";

inline constexpr std::string_view kErrWrongType =
    "WRONGTYPE Operation against a key holding the wrong kind of value";

// As Redis's string2ld: strtold over the whole argument, no leading space, no NaN.
bool parse_long_double(std::string_view s, long double* out);
// As Redis's "human" long double format. Precondition: v is finite.
std::string format_long_double(long double v);

// Redis's getRangeLongFromObjectOrReply(-LONG_MAX, LONG_MAX) (the counts of HRANDFIELD,
// SRANDMEMBER, ZRANDMEMBER): "" or the error reply.
std::string_view parse_count(std::string_view s, int64_t* out);

inline bool checked_add(int64_t a, int64_t b, int64_t* out) {
  return !__builtin_add_overflow(a, b, out);
}
inline bool checked_mul(int64_t a, int64_t b, int64_t* out) {
  return !__builtin_mul_overflow(a, b, out);
}

}  // namespace rkv::store_util

namespace rkv::store_util {

// The expiry options of SET and GETEX.
enum class ExpireKind { kNone, kEx, kPx, kExat, kPxat };
// Which of EX, PX, EXAT, PXAT (any case) `opt` is; kNone for anything else.
ExpireKind expire_kind(std::string_view opt);
// The absolute expiry time (ms) that an EX/PX/EXAT/PXAT argument names, validated as Redis
// does: returns "" and sets *at, or returns the error reply, naming command `cmd`.
std::string resolve_expire(ExpireKind kind, std::string_view value, int64_t now_ms,
                           std::string_view cmd, int64_t* at);

}  // namespace rkv::store_util

namespace rkv::store_util {

// Sorted-set scores (store_zset.cc).
// As Redis's string2d: strtod over the whole argument, no leading space, no NaN, and an
// overflow or an underflow to zero refused ("inf" is accepted).
bool parse_score(std::string_view s, double* out);
// As Redis 7.0 prints a score: "%.17g", "inf", "-inf".
std::string format_score(double d);
// A score reply: a double in RESP3, its text as a bulk string in RESP2.
void reply_score(resp::Writer& w, double d);
// Members (with their scores when `withscores`): flat, or as [member, score] pairs (`nested`).
void write_items(resp::Writer& w, const std::vector<ZItem>& items, bool withscores, bool nested);

}  // namespace rkv::store_util
