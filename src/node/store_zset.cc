// Store's sorted sets, with Redis 7.0's semantics, replies (RESP2 and RESP3) and error texts,
// including which error wins when several apply (options, then numbers, then the key).
//
// A sorted set is a Collection whose member table (elems) maps each member to its score
// (encode_score's 8 bytes: what the ChangeSink and storage rows carry, so a restore reads back
// the very same double) and whose ZsetIndex orders the members by (score, member bytes): ranks
// and ranges cost O(log n) plus the elements they return.
//
// Every range is resolved to an interval of ranks [lo, hi) first, then read forward; a
// reverse range reads the same interval and is written from its end (the index keeps no
// backward links, which saves 8 bytes a member).
//
// Determinism: ZPOPMIN/ZPOPMAX remove by order, ZREMRANGEBY* by rank interval; the lex ranges
// of a sorted set whose scores differ (unspecified in Redis) are resolved from the content
// alone (lex_span), never from the index's shape, so every replica removes the same members.
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <unordered_map>
#include <vector>

#include "core/text.h"
#include "node/store.h"
#include "node/store_util.h"
#include "node/zset_index.h"

namespace rkv {

using Args = std::span<const std::string_view>;
using namespace store_util;

std::string store_util::format_score(double d) {
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  char buf[32];
  const int n = std::snprintf(buf, sizeof(buf), "%.17g", d);
  return std::string(buf, static_cast<size_t>(n));
}

void store_util::reply_score(resp::Writer& w, double d) {
  const std::string text = format_score(d);
  if (w.proto() < 3) return w.bulk(text);
  w.raw(fmt::format(",{}\r\n", text));
}

bool store_util::parse_score(std::string_view s, double* out) {
  if (s.empty() || std::isspace(static_cast<unsigned char>(s[0]))) return false;
  const std::string buf(s);
  errno = 0;
  char* end = nullptr;
  const double d = std::strtod(buf.c_str(), &end);
  if (static_cast<size_t>(end - buf.c_str()) != buf.size() || std::isnan(d)) return false;
  if (errno == ERANGE && (std::isinf(d) || d == 0)) return false;
  *out = d;
  return true;
}

namespace {

constexpr std::string_view kErrNotFloat = "ERR value is not a valid float";
constexpr std::string_view kErrNaN = "ERR resulting score is not a number (NaN)";
constexpr std::string_view kErrScoreRange = "ERR min or max is not a float";
constexpr std::string_view kErrLexRange = "ERR min or max not valid string range item";

// One end of a score range: "5", "(5" (exclusive), "inf", "-inf". As Redis's zslParseRange:
// strtod over the rest of the argument, no NaN (an empty text reads as 0, as there).
struct ScoreBound {
  double v = 0;
  bool excl = false;
};
bool parse_score_bound(std::string_view s, ScoreBound* b) {
  b->excl = !s.empty() && s[0] == '(';
  const std::string buf(b->excl ? s.substr(1) : s);
  char* end = nullptr;
  b->v = std::strtod(buf.c_str(), &end);
  return *end == '\0' && !std::isnan(b->v);
}

// One end of a lex range: "-" (before every member), "+" (after every member), "[m"
// (inclusive) or "(m" (exclusive).
struct LexBound {
  enum Kind : uint8_t { kMinusInf, kValue, kPlusInf } kind = kValue;
  std::string_view v;
  bool excl = false;
};
bool parse_lex_bound(std::string_view s, LexBound* b) {
  if (s.empty()) return false;
  switch (s[0]) {
    case '+':
    case '-':
      if (s.size() > 1 && s[1] != '\0') return false;
      b->kind = s[0] == '+' ? LexBound::kPlusInf : LexBound::kMinusInf;
      b->excl = true;
      return true;
    case '(':
    case '[':
      b->kind = LexBound::kValue;
      b->v = s.substr(1);
      b->excl = s[0] == '(';
      return true;
    default:
      return false;
  }
}
bool lex_gte_min(std::string_view m, const LexBound& min) {
  if (min.kind != LexBound::kValue) return min.kind == LexBound::kMinusInf;
  return min.excl ? m > min.v : m >= min.v;
}
bool lex_lte_max(std::string_view m, const LexBound& max) {
  if (max.kind != LexBound::kValue) return max.kind == LexBound::kPlusInf;
  return max.excl ? m < max.v : m <= max.v;
}
// True when no member can be in the range, whatever the set holds.
bool lex_range_empty(const LexBound& min, const LexBound& max) {
  int cmp = static_cast<int>(min.kind) - static_cast<int>(max.kind);
  if (cmp == 0 && min.kind == LexBound::kValue) cmp = min.v.compare(max.v);
  return cmp > 0 || (cmp == 0 && (min.excl || max.excl));
}

// An interval of 0-based ranks, [lo, hi).
struct Span {
  size_t lo = 0, hi = 0;
  size_t size() const { return hi - lo; }
};

Span score_span(const ZsetIndex& ix, const ScoreBound& min, const ScoreBound& max) {
  const size_t lo =
      ix.count_while([&](double s, std::string_view) { return min.excl ? s <= min.v : s < min.v; });
  const size_t hi =
      ix.count_while([&](double s, std::string_view) { return max.excl ? s < max.v : s <= max.v; });
  return {lo, std::max(lo, hi)};
}

// The members in a lex range. When every score is the same (what lex ranges are meant for)
// the members are in byte order and the interval is found in O(log n). Otherwise Redis leaves
// the answer unspecified; replikv gives the one Redis gives for a small sorted set: a walk in
// order from the first member >= min (from the last member <= max when reading in reverse)
// while members stay in range — a function of the content alone.
Span lex_span(const ZsetIndex& ix, const LexBound& min, const LexBound& max, bool reverse) {
  const size_t n = ix.size();
  if (n == 0 || lex_range_empty(min, max)) return {};
  const ZsetIndex::Node* first = ix.first();
  const ZsetIndex::Node* last = ix.at(n - 1);
  if (!lex_gte_min(last->member(), min) || !lex_lte_max(first->member(), max)) return {};
  if (first->score() == last->score()) {
    const size_t lo =
        ix.count_while([&](double, std::string_view m) { return !lex_gte_min(m, min); });
    const size_t hi =
        ix.count_while([&](double, std::string_view m) { return lex_lte_max(m, max); });
    return {lo, std::max(lo, hi)};
  }
  std::vector<std::string_view> members;
  members.reserve(n);
  for (const ZsetIndex::Node* x = first; x; x = x->next())
    members.push_back(x->member());
  Span sp;
  if (!reverse) {
    while (sp.lo < n && !lex_gte_min(members[sp.lo], min))
      ++sp.lo;
    sp.hi = sp.lo;
    while (sp.hi < n && lex_lte_max(members[sp.hi], max))
      ++sp.hi;
  } else {
    sp.hi = n;
    while (sp.hi > 0 && !lex_lte_max(members[sp.hi - 1], max))
      --sp.hi;
    sp.lo = sp.hi;
    while (sp.lo > 0 && lex_gte_min(members[sp.lo - 1], min))
      --sp.lo;
  }
  return sp;
}

// Z[REM]RANGE's rank arguments made an interval (negative ranks count from the end).
Span rank_span(int64_t start, int64_t end, size_t size) {
  const auto n = static_cast<int64_t>(size);
  if (start < 0) start += n;
  if (end < 0) end += n;
  if (start < 0) start = 0;
  if (start > end || start >= n) return {};
  if (end >= n) end = n - 1;
  return {static_cast<size_t>(start), static_cast<size_t>(end) + 1};
}

// The elements of ranks `sp`, in order, or from the last when `reverse`.
std::vector<ZItem> items_of(const ZsetIndex& ix, Span sp, bool reverse) {
  std::vector<ZItem> out;
  out.reserve(sp.size());
  const ZsetIndex::Node* x = ix.at(sp.lo);
  for (size_t i = 0; i < sp.size(); ++i, x = x->next())
    out.push_back({x->member(), x->score()});
  if (reverse) std::reverse(out.begin(), out.end());
  return out;
}

// BYSCORE/BYLEX's LIMIT offset count over the interval read in the given direction: a
// negative offset skips everything and a negative count takes everything, as in Redis.
Span apply_limit(Span sp, int64_t offset, int64_t limit, bool reverse) {
  if (offset < 0 || static_cast<uint64_t>(offset) >= sp.size()) return {};
  size_t take = sp.size() - static_cast<size_t>(offset);
  if (limit >= 0) take = std::min(take, static_cast<size_t>(limit));
  if (!reverse)
    return {sp.lo + static_cast<size_t>(offset), sp.lo + static_cast<size_t>(offset) + take};
  const size_t hi = sp.hi - static_cast<size_t>(offset);
  return {hi - take, hi};
}

// A score as a sorted set keeps it: -0 becomes 0, as in Redis's listpack encoding (the one
// every small sorted set has there; its skiplist encoding would keep -0, an edge not followed).
double stored_score(double d) {
  return d == 0 ? 0.0 : d;
}

double score_of(const KeyTable::Entry& el) {
  double d = 0;
  const bool ok = decode_score(el.value.data, &d);
  RKV_ASSERT_MSG(ok, "a sorted set member without a valid score");
  return d;
}

enum class Aggregate { kSum, kMin, kMax };

void aggregate(double* target, double v, Aggregate agg) {
  switch (agg) {
    case Aggregate::kSum:
      *target += v;
      if (std::isnan(*target)) *target = 0;  // inf + -inf: 0 by Redis's convention
      break;
    case Aggregate::kMin:
      *target = std::min(*target, v);
      break;
    case Aggregate::kMax:
      *target = std::max(*target, v);
      break;
  }
}

// The members of ranks `sp`, copied (to remove them: the index views the members it holds).
std::vector<std::string> members_of(const ZsetIndex& ix, Span sp) {
  std::vector<std::string> out;
  out.reserve(sp.size());
  for (const ZItem& it : items_of(ix, sp, false))
    out.emplace_back(it.member);
  return out;
}

// One input of ZUNION/ZINTER/ZDIFF: a sorted set, or a set (every score 1).
struct Source {
  const Collection* coll;  // nullptr: a missing key (empty)
  double weight;
  size_t size() const { return coll ? coll->elems.size() : 0; }
  bool find(std::string_view m, double* score) const {
    const KeyTable::Entry* el = coll ? coll->elems.find(m) : nullptr;
    if (!el) return false;
    *score = coll->type == ValueType::kZset ? score_of(*el) : 1.0;
    return true;
  }
};

// The members (unordered) of ZUNION (kUnion), ZINTER (kInter) or ZDIFF (kDiff) over `src`,
// viewed in the sources. Scores are weighted and aggregated as Redis 7.0 does (sources smallest
// first, inf * 0 read as 0 except for ZINTER's later sources).
std::vector<ZItem> combine(Store::SetOp op, std::vector<Source> src, Aggregate agg) {
  using SetOp = Store::SetOp;
  auto weighted = [](double score, double weight) {
    const double v = score * weight;
    return std::isnan(v) ? 0.0 : v;  // inf * 0
  };
  // Visits the elements of a source (nothing for a missing key).
  auto each = [](const Source& x, auto&& fn) {
    if (!x.coll) return;
    const bool z = x.coll->type == ValueType::kZset;
    x.coll->elems.for_each(
        [&](const KeyTable::Entry& el) { fn(el.key.view(), z ? score_of(el) : 1.0); });
  };
  std::vector<ZItem> items;
  if (op == SetOp::kDiff) {
    each(src[0], [&](std::string_view m, double score) {
      double ignored;
      for (size_t i = 1; i < src.size(); ++i) {
        if (src[i].find(m, &ignored)) return;
      }
      items.push_back({m, score});
    });
  } else {
    // Smallest first, as Redis orders them (a sum adds the weighted scores in this order).
    std::stable_sort(src.begin(), src.end(),
                     [](const Source& x, const Source& y) { return x.size() < y.size(); });
    if (op == SetOp::kInter) {
      each(src[0], [&](std::string_view m, double score) {
        double acc = weighted(score, src[0].weight), other;
        for (size_t i = 1; i < src.size(); ++i) {
          if (!src[i].find(m, &other)) return;
          // As Redis: here inf * 0 stays NaN, so a sum becomes 0 and MIN/MAX ignore it.
          aggregate(&acc, other * src[i].weight, agg);
        }
        items.push_back({m, acc});
      });
    } else {
      std::unordered_map<std::string_view, size_t> at;  // member -> its place in items
      for (const Source& x : src) {
        each(x, [&](std::string_view m, double score) {
          const double v = weighted(score, x.weight);
          auto [it, fresh] = at.try_emplace(m, items.size());
          if (fresh) {
            items.push_back({m, v});
          } else {
            aggregate(&items[it->second].score, v, agg);
          }
        });
      }
    }
  }
  return items;
}

}  // namespace

void store_util::write_items(resp::Writer& w, const std::vector<ZItem>& items, bool withscores,
                             bool nested) {
  w.array(withscores && !nested ? items.size() * 2 : items.size());
  for (const ZItem& it : items) {
    if (nested) w.array(2);
    w.bulk(it.member);
    if (withscores) reply_score(w, it.score);
  }
}

// --- element helpers ---

bool Store::zset_put(uint32_t ks, KeyTable::Entry* e, std::string_view member, double score,
                     const KeyTable::Entry* old, ChangeSink& s) {
  score = stored_score(score);
  Collection& c = *e->value.coll;
  if (old) c.index->erase(score_of(*old), member);
  KeyTable::Entry* el = nullptr;
  const bool added = element_put(ks, e, member, encode_score(score), s, &el);
  c.index->insert(score, el);
  return added;
}

bool Store::zset_del(uint32_t ks, KeyTable::Entry* e, std::string_view member, ChangeSink& s) {
  Collection& c = *e->value.coll;
  const KeyTable::Entry* el = c.elems.find(member);
  if (!el) return false;
  c.index->erase(score_of(*el), member);
  return element_del(ks, e, member, s);
}

void Store::zset_store(std::string_view dst, const std::vector<ZItem>& items, int64_t now,
                       resp::Writer& w, ChangeSink& s) {
  const uint32_t ks = route(dst);
  KeyTable::Entry* old = lookup(ks, dst, now, s);
  if (items.empty()) {
    if (old) erase(ks, dst, s);
    return w.integer(0);
  }
  // Built before the destination (maybe one of the sources) is replaced.
  Value v(ValueType::kZset);
  KeyTable& t = v.coll->elems;
  for (const ZItem& it : items) {
    bool inserted = false;
    KeyTable::Entry* el = t.upsert(it.member, &inserted);
    const double score = stored_score(it.score);
    el->value.data = encode_score(score);
    t.adjust_payload(static_cast<int64_t>(el->value.data.size()));
    v.coll->index->insert(score, el);
  }
  put_value(ks, dst, std::move(v), s, old);
  w.integer(static_cast<int64_t>(items.size()));
}

// --- commands ---

// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...], and ZINCRBY key
// increment member (the INCR form; it reads options from the same place, as Redis does).
void Store::cmd_zadd(Args a, int64_t now, bool incrby, resp::Writer& w, ChangeSink& s) {
  bool nx = false, xx = false, gt = false, lt = false, ch = false, incr = incrby;
  size_t i = 2;
  for (; i < a.size(); ++i) {
    if (iequals(a[i], "nx")) {
      nx = true;
    } else if (iequals(a[i], "xx")) {
      xx = true;
    } else if (iequals(a[i], "ch")) {
      ch = true;
    } else if (iequals(a[i], "incr")) {
      incr = true;
    } else if (iequals(a[i], "gt")) {
      gt = true;
    } else if (iequals(a[i], "lt")) {
      lt = true;
    } else {
      break;
    }
  }
  const size_t rest = a.size() - i;
  if (rest == 0 || rest % 2 != 0) return w.error(kErrSyntax);
  if (nx && xx) return w.error("ERR XX and NX options at the same time are not compatible");
  if ((gt || lt) && (nx || (gt && lt))) {
    return w.error("ERR GT, LT, and/or NX options at the same time are not compatible");
  }
  const size_t pairs = rest / 2;
  if (incr && pairs > 1) {
    return w.error("ERR INCR option supports a single increment-element pair");
  }
  std::vector<double> scores(pairs);
  for (size_t j = 0; j < pairs; ++j) {
    if (!parse_score(a[i + 2 * j], &scores[j])) return w.error(kErrNotFloat);
  }
  const uint32_t ks = route(a[1]);
  bool wrong;
  KeyTable::Entry* e = lookup_as(ks, a[1], ValueType::kZset, now, s, w, &wrong);
  if (wrong) return;
  int64_t added = 0, updated = 0;
  bool processed = false;
  double result = 0;
  if (e || !xx) {
    e = lookup_or_create(ks, a[1], ValueType::kZset, e, s);
    for (size_t j = 0; j < pairs; ++j) {
      const std::string_view member = a[i + 2 * j + 1];
      double score = scores[j];
      const KeyTable::Entry* el = e->value.coll->elems.find(member);
      if (el) {
        const double cur = score_of(*el);
        if (nx) continue;
        if (incr) {
          score += cur;
          if (std::isnan(score)) return w.error(kErrNaN);
        }
        if ((lt && score >= cur) || (gt && score <= cur)) continue;
        if (score != cur) {
          zset_put(ks, e, member, score, el, s);
          ++updated;
        }
      } else if (!xx) {
        zset_put(ks, e, member, score, nullptr, s);
        ++added;
      } else {
        continue;
      }
      processed = true;
      result = score;
    }
  }
  if (!incr) return w.integer(ch ? added + updated : added);
  processed ? reply_score(w, result) : w.null();
}

void Store::cmd_zscore(Args a, int64_t now, bool multi, resp::Writer& w, ChangeSink& s) {
  bool wrong;
  const KeyTable::Entry* e = lookup_as(route(a[1]), a[1], ValueType::kZset, now, s, w, &wrong);
  if (wrong) return;
  auto reply = [&](std::string_view m) {
    const KeyTable::Entry* el = e ? e->value.coll->elems.find(m) : nullptr;
    el ? reply_score(w, score_of(*el)) : w.null();
  };
  if (!multi) return reply(a[2]);
  w.array(a.size() - 2);
  for (size_t i = 2; i < a.size(); ++i)
    reply(a[i]);
}

void Store::cmd_zrank(Args a, int64_t now, bool rev, resp::Writer& w, ChangeSink& s) {
  bool wrong;
  const KeyTable::Entry* e = lookup_as(route(a[1]), a[1], ValueType::kZset, now, s, w, &wrong);
  if (wrong) return;
  const KeyTable::Entry* el = e ? e->value.coll->elems.find(a[2]) : nullptr;
  if (!el) return w.null();
  const ZsetIndex& ix = *e->value.coll->index;
  const size_t r = ix.rank(score_of(*el), a[2]);
  w.integer(static_cast<int64_t>(rev ? ix.size() - 1 - r : r));
}

void Store::cmd_zcount(Args a, int64_t now, bool lex, resp::Writer& w, ChangeSink& s) {
  ScoreBound smin, smax;
  LexBound lmin, lmax;
  if (lex && (!parse_lex_bound(a[2], &lmin) || !parse_lex_bound(a[3], &lmax))) {
    return w.error(kErrLexRange);
  }
  if (!lex && (!parse_score_bound(a[2], &smin) || !parse_score_bound(a[3], &smax))) {
    return w.error(kErrScoreRange);
  }
  bool wrong;
  const KeyTable::Entry* e = lookup_as(route(a[1]), a[1], ValueType::kZset, now, s, w, &wrong);
  if (wrong) return;
  if (!e) return w.integer(0);
  const ZsetIndex& ix = *e->value.coll->index;
  const Span sp = lex ? lex_span(ix, lmin, lmax, false) : score_span(ix, smin, smax);
  w.integer(static_cast<int64_t>(sp.size()));
}

// The ZRANGE family. `by` and `dir` are fixed by the older commands (ZREVRANGE,
// ZRANGEBYSCORE, ...) and kAuto for ZRANGE and ZRANGESTORE, whose options choose them. The
// options are read first, then their conflicts, then the range, then the key, as in Redis.
void Store::cmd_zrange(Args a, int64_t now, ZrangeBy by, ZrangeDir dir, bool store, resp::Writer& w,
                       ChangeSink& s) {
  const size_t key = store ? 2 : 1;
  size_t min_i = key + 1, max_i = key + 2;
  bool withscores = false;
  int64_t offset = 0, limit = -1;
  for (size_t j = key + 3; j < a.size(); ++j) {
    if (!store && iequals(a[j], "withscores")) {
      withscores = true;
    } else if (iequals(a[j], "limit") && a.size() - j - 1 >= 2) {
      if (!parse_int64(a[j + 1], &offset) || !parse_int64(a[j + 2], &limit)) {
        return w.error(kErrNotInt);
      }
      j += 2;
    } else if (dir == ZrangeDir::kAuto && iequals(a[j], "rev")) {
      dir = ZrangeDir::kReverse;
    } else if (by == ZrangeBy::kAuto && iequals(a[j], "bylex")) {
      by = ZrangeBy::kLex;
    } else if (by == ZrangeBy::kAuto && iequals(a[j], "byscore")) {
      by = ZrangeBy::kScore;
    } else {
      return w.error(kErrSyntax);
    }
  }
  if (by == ZrangeBy::kAuto) by = ZrangeBy::kRank;
  const bool rev = dir == ZrangeDir::kReverse;
  // As Redis: a LIMIT whose count is -1 is as good as none.
  if (limit != -1 && by == ZrangeBy::kRank) {
    return w.error(
        "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX");
  }
  if (withscores && by == ZrangeBy::kLex) {
    return w.error("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
  }
  if (rev && by != ZrangeBy::kRank) std::swap(min_i, max_i);  // given as max, min
  int64_t start = 0, end = 0;
  ScoreBound smin, smax;
  LexBound lmin, lmax;
  if (by == ZrangeBy::kRank) {
    if (!parse_int64(a[min_i], &start) || !parse_int64(a[max_i], &end)) {
      return w.error(kErrNotInt);
    }
  } else if (by == ZrangeBy::kScore) {
    if (!parse_score_bound(a[min_i], &smin) || !parse_score_bound(a[max_i], &smax)) {
      return w.error(kErrScoreRange);
    }
  } else if (!parse_lex_bound(a[min_i], &lmin) || !parse_lex_bound(a[max_i], &lmax)) {
    return w.error(kErrLexRange);
  }
  bool wrong;
  const KeyTable::Entry* e = lookup_as(route(a[key]), a[key], ValueType::kZset, now, s, w, &wrong);
  if (wrong) return;
  std::vector<ZItem> items;
  if (e) {
    const ZsetIndex& ix = *e->value.coll->index;
    Span sp;
    if (by == ZrangeBy::kRank) {
      sp = rank_span(start, end, ix.size());
      if (rev) sp = {ix.size() - sp.hi, ix.size() - sp.lo};
    } else {
      sp = by == ZrangeBy::kScore ? score_span(ix, smin, smax) : lex_span(ix, lmin, lmax, rev);
      sp = apply_limit(sp, offset, limit, rev);
    }
    items = items_of(ix, sp, rev);
  }
  if (store) return zset_store(a[1], items, now, w, s);
  write_items(w, items, withscores, withscores && w.proto() >= 3);
}

void Store::cmd_zrem(Args a, int64_t now, resp::Writer& w, ChangeSink& s) {
  const uint32_t ks = route(a[1]);
  bool wrong;
  KeyTable::Entry* e = lookup_as(ks, a[1], ValueType::kZset, now, s, w, &wrong);
  if (wrong) return;
  if (!e) return w.integer(0);
  int64_t n = 0;
  for (size_t i = 2; i < a.size() && e->value.coll->elems.size() > 0; ++i)
    n += zset_del(ks, e, a[i], s) ? 1 : 0;
  drop_if_empty(ks, a[1], s);
  w.integer(n);
}

void Store::cmd_zremrange(Args a, int64_t now, ZrangeBy by, resp::Writer& w, ChangeSink& s) {
  int64_t start = 0, end = 0;
  ScoreBound smin, smax;
  LexBound lmin, lmax;
  if (by == ZrangeBy::kRank) {
    if (!parse_int64(a[2], &start) || !parse_int64(a[3], &end)) return w.error(kErrNotInt);
  } else if (by == ZrangeBy::kScore) {
    if (!parse_score_bound(a[2], &smin) || !parse_score_bound(a[3], &smax)) {
      return w.error(kErrScoreRange);
    }
  } else if (!parse_lex_bound(a[2], &lmin) || !parse_lex_bound(a[3], &lmax)) {
    return w.error(kErrLexRange);
  }
  const uint32_t ks = route(a[1]);
  bool wrong;
  KeyTable::Entry* e = lookup_as(ks, a[1], ValueType::kZset, now, s, w, &wrong);
  if (wrong) return;
  if (!e) return w.integer(0);
  const ZsetIndex& ix = *e->value.coll->index;
  const Span sp = by == ZrangeBy::kRank    ? rank_span(start, end, ix.size())
                  : by == ZrangeBy::kScore ? score_span(ix, smin, smax)
                                           : lex_span(ix, lmin, lmax, false);
  for (const std::string& m : members_of(ix, sp))
    zset_del(ks, e, m, s);
  drop_if_empty(ks, a[1], s);
  w.integer(static_cast<int64_t>(sp.size()));
}

// ZPOPMIN/ZPOPMAX key [count]: without a count, one flat pair; with one, RESP3 nests pairs.
void Store::cmd_zpop(Args a, int64_t now, bool max, resp::Writer& w, ChangeSink& s) {
  if (a.size() > 3) return w.error(kErrSyntax);
  int64_t count = 1;
  if (a.size() == 3 && (!parse_int64(a[2], &count) || count < 0)) {
    return w.error("ERR value is out of range, must be positive");  // both cases, as Redis
  }
  const uint32_t ks = route(a[1]);
  bool wrong;
  KeyTable::Entry* e = lookup_as(ks, a[1], ValueType::kZset, now, s, w, &wrong);
  if (wrong) return;
  if (!e || count == 0) return w.array(0);
  const ZsetIndex& ix = *e->value.coll->index;
  const size_t n = std::min<uint64_t>(static_cast<uint64_t>(count), ix.size());
  const Span sp = max ? Span{ix.size() - n, ix.size()} : Span{0, n};
  // Copied out: the replies' members are removed before they are written.
  std::vector<std::string> members;
  std::vector<ZItem> items = items_of(ix, sp, max);
  members.reserve(items.size());
  for (ZItem& it : items)
    it.member = members.emplace_back(it.member);
  for (const std::string& m : members)
    zset_del(ks, e, m, s);
  drop_if_empty(ks, a[1], s);
  write_items(w, items, true, a.size() == 3 && w.proto() >= 3);
}

// ZUNION/ZINTER/ZDIFF numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX]
// [WITHSCORES], the *STORE forms with a destination first (no WITHSCORES), and ZINTERCARD
// numkeys key [key ...] [LIMIT n]. A set counts as a sorted set whose scores are all 1. As
// Redis 7.0: numkeys, then every key's type, then the options.
void Store::cmd_zsetop(Args a, int64_t now, SetOp op, ZsetopOut out, std::string_view name,
                       resp::Writer& w, ChangeSink& s) {
  const bool store = out == ZsetopOut::kStore, card = out == ZsetopOut::kCard;
  const size_t nk = store ? 2 : 1;
  int64_t numkeys;
  if (!parse_int64(a[nk], &numkeys)) return w.error(kErrNotInt);
  if (numkeys < 1) {
    return w.error(fmt::format("ERR at least 1 input key is needed for '{}' command", name));
  }
  if (static_cast<uint64_t>(numkeys) > a.size() - nk - 1) return w.error(kErrSyntax);
  std::vector<Source> src;
  size_t j = nk + 1;
  for (int64_t i = 0; i < numkeys; ++i, ++j) {
    const KeyTable::Entry* e = lookup(route(a[j]), a[j], now, s);
    if (e && e->value.type() != ValueType::kZset && e->value.type() != ValueType::kSet) {
      return w.error(kErrWrongType);
    }
    src.push_back({e ? e->value.coll.get() : nullptr, 1.0});
  }
  Aggregate agg = Aggregate::kSum;
  bool withscores = false;
  int64_t limit = 0;  // ZINTERCARD's; 0: none
  while (j < a.size()) {
    const size_t remaining = a.size() - j;
    if (card) {
      if (remaining < 2 || !iequals(a[j], "limit")) return w.error(kErrSyntax);
      if (!parse_int64(a[j + 1], &limit) || limit < 0) {
        return w.error("ERR LIMIT can't be negative");
      }
      j += 2;
    } else if (op != SetOp::kDiff && remaining >= src.size() + 1 && iequals(a[j], "weights")) {
      ++j;
      for (Source& x : src) {
        if (!parse_score(a[j++], &x.weight)) return w.error("ERR weight value is not a float");
      }
    } else if (op != SetOp::kDiff && remaining >= 2 && iequals(a[j], "aggregate")) {
      const std::string_view v = a[j + 1];
      if (iequals(v, "sum")) {
        agg = Aggregate::kSum;
      } else if (iequals(v, "min")) {
        agg = Aggregate::kMin;
      } else if (iequals(v, "max")) {
        agg = Aggregate::kMax;
      } else {
        return w.error(kErrSyntax);
      }
      j += 2;
    } else if (!store && iequals(a[j], "withscores")) {
      withscores = true;
      ++j;
    } else {
      return w.error(kErrSyntax);
    }
  }
  std::vector<ZItem> items = combine(op, std::move(src), agg);
  if (card) {
    const auto n = static_cast<int64_t>(items.size());
    return w.integer(limit > 0 ? std::min(n, limit) : n);
  }
  // A function of the result alone, whatever order the tables were walked in.
  std::sort(items.begin(), items.end(), [](const ZItem& x, const ZItem& y) {
    return ZsetIndex::less(x.score, x.member, y.score, y.member);
  });
  if (store) return zset_store(a[1], items, now, w, s);
  write_items(w, items, withscores, withscores && w.proto() >= 3);
}

}  // namespace rkv
