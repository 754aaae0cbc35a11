// Store's collection types: hashes and sets, with Redis 7.0's semantics, replies (RESP2 and
// RESP3) and error texts, including which error wins when several apply. Like the rest of
// Store::execute, each command is a function of (state, command, now_ms) only.
//
// Every change to a collection reaches the ChangeSink one element at a time (on_element), and
// a collection that loses its last element is removed with its key, as Redis does.
//
// Randomness. SRANDMEMBER and HRANDFIELD only read: they draw from the Store's own generator
// (as RANDOMKEY does), so on a follower they may answer differently than on the leader, which
// is as random as Redis. SPOP changes the set, and every replica of a primary keyspace must
// remove the same members. Its choice is therefore a function of the set's *content* and the
// replicated command: pick_element (below) returns the member whose hash follows a seed drawn
// from (key, now_ms of the log entry, the set's size, the draw's number) in the order of
// bit-reversed hashes. That order does not depend on the member table's bucket count, chain
// order or resize in progress, all of which differ between a replica that applied the log and
// one that installed a snapshot image, so every replica removes the same members. (The
// alternative, the leader rewriting SPOP into SREM of its choice, would choose against the
// leader's applied state while earlier entries may still be in flight.)
#include <fmt/format.h>
#include <xxhash.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_set>
#include <vector>

#include "core/text.h"
#include "node/glob.h"
#include "node/store.h"
#include "node/store_util.h"
#include "node/zset_index.h"

