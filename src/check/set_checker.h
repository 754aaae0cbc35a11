// Grow-only set ("set-full") checking of sadd/smembers histories, key by key.
//
// For every smembers read with status ok, on every key:
//   lost:    an element whose sadd was acknowledged ok and completed strictly before the read
//            was invoked must be in the read;
//   phantom: every element in the read must have an ok or info sadd invoked no later than the
//            read completed (an element that was never attempted, or only by failed sadds, or
//            only after the read, cannot be there).
// Reads with status fail or info and sadds with status fail impose nothing else.
//
// With listed losses (the promise of `commit = "async"`: every acknowledged write missing
// afterwards is listed by LOSTWRITES, and nothing else is missing), an acknowledged element
// missing from a read is not lost when the servers listed it. A listed element may still be
// present (a write can be listed and survive, e.g. re-sent after a timeout); that is valid,
// and reported as a note when it is in the key's final read (the ok smembers invoked last,
// which a simulator issues after healing). A listed element that no ok or info sadd of its key
// attempted is noted too (a listing the history cannot explain). Phantom checks are unchanged.
#pragma once

#include <compare>
#include <set>
#include <string>
#include <vector>

#include "check/check_result.h"
#include "check/history.h"

namespace rkv::check {

// An acknowledged sadd that the servers reported lost in a failover (from LOSTWRITES).
struct LostElement {
  std::string key;
  std::string element;
  auto operator<=>(const LostElement&) const = default;
};

struct SetCheckOptions {
  // Elements the servers listed as lost; each may be missing from any read.
  std::set<LostElement> listed_lost;
};

// kBadInput if the history holds anything but sadd and smembers. On a violation, the failing
// key with the fewest operations is explained: which elements were lost by which read (with
// the sadd that acknowledged them) and which reads saw phantoms. Notes (CheckResult::notes)
// name listed elements present in their key's final read, and listed elements never attempted.
CheckResult check_set(const std::vector<Op>& history, const SetCheckOptions& options = {});

}  // namespace rkv::check
