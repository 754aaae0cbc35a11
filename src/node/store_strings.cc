// Store's string and bitmap commands beyond GET/SET/INCR/APPEND: SETEX, PSETEX, GETEX, GETSET,
// MSETNX, INCRBYFLOAT, SETRANGE, GETRANGE/SUBSTR, LCS, SETBIT, GETBIT, BITCOUNT, BITPOS.
// Each follows Redis 7.0's semantics, replies and error texts, including the order in which
// arguments are checked (which error wins) and the key lookups that come before argument checks.
// Like the rest of Store::execute, each is a function of (state, command, now_ms) only.
#include <fmt/format.h>

#include <bit>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <vector>

#include "core/text.h"
#include "node/store.h"
#include "node/store_util.h"

namespace rkv {

using Args = std::span<const std::string_view>;
using namespace store_util;

namespace store_util {

// Redis's bound on the text of a long double, both parsed and printed (MAX_LONG_DOUBLE_CHARS).
constexpr size_t kMaxLongDoubleChars = 5 * 1024;

// As Redis's string2ld: strtold over the whole argument, no leading space, no NaN, and an
// overflow to infinity or underflow to zero is refused (an explicit "inf" is accepted).
bool parse_long_double(std::string_view s, long double* out) {
  if (s.empty() || s.size() >= kMaxLongDoubleChars) return false;
  char buf[kMaxLongDoubleChars];
  std::memcpy(buf, s.data(), s.size());
  buf[s.size()] = '\0';
  if (std::isspace(static_cast<unsigned char>(buf[0]))) return false;
  errno = 0;
  char* end = nullptr;
  const long double v = std::strtold(buf, &end);
  if (end != buf + s.size()) return false;  // trailing bytes, or a NUL inside the argument
  if (errno == ERANGE && (std::isinf(v) || std::fpclassify(v) == FP_ZERO)) return false;
  if (errno == EINVAL || std::isnan(v)) return false;
  *out = v;
  return true;
}

// As Redis's "human" long double format (INCRBYFLOAT's reply and stored value): fixed point
// with 17 decimals, trailing zeros and a trailing point removed, "-0" written as "0".
// Precondition: v is finite (its text then always fits kMaxLongDoubleChars).
std::string format_long_double(long double v) {
  char buf[kMaxLongDoubleChars];
  const int n = std::snprintf(buf, sizeof(buf), "%.17Lf", v);
  RKV_ASSERT(n > 0 && static_cast<size_t>(n) < sizeof(buf));
  size_t len = static_cast<size_t>(n);
  if (std::memchr(buf, '.', len) != nullptr) {
    while (buf[len - 1] == '0')
      --len;
    if (buf[len - 1] == '.') --len;
  }
  if (len == 2 && buf[0] == '-' && buf[1] == '0') return "0";
  return std::string(buf, len);
}

}  // namespace store_util

namespace {

constexpr std::string_view kErrNotFloat = "ERR value is not a valid float";
constexpr std::string_view kErrBitOffset = "ERR bit offset is not an integer or out of range";
constexpr std::string_view kErrBitValue = "ERR bit is not an integer or out of range";
// Bits are numbered from the most significant bit of byte 0, as Redis numbers them.
// Precondition for both: 0 <= first <= last < 8 * d.size().
int64_t count_bits(std::string_view d, int64_t first, int64_t last) {
  const auto* p = reinterpret_cast<const unsigned char*>(d.data());
  const int64_t fb = first >> 3, lb = last >> 3;
  int64_t n = 0;
  int64_t i = fb;
  for (; i + 8 <= lb + 1; i += 8) {
    uint64_t word;
    std::memcpy(&word, p + i, 8);
    n += std::popcount(word);
  }
  for (; i <= lb; ++i)
    n += std::popcount(static_cast<unsigned>(p[i]));
  // Take back the bits of the edge bytes that lie outside [first, last].
  n -= std::popcount(static_cast<unsigned>(p[fb] & ~(0xFFu >> (first & 7)) & 0xFFu));
  n -= std::popcount(static_cast<unsigned>(p[lb] & (0xFFu >> ((last & 7) + 1))));
  return n;
}

// The first bit equal to `bit` in [first, last], or -1.
int64_t find_bit(std::string_view d, int64_t first, int64_t last, bool bit) {
  const auto* p = reinterpret_cast<const unsigned char*>(d.data());
  const int64_t fb = first >> 3, lb = last >> 3;
  const uint64_t skip = bit ? 0 : ~uint64_t{0};  // a word with no bit of interest
  for (int64_t i = fb; i <= lb; ++i) {
    if (i > fb && i + 8 <= lb) {
      uint64_t word;
      std::memcpy(&word, p + i, 8);
      if (word == skip) {
        i += 7;
        continue;
      }
    }
    unsigned c = bit ? p[i] : (~p[i] & 0xFFu);
    if (i == fb) c &= 0xFFu >> (first & 7);
    if (i == lb) c &= ~(0xFFu >> ((last & 7) + 1)) & 0xFFu;
    if (c != 0) return i * 8 + std::countl_zero(static_cast<uint8_t>(c));
  }
  return -1;
}

// Converts a Redis range (negative counts from the end) over `len` units to [start, end]
// clamped to the value; start > end when empty.
void clamp_range(int64_t len, int64_t* start, int64_t* end) {
  if (*start < 0) *start += len;
  if (*end < 0) *end += len;
  if (*start < 0) *start = 0;
  if (*end < 0) *end = 0;
  if (*end >= len) *end = len - 1;
}

}  // namespace

void Store::cmd_setex(Args a, int64_t now, int64_t unit_ms, std::string_view name, resp::Writer& w,
                      ChangeSink& s) {
  int64_t at;
  std::string err =
      resolve_expire(unit_ms == 1 ? ExpireKind::kPx : ExpireKind::kEx, a[2], now, name, &at);
  if (!err.empty()) return w.error(err);
  if (a[3].size() > limits_.max_value_len) return w.error(kErrTooBig);
  const uint32_t ks = route(a[1]);
  put(ks, a[1], a[3], at, s, lookup(ks, a[1], now, s));
  w.ok();
}

// GETEX key [EX s | PX ms | EXAT t | PXAT t | PERSIST]. As Redis: options are parsed first, a
// missing key answers nil before the expiry is validated, and the value is read before an
// expiry already past deletes the key.
void Store::cmd_getex(Args a, int64_t now, resp::Writer& w, ChangeSink& s) {
  ExpireKind kind = ExpireKind::kNone;
  std::string_view value;
  bool persist = false;
  for (size_t i = 2; i < a.size(); ++i) {
    const ExpireKind k = expire_kind(a[i]);
    if (iequals(a[i], "persist") && kind == ExpireKind::kNone) {
      persist = true;
    } else if (k != ExpireKind::kNone && !persist && (kind == ExpireKind::kNone || kind == k) &&
               i + 1 < a.size()) {
      kind = k;
      value = a[++i];
    } else {
      return w.error(kErrSyntax);
    }
  }
  const uint32_t ks = route(a[1]);
  KeyTable::Entry* e = lookup(ks, a[1], now, s);
  if (!e) return w.null();
  if (not_string(e, w)) return;
  int64_t at = 0;
  if (kind != ExpireKind::kNone) {
    std::string err = resolve_expire(kind, value, now, "getex", &at);
    if (!err.empty()) return w.error(err);
  }
  w.bulk(e->value.data);
  if (kind != ExpireKind::kNone && at <= now) {  // only EXAT / PXAT can name the past
    erase(ks, a[1], s);
  } else if (kind != ExpireKind::kNone || (persist && e->value.expire_at_ms != 0)) {
    set_expire(ks, e, at);
    s.on_put(ks, a[1], e->value);
  }
}

// GETSET: SET without options (the expiry is removed) that replies with the old value.
void Store::cmd_getset(Args a, int64_t now, resp::Writer& w, ChangeSink& s) {
  if (a[2].size() > limits_.max_value_len) return w.error(kErrTooBig);
  const uint32_t ks = route(a[1]);
  KeyTable::Entry* e = lookup(ks, a[1], now, s);
  if (!e) {
    put(ks, a[1], a[2], 0, s);
    return w.null();
  }
  if (not_string(e, w)) return;
  std::string old = e->value.data;
  put(ks, a[1], a[2], 0, s, e);
  w.bulk(old);
}

void Store::cmd_msetnx(Args a, int64_t now, resp::Writer& w, ChangeSink& s) {
  if (a.size() % 2 != 1) return w.error("ERR wrong number of arguments for 'msetnx' command");
  for (size_t i = 2; i < a.size(); i += 2) {
    if (a[i].size() > limits_.max_value_len) return w.error(kErrTooBig);
  }
  for (size_t i = 1; i < a.size(); i += 2) {
    if (lookup(route(a[i]), a[i], now, s)) return w.integer(0);
  }
  for (size_t i = 1; i < a.size(); i += 2)
    put(route(a[i]), a[i], a[i + 1], 0, s);
  w.integer(1);
}

// INCRBYFLOAT computes in long double, as Redis does, and keeps the key's expiry. Every replica
// of a primary keyspace computes the same result: the arithmetic and strtold/snprintf are
// deterministic for one binary on one architecture (replicas are expected to run the same).
void Store::cmd_incrbyfloat(Args a, int64_t now, resp::Writer& w, ChangeSink& s) {
  const uint32_t ks = route(a[1]);
  KeyTable::Entry* e = lookup(ks, a[1], now, s);
  if (not_string(e, w)) return;
  long double cur = 0, incr = 0;
  if ((e && !parse_long_double(e->value.data, &cur)) || !parse_long_double(a[2], &incr)) {
    return w.error(kErrNotFloat);
  }
  cur += incr;
  if (std::isnan(cur) || std::isinf(cur)) {
    return w.error("ERR increment would produce NaN or Infinity");
  }
  const std::string text = format_long_double(cur);
  put(ks, a[1], text, e ? e->value.expire_at_ms : 0, s, e);
  w.bulk(text);
}

// SETRANGE pads with zero bytes up to the offset. An empty value changes nothing (and creates
// no key); the reply is the length after the write.
void Store::cmd_setrange(Args a, int64_t now, resp::Writer& w, ChangeSink& s) {
  int64_t offset;
  if (!parse_int64(a[2], &offset)) return w.error(kErrNotInt);
  if (offset < 0) return w.error("ERR offset is out of range");
  const std::string_view v = a[3];
  const uint32_t ks = route(a[1]);
  KeyTable::Entry* e = lookup(ks, a[1], now, s);
  if (not_string(e, w)) return;
  if (v.empty()) return w.integer(e ? static_cast<int64_t>(e->value.data.size()) : 0);
  if (static_cast<uint64_t>(offset) + v.size() > limits_.max_value_len) {
    return w.error(kErrTooBig);
  }
  const size_t end = static_cast<size_t>(offset) + v.size();
  if (!e) {
    std::string data(end, '\0');
    data.replace(static_cast<size_t>(offset), v.size(), v);
    put(ks, a[1], data, 0, s);
    return w.integer(static_cast<int64_t>(end));
  }
  std::string& d = e->value.data;
  if (end > d.size()) {
    keyspaces_[ks].table.adjust_payload(static_cast<int64_t>(end - d.size()));
    d.resize(end, '\0');
  }
  d.replace(static_cast<size_t>(offset), v.size(), v);
  s.on_put(ks, a[1], e->value);
  w.integer(static_cast<int64_t>(d.size()));
}

// GETRANGE and SUBSTR: inclusive range, negative offsets count from the end.
void Store::cmd_getrange(Args a, int64_t now, resp::Writer& w, ChangeSink& s) {
  int64_t start, end;
  if (!parse_int64(a[2], &start) || !parse_int64(a[3], &end)) return w.error(kErrNotInt);
  const KeyTable::Entry* e = lookup(route(a[1]), a[1], now, s);
  if (!e) return w.bulk("");
  if (not_string(e, w)) return;
  const std::string_view d = e->value.data;
  if (start < 0 && end < 0 && start > end) return w.bulk("");
  clamp_range(static_cast<int64_t>(d.size()), &start, &end);
  if (start > end || d.empty()) return w.bulk("");
  w.bulk(d.substr(static_cast<size_t>(start), static_cast<size_t>(end - start + 1)));
}

// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN n] [WITHMATCHLEN]: the classic dynamic programme over
// a (len1+1) x (len2+1) table, bounded as in Redis by the largest value size (the table is
// transient but would otherwise be unbounded); missing keys are empty strings.
void Store::cmd_lcs(Args a, int64_t now, resp::Writer& w, ChangeSink& s) {
  const KeyTable::Entry* ea = lookup(route(a[1]), a[1], now, s);
  const KeyTable::Entry* eb = lookup(route(a[2]), a[2], now, s);
  if ((ea && !ea->value.is_string()) || (eb && !eb->value.is_string())) {
    return w.error("ERR The specified keys must contain string values");
  }
  const std::string_view x = ea ? std::string_view(ea->value.data) : std::string_view();
  const std::string_view y = eb ? std::string_view(eb->value.data) : std::string_view();
  bool get_len = false, get_idx = false, with_match_len = false;
  int64_t min_match_len = 0;
  for (size_t i = 3; i < a.size(); ++i) {
    if (iequals(a[i], "idx")) {
      get_idx = true;
    } else if (iequals(a[i], "len")) {
      get_len = true;
    } else if (iequals(a[i], "withmatchlen")) {
      with_match_len = true;
    } else if (iequals(a[i], "minmatchlen") && i + 1 < a.size()) {
      if (!parse_int64(a[++i], &min_match_len)) return w.error(kErrNotInt);
      if (min_match_len < 0) min_match_len = 0;
    } else {
      return w.error(kErrSyntax);
    }
  }
  if (get_idx && get_len) {
    return w.error("ERR If you want both the length and indexes, please just use IDX.");
  }
  if (x.size() >= UINT32_MAX - 1 || y.size() >= UINT32_MAX - 1) {
    return w.error("ERR String too long for LCS");
  }
  const uint64_t alen = x.size(), blen = y.size();
  const uint64_t cells = (alen + 1) * (blen + 1);
  if (cells * sizeof(uint32_t) > limits_.max_value_len) {
    return w.error("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
  }
  std::vector<uint32_t> table(cells, 0);
  auto at = [&](uint64_t i, uint64_t j) -> uint32_t& { return table[j + i * (blen + 1)]; };
  for (uint64_t i = 1; i <= alen; ++i) {
    for (uint64_t j = 1; j <= blen; ++j) {
      at(i, j) = x[i - 1] == y[j - 1] ? at(i - 1, j - 1) + 1 : std::max(at(i - 1, j), at(i, j - 1));
    }
  }
  const uint32_t total = at(alen, blen);
  if (get_len) return w.integer(total);

  // Walk back from the end, collecting the common subsequence and, for IDX, the maximal runs
  // matched contiguously in both strings (last run first, as Redis replies).
  struct Match {
    uint64_t a_start, a_end, b_start, b_end;
  };
  std::vector<Match> matches;
  std::string result(total, '\0');
  uint64_t idx = total;
  uint64_t i = alen, j = blen;
  bool open = false;
  Match cur{};
  auto emit = [&] {
    const uint64_t len = cur.a_end - cur.a_start + 1;
    if (min_match_len == 0 || len >= static_cast<uint64_t>(min_match_len)) matches.push_back(cur);
    open = false;
  };
  while (i > 0 && j > 0) {
    if (x[i - 1] == y[j - 1]) {
      result[--idx] = x[i - 1];
      if (!open) {
        cur = Match{i - 1, i - 1, j - 1, j - 1};
        open = true;
      } else {  // contiguous with the run: the previous match was at (i, j)
        cur.a_start = i - 1;
        cur.b_start = j - 1;
      }
      --i;
      --j;
      if (cur.a_start == 0 || cur.b_start == 0) emit();
    } else {
      if (at(i - 1, j) > at(i, j - 1)) {
        --i;
      } else {
        --j;
      }
      if (open) emit();
    }
  }
  if (!get_idx) return w.bulk(result);
  w.map(2);
  w.bulk("matches");
  w.array(matches.size());
  for (const Match& m : matches) {
    w.array(with_match_len ? 3 : 2);
    w.array(2);
    w.integer(static_cast<int64_t>(m.a_start));
    w.integer(static_cast<int64_t>(m.a_end));
    w.array(2);
    w.integer(static_cast<int64_t>(m.b_start));
    w.integer(static_cast<int64_t>(m.b_end));
    if (with_match_len) w.integer(static_cast<int64_t>(m.a_end - m.a_start + 1));
  }
  w.bulk("len");
  w.integer(total);
}

namespace {

// A bit offset as Redis accepts it: an integer from 0 to 8 * max_value_len - 1.
bool parse_bit_offset(std::string_view s, uint64_t max_value_len, int64_t* out) {
  int64_t v;
  if (!parse_int64(s, &v) || v < 0 || static_cast<uint64_t>(v >> 3) >= max_value_len) {
    return false;
  }
  *out = v;
  return true;
}

}  // namespace

// SETBIT grows the value with zero bytes to reach the offset; replies with the bit's old value.
void Store::cmd_setbit(Args a, int64_t now, resp::Writer& w, ChangeSink& s) {
  int64_t offset, on;
  if (!parse_bit_offset(a[2], limits_.max_value_len, &offset)) return w.error(kErrBitOffset);
  if (!parse_int64(a[3], &on) || (on & ~int64_t{1}) != 0) return w.error(kErrBitValue);
  const uint32_t ks = route(a[1]);
  KeyTable::Entry* e = lookup(ks, a[1], now, s);
  if (not_string(e, w)) return;
  const size_t byte = static_cast<size_t>(offset >> 3);
  const unsigned mask = 1u << (7 - (offset & 7));
  if (!e) {
    std::string data(byte + 1, '\0');
    if (on) data[byte] = static_cast<char>(mask);
    put(ks, a[1], data, 0, s);
    return w.integer(0);
  }
  std::string& d = e->value.data;
  bool changed = false;
  if (d.size() < byte + 1) {
    keyspaces_[ks].table.adjust_payload(static_cast<int64_t>(byte + 1 - d.size()));
    d.resize(byte + 1, '\0');
    changed = true;
  }
  const unsigned old = static_cast<unsigned char>(d[byte]);
  const bool was = (old & mask) != 0;
  if (was != (on != 0)) {
    d[byte] = static_cast<char>(on ? (old | mask) : (old & ~mask));
    changed = true;
  }
  if (changed) s.on_put(ks, a[1], e->value);
  w.integer(was ? 1 : 0);
}

void Store::cmd_getbit(Args a, int64_t now, resp::Writer& w, ChangeSink& s) {
  int64_t offset;
  if (!parse_bit_offset(a[2], limits_.max_value_len, &offset)) return w.error(kErrBitOffset);
  const KeyTable::Entry* e = lookup(route(a[1]), a[1], now, s);
  if (not_string(e, w)) return;
  const size_t byte = static_cast<size_t>(offset >> 3);
  if (!e || byte >= e->value.data.size()) return w.integer(0);
  const unsigned c = static_cast<unsigned char>(e->value.data[byte]);
  w.integer((c >> (7 - (offset & 7))) & 1);
}

// BITCOUNT key [start end [BYTE|BIT]]. As Redis 7.0: a missing key answers 0 before the range
// is looked at, and a range wholly negative and inverted answers 0 before its unit is.
void Store::cmd_bitcount(Args a, int64_t now, resp::Writer& w, ChangeSink& s) {
  const KeyTable::Entry* e = lookup(route(a[1]), a[1], now, s);
  if (!e) return w.integer(0);
  if (not_string(e, w)) return;
  const std::string_view d = e->value.data;
  const int64_t len = static_cast<int64_t>(d.size());
  int64_t first = 0, last = len * 8 - 1;  // bits
  if (a.size() == 4 || a.size() == 5) {
    int64_t start, end;
    if (!parse_int64(a[2], &start) || !parse_int64(a[3], &end)) return w.error(kErrNotInt);
    if (start < 0 && end < 0 && start > end) return w.integer(0);
    bool bits = false;
    if (a.size() == 5) {
      if (iequals(a[4], "bit")) {
        bits = true;
      } else if (!iequals(a[4], "byte")) {
        return w.error(kErrSyntax);
      }
    }
    clamp_range(bits ? len * 8 : len, &start, &end);
    if (start > end) return w.integer(0);
    first = bits ? start : start * 8;
    last = bits ? end : end * 8 + 7;
  } else if (a.size() != 2) {
    return w.error(kErrSyntax);
  }
  if (first > last) return w.integer(0);
  w.integer(count_bits(d, first, last));
}

// BITPOS key bit [start [end [BYTE|BIT]]]. As Redis 7.0: the bit argument is checked first,
// then a missing key answers (an endless run of zeros) before the range is looked at. Looking
// for a 0 without an explicit end, the bit just past the value counts as zero.
void Store::cmd_bitpos(Args a, int64_t now, resp::Writer& w, ChangeSink& s) {
  int64_t bit;
  if (!parse_int64(a[2], &bit)) return w.error(kErrNotInt);
  if (bit != 0 && bit != 1) return w.error("ERR The bit argument must be 1 or 0.");
  const KeyTable::Entry* e = lookup(route(a[1]), a[1], now, s);
  if (!e) return w.integer(bit ? -1 : 0);
  if (not_string(e, w)) return;
  const std::string_view d = e->value.data;
  const int64_t len = static_cast<int64_t>(d.size());
  int64_t first = 0, last = len * 8 - 1;  // bits
  bool end_given = false;
  if (a.size() >= 4 && a.size() <= 6) {
    int64_t start, end;
    if (!parse_int64(a[3], &start)) return w.error(kErrNotInt);
    bool bits = false;
    if (a.size() == 6) {
      if (iequals(a[5], "bit")) {
        bits = true;
      } else if (!iequals(a[5], "byte")) {
        return w.error(kErrSyntax);
      }
    }
    if (a.size() >= 5) {
      if (!parse_int64(a[4], &end)) return w.error(kErrNotInt);
      end_given = true;
    } else {
      end = len - 1;  // BIT needs an explicit end, so this is BYTE
    }
    clamp_range(bits ? len * 8 : len, &start, &end);
    if (start > end) return w.integer(-1);
    first = bits ? start : start * 8;
    last = bits ? end : end * 8 + 7;
  } else if (a.size() != 3) {
    return w.error(kErrSyntax);
  }
  if (first > last) return w.integer(-1);
  const int64_t pos = find_bit(d, first, last, bit != 0);
  if (pos >= 0) return w.integer(pos);
  w.integer(bit == 0 && !end_given ? last + 1 : -1);
}

}  // namespace rkv
