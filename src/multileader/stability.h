// Stability: what every member of a multi-leader keyspace is known to hold. Each member reports
// its durable applied vector (messages.h, kStatus); an origin-log entry is *stable* once every
// member's vector covers it. A deleted key's tombstone may be forgotten only when no write it
// must beat can still arrive anywhere, which takes two steps (see MultiLeaderEngine's collector):
//  1. the deletion is stable (every member applied it, so every member's clock passed its stamp
//     and every later write of theirs is stamped above it);
//  2. every write a member issued before it applied the deletion is stable too: the members'
//     own log positions at step 1 (frontier()) are covered.
// Pure bookkeeping, no IO.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "multileader/messages.h"

namespace rkv::multileader {

class Stability {
 public:
  explicit Stability(size_t members) : members_(members) {}

  // Member m (index in the cluster) reported `applied` under its actor `actor`.
  void report(size_t m, uint64_t actor, AppliedVector applied);
  // Every member has reported at least once.
  bool known_all() const;
  // The highest seq of `actor`'s log that every member holds (0 unless known_all()).
  uint64_t stable(uint64_t actor) const;
  // Each member's own log position as last reported: (actor, its applied[actor]), sorted.
  AppliedVector frontier() const;
  // Every (actor, seq) of `f` is stable.
  bool covers(const AppliedVector& f) const;
  const std::optional<uint64_t>& actor_of(size_t m) const { return members_[m].actor; }
  const AppliedVector& applied_of_member(size_t m) const { return members_[m].applied; }

 private:
  struct Member {
    std::optional<uint64_t> actor;
    AppliedVector applied;
  };
  std::vector<Member> members_;
};

}  // namespace rkv::multileader
