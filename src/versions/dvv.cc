#include "versions/dvv.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include "core/assert.h"
#include "core/checksum.h"
#include "core/varint.h"

namespace rkv::versions {

namespace {

enum SiblingFlags : uint8_t {
  kTombstone = 1,
  kHasExpiry = 2,
  kAllFlags = kTombstone | kHasExpiry,
};

// Fewest bytes one encoded sibling takes (actor, counter, hlc, flags: one byte each).
constexpr size_t kMinSiblingBytes = 4;

// The LWW and display order: (hlc, dot).
bool lww_less(const Sibling& a, const Sibling& b) {
  return std::tie(a.hlc, a.dot) < std::tie(b.hlc, b.dot);
}

// Total order on the contents of two siblings carrying the same dot (see merge()).
bool content_less(const Sibling& a, const Sibling& b) {
  return std::tie(a.hlc, a.tombstone, a.expire_at_ms, a.value) <
         std::tie(b.hlc, b.tombstone, b.expire_at_ms, b.value);
}

bool live_at(const Sibling& s, int64_t now_ms) {
  return !s.tombstone && (s.expire_at_ms == 0 || s.expire_at_ms > now_ms);
}

bool decode_sibling(std::string_view* in, Sibling* s) {
  uint64_t hlc = 0;
  if (!get_varint(in, &s->dot.actor) || !get_varint(in, &s->dot.counter) || !get_varint(in, &hlc) ||
      in->empty())
    return false;
  s->hlc = hlc;
  const auto flags = static_cast<uint8_t>(in->front());
  in->remove_prefix(1);
  if ((flags & ~kAllFlags) != 0) return false;
  s->tombstone = (flags & kTombstone) != 0;
  s->expire_at_ms = 0;
  if (flags & kHasExpiry) {
    uint64_t z = 0;
    if (!get_varint(in, &z)) return false;
    s->expire_at_ms = unzigzag(z);
    if (s->expire_at_ms == 0) return false;  // non-canonical: no expiry is spelled by the flag
  }
  s->value.clear();
  if (!s->tombstone) {
    uint64_t size = 0;
    if (!get_varint(in, &size) || size > in->size()) return false;
    s->value.assign(in->data(), size);
    in->remove_prefix(size);
  }
  return true;
}

}  // namespace

Dot Versioned::update(ActorId self, const VersionVector& ctx, Sibling s, uint64_t min_counter) {
  RKV_ASSERT_MSG(!s.tombstone || s.value.empty(), "a tombstone carries no value");
  std::erase_if(siblings_, [&](const Sibling& x) { return ctx.covers(x.dot); });
  const uint64_t counter = std::max({context_.get(self) + 1, ctx.get(self) + 1, min_counter});
  RKV_ASSERT(counter != 0);
  const Dot dot{self, counter};
  context_.merge(ctx);
  context_.add(dot);
  s.dot = dot;
  // No sibling can hold this dot: every held dot is covered by the old context.
  auto pos = std::upper_bound(siblings_.begin(), siblings_.end(), dot,
                              [](const Dot& d, const Sibling& x) { return d < x.dot; });
  siblings_.insert(pos, std::move(s));
  RKV_ASSERT(well_formed());
  return dot;
}

void Versioned::merge(const Versioned& other) {
  merge_unseen(other, VersionVector{});
}

void Versioned::merge_unseen(const Versioned& other, const VersionVector& seen) {
  if (this == &other) return;
  std::vector<Sibling> merged;
  merged.reserve(siblings_.size() + other.siblings_.size());
  auto a = siblings_.begin();
  auto b = other.siblings_.begin();
  while (a != siblings_.end() || b != other.siblings_.end()) {
    if (b == other.siblings_.end() || (a != siblings_.end() && a->dot < b->dot)) {
      if (!other.context_.covers(a->dot)) merged.push_back(std::move(*a));
      ++a;
    } else if (a == siblings_.end() || b->dot < a->dot) {
      if (!context_.covers(b->dot) && !seen.covers(b->dot)) merged.push_back(*b);
      ++b;
    } else {
      if (content_less(*a, *b)) {
        merged.push_back(*b);
      } else {
        merged.push_back(std::move(*a));
      }
      ++a;
      ++b;
    }
  }
  siblings_ = std::move(merged);
  context_.merge(other.context_);
  RKV_ASSERT(well_formed());
}

size_t Versioned::resolve_lww() {
  if (siblings_.size() <= 1) return 0;
  const size_t discarded = siblings_.size() - 1;
  auto best = std::max_element(siblings_.begin(), siblings_.end(), lww_less);
  Sibling keep = std::move(*best);
  siblings_.clear();
  siblings_.push_back(std::move(keep));
  return discarded;
}

const Sibling* Versioned::winner() const {
  if (siblings_.empty()) return nullptr;
  return &*std::max_element(siblings_.begin(), siblings_.end(), lww_less);
}

size_t Versioned::forget_dead(int64_t now_ms) {
  const size_t dropped =
      std::erase_if(siblings_, [&](const Sibling& s) { return !live_at(s, now_ms); });
  RKV_ASSERT(well_formed());
  return dropped;
}

bool Versioned::deleted_at(int64_t now_ms) const {
  return std::none_of(siblings_.begin(), siblings_.end(),
                      [&](const Sibling& s) { return live_at(s, now_ms); });
}

uint64_t Versioned::digest() const {
  // The encoding with each value replaced by its 64-bit hash: injective up to value-hash
  // collisions, and cheap for large values (no copy of them).
  std::string buf;
  buf.push_back(static_cast<char>(kVersionedFormat));
  context_.encode(&buf);
  put_varint(&buf, siblings_.size());
  for (const Sibling& s : siblings_) {
    put_varint(&buf, s.dot.actor);
    put_varint(&buf, s.dot.counter);
    put_varint(&buf, s.hlc);
    buf.push_back(static_cast<char>(s.tombstone ? kTombstone : 0));
    put_varint(&buf, zigzag(s.expire_at_ms));
    put_u64(buf, checksum64(s.value));
  }
  return checksum64(buf);
}

bool Versioned::covers(const Versioned& o) const {
  if (!context_.descends(o.context_)) return false;
  auto a = siblings_.begin();
  auto b = o.siblings_.begin();
  while (a != siblings_.end() || b != o.siblings_.end()) {
    if (b == o.siblings_.end() || (a != siblings_.end() && a->dot < b->dot)) {
      if (o.context_.covers(a->dot)) return false;  // o has seen it superseded: merge drops it
      ++a;
    } else if (a == siblings_.end() || b->dot < a->dot) {
      if (!context_.covers(b->dot)) return false;  // new to us: merge adds it
      ++b;
    } else {
      if (content_less(*a, *b)) return false;  // merge would take o's copy
      ++a;
      ++b;
    }
  }
  return true;
}

bool Versioned::well_formed() const {
  for (size_t i = 0; i < siblings_.size(); ++i) {
    const Sibling& s = siblings_[i];
    if (s.dot.counter == 0 || !context_.covers(s.dot)) return false;
    if (i > 0 && !(siblings_[i - 1].dot < s.dot)) return false;
    if (s.tombstone && !s.value.empty()) return false;
  }
  return true;
}

Versioned Versioned::without_values() const {
  Versioned out;
  out.context_ = context_;
  out.siblings_.reserve(siblings_.size());
  for (const Sibling& s : siblings_) {
    out.siblings_.push_back(Sibling{s.dot, s.hlc, s.tombstone, s.expire_at_ms, std::string()});
  }
  return out;
}

void Versioned::encode(std::string* out) const {
  out->push_back(static_cast<char>(kVersionedFormat));
  context_.encode(out);
  put_varint(out, siblings_.size());
  for (const Sibling& s : siblings_) {
    put_varint(out, s.dot.actor);
    put_varint(out, s.dot.counter);
    put_varint(out, s.hlc);
    const uint8_t flags = (s.tombstone ? kTombstone : 0) | (s.expire_at_ms != 0 ? kHasExpiry : 0);
    out->push_back(static_cast<char>(flags));
    if (s.expire_at_ms != 0) put_varint(out, zigzag(s.expire_at_ms));
    if (!s.tombstone) {
      put_varint(out, s.value.size());
      out->append(s.value);
    }
  }
}

bool Versioned::decode(std::string_view* in, Versioned* out) {
  std::string_view rest = *in;
  if (rest.empty() || static_cast<uint8_t>(rest.front()) != kVersionedFormat) return false;
  rest.remove_prefix(1);
  Versioned v;
  if (!VersionVector::decode(&rest, &v.context_)) return false;
  uint64_t count = 0;
  if (!get_varint(&rest, &count) || count > rest.size() / kMinSiblingBytes) return false;
  v.siblings_.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    Sibling s;
    if (!decode_sibling(&rest, &s)) return false;
    v.siblings_.push_back(std::move(s));
  }
  if (!v.well_formed()) return false;
  *in = rest;
  *out = std::move(v);
  return true;
}

}  // namespace rkv::versions
