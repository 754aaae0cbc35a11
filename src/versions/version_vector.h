// Dots and version vectors: the causal bookkeeping of the leaderless and multi-leader models.
//
// An actor is whoever creates versions: ActorId = (node index << 32) | data epoch. The epoch
// changes whenever a node loses its data, so a restarted node never reuses a dot it handed out
// before. This room treats actor ids as opaque 64-bit numbers.
//
// A Dot (actor, counter) names one write: the counter-th version created by that actor.
// A VersionVector maps actors to counters and stands for the set of dots
// {(a, 1..get(a)) for every actor a}: the causal history it summarizes is closed downwards per
// actor, which holds because every actor creates its dots in order and only after having seen
// all of its earlier ones.
//
// Representation: a small vector of (actor, counter) sorted by actor, counters >= 1; an absent
// actor has counter 0. Everything is value-typed and deterministic (no hashing containers).
//
// Encoding (encode/decode): varint(count), then per entry varint(actor delta) and
// varint(counter), where the first delta is the actor itself and each next one is the distance
// from the previous actor (>= 1). Decoding is total and canonical: truncated input, overlong
// varints, unsorted or duplicate actors, zero counters and more than kMaxActors entries are
// refused; a successful decode re-encodes to the same bytes.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rkv::versions {

using ActorId = uint64_t;

// Largest number of actors a version vector may hold. A cluster has (nodes x data epochs)
// actors, far fewer; decode refuses more, and encode asserts it (more would be a bug).
inline constexpr size_t kMaxActors = 1u << 16;

struct Dot {
  ActorId actor = 0;
  uint64_t counter = 0;
  friend auto operator<=>(const Dot&, const Dot&) = default;
};

class VersionVector {
 public:
  enum class Order { kEqual, kBefore, kAfter, kConcurrent };

  // Counter of actor `a`, 0 when absent.
  uint64_t get(ActorId a) const;
  // Sets the entry to exactly `counter` (not a max); 0 removes the actor.
  void set(ActorId a, uint64_t counter);
  // entry(d.actor) = max(entry, d.counter).
  void add(const Dot& d);
  // get(d.actor) >= d.counter: the dot is in the history this vector stands for.
  bool covers(const Dot& d) const;
  // Pointwise max.
  void merge(const VersionVector& o);
  // kBefore: *this < o (every entry <= o's, at least one smaller); kAfter: *this > o;
  // kConcurrent: each has an entry greater than the other's.
  Order compare(const VersionVector& o) const;
  // *this >= o pointwise (kEqual or kAfter).
  bool descends(const VersionVector& o) const;

  const std::vector<std::pair<ActorId, uint64_t>>& entries() const { return entries_; }
  bool empty() const { return entries_.empty(); }
  size_t size() const { return entries_.size(); }

  // Appends the compact encoding described above.
  void encode(std::string* out) const;
  // Consumes one encoded vector from the front of *in. Total: on malformed input returns false
  // and leaves *in and *out unchanged.
  static bool decode(std::string_view* in, VersionVector* out);

  // Human-readable, for logs and tools: "{" actor ":" counter ("," actor ":" counter)* "}" with
  // actors in lowercase hex without leading zeros (node 1 epoch 2 is "100000002") and counters
  // in decimal, in actor order; "{}" when empty.
  std::string to_text() const;

  // The opaque causal context handed to clients: encode() in unpadded base64url (RFC 4648 §5,
  // alphabet A-Z a-z 0-9 - _). from_context accepts exactly what to_context produces (plus ""
  // as the empty vector, for a client that has no context) and returns false, leaving *out
  // unchanged, on anything else.
  std::string to_context() const;
  static bool from_context(std::string_view text, VersionVector* out);

  bool operator==(const VersionVector&) const = default;

 private:
  std::vector<std::pair<ActorId, uint64_t>> entries_;  // sorted by actor, counters >= 1
};

}  // namespace rkv::versions
