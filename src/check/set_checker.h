// Grow-only set ("set-full") checking of sadd/smembers histories, key by key.
//
// For every smembers read with status ok, on every key:
//   lost:    an element whose sadd was acknowledged ok and completed strictly before the read
//            was invoked must be in the read;
//   phantom: every element in the read must have an ok or info sadd invoked no later than the
//            read completed (an element that was never attempted, or only by failed sadds, or
//            only after the read, cannot be there).
// Reads with status fail or info and sadds with status fail impose nothing else.
#pragma once

#include <vector>

#include "check/check_result.h"
#include "check/history.h"

namespace rkv::check {

// kBadInput if the history holds anything but sadd and smembers. On a violation, the failing
// key with the fewest operations is explained: which elements were lost by which read (with
// the sadd that acknowledged them) and which reads saw phantoms.
CheckResult check_set(const std::vector<Op>& history);

}  // namespace rkv::check
