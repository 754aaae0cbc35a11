#include "versions/crdt.h"

#include <algorithm>
#include <cstring>

#include "core/varint.h"

namespace rkv::versions {

void Totals::join(const Totals& o) {
  p = std::max(p, o.p);
  n = std::max(n, o.n);
  fp = std::max(fp, o.fp);
  fn = std::max(fn, o.fn);
}

namespace {

using Totals_ = std::map<Cell::CounterKey, Totals>;

void join_totals(Totals_* into, const Totals_& from) {
  for (const auto& [a, t] : from)
    (*into)[a].join(t);
}

}  // namespace

void Cell::join(const Cell& o) {
  removed.insert(o.removed.begin(), o.removed.end());
  for (const auto& [d, w] : o.live) {
    if (!removed.contains(d)) live.emplace(d, w);
  }
  for (const CDot& d : o.removed)
    live.erase(d);
  join_totals(&counter, o.counter);
  join_totals(&base, o.base);
}

void Cell::contribution(int64_t* ints, double* floats, bool* has_floats) const {
  // Per actor, what its counter holds beyond what the resets saw. A reset seen here before
  // the increments it saw (they travel in another origin's log) counts as zero until they
  // arrive, not as a negative amount.
  int64_t i = 0;
  double f = 0;
  bool hf = false;
  for (const auto& [a, c] : counter) {
    Totals b;
    if (auto it = base.find(a); it != base.end()) b = it->second;
    i += std::max<int64_t>(0, c.p - b.p) - std::max<int64_t>(0, c.n - b.n);
    const double fp = std::max(0.0, c.fp - b.fp), fn = std::max(0.0, c.fn - b.fn);
    if (fp != 0 || fn != 0) hf = true;
    f += fp - fn;
  }
  *ints = i;
  *floats = f;
  *has_floats = hf;
}

bool Cell::present() const {
  if (!live.empty()) return true;
  for (const auto& [a, c] : counter) {
    Totals b;
    if (auto it = base.find(a); it != base.end()) b = it->second;
    if (c.p > b.p || c.n > b.n || c.fp > b.fp || c.fn > b.fn) return true;
  }
  return false;
}

const Cell::Write* Cell::shown() const {
  const Write* best = nullptr;
  const CDot* best_dot = nullptr;
  for (const auto& [d, w] : live) {
    if (!best || w.hlc > best->hlc || (w.hlc == best->hlc && d.actor > best_dot->actor)) {
      best = &w;
      best_dot = &d;
    }
  }
  return best;
}

void CrdtObject::join(const CrdtObject& o) {
  type.join(o.type);
  expiry.join(o.expiry);
  for (const auto& [t, m] : o.cells) {
    auto& mine = cells[t];
    for (const auto& [e, c] : m)
      mine[e].join(c);
  }
}

const std::map<std::string, Cell, std::less<>>* CrdtObject::shown_cells() const {
  auto it = cells.find(static_cast<uint8_t>(type.value));
  return it == cells.end() ? nullptr : &it->second;
}

bool CrdtObject::present() const {
  const auto* m = shown_cells();
  if (!m) return false;
  return std::any_of(m->begin(), m->end(), [](const auto& kv) { return kv.second.present(); });
}

namespace {

Cell reset_of(const Cell& c) {
  Cell d;
  for (const auto& [dot, w] : c.live)
    d.removed.insert(dot);
  d.base = c.counter;
  return d;
}

}  // namespace

CrdtObject CrdtObject::write(uint8_t t, std::string_view elem, std::string value, CDot dot,
                             uint64_t hlc) {
  CrdtObject delta;
  Cell d = reset_of(cells[t][std::string(elem)]);
  d.live.emplace(dot, Cell::Write{hlc, std::move(value)});
  delta.cells[t].emplace(std::string(elem), std::move(d));
  join(delta);
  return delta;
}

CrdtObject CrdtObject::remove(uint8_t t, std::string_view elem) {
  CrdtObject delta;
  auto m = cells.find(t);
  if (m == cells.end()) return delta;
  auto c = m->second.find(elem);
  if (c == m->second.end()) return delta;
  delta.cells[t].emplace(std::string(elem), reset_of(c->second));
  join(delta);
  return delta;
}

CrdtObject CrdtObject::remove_all() {
  CrdtObject delta;
  for (const auto& [t, m] : cells) {
    for (const auto& [e, c] : m) {
      if (!c.live.empty() || !c.counter.empty()) delta.cells[t].emplace(e, reset_of(c));
    }
  }
  join(delta);
  return delta;
}

namespace {

// The counter an actor adds to: its latest one in the cell, or a new one started at `seq`.
Cell::CounterKey counter_key(const Cell& c, uint64_t actor, uint64_t seq) {
  auto it = c.counter.lower_bound({actor + 1, 0});
  if (it != c.counter.begin() && std::prev(it)->first.first == actor) return std::prev(it)->first;
  return {actor, seq};
}

}  // namespace

template <typename Add>
CrdtObject CrdtObject::add_to_counter(uint8_t t, std::string_view elem, uint64_t actor,
                                      uint64_t seq, Add add) {
  CrdtObject delta;
  Cell& c = cells[t][std::string(elem)];
  const Cell::CounterKey key = counter_key(c, actor, seq);
  Totals cur = c.counter[key];
  add(&cur);
  Cell& d = delta.cells[t][std::string(elem)];
  d.counter[key] = cur;
  // With the base the resets put under this counter: a replica that collected the cell's
  // object (and that base with it) counts only what was added since.
  if (auto b = c.base.find(key); b != c.base.end()) d.base[key] = b->second;
  join(delta);
  return delta;
}

CrdtObject CrdtObject::increment(uint8_t t, std::string_view elem, uint64_t actor, uint64_t seq,
                                 int64_t by) {
  return add_to_counter(t, elem, actor, seq, [by](Totals* c) {
    if (by >= 0) {
      c->p += by;
    } else {
      c->n -= by;
    }
  });
}

CrdtObject CrdtObject::increment_float(uint8_t t, std::string_view elem, uint64_t actor,
                                       uint64_t seq, double by) {
  return add_to_counter(t, elem, actor, seq, [by](Totals* c) {
    if (by >= 0) {
      c->fp += by;
    } else {
      c->fn -= by;
    }
  });
}

CrdtObject CrdtObject::set_type(uint8_t t, uint64_t hlc, uint64_t actor) {
  CrdtObject delta;
  delta.type = Stamped{hlc, actor, t};
  join(delta);
  return delta;
}

CrdtObject CrdtObject::set_expiry(int64_t at_ms, uint64_t hlc, uint64_t actor) {
  CrdtObject delta;
  delta.expiry = Stamped{hlc, actor, at_ms};
  join(delta);
  return delta;
}

// --- encoding ------------------------------------------------------------------------------

namespace {

void put_double(std::string* out, double d) {
  uint64_t bits;
  std::memcpy(&bits, &d, sizeof bits);
  put_varint(out, bits);
}

bool get_double(std::string_view* in, double* d) {
  uint64_t bits = 0;
  if (!get_varint(in, &bits)) return false;
  std::memcpy(d, &bits, sizeof bits);
  return !(*d != *d) && *d >= 0;  // totals are never NaN nor negative
}

void put_stamped(std::string* out, const Stamped& s) {
  put_varint(out, s.hlc);
  put_varint(out, s.actor);
  put_varint(out, zigzag(s.value));
}

bool get_stamped(std::string_view* in, Stamped* s) {
  uint64_t v = 0;
  if (!get_varint(in, &s->hlc) || !get_varint(in, &s->actor) || !get_varint(in, &v)) return false;
  s->value = unzigzag(v);
  return true;
}

void put_dot(std::string* out, const CDot& d) {
  put_varint(out, d.actor);
  put_varint(out, d.seq);
  put_varint(out, d.idx);
}

bool get_dot(std::string_view* in, CDot* d) {
  uint64_t idx = 0;
  if (!get_varint(in, &d->actor) || !get_varint(in, &d->seq) || !get_varint(in, &idx) ||
      idx > UINT32_MAX) {
    return false;
  }
  d->idx = static_cast<uint32_t>(idx);
  return true;
}

void put_totals(std::string* out, const Totals_& m) {
  put_varint(out, m.size());
  for (const auto& [a, t] : m) {
    put_varint(out, a.first);
    put_varint(out, a.second);
    put_varint(out, static_cast<uint64_t>(t.p));
    put_varint(out, static_cast<uint64_t>(t.n));
    put_double(out, t.fp);
    put_double(out, t.fn);
  }
}

// A count read from input: each item takes at least `min_bytes`, so a larger count is a lie.
bool get_count(std::string_view* in, size_t min_bytes, uint64_t* n) {
  return get_varint(in, n) && *n <= in->size() / min_bytes;
}

bool get_totals(std::string_view* in, Totals_* m) {
  uint64_t n = 0;
  if (!get_count(in, 6, &n)) return false;
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t a = 0, s = 0, p = 0, q = 0;
    Totals t;
    if (!get_varint(in, &a) || !get_varint(in, &s) || !get_varint(in, &p) || !get_varint(in, &q) ||
        !get_double(in, &t.fp) || !get_double(in, &t.fn) || p > INT64_MAX || q > INT64_MAX) {
      return false;
    }
    t.p = static_cast<int64_t>(p);
    t.n = static_cast<int64_t>(q);
    if (!m->emplace(Cell::CounterKey{a, s}, t).second) return false;
  }
  return true;
}

}  // namespace

