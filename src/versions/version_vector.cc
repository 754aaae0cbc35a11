#include "versions/version_vector.h"

#include <algorithm>

#include "core/assert.h"
#include "core/varint.h"

namespace rkv::versions {

namespace {

using Entry = std::pair<ActorId, uint64_t>;

constexpr char kBase64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// Value of a base64url character, -1 for any other byte.
int base64url_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

std::string base64url_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = (uint32_t{static_cast<uint8_t>(bytes[i])} << 16) |
                       (uint32_t{static_cast<uint8_t>(bytes[i + 1])} << 8) |
                       uint32_t{static_cast<uint8_t>(bytes[i + 2])};
    for (int shift = 18; shift >= 0; shift -= 6)
      out.push_back(kBase64Url[(v >> shift) & 63]);
  }
  const size_t rest = bytes.size() - i;
  if (rest == 1) {
    const uint32_t v = uint32_t{static_cast<uint8_t>(bytes[i])} << 16;
    out.push_back(kBase64Url[(v >> 18) & 63]);
    out.push_back(kBase64Url[(v >> 12) & 63]);
  } else if (rest == 2) {
    const uint32_t v = (uint32_t{static_cast<uint8_t>(bytes[i])} << 16) |
                       (uint32_t{static_cast<uint8_t>(bytes[i + 1])} << 8);
    out.push_back(kBase64Url[(v >> 18) & 63]);
    out.push_back(kBase64Url[(v >> 12) & 63]);
    out.push_back(kBase64Url[(v >> 6) & 63]);
  }
  return out;
}

// Strict: no padding, no whitespace, and the unused low bits of a final partial group must be 0,
// so that every byte string has exactly one accepted spelling.
bool base64url_decode(std::string_view text, std::string* out) {
  if (text.size() % 4 == 1) return false;
  out->clear();
  out->reserve(text.size() / 4 * 3 + 2);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    const int v = base64url_value(c);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return (acc & ((1u << bits) - 1)) == 0;  // leftover bits (0, 2 or 4) must be zero
}

}  // namespace

uint64_t VersionVector::get(ActorId a) const {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), a,
                             [](const Entry& e, ActorId x) { return e.first < x; });
  return it != entries_.end() && it->first == a ? it->second : 0;
}

void VersionVector::set(ActorId a, uint64_t counter) {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), a,
                             [](const Entry& e, ActorId x) { return e.first < x; });
  const bool present = it != entries_.end() && it->first == a;
  if (counter == 0) {
    if (present) entries_.erase(it);
  } else if (present) {
    it->second = counter;
  } else {
    entries_.insert(it, {a, counter});
  }
}

void VersionVector::add(const Dot& d) {
  if (d.counter > get(d.actor)) set(d.actor, d.counter);
}

bool VersionVector::covers(const Dot& d) const {
  return get(d.actor) >= d.counter;
}

void VersionVector::merge(const VersionVector& o) {
  if (o.entries_.empty()) return;
  std::vector<Entry> merged;
  merged.reserve(entries_.size() + o.entries_.size());
  auto a = entries_.begin();
  auto b = o.entries_.begin();
  while (a != entries_.end() || b != o.entries_.end()) {
    if (b == o.entries_.end() || (a != entries_.end() && a->first < b->first)) {
      merged.push_back(*a++);
    } else if (a == entries_.end() || b->first < a->first) {
      merged.push_back(*b++);
    } else {
      merged.emplace_back(a->first, std::max(a->second, b->second));
      ++a;
      ++b;
    }
  }
  entries_ = std::move(merged);
}

VersionVector::Order VersionVector::compare(const VersionVector& o) const {
  bool less = false;     // some entry of *this is below o's
  bool greater = false;  // some entry of *this is above o's
  auto a = entries_.begin();
  auto b = o.entries_.begin();
  while ((a != entries_.end() || b != o.entries_.end()) && !(less && greater)) {
    if (b == o.entries_.end() || (a != entries_.end() && a->first < b->first)) {
      greater = true;  // o lacks this actor
      ++a;
    } else if (a == entries_.end() || b->first < a->first) {
      less = true;  // *this lacks that actor
      ++b;
    } else {
      less |= a->second < b->second;
      greater |= a->second > b->second;
      ++a;
      ++b;
    }
  }
  if (less && greater) return Order::kConcurrent;
  if (less) return Order::kBefore;
  if (greater) return Order::kAfter;
  return Order::kEqual;
}

bool VersionVector::descends(const VersionVector& o) const {
  const Order order = compare(o);
  return order == Order::kEqual || order == Order::kAfter;
}

void VersionVector::encode(std::string* out) const {
  RKV_ASSERT(entries_.size() <= kMaxActors);
  put_varint(out, entries_.size());
  ActorId prev = 0;
  for (const auto& [actor, counter] : entries_) {
    RKV_ASSERT(counter >= 1);
    put_varint(out, actor - prev);
    put_varint(out, counter);
    prev = actor;
  }
}

bool VersionVector::decode(std::string_view* in, VersionVector* out) {
  std::string_view rest = *in;
  uint64_t count = 0;
  if (!get_varint(&rest, &count)) return false;
  // Each entry takes at least two bytes: bounds the reservation by the input's size.
  if (count > kMaxActors || count > rest.size() / 2) return false;
  VersionVector vv;
  vv.entries_.reserve(count);
  ActorId prev = 0;
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t delta = 0;
    uint64_t counter = 0;
    if (!get_varint(&rest, &delta) || !get_varint(&rest, &counter)) return false;
    if (i > 0 && delta == 0) return false;  // duplicate actor
    if (delta > ~prev) return false;        // actor would pass 2^64
    if (counter == 0) return false;         // zero counters are not stored
    prev += delta;
    vv.entries_.emplace_back(prev, counter);
  }
  *in = rest;
  *out = std::move(vv);
  return true;
}

std::string VersionVector::to_text() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "{";
  for (const auto& [actor, counter] : entries_) {
    if (out.size() > 1) out.push_back(',');
    char buf[16];
    size_t n = 0;
    ActorId a = actor;
    do {
      buf[n++] = kHex[a & 15];
      a >>= 4;
    } while (a != 0);
    while (n > 0)
      out.push_back(buf[--n]);
    out.push_back(':');
    out += std::to_string(counter);
  }
  out.push_back('}');
  return out;
}

std::string VersionVector::to_context() const {
  std::string bytes;
  encode(&bytes);
  return base64url_encode(bytes);
}

bool VersionVector::from_context(std::string_view text, VersionVector* out) {
  if (text.empty()) {
    *out = VersionVector{};
    return true;
  }
  std::string bytes;
  if (!base64url_decode(text, &bytes)) return false;
  std::string_view in = bytes;
  VersionVector vv;
  if (!decode(&in, &vv) || !in.empty()) return false;
  *out = std::move(vv);
  return true;
}

}  // namespace rkv::versions
