// Counter checking of incr/get histories, key by key (absent counts as 0).
//
// A read r (an ok get, or an ok incr whose resulting value was recorded) must return a value
// in [lower, upper] where, with
//   D = ok incrs that completed strictly before r was invoked (certainly applied before r),
//   P = ok and info incrs invoked no later than r completed (possibly applied before r),
// and pos(X)/neg(X) the sums of the positive/negative deltas in X:
//   lower = pos(D) + neg(P),   upper = neg(D) + pos(P).
// (The value is sum(D) plus the deltas of some subset of P \ D; the extremes take all of the
// negative or all of the positive uncertain deltas.) An incr read also counts itself as
// certainly applied. fail incrs are ignored; reads of a non-integer are violations.
#pragma once

#include <vector>

#include "check/check_result.h"
#include "check/history.h"

namespace rkv::check {

// kBadInput if the history holds anything but incr and get.
CheckResult check_counter(const std::vector<Op>& history);

}  // namespace rkv::check