namespace rkv {

using Args = std::span<const std::string_view>;
using namespace store_util;

namespace {

constexpr std::string_view kErrNotFloat = "ERR value is not a valid float";
// Redis's thresholds for its compact encodings (hash-max-listpack-entries/-value,
// set-max-intset-entries), used for OBJECT ENCODING and for answering HSCAN/SSCAN of a
// small collection in one call as Redis does.
constexpr size_t kListpackEntries = 128;
constexpr size_t kListpackValue = 64;
constexpr size_t kIntsetEntries = 512;

uint64_t mix(uint64_t z) {  // splitmix64's finalizer
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// The element that follows `seed` in the cyclic order of reverse_bits(hash) (ties by bytes):
// a function of the table's content alone. KeyTable::scan visits bucket regions in ascending
// order of reversed hash whatever the table's size (that is what makes SCAN cursors survive a
// resize), so the walk stops at the first region holding a candidate: O(1) buckets expected.
// Precondition: t is not empty.
const KeyTable::Entry* pick_element(const KeyTable& t, uint64_t seed) {
  const auto reverse_bits = &KeyTable::reverse_bits;
  RKV_ASSERT(t.size() > 0);
  const KeyTable::Entry* best = nullptr;
  auto consider = [&](const KeyTable::Entry& e) {
    if (!best) {
      best = &e;
      return;
    }
    const uint64_t a = reverse_bits(e.hash), b = reverse_bits(best->hash);
    if (a < b || (a == b && e.key.view() < best->key.view())) best = &e;
  };
  // From the seed's region to the end: in the seed's own region, only elements at or past it.
  bool first = true;
  uint64_t c = reverse_bits(seed);
  do {
    c = t.scan(c, [&](const KeyTable::Entry& e) {
      if (!first || reverse_bits(e.hash) >= seed) consider(e);
    });
    first = false;
  } while (!best && c != 0);
  // Wrapped around: the smallest element overall.
  while (!best) {
    c = t.scan(c, consider);
  }
  return best;
}

// A cursor as Redis reads one (strtoul over the whole argument): an optional sign (a negative
// number wraps around), digits, nothing else; "" is 0; out of range is an error.
bool parse_cursor(std::string_view s, uint64_t* out) {
  size_t i = 0;
  bool neg = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    neg = s[0] == '-';
    i = 1;
  }
  if (i == s.size()) {
    *out = 0;
    return s.empty();
  }
  uint64_t v = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    const auto d = static_cast<uint64_t>(s[i] - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = neg ? 0 - v : v;
  return true;
}

bool is_compact_hash(const KeyTable& t) {
  if (t.size() > kListpackEntries) return false;
  bool ok = true;
  t.for_each([&](const KeyTable::Entry& e) {
    ok = ok && e.key.size() <= kListpackValue && e.value.data.size() <= kListpackValue;
  });
  return ok;
}

bool is_compact_zset(const KeyTable& t) {
  if (t.size() > kListpackEntries) return false;
  bool ok = true;
  t.for_each([&](const KeyTable::Entry& e) { ok = ok && e.key.size() <= kListpackValue; });
  return ok;
}

bool is_intset(const KeyTable& t) {
  if (t.size() > kIntsetEntries) return false;
  bool ok = true;
  int64_t v;
  t.for_each([&](const KeyTable::Entry& e) { ok = ok && parse_int64(e.key, &v); });
  return ok;
}

}  // namespace

std::string_view store_util::parse_count(std::string_view s, int64_t* out) {
  if (!parse_int64(s, out)) return kErrNotInt;
  if (*out == std::numeric_limits<int64_t>::min()) return kErrRange;
  return {};
}

// --- helpers ---

bool Store::not_string(const KeyTable::Entry* e, resp::Writer& w) {
  if (e && e->value.coll) {
    w.error(kErrWrongType);
    return true;
  }
  return false;
}

KeyTable::Entry* Store::lookup_as(uint32_t ks, std::string_view key, ValueType t, int64_t now,
                                  ChangeSink& s, resp::Writer& w, bool* wrong) {
  KeyTable::Entry* e = lookup(ks, key, now, s);
  *wrong = e && e->value.type() != t;
  if (*wrong) {
    w.error(kErrWrongType);
    return nullptr;
  }
  return e;
}

KeyTable::Entry* Store::lookup_or_create(uint32_t ks, std::string_view key, ValueType t,
                                         KeyTable::Entry* known, ChangeSink& s) {
  if (known) return known;
  KeyTable& table = keyspaces_[ks].table;
  bool inserted = false;
  KeyTable::Entry* e = table.upsert(key, &inserted);
  if (!inserted) {  // an expired key that a read of a replicated keyspace left in place
    erase(ks, key, s);
    e = table.upsert(key, &inserted);
  }
  e->value = Value(t);
  touch(e, now_ms_);
  s.on_put(ks, key, e->value);
  return e;
}

bool Store::element_put(uint32_t ks, KeyTable::Entry* e, std::string_view elem,
                        std::string_view value, ChangeSink& s, KeyTable::Entry** out) {
  KeyTable& t = e->value.coll->elems;
  const size_t before = t.payload_bytes();
  bool inserted = false;
  KeyTable::Entry* el = t.upsert(elem, &inserted);
  if (out) *out = el;
  if (!inserted && el->value.data == value) return false;
  t.adjust_payload(static_cast<int64_t>(value.size()) -
                   static_cast<int64_t>(el->value.data.size()));
  el->value.data.assign(value);
  if (inserted) keyspaces_[ks].elements++;
  keyspaces_[ks].element_bytes += t.payload_bytes() - before;
  s.on_element(ks, e->key.view(), elem, &el->value.data);
  return inserted;
}

bool Store::element_del(uint32_t ks, KeyTable::Entry* e, std::string_view elem, ChangeSink& s) {
  KeyTable& t = e->value.coll->elems;
  const size_t before = t.payload_bytes();
  if (!t.erase(elem)) return false;
  keyspaces_[ks].elements--;
  keyspaces_[ks].element_bytes -= before - t.payload_bytes();
  s.on_element(ks, e->key.view(), elem, nullptr);
  return true;
}

bool Store::set_element(uint32_t ks, std::string_view key, std::string_view elem,
                        const std::string* value, ChangeSink& s) {
  KeyTable::Entry* e = keyspaces_[ks].table.find(key);
  if (!e || !e->value.coll || e->value.coll->type == ValueType::kList) return false;
  Collection& c = *e->value.coll;
  const KeyTable::Entry* old = c.elems.find(elem);
  if (!value) {
    if (!old) return true;
    if (c.type == ValueType::kZset) {
      zset_del(ks, e, elem, s);
    } else {
      element_del(ks, e, elem, s);
    }
    drop_if_empty(ks, key, s);
    return true;
  }
  const std::string_view v = c.type == ValueType::kSet ? std::string_view() : *value;
  if (old && old->value.data == v) return true;
  if (c.type == ValueType::kZset) {
    double score;
    if (!decode_score(v, &score)) return false;
    zset_put(ks, e, elem, score, old, s);
  } else {
    element_put(ks, e, elem, v, s);
  }
  return true;
}

void Store::drop_if_empty(uint32_t ks, std::string_view key, ChangeSink& s) {
  const KeyTable::Entry* e = keyspaces_[ks].table.find(key);
  if (e && e->value.coll && e->value.coll->size() == 0) erase(ks, key, s);
}

// --- hashes ---

void Store::cmd_hset(Args a, int64_t now, bool hmset, resp::Writer& w, ChangeSink& s) {
  if (a.size() % 2 != 0) {
    return w.error(
        fmt::format("ERR wrong number of arguments for '{}' command", hmset ? "hmset" : "hset"));
  }
  const uint32_t ks = route(a[1]);
  bool wrong;
  KeyTable::Entry* e = lookup_as(ks, a[1], ValueType::kHash, now, s, w, &wrong);
  if (wrong) return;
  e = lookup_or_create(ks, a[1], ValueType::kHash, e, s);
  int64_t added = 0;
  for (size_t i = 2; i < a.size(); i += 2)
    added += element_put(ks, e, a[i], a[i + 1], s) ? 1 : 0;
  hmset ? w.ok() : w.integer(added);
}

void Store::cmd_hsetnx(Args a, int64_t now, resp::Writer& w, ChangeSink& s) {
  const uint32_t ks = route(a[1]);
  bool wrong;
  KeyTable::Entry* e = lookup_as(ks, a[1], ValueType::kHash, now, s, w, &wrong);
  if (wrong) return;
  if (e && e->value.coll->elems.find(a[2])) return w.integer(0);
  e = lookup_or_create(ks, a[1], ValueType::kHash, e, s);
  element_put(ks, e, a[2], a[3], s);
  w.integer(1);
}

void Store::cmd_hget(Args a, int64_t now, resp::Writer& w, ChangeSink& s) {
  bool wrong;
  const KeyTable::Entry* e = lookup_as(route(a[1]), a[1], ValueType::kHash, now, s, w, &wrong);
  if (wrong) return;
  const KeyTable::Entry* f = e ? e->value.coll->elems.find(a[2]) : nullptr;
  f ? w.bulk(f->value.data) : w.null();
}

void Store::cmd_hmget(Args a, int64_t now, resp::Writer& w, ChangeSink& s) {
  bool wrong;
  const KeyTable::Entry* e = lookup_as(route(a[1]), a[1], ValueType::kHash, now, s, w, &wrong);
  if (wrong) return;
  w.array(a.size() - 2);
  for (size_t i = 2; i < a.size(); ++i) {
    const KeyTable::Entry* f = e ? e->value.coll->elems.find(a[i]) : nullptr;
    f ? w.bulk(f->value.data) : w.null();
  }
}

// HDEL and SREM: removes the named elements, the key with the last of them.
void Store::cmd_remove_elements(Args a, int64_t now, ValueType type, resp::Writer& w,
                                ChangeSink& s) {
  const uint32_t ks = route(a[1]);
  bool wrong;
  KeyTable::Entry* e = lookup_as(ks, a[1], type, now, s, w, &wrong);
  if (wrong) return;
  if (!e) return w.integer(0);
  int64_t n = 0;
  for (size_t i = 2; i < a.size() && e->value.coll->elems.size() > 0; ++i)
    n += element_del(ks, e, a[i], s) ? 1 : 0;
  drop_if_empty(ks, a[1], s);
  w.integer(n);
}

void Store::cmd_hexists(Args a, int64_t now, resp::Writer& w, ChangeSink& s) {
  bool wrong;
  const KeyTable::Entry* e = lookup_as(route(a[1]), a[1], ValueType::kHash, now, s, w, &wrong);
  if (wrong) return;
  w.integer(e && e->value.coll->elems.find(a[2]) ? 1 : 0);
}

// HLEN, SCARD, ZCARD and LLEN: the number of elements (0 for a missing key).
void Store::cmd_card(Args a, int64_t now, ValueType type, resp::Writer& w, ChangeSink& s) {
  bool wrong;
  const KeyTable::Entry* e = lookup_as(route(a[1]), a[1], type, now, s, w, &wrong);
  if (wrong) return;
  w.integer(e ? static_cast<int64_t>(e->value.coll->size()) : 0);
}

void Store::cmd_hstrlen(Args a, int64_t now, resp::Writer& w, ChangeSink& s) {
  bool wrong;
  const KeyTable::Entry* e = lookup_as(route(a[1]), a[1], ValueType::kHash, now, s, w, &wrong);
  if (wrong) return;
  const KeyTable::Entry* f = e ? e->value.coll->elems.find(a[2]) : nullptr;
  w.integer(f ? static_cast<int64_t>(f->value.data.size()) : 0);
}

void Store::cmd_hgetall(Args a, int64_t now, bool keys, bool values, resp::Writer& w,
                        ChangeSink& s) {
  bool wrong;
  const KeyTable::Entry* e = lookup_as(route(a[1]), a[1], ValueType::kHash, now, s, w, &wrong);
  if (wrong) return;
  const size_t n = e ? e->value.coll->elems.size() : 0;
  if (keys && values) {
    w.map(n);
  } else {
    w.array(n);
  }
  if (!e) return;
  e->value.coll->elems.for_each([&](const KeyTable::Entry& f) {
    if (keys) w.bulk(f.key);
    if (values) w.bulk(f.value.data);
  });
}

// HINCRBY: the increment is checked before the key, as Redis does; the result is stored as
// its decimal text.
void Store::cmd_hincrby(Args a, int64_t now, resp::Writer& w, ChangeSink& s) {
  int64_t incr;
  if (!parse_int64(a[3], &incr)) return w.error(kErrNotInt);
  const uint32_t ks = route(a[1]);
  bool wrong;
  KeyTable::Entry* e = lookup_as(ks, a[1], ValueType::kHash, now, s, w, &wrong);
  if (wrong) return;
  int64_t cur = 0;
  if (const KeyTable::Entry* f = e ? e->value.coll->elems.find(a[2]) : nullptr) {
    if (!parse_int64(f->value.data, &cur)) return w.error("ERR hash value is not an integer");
  }
  int64_t next;
  if (!checked_add(cur, incr, &next)) return w.error("ERR increment or decrement would overflow");
  e = lookup_or_create(ks, a[1], ValueType::kHash, e, s);
  element_put(ks, e, a[2], std::to_string(next), s);
  w.integer(next);
}

// HINCRBYFLOAT computes in long double and stores Redis's "human" text, as INCRBYFLOAT does
// (and, as there, every replica computes the same text).
void Store::cmd_hincrbyfloat(Args a, int64_t now, resp::Writer& w, ChangeSink& s) {
  long double incr, cur = 0;
  if (!parse_long_double(a[3], &incr)) return w.error(kErrNotFloat);
  if (std::isnan(incr) || std::isinf(incr)) return w.error("ERR value is NaN or Infinity");
  const uint32_t ks = route(a[1]);
  bool wrong;
  KeyTable::Entry* e = lookup_as(ks, a[1], ValueType::kHash, now, s, w, &wrong);
  if (wrong) return;
  if (const KeyTable::Entry* f = e ? e->value.coll->elems.find(a[2]) : nullptr) {
    if (!parse_long_double(f->value.data, &cur)) return w.error("ERR hash value is not a float");
  }
  cur += incr;
  if (std::isnan(cur) || std::isinf(cur)) {
    return w.error("ERR increment would produce NaN or Infinity");
  }
  const std::string text = format_long_double(cur);
  e = lookup_or_create(ks, a[1], ValueType::kHash, e, s);
  element_put(ks, e, a[2], text, s);
  w.bulk(text);
}

// HRANDFIELD key [count [WITHVALUES]] and ZRANDMEMBER key [count [WITHSCORES]]: a positive
// count picks distinct elements (the whole collection when it has no more), a negative one
// |count| elements that may repeat.
void Store::cmd_randfield(Args a, int64_t now, ValueType type, resp::Writer& w, ChangeSink& s) {
  const bool zset = type == ValueType::kZset;
  int64_t count = 0;
  bool with_values = false;
  if (a.size() >= 3) {
    if (auto err = parse_count(a[2], &count); !err.empty()) return w.error(err);
    const std::string_view option = zset ? "withscores" : "withvalues";
    if (a.size() > 4 || (a.size() == 4 && !iequals(a[3], option))) return w.error(kErrSyntax);
    if (a.size() == 4) {
      with_values = true;
      constexpr int64_t kHalf = std::numeric_limits<int64_t>::max() / 2;
      if (count < -kHalf || count > kHalf) return w.error("ERR value is out of range");
    }
  }
  bool wrong;
  const KeyTable::Entry* e = lookup_as(route(a[1]), a[1], type, now, s, w, &wrong);
  if (wrong) return;
  if (a.size() == 2) {
    if (!e) return w.null();
    return w.bulk(pick_element(e->value.coll->elems, next_random())->key);
  }
  if (!e || count == 0) return w.array(0);
  const std::vector<const KeyTable::Entry*> picks = random_elements(e->value.coll->elems, count);
  const bool pairs = with_values && w.proto() >= 3;
  w.array(with_values && !pairs ? picks.size() * 2 : picks.size());
  for (const KeyTable::Entry* f : picks) {
    if (pairs) w.array(2);
    w.bulk(f->key);
    if (!with_values) continue;
    if (zset) {
      double score = 0;
      decode_score(f->value.data, &score);
      reply_score(w, score);
    } else {
      w.bulk(f->value.data);
    }
  }
}

std::vector<const KeyTable::Entry*> Store::random_elements(const KeyTable& t, int64_t count) {
  std::vector<const KeyTable::Entry*> out;
  const size_t size = t.size();
  if (count < 0) {  // with repetition
    const uint64_t n = 0 - static_cast<uint64_t>(count);
    out.reserve(static_cast<size_t>(std::min<uint64_t>(n, 1u << 20)));
    for (uint64_t i = 0; i < n; ++i)
      out.push_back(pick_element(t, next_random()));
    return out;
  }
  const auto n = static_cast<uint64_t>(count);
  if (n >= size || n * 3 > size) {  // most of it: a partial shuffle of every element
    t.for_each([&](const KeyTable::Entry& e) { out.push_back(&e); });
    if (n >= size) return out;
    for (size_t i = 0; i < n; ++i)
      std::swap(out[i], out[i + next_random() % (size - i)]);
    out.resize(n);
    return out;
  }
  std::unordered_set<const KeyTable::Entry*> seen;
  while (out.size() < n) {
    const KeyTable::Entry* e = pick_element(t, next_random());
    if (seen.insert(e).second) out.push_back(e);
  }
  return out;
}

// HSCAN, SSCAN and ZSCAN: the cursor first, then the key, then the options, as Redis checks them. A
// collection Redis would keep in a compact encoding is answered whole, with cursor 0, as Redis
// answers it; a larger one walks the member table's buckets (the cursor then stays valid while
// the collection changes: every element present throughout is returned at least once).
void Store::cmd_cscan(Args a, int64_t now, ValueType type, resp::Writer& w, ChangeSink& s) {
  uint64_t cursor = 0;
  if (!parse_cursor(a[2], &cursor)) return w.error("ERR invalid cursor");
  bool wrong;
  const KeyTable::Entry* e = lookup_as(route(a[1]), a[1], type, now, s, w, &wrong);
  if (wrong) return;
  if (!e) {
    w.array(2);
    w.bulk("0");
    return w.array(0);
  }
  std::string_view pattern;
  bool has_pattern = false;
  int64_t count = 10;
  for (size_t i = 3; i < a.size(); ++i) {
    if (iequals(a[i], "count") && i + 1 < a.size()) {
      if (!parse_int64(a[++i], &count)) return w.error(kErrNotInt);
      if (count < 1) return w.error(kErrSyntax);
    } else if (iequals(a[i], "match") && i + 1 < a.size()) {
      pattern = a[++i];
      has_pattern = !(pattern.size() == 1 && pattern[0] == '*');
    } else {
      return w.error(kErrSyntax);
    }
  }
  const KeyTable& t = e->value.coll->elems;
  const bool pairs = type != ValueType::kSet;
  std::vector<const KeyTable::Entry*> found;
  auto visit = [&](const KeyTable::Entry& el) {
    if (!has_pattern || glob_match(pattern, el.key)) found.push_back(&el);
  };
  uint64_t next = 0;
  if (type == ValueType::kZset && is_compact_zset(t)) {
    // A listpack in Redis: answered whole, in score order.
    for (const ZsetIndex::Node* x = e->value.coll->index->first(); x; x = x->next())
      visit(*x->entry());
  } else if (type == ValueType::kHash ? is_compact_hash(t)
                                      : type == ValueType::kSet && is_intset(t)) {
    t.for_each(visit);
  } else {
    int64_t visited = 0;
    next = cursor;
    do {
      next = t.scan(next, [&](const KeyTable::Entry& el) {
        ++visited;
        visit(el);
      });
    } while (next != 0 && visited < count);
  }
  w.array(2);
  w.bulk(std::to_string(next));
  w.array(found.size() * (pairs ? 2 : 1));
  for (const KeyTable::Entry* el : found) {
    w.bulk(el->key);
    if (type == ValueType::kHash) w.bulk(el->value.data);
    if (type != ValueType::kZset) continue;
    double score = 0;
    decode_score(el->value.data, &score);
    w.bulk(format_score(score));
  }
}

// --- sets ---

void Store::cmd_sadd(Args a, int64_t now, resp::Writer& w, ChangeSink& s) {
  const uint32_t ks = route(a[1]);
  bool wrong;
  KeyTable::Entry* e = lookup_as(ks, a[1], ValueType::kSet, now, s, w, &wrong);
  if (wrong) return;
  e = lookup_or_create(ks, a[1], ValueType::kSet, e, s);
  int64_t added = 0;
  for (size_t i = 2; i < a.size(); ++i)
    added += element_put(ks, e, a[i], {}, s) ? 1 : 0;
  w.integer(added);
}

void Store::cmd_sismember(Args a, int64_t now, bool multi, resp::Writer& w, ChangeSink& s) {
  bool wrong;
  const KeyTable::Entry* e = lookup_as(route(a[1]), a[1], ValueType::kSet, now, s, w, &wrong);
  if (wrong) return;
  auto has = [&](std::string_view m) { return e && e->value.coll->elems.find(m) ? 1 : 0; };
  if (!multi) return w.integer(has(a[2]));
  w.array(a.size() - 2);
  for (size_t i = 2; i < a.size(); ++i)
    w.integer(has(a[i]));
}

// SPOP key [count]: the members removed are chosen by pick_element from a seed of replicated
// information only (see the top of this file), so every replica removes the same ones.
void Store::cmd_spop(Args a, int64_t now, resp::Writer& w, ChangeSink& s) {
  int64_t count = 1;
  if (a.size() > 3) return w.error(kErrSyntax);
  if (a.size() == 3 && (!parse_int64(a[2], &count) || count < 0)) {
    return w.error("ERR value is out of range, must be positive");
  }
  const uint32_t ks = route(a[1]);
  bool wrong;
  KeyTable::Entry* e = lookup_as(ks, a[1], ValueType::kSet, now, s, w, &wrong);
  if (wrong) return;
  if (a.size() == 2 && !e) return w.null();
  if (!e || count == 0) return w.set(0);
  const uint64_t base = XXH3_64bits(a[1].data(), a[1].size()) ^ mix(static_cast<uint64_t>(now));
  const KeyTable& t = e->value.coll->elems;
  const auto n = static_cast<size_t>(std::min<uint64_t>(static_cast<uint64_t>(count), t.size()));
  std::vector<std::string> popped;
  popped.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const uint64_t seed = mix(base ^ mix(t.size()) ^ mix(i + 1));
    popped.push_back(pick_element(t, seed)->key.str());
    element_del(ks, e, popped.back(), s);
  }
  drop_if_empty(ks, a[1], s);
  if (a.size() == 2) return w.bulk(popped[0]);
  w.set(popped.size());
  for (const std::string& m : popped)
    w.bulk(m);
}

void Store::cmd_srandmember(Args a, int64_t now, resp::Writer& w, ChangeSink& s) {
  int64_t count = 0;
  if (a.size() > 3) return w.error(kErrSyntax);
  if (a.size() == 3) {
    if (auto err = parse_count(a[2], &count); !err.empty()) return w.error(err);
  }
  bool wrong;
  const KeyTable::Entry* e = lookup_as(route(a[1]), a[1], ValueType::kSet, now, s, w, &wrong);
  if (wrong) return;
  if (a.size() == 2) {
    if (!e) return w.null();
    return w.bulk(pick_element(e->value.coll->elems, next_random())->key);
  }
  if (!e || count == 0) return w.array(0);
  const auto picks = random_elements(e->value.coll->elems, count);
  w.array(picks.size());
  for (const KeyTable::Entry* m : picks)
    w.bulk(m->key);
}

void Store::cmd_smove(Args a, int64_t now, resp::Writer& w, ChangeSink& s) {
  const uint32_t src_ks = route(a[1]), dst_ks = route(a[2]);
  KeyTable::Entry* src = lookup(src_ks, a[1], now, s);
  KeyTable::Entry* dst = lookup(dst_ks, a[2], now, s);
  if (!src) return w.integer(0);
  if (src->value.type() != ValueType::kSet || (dst && dst->value.type() != ValueType::kSet)) {
    return w.error(kErrWrongType);
  }
  if (src == dst) return w.integer(src->value.coll->elems.find(a[3]) ? 1 : 0);
  if (!element_del(src_ks, src, a[3], s)) return w.integer(0);
  drop_if_empty(src_ks, a[1], s);
  dst = lookup_or_create(dst_ks, a[2], ValueType::kSet, dst, s);
  element_put(dst_ks, dst, a[3], {}, s);
  w.integer(1);
}

// SINTER SUNION SDIFF (and SMEMBERS, an intersection of one), with a[1] the destination for
// the *STORE forms. Every source's type is checked before anything else, as Redis 7.0 does.
void Store::cmd_setop(Args a, int64_t now, SetOp op, bool store, resp::Writer& w, ChangeSink& s) {
  const size_t first = store ? 2 : 1;
  std::vector<const KeyTable*> sets;  // nullptr: a missing key (an empty set)
  for (size_t i = first; i < a.size(); ++i) {
    bool wrong;
    const KeyTable::Entry* e = lookup_as(route(a[i]), a[i], ValueType::kSet, now, s, w, &wrong);
    if (wrong) return;
    sets.push_back(e ? &e->value.coll->elems : nullptr);
  }
  std::vector<std::string_view> result;
  auto has = [](const KeyTable* t, std::string_view m) { return t && t->find(m) != nullptr; };
  if (op == SetOp::kInter) {
    const bool any_missing = std::find(sets.begin(), sets.end(), nullptr) != sets.end();
    if (!any_missing) {
      // Walk the smallest set, probe the others.
      const KeyTable* small = *std::min_element(
          sets.begin(), sets.end(), [](auto* x, auto* y) { return x->size() < y->size(); });
      small->for_each([&](const KeyTable::Entry& m) {
        for (const KeyTable* t : sets) {
          if (t != small && !has(t, m.key)) return;
        }
        result.push_back(m.key.view());
      });
    }
  } else if (op == SetOp::kUnion) {
    std::unordered_set<std::string_view> seen;
    for (const KeyTable* t : sets) {
      if (!t) continue;
      t->for_each([&](const KeyTable::Entry& m) {
        if (seen.insert(m.key.view()).second) result.push_back(m.key.view());
      });
    }
  } else if (sets[0]) {
    sets[0]->for_each([&](const KeyTable::Entry& m) {
      for (size_t i = 1; i < sets.size(); ++i) {
        if (has(sets[i], m.key)) return;
      }
      result.push_back(m.key.view());
    });
  }
  if (!store) {
    w.set(result.size());
    for (std::string_view m : result)
      w.bulk(m);
    return;
  }
  const uint32_t dst_ks = route(a[1]);
  const auto n = static_cast<int64_t>(result.size());
  if (result.empty()) {
    if (lookup(dst_ks, a[1], now, s)) erase(dst_ks, a[1], s);
    return w.integer(0);
  }
  // The result is copied out of the sources before the destination (maybe one of them) goes.
  Value v(ValueType::kSet);
  for (std::string_view m : result) {
    bool inserted = false;
    v.coll->elems.upsert(m, &inserted);
  }
  put_value(dst_ks, a[1], std::move(v), s, lookup(dst_ks, a[1], now, s));
  w.integer(n);
}

// SINTERCARD numkeys key [key ...] [LIMIT limit]: the arguments are checked before the keys.
void Store::cmd_sintercard(Args a, int64_t now, resp::Writer& w, ChangeSink& s) {
  int64_t numkeys;
  if (!parse_int64(a[1], &numkeys) || numkeys < 1) {
    return w.error("ERR numkeys should be greater than 0");
  }
  if (static_cast<uint64_t>(numkeys) > a.size() - 2) {
    return w.error("ERR Number of keys can't be greater than number of args");
  }
  int64_t limit = 0;
  for (size_t i = 2 + static_cast<size_t>(numkeys); i < a.size(); ++i) {
    if (iequals(a[i], "limit") && i + 1 < a.size()) {
      // As Redis: one message for a negative and a non-integer limit.
      if (!parse_int64(a[++i], &limit) || limit < 0) {
        return w.error("ERR LIMIT can't be negative");
      }
    } else {
      return w.error(kErrSyntax);
    }
  }
  std::vector<const KeyTable*> sets;
  bool any_missing = false;
  for (size_t i = 2; i < 2 + static_cast<size_t>(numkeys); ++i) {
    bool wrong;
    const KeyTable::Entry* e = lookup_as(route(a[i]), a[i], ValueType::kSet, now, s, w, &wrong);
    if (wrong) return;
    if (!e) {
      any_missing = true;
      continue;
    }
    sets.push_back(&e->value.coll->elems);
  }
  if (any_missing) return w.integer(0);
  const KeyTable* small = *std::min_element(sets.begin(), sets.end(),
                                            [](auto* x, auto* y) { return x->size() < y->size(); });
  int64_t n = 0;
  // for_each cannot stop early; past the limit, the rest is skipped cheaply.
  small->for_each([&](const KeyTable::Entry& m) {
    if (limit > 0 && n >= limit) return;
    for (const KeyTable* t : sets) {
      if (t != small && !t->find(m.key)) return;
    }
    ++n;
  });
  w.integer(n);
}

// OBJECT ENCODING key (and REFCOUNT, IDLETIME, FREQ as far as they mean something here). The
// encoding is the one Redis 7.0 would report for the value's present content: Redis converts
// a value to its larger encoding once and never back, and a string changed by APPEND or
// SETRANGE is "raw" there however short; replikv keeps one representation per type and
// reports what Redis would for a value freshly written with this content.
void Store::cmd_object(Args a, int64_t now, resp::Writer& w, ChangeSink& s) {
  const std::string_view sub = a[1];
  const bool known = iequals(sub, "encoding") || iequals(sub, "refcount") ||
                     iequals(sub, "idletime") || iequals(sub, "freq");
  if (!known) {
    return w.error(fmt::format("ERR unknown subcommand '{}'. Try OBJECT HELP.", sub));
  }
  if (a.size() != 3) {
    std::string lower(sub);
    for (char& c : lower)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return w.error(fmt::format("ERR wrong number of arguments for 'object|{}' command", lower));
  }
  // OBJECT does not count as an access: the key's access record is read before the lookup.
  const uint32_t ks = route(a[2]);
  const KeyTable::Entry* raw = keyspaces_[ks].table.find(a[2]);
  const uint32_t meta = raw ? raw->key.meta() : 0;
  const KeyTable::Entry* e = lookup(ks, a[2], now, s);
  if (!e) return w.null();
  if (iequals(sub, "refcount")) return w.integer(1);
  if (iequals(sub, "idletime") && access_lfu_) {
    return w.error(
        "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when "
        "switching between policies at runtime LRU and LFU data will take some time to adjust.");
  }
  if (iequals(sub, "idletime")) {
    const uint32_t idle = eviction::lru_idle(eviction::lru_clock(now), meta);
    return w.integer(static_cast<int64_t>(idle) * eviction::kLruTickMs / 1000);
  }
  if (iequals(sub, "freq") && access_lfu_) {
    return w.integer(eviction::lfu_counter(meta, now));
  }
  if (iequals(sub, "freq")) {
    return w.error(
        "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note "
        "that when switching between policies at runtime LRU and LFU data will take some time "
        "to adjust.");
  }
  const Value& v = e->value;
  switch (v.type()) {
    case ValueType::kString: {
      int64_t n;
      if (v.data.size() <= 20 && parse_int64(v.data, &n)) return w.bulk("int");
      return w.bulk(v.data.size() <= 44 ? "embstr" : "raw");
    }
    case ValueType::kHash:
      return w.bulk(is_compact_hash(v.coll->elems) ? "listpack" : "hashtable");
    case ValueType::kSet:
      return w.bulk(is_intset(v.coll->elems) ? "intset" : "hashtable");
    case ValueType::kZset:
      return w.bulk(is_compact_zset(v.coll->elems) ? "listpack" : "skiplist");
    case ValueType::kList:  // Redis 7.0 keeps every list in a quicklist (7.2 added listpack)
      return w.bulk("quicklist");
    default:
      return w.bulk("unknown");
  }
}

}  // namespace rkv