void Cell::encode(std::string* out) const {
  put_varint(out, live.size());
  for (const auto& [d, w] : live) {
    put_dot(out, d);
    put_varint(out, w.hlc);
    put_bytes(out, w.value);
  }
  put_varint(out, removed.size());
  for (const CDot& d : removed)
    put_dot(out, d);
  put_totals(out, counter);
  put_totals(out, base);
}

bool Cell::decode(std::string_view* in, Cell* out) {
  Cell c;
  uint64_t nl = 0, nr = 0;
  if (!get_count(in, 5, &nl)) return false;
  for (uint64_t k = 0; k < nl; ++k) {
    CDot d;
    Write w;
    std::string_view v;
    if (!get_dot(in, &d) || !get_varint(in, &w.hlc) || !get_bytes(in, &v)) return false;
    w.value.assign(v);
    if (!c.live.emplace(d, std::move(w)).second) return false;
  }
  if (!get_count(in, 3, &nr)) return false;
  for (uint64_t k = 0; k < nr; ++k) {
    CDot d;
    if (!get_dot(in, &d) || c.live.contains(d)) return false;
    c.removed.insert(d);
  }
  if (!get_totals(in, &c.counter) || !get_totals(in, &c.base)) return false;
  *out = std::move(c);
  return true;
}

