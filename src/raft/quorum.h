// Pure quorum arithmetic shared by every replication model: Raft majorities (commit index,
// elections, read confirmation) and Dynamo-style R/W counting. No protocol state lives here.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "core/assert.h"

namespace rkv::quorum {

// Size of a strict majority of n voters. n > 0.
inline size_t majority(size_t n) {
  RKV_ASSERT(n > 0);
  return n / 2 + 1;
}

// The largest value v such that at least `q` of `acked` are >= v. 0 < q <= acked.size().
// With acked = match indexes and q = majority, this is the Raft quorum-replicated index; with
// q = W it is the highest version acknowledged by a write quorum.
inline uint64_t quorum_index(std::vector<uint64_t> acked, size_t q) {
  RKV_ASSERT(q > 0 && q <= acked.size());
  std::nth_element(acked.begin(), acked.begin() + static_cast<std::ptrdiff_t>(q - 1), acked.end(),
                   std::greater<uint64_t>());
  return acked[q - 1];
}

// The largest index acknowledged by a majority of `acked` (one element per voter).
inline uint64_t majority_index(const std::vector<uint64_t>& acked) {
  return quorum_index(acked, majority(acked.size()));
}

enum class VoteResult : uint8_t {
  kPending,  // neither outcome decided yet
  kWon,      // at least `needed` granted
  kLost,     // so many rejected that `needed` can no longer be reached
};

// Tally of a vote among n voters needing `needed` grants. granted + rejected <= n.
inline VoteResult tally(size_t n, size_t granted, size_t rejected, size_t needed) {
  RKV_ASSERT(granted + rejected <= n && needed > 0 && needed <= n);
  if (granted >= needed) return VoteResult::kWon;
  if (n - rejected < needed) return VoteResult::kLost;
  return VoteResult::kPending;
}

// Majority tally among n voters.
inline VoteResult tally_majority(size_t n, size_t granted, size_t rejected) {
  return tally(n, granted, rejected, majority(n));
}

}  // namespace rkv::quorum
