// Store's lists, with Redis 7.0's semantics, replies (RESP2 and RESP3) and error texts,
// including which error wins when several apply. Like the rest of Store::execute, each command
// is a function of (state, command, now_ms) only.
//
// Rows. Each element is stored under its position (ListValue::position_id), so a push or a pop
// reaches the ChangeSink as one element. Commands that change the middle of a list move the
// elements on the cheaper side of the change by one position and rewrite their rows: LINSERT
// and LREM write at most half the list (Redis's are O(n) too), LSET one row, LTRIM removes the
// rows of what it trims. A list that loses its last element is removed with its key.
//
// Blocking commands. BLPOP, BRPOP, BLMOVE, BRPOPLPUSH and BLMPOP execute here in their
// non-blocking form: they pop when they can, and otherwise reply nil (a null array; BLMOVE and
// BRPOPLPUSH a null bulk, as Redis answers them where blocking is not allowed). Waiting is the
// runtime's business: a connection whose blocking command answered nil waits for a change to
// its keys and runs the command again (runtime/connection.cc). A nil answer is never a
// successful pop, which is what lets the runtime tell the two apart in any replication model.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <vector>

#include "core/text.h"
#include "node/list_value.h"
#include "node/store.h"
#include "node/store_util.h"

namespace rkv {

using Args = std::span<const std::string_view>;
using namespace store_util;

namespace {

constexpr std::string_view kErrNoKey = "ERR no such key";

// LEFT or RIGHT (any case): true with *front set, false for anything else.
bool parse_end(std::string_view s, bool* front) {
  if (iequals(s, "left")) {
    *front = true;
    return true;
  }
  if (iequals(s, "right")) {
    *front = false;
    return true;
  }
  return false;
}

// Redis's getPositiveLongFromObjectOrReply(msg): one message for a negative and a non-integer.
bool parse_non_negative(std::string_view s, int64_t* out) {
  return parse_int64(s, out) && *out >= 0;
}

// [start, stop] of a list of n elements, Redis's way (negative from the end, clamped); false
// when the range is empty.
bool clamp_range(int64_t start, int64_t stop, size_t n, size_t* first, size_t* last) {
  const auto len = static_cast<int64_t>(n);
  if (start < 0) start += len;
  if (stop < 0) stop += len;
  if (start < 0) start = 0;
  if (start > stop || start >= len) return false;
  if (stop >= len) stop = len - 1;
  *first = static_cast<size_t>(start);
  *last = static_cast<size_t>(stop);
  return true;
}

}  // namespace

std::string_view parse_block_timeout(std::string_view s, int64_t now_ms, int64_t* ms) {
  long double secs;
  if (!parse_long_double(s, &secs)) return "ERR timeout is not a float or out of range";
  // As Redis 7.0's (long long)ceill(secs * 1000): a fraction of a millisecond rounds up (and
  // -0.5 ms up to 0: forever); out of range converts to the minimum on x86, which then reads
  // as negative.
  const long double t = std::ceil(secs * 1000.0L);
  constexpr long double kLimit = 9223372036854775807.0L;
  const int64_t v =
      t > -kLimit && t < kLimit ? static_cast<int64_t>(t) : std::numeric_limits<int64_t>::min();
  if (v < 0) return "ERR timeout is negative";
  if (v > 0 && v > std::numeric_limits<int64_t>::max() - now_ms) {
    return "ERR timeout is out of range";
  }
  *ms = v;
  return {};
}

// --- helpers ---

ListValue& Store::list_of(KeyTable::Entry* e) {
  RKV_ASSERT(e->value.coll && e->value.coll->list);
  return *e->value.coll->list;
}

void Store::list_counted(uint32_t ks, size_t size_before, size_t bytes_before, const ListValue& l) {
  // Unsigned arithmetic: a decrease wraps around to the right result.
  keyspaces_[ks].elements += l.size() - size_before;
  keyspaces_[ks].element_bytes += l.payload_bytes() - bytes_before;
}

void Store::list_rows(uint32_t ks, KeyTable::Entry* e, size_t from, size_t to, ChangeSink& s) {
  const ListValue& l = list_of(e);
  if (from >= to) return;
  std::string v;
  l.for_each_from(from, false, [&](size_t i, std::string_view x) {
    v.assign(x);
    s.on_element(ks, e->key.view(), ListValue::position_id(l.position(i)), &v);
    return i + 1 < to;
  });
}

void Store::list_unrow(uint32_t ks, KeyTable::Entry* e, uint64_t from, uint64_t to, ChangeSink& s) {
  for (uint64_t p = from; p != to; ++p)
    s.on_element(ks, e->key.view(), ListValue::position_id(p), nullptr);
}

void Store::list_push(uint32_t ks, KeyTable::Entry* e, std::string_view v, bool front,
                      ChangeSink& s) {
  ListValue& l = list_of(e);
  front ? l.push_front(v) : l.push_back(v);
  keyspaces_[ks].elements++;
  keyspaces_[ks].element_bytes += v.size();
  const std::string value(v);
  const uint64_t pos = front ? l.head_position() : l.position(l.size() - 1);
  s.on_element(ks, e->key.view(), ListValue::position_id(pos), &value);
}

std::string Store::list_pop(uint32_t ks, KeyTable::Entry* e, bool front, ChangeSink& s) {
  ListValue& l = list_of(e);
  const uint64_t pos = front ? l.head_position() : l.position(l.size() - 1);
  std::string v = front ? l.pop_front() : l.pop_back();
  keyspaces_[ks].elements--;
  keyspaces_[ks].element_bytes -= v.size();
  s.on_element(ks, e->key.view(), ListValue::position_id(pos), nullptr);
  return v;
}

// --- commands ---

// LPUSH RPUSH (create the list) and LPUSHX RPUSHX (only an existing one).
void Store::cmd_push(Args a, int64_t now, bool front, bool existing, resp::Writer& w,
                     ChangeSink& s) {
  const uint32_t ks = route(a[1]);
  bool wrong;
  KeyTable::Entry* e = lookup_as(ks, a[1], ValueType::kList, now, s, w, &wrong);
  if (wrong) return;
  if (!e && existing) return w.integer(0);
  e = lookup_or_create(ks, a[1], ValueType::kList, e, s);
  for (size_t i = 2; i < a.size(); ++i)
    list_push(ks, e, a[i], front, s);
  w.integer(static_cast<int64_t>(list_of(e).size()));
}

// LPOP and RPOP key [count]: the count is checked before the key; without a count the reply is
// one element, with one an array (a missing key: a null array; count 0: an empty array).
void Store::cmd_pop(Args a, int64_t now, bool front, resp::Writer& w, ChangeSink& s) {
  if (a.size() > 3) {
    return w.error(
        fmt::format("ERR wrong number of arguments for '{}' command", front ? "lpop" : "rpop"));
  }
  const bool has_count = a.size() == 3;
  int64_t count = 1;
  if (has_count && !parse_non_negative(a[2], &count)) {
    return w.error("ERR value is out of range, must be positive");
  }
  const uint32_t ks = route(a[1]);
  bool wrong;
  KeyTable::Entry* e = lookup_as(ks, a[1], ValueType::kList, now, s, w, &wrong);
  if (wrong) return;
  if (!e) return has_count ? w.null_array() : w.null();
  if (!has_count) {
    w.bulk(list_pop(ks, e, front, s));
    return drop_if_empty(ks, a[1], s);
  }
  const size_t n = std::min<uint64_t>(static_cast<uint64_t>(count), list_of(e).size());
  w.array(n);
  for (size_t i = 0; i < n; ++i)
    w.bulk(list_pop(ks, e, front, s));
  drop_if_empty(ks, a[1], s);
}

// LRANGE: the indexes are checked before the key. O(start + count) (from the nearer end).
void Store::cmd_lrange(Args a, int64_t now, resp::Writer& w, ChangeSink& s) {
  int64_t start, stop;
  if (!parse_int64(a[2], &start) || !parse_int64(a[3], &stop)) return w.error(kErrNotInt);
  bool wrong;
  KeyTable::Entry* e = lookup_as(route(a[1]), a[1], ValueType::kList, now, s, w, &wrong);
  if (wrong) return;
  size_t first, last;
  if (!e || !clamp_range(start, stop, list_of(e).size(), &first, &last)) return w.array(0);
  w.array(last - first + 1);
  list_of(e).for_each_from(first, false, [&](size_t i, std::string_view v) {
    w.bulk(v);
    return i < last;
  });
}

// LINDEX: the key is checked before the index.
void Store::cmd_lindex(Args a, int64_t now, resp::Writer& w, ChangeSink& s) {
  bool wrong;
  KeyTable::Entry* e = lookup_as(route(a[1]), a[1], ValueType::kList, now, s, w, &wrong);
  if (wrong) return;
  if (!e) return w.null();
  int64_t index;
  if (!parse_int64(a[2], &index)) return w.error(kErrNotInt);
  const ListValue& l = list_of(e);
  if (index < 0) index += static_cast<int64_t>(l.size());
  if (index < 0 || index >= static_cast<int64_t>(l.size())) return w.null();
  w.bulk(l.at(static_cast<size_t>(index)));
}

// LSET: a missing key is an error; the key is checked before the index.
void Store::cmd_lset(Args a, int64_t now, resp::Writer& w, ChangeSink& s) {
  const uint32_t ks = route(a[1]);
  bool wrong;
  KeyTable::Entry* e = lookup_as(ks, a[1], ValueType::kList, now, s, w, &wrong);
  if (wrong) return;
  if (!e) return w.error(kErrNoKey);
  int64_t index;
  if (!parse_int64(a[2], &index)) return w.error(kErrNotInt);
  ListValue& l = list_of(e);
  if (index < 0) index += static_cast<int64_t>(l.size());
  if (index < 0 || index >= static_cast<int64_t>(l.size())) {
    return w.error("ERR index out of range");
  }
  const size_t i = static_cast<size_t>(index);
  const size_t n0 = l.size(), b0 = l.payload_bytes();
  l.set(i, a[3]);
  list_counted(ks, n0, b0, l);
  list_rows(ks, e, i, i + 1, s);
  w.ok();
}

// LINSERT key BEFORE|AFTER pivot element: the element goes in with the shorter side of the
// list moving by one position (so at most half the rows are rewritten).
void Store::cmd_linsert(Args a, int64_t now, resp::Writer& w, ChangeSink& s) {
  bool after;
  if (iequals(a[2], "after")) {
    after = true;
  } else if (iequals(a[2], "before")) {
    after = false;
  } else {
    return w.error(kErrSyntax);
  }
  const uint32_t ks = route(a[1]);
  bool wrong;
  KeyTable::Entry* e = lookup_as(ks, a[1], ValueType::kList, now, s, w, &wrong);
  if (wrong) return;
  if (!e) return w.integer(0);
  ListValue& l = list_of(e);
  std::optional<size_t> pivot;
  l.for_each_from(0, false, [&](size_t i, std::string_view v) {
    if (v == a[3]) pivot = i;
    return !pivot;
  });
  if (!pivot) return w.integer(-1);
  const size_t i = *pivot + (after ? 1 : 0);
  const bool front_moves = i < l.size() - i;
  l.insert(i, a[4], front_moves);
  keyspaces_[ks].elements++;
  keyspaces_[ks].element_bytes += a[4].size();
  front_moves ? list_rows(ks, e, 0, i + 1, s) : list_rows(ks, e, i, l.size(), s);
  w.integer(static_cast<int64_t>(l.size()));
}

// LREM key count element: count > 0 from the head, < 0 from the tail, 0 every occurrence.
void Store::cmd_lrem(Args a, int64_t now, resp::Writer& w, ChangeSink& s) {
  int64_t count;
  if (!parse_int64(a[2], &count)) return w.error(kErrNotInt);
  const uint32_t ks = route(a[1]);
  bool wrong;
  KeyTable::Entry* e = lookup_as(ks, a[1], ValueType::kList, now, s, w, &wrong);
  if (wrong) return;
  if (!e) return w.integer(0);
  ListValue& l = list_of(e);
  const bool from_tail = count < 0;
  const uint64_t limit = count == 0  ? std::numeric_limits<uint64_t>::max()
                         : from_tail ? 0 - static_cast<uint64_t>(count)
                                     : static_cast<uint64_t>(count);
  std::vector<size_t> hits;
  l.for_each_from(from_tail ? l.size() - 1 : 0, from_tail, [&](size_t i, std::string_view v) {
    if (v == a[3]) hits.push_back(i);
    return hits.size() < limit;
  });
  if (hits.empty()) return w.integer(0);
  std::sort(hits.begin(), hits.end());
  const size_t n = l.size(), r = hits.size(), first = hits.front(), last = hits.back();
  if (r == n) {
    erase(ks, a[1], s);
    return w.integer(static_cast<int64_t>(r));
  }
  // Keep the head's positions (rewrite from the first hit on) or the tail's (up to the last).
  const bool front_moves = last + 1 - r < (n - r) - first;
  const uint64_t old_head = l.head_position();
  const size_t n0 = l.size(), b0 = l.payload_bytes();
  for (auto it = hits.rbegin(); it != hits.rend(); ++it)
    l.erase(*it, front_moves);
  list_counted(ks, n0, b0, l);
  if (front_moves) {
    list_rows(ks, e, 0, last + 1 - r, s);
    list_unrow(ks, e, old_head, l.head_position(), s);
  } else {
    list_rows(ks, e, first, l.size(), s);
    list_unrow(ks, e, old_head + l.size(), old_head + n, s);
  }
  w.integer(static_cast<int64_t>(r));
}

// LTRIM: the indexes are checked before the key; what is trimmed leaves from both ends.
void Store::cmd_ltrim(Args a, int64_t now, resp::Writer& w, ChangeSink& s) {
  int64_t start, stop;
  if (!parse_int64(a[2], &start) || !parse_int64(a[3], &stop)) return w.error(kErrNotInt);
  const uint32_t ks = route(a[1]);
  bool wrong;
  KeyTable::Entry* e = lookup_as(ks, a[1], ValueType::kList, now, s, w, &wrong);
  if (wrong) return;
  if (!e) return w.ok();
  ListValue& l = list_of(e);
  size_t first, last;
  if (!clamp_range(start, stop, l.size(), &first, &last)) {
    erase(ks, a[1], s);
    return w.ok();
  }
  const uint64_t head = l.head_position(), tail = l.position(l.size() - 1);
  const size_t n0 = l.size(), b0 = l.payload_bytes(), drop_back = l.size() - 1 - last;
  list_unrow(ks, e, head, head + first, s);
  list_unrow(ks, e, tail + 1 - drop_back, tail + 1, s);
  l.drop_front(first);
  l.drop_back(drop_back);
  list_counted(ks, n0, b0, l);
  w.ok();
}

// LPOS key element [RANK rank] [COUNT num] [MAXLEN len]: options first, then the key.
void Store::cmd_lpos(Args a, int64_t now, resp::Writer& w, ChangeSink& s) {
  int64_t rank = 1, count = -1, maxlen = 0;
  for (size_t i = 3; i < a.size(); ++i) {
    const bool more = i + 1 < a.size();
    if (iequals(a[i], "rank") && more) {
      if (!parse_int64(a[++i], &rank)) return w.error(kErrNotInt);
      if (rank == 0) {
        return w.error(
            "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... "
            "or use negative to start from the end of the list");
      }
    } else if (iequals(a[i], "count") && more) {
      if (!parse_non_negative(a[++i], &count)) return w.error("ERR COUNT can't be negative");
    } else if (iequals(a[i], "maxlen") && more) {
      if (!parse_non_negative(a[++i], &maxlen)) return w.error("ERR MAXLEN can't be negative");
    } else {
      return w.error(kErrSyntax);
    }
  }
  bool wrong;
  KeyTable::Entry* e = lookup_as(route(a[1]), a[1], ValueType::kList, now, s, w, &wrong);
  if (wrong) return;
  if (!e) return count >= 0 ? w.array(0) : w.null();
  const ListValue& l = list_of(e);
  const bool from_tail = rank < 0;
  // Redis negates the rank in a long: RANK -2^63 stays negative, and every match qualifies.
  const uint64_t skip = rank == std::numeric_limits<int64_t>::min() ? 0
                        : from_tail                                 ? 0 - rank - 1
                                                                    : rank - 1;
  // And Redis's test of the count against the rank overflows for that rank: no limit then.
  const bool unlimited = count == 0 || rank == std::numeric_limits<int64_t>::min();
  std::vector<int64_t> found;
  uint64_t matches = 0, scanned = 0;
  l.for_each_from(from_tail ? l.size() - 1 : 0, from_tail, [&](size_t i, std::string_view v) {
    if (maxlen != 0 && scanned++ >= static_cast<uint64_t>(maxlen)) return false;
    if (v != a[2] || matches++ < skip) return true;
    found.push_back(static_cast<int64_t>(i));
    if (count < 0) return false;  // no COUNT: the first match only
    return unlimited || found.size() < static_cast<uint64_t>(count);
  });
  if (count < 0) return found.empty() ? w.null() : w.integer(found[0]);
  w.array(found.size());
  for (int64_t i : found)
    w.integer(i);
}

// LMOVE's work once the ends are known (RPOPLPUSH, BLMOVE, BRPOPLPUSH too): the source is
// checked first, then the destination's type; a missing or empty source answers nil. The same
// key rotates its list (the source is removed only if it is still empty after the push).
void Store::move_element(Args a, int64_t now, bool from_front, bool to_front, resp::Writer& w,
                         ChangeSink& s) {
  const uint32_t src_ks = route(a[1]), dst_ks = route(a[2]);
  bool wrong;
  KeyTable::Entry* src = lookup_as(src_ks, a[1], ValueType::kList, now, s, w, &wrong);
  if (wrong) return;
  if (!src) return w.null();
  KeyTable::Entry* dst = lookup_as(dst_ks, a[2], ValueType::kList, now, s, w, &wrong);
  if (wrong) return;
  const std::string v = list_pop(src_ks, src, from_front, s);
  dst = lookup_or_create(dst_ks, a[2], ValueType::kList, dst, s);
  list_push(dst_ks, dst, v, to_front, s);
  drop_if_empty(src_ks, a[1], s);
  w.bulk(v);
}

void Store::cmd_lmove(Args a, int64_t now, resp::Writer& w, ChangeSink& s) {
  bool from_front, to_front;
  if (!parse_end(a[3], &from_front) || !parse_end(a[4], &to_front)) return w.error(kErrSyntax);
  move_element(a, now, from_front, to_front, w, s);
}

// BLMOVE src dst from to timeout and BRPOPLPUSH src dst timeout: the ends, then the timeout.
void Store::cmd_blmove(Args a, int64_t now, resp::Writer& w, ChangeSink& s) {
  bool from_front = false, to_front = true;  // BRPOPLPUSH
  if (a.size() == 6 && (!parse_end(a[3], &from_front) || !parse_end(a[4], &to_front))) {
    return w.error(kErrSyntax);
  }
  int64_t ms;
  if (auto err = parse_block_timeout(a.back(), now, &ms); !err.empty()) return w.error(err);
  move_element(a, now, from_front, to_front, w, s);
}

// BLPOP and BRPOP key [key ...] timeout: the timeout, then each key in turn: the first
// non-empty list gives an element; a key of another type before it is an error.
void Store::cmd_bpop(Args a, int64_t now, bool front, resp::Writer& w, ChangeSink& s) {
  int64_t ms;
  if (auto err = parse_block_timeout(a.back(), now, &ms); !err.empty()) return w.error(err);
  for (size_t i = 1; i + 1 < a.size(); ++i) {
    const uint32_t ks = route(a[i]);
    bool wrong;
    KeyTable::Entry* e = lookup_as(ks, a[i], ValueType::kList, now, s, w, &wrong);
    if (wrong) return;
    if (!e) continue;
    w.array(2);
    w.bulk(a[i]);
    w.bulk(list_pop(ks, e, front, s));
    return drop_if_empty(ks, a[i], s);
  }
  w.null_array();
}

// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count], and BLMPOP with the timeout before
// numkeys (checked after the other arguments, as Redis does).
void Store::cmd_lmpop(Args a, int64_t now, bool blocking, resp::Writer& w, ChangeSink& s) {
  const size_t at = blocking ? 2 : 1;
  int64_t numkeys;
  if (!parse_int64(a[at], &numkeys) || numkeys < 1) {
    return w.error("ERR numkeys should be greater than 0");
  }
  if (static_cast<uint64_t>(numkeys) >= a.size() - at - 1) return w.error(kErrSyntax);
  const size_t where = at + 1 + static_cast<size_t>(numkeys);
  bool front;
  if (!parse_end(a[where], &front)) return w.error(kErrSyntax);
  int64_t count = -1;
  for (size_t i = where + 1; i < a.size(); ++i) {
    if (count == -1 && iequals(a[i], "count") && i + 1 < a.size()) {
      if (!parse_int64(a[++i], &count) || count < 1) {
        return w.error("ERR count should be greater than 0");
      }
    } else {
      return w.error(kErrSyntax);
    }
  }
  if (blocking) {
    int64_t ms;
    if (auto err = parse_block_timeout(a[1], now, &ms); !err.empty()) return w.error(err);
  }
  count = std::max<int64_t>(count, 1);
  for (size_t i = at + 1; i < where; ++i) {
    const uint32_t ks = route(a[i]);
    bool wrong;
    KeyTable::Entry* e = lookup_as(ks, a[i], ValueType::kList, now, s, w, &wrong);
    if (wrong) return;
    if (!e) continue;
    const size_t n = std::min<uint64_t>(static_cast<uint64_t>(count), list_of(e).size());
    w.array(2);
    w.bulk(a[i]);
    w.array(n);
    for (size_t k = 0; k < n; ++k)
      w.bulk(list_pop(ks, e, front, s));
    return drop_if_empty(ks, a[i], s);
  }
  w.null_array();
}

}  // namespace rkv
