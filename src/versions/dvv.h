// A replicated object with its causal history: dotted version vectors in the "dotted causal
// container" form (Almeida, Baquero, Gonçalves, Preguiça, Fonte, "Scalable and Accurate
// Causality Tracking for Eventually Consistent Stores", 2014).
//
// A Versioned is
//   - a causal context: a VersionVector standing for every dot the object has seen (written
//     here, merged from a peer, or named by a client's context), and
//   - the siblings: the values that no seen write has superseded, each tagged with the dot of
//     the write that created it.
// A write supersedes exactly the dots in the context its client read, so siblings are exactly
// the concurrent writes: their number never exceeds the number of pairwise concurrent writes
// (no false conflicts, unlike per-server version vectors), and a sibling once superseded never
// comes back (merge drops what the other side has seen and no longer holds).
//
// How the engines use it:
//   read:   return siblings() (or winner()) and context().to_context() to the client;
//   write:  obj.update(self_actor, client_ctx, Sibling{hlc = clock.now(..), value, ..});
//   replicate / read repair / anti-entropy / hinted handoff: obj.merge(remote_obj);
//   conflict = "lww": resolve_lww() after every update and merge (count what it discards);
//   Merkle trees: digest().
//
// Invariants (well_formed(), checked by decode and asserted after each mutation): siblings sorted
// by dot with no duplicates, counters >= 1, every sibling's dot covered by the context,
// tombstones carry no value. Value-typed, deterministic, not thread-safe.
//
// Encoding (encode/decode): byte kVersionedFormat, context (VersionVector encoding),
// varint(sibling count), then per sibling varint(actor) varint(counter) varint(hlc) byte(flags:
// 1 = tombstone, 2 = has expiry) [varint(zigzag(expire_at_ms)) if flag 2] [varint(value size)
// value if not a tombstone]. Decoding is total and canonical.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "versions/version_vector.h"

namespace rkv::versions {

inline constexpr uint8_t kVersionedFormat = 1;

struct Sibling {
  Dot dot;
  uint64_t hlc = 0;          // hybrid logical clock of the write (for LWW ordering and display)
  bool tombstone = false;    // a delete
  int64_t expire_at_ms = 0;  // absolute expiry on the wall clock, 0 = none (travels with the value
                             // so replicas agree)
  std::string value;         // empty for tombstones
  bool operator==(const Sibling&) const = default;
};

class Versioned {
 public:
  const VersionVector& context() const { return context_; }
  // Sorted by dot.
  const std::vector<Sibling>& siblings() const { return siblings_; }
  // Never written: no siblings and an empty context.
  bool empty() const { return siblings_.empty() && context_.empty(); }

  // A write coordinated by replica actor `self` carrying the client's causal context `ctx` (what
  // the client read; empty = blind write): drops every sibling whose dot ctx covers, adds `s`
  // with the dot (self, max(context().get(self), ctx.get(self)) + 1), merges ctx into the
  // context and adds the new dot. Returns the new dot. s.dot is ignored on input; a tombstone
  // must carry an empty value. (ctx.get(self) only matters for a context naming dots of `self`
  // this replica has not seen, which no genuine read produces; taking the max keeps the new dot
  // unused even then.) `min_counter`: the new dot's counter is at least this (a replica that
  // forgot a key, e.g. by collecting its tombstone, passes a counter above every dot it issued
  // before, so that it never issues one twice).
  Dot update(ActorId self, const VersionVector& ctx, Sibling s, uint64_t min_counter = 0);

  // Anti-entropy / replication merge, commutative, associative and idempotent: keeps a sibling
  // of either side unless the other side's context covers its dot and the other side does not
  // hold it; contexts merge pointwise. Two siblings with the same dot are the same write; should
  // their contents ever differ (an actor id reused after data loss), the greater by (hlc,
  // tombstone, expire_at_ms, value) is kept so that replicas still converge.
  void merge(const Versioned& other);

  // merge(), except that a sibling only `other` holds is not taken either when `seen` covers
  // its dot: `seen` names writes this replica took and no longer holds (superseded, or
  // forgotten by tombstone collection), so a stale copy of the object arriving late (a
  // multi-leader state transfer) cannot bring one of them back. The context still takes
  // other's whole context. With an empty `seen` it is merge().
  void merge_unseen(const Versioned& other, const VersionVector& seen);

  // Drops every sibling not live at now_ms (tombstones, expired values) and keeps the context,
  // which still names them: a later merge never takes them back. For collecting deletions once
  // every replica holds them (multi-leader's collector); returns how many were dropped.
  size_t forget_dead(int64_t now_ms);

  // Last-write-wins: keeps only the sibling with the greatest (hlc, dot.actor, dot.counter) and
  // returns how many siblings it discarded (the caller counts them as lost concurrent writes).
  // The context is unchanged, so merges spread the discard to other replicas. No-op returning 0
  // with <= 1 sibling.
  // Precondition for convergence on a value: hlcs respect causality (every write's hlc is above
  // the hlc of each write its context names; the engines ensure it by observing the hlc of every
  // sibling they read, merge or receive in a client's read). Then every replica keeps exactly the
  // greatest write it knows of. Without it, a discarded write's winner can later be superseded by
  // a write that never saw the discarded one, and merges can drop every value
  // (dvv_test.cc: LwwLosesEveryValueWhenHlcsContradictCausality).
  size_t resolve_lww();

  // The sibling a plain GET shows: the greatest by (hlc, dot), the same order as LWW, whether it
  // is a tombstone or expired or not (the caller checks). nullptr when there are no siblings.
  // The pointer is valid until the next mutation.
  const Sibling* winner() const;

  // True when no sibling is live at now_ms: each is a tombstone or has
  // expire_at_ms != 0 && expire_at_ms <= now_ms. True for an object with no siblings.
  bool deleted_at(int64_t now_ms) const;

  // 64-bit digest (XXH3) of the object's whole version state: the context, and per sibling its
  // dot, hlc, tombstone flag, expiry and a hash of its value. Equal objects have equal digests;
  // unequal ones differ except with probability ~2^-64. For Merkle trees.
  uint64_t digest() const;

  // True when `o` holds nothing this object lacks: merge(o) would not change *this.
  bool covers(const Versioned& o) const;

  // The invariants listed above.
  bool well_formed() const;

  // The same versions with every value emptied: enough to merge and to tell live from deleted
  // (key listings send these instead of the values).
  Versioned without_values() const;

  // Appends the encoding described above.
  void encode(std::string* out) const;
  // Consumes one encoded object from the front of *in. Total: malformed input (unknown format,
  // truncation, unsorted or duplicate dots, zero counters, sibling dots the context does not
  // cover, unknown flags, a tombstone with a value, non-canonical varints) returns false and
  // leaves *in and *out unchanged.
  static bool decode(std::string_view* in, Versioned* out);

  bool operator==(const Versioned&) const = default;

 private:
  VersionVector context_;
  std::vector<Sibling> siblings_;  // sorted by dot, unique
};

}  // namespace rkv::versions
