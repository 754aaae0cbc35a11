// Linearizability of string registers, checked key by key.
//
// Model (one register per key, absent = null): get returns the current value; set writes;
// del makes the key absent; append concatenates (absent = ""); incr parses the value as a
// decimal int64 (absent = 0), adds delta and stores the result (it cannot apply to a
// non-integer or on overflow, and an ok incr with a recorded value must produce exactly it);
// cas applies only when the value equals `expected` (null = absent) and then writes `value`.
//
// Linearizability is compositional (Herlihy & Wing's locality), so each key is checked on its
// own. Per key the search is a depth-first walk over the call/return events in time order in
// the style of Wing & Gong with Lowe's memoisation: a configuration is the set of operations
// already linearized (a bitset) plus the register value, and each configuration is explored
// once. Info operations stay available forever, which makes the search exponential in the worst
// case; dominance rules (a configuration with a subset of the info operations used subsumes
// one with more) and a symmetry rule (identical info operations are used in invoke order) keep
// it small in practice, and a per-key budget turns what remains into "unknown", never into a
// wrong verdict. A read of a value no operation could have produced fails before any search.
// Operation a precedes b in real time iff a.complete < b.invoke (equal timestamps are
// concurrent). fail operations are dropped; info operations and reads with status info impose
// no constraint except that an info write may take effect once, at any time after its invoke,
// or never.
#pragma once

#include <cstdint>
#include <vector>

#include "check/check_result.h"
#include "check/history.h"

namespace rkv::check {

struct LinearizabilityOptions {
  // Work units per key (model steps tried plus memo comparisons) before the key's verdict
  // becomes "unknown"; about 10^7 per second. A linearizable key of n operations with
  // concurrency c typically needs a small multiple of n * c.
  int64_t max_steps_per_key = 10'000'000;
  // Memory for remembered configurations per key; exceeding it also yields "unknown".
  int64_t max_memo_bytes_per_key = int64_t{256} << 20;
  // On a violation, shrink the witness to the shortest failing prefix of the key's history.
  bool minimize_witness = true;
};

// Checks every key of `history` (ops of type get set del incr cas append). Returns kBadInput if
// any op is sadd or smembers. On violations the result names the failing key with the fewest
// operations and its witness; if no key fails but some exceeded the budget, kUnknown with the
// explanation "unknown: search budget exceeded" naming those keys.
CheckResult check_linearizable(const std::vector<Op>& history,
                               const LinearizabilityOptions& options = {});

}  // namespace rkv::check