void CrdtObject::encode_head(std::string* out) const {
  put_stamped(out, type);
  put_stamped(out, expiry);
}

bool CrdtObject::decode_head(std::string_view* in) {
  return get_stamped(in, &type) && get_stamped(in, &expiry);
}

void CrdtObject::encode(std::string* out) const {
  encode_head(out);
  put_varint(out, cells.size());
  for (const auto& [t, m] : cells) {
    out->push_back(static_cast<char>(t));
    put_varint(out, m.size());
    for (const auto& [e, c] : m) {
      put_bytes(out, e);
      c.encode(out);
    }
  }
}

bool CrdtObject::decode(std::string_view in, CrdtObject* out) {
  CrdtObject o;
  uint64_t nt = 0;
  if (!o.decode_head(&in) || !get_count(&in, 2, &nt)) return false;
  for (uint64_t i = 0; i < nt; ++i) {
    if (in.empty()) return false;
    const auto t = static_cast<uint8_t>(in[0]);
    in.remove_prefix(1);
    uint64_t ne = 0;
    if (!get_count(&in, 5, &ne)) return false;
    auto& m = o.cells[t];
    for (uint64_t j = 0; j < ne; ++j) {
      std::string_view e;
      Cell c;
      if (!get_bytes(&in, &e) || !Cell::decode(&in, &c)) return false;
      if (!m.emplace(std::string(e), std::move(c)).second) return false;
    }
  }
  if (!in.empty()) return false;
  *out = std::move(o);
  return true;
}

}  // namespace rkv::versions
