// Checks of a leaderless keyspace judged from the outside only: the client history and what the
// nodes answer after the cluster healed. The fault lab (`replikv lab --model leaderless`) runs
// real processes, whose stored versions it cannot see, so check/leaderless_checker.h (which
// follows every version a replica stores) does not apply there; these rules need only what a
// client knows.
//
// What a client knows of causality: a SET ... CONTEXT ctx, where ctx came from a SIBLINGS read,
// replaces exactly the versions that read returned (`covered`); a write without a context
// replaces whatever its coordinating replica held, which a client cannot see. Values are unique
// per SET, so a value names its write.
//
// Rules (docs/lab.md, "The leaderless model"):
//   (1) no acknowledged write silently lost: an acknowledged SET (without a short expiry) whose
//       value is not live in the healed cluster had another write of its key that could have
//       replaced it: with conflict = siblings, a write (SET or DEL, acknowledged or of unknown
//       outcome) not finished before it started; with conflict = lww, any other write of the key
//       (a concurrent or even an earlier write may carry a greater clock reading);
//   (2) conflict = siblings: a value an acknowledged CONTEXT write covered is not live in the
//       healed cluster (what a write replaced stays replaced);
//   (3) with sloppy = false, for a read R and an acknowledged SET W of its key with
//       R's replicas + W's replicas > n, W finished before R started:
//       (a) R does not return nil (no value) unless a DEL, or a SET with a short expiry, of the
//           key was invoked before R finished;
//       (b) conflict = siblings: R returns no value W's context covered;
//       (c) R returns W's value (under siblings only SIBLINGS reads, GET returning one sibling),
//           unless another write of the key that could have replaced W (as in (1)) was
//           invoked before R finished;
//   (4) every value a read returns, or the healed cluster holds, was written by a SET invoked
//       before the read finished (nothing invented).
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "check/check_result.h"
#include "check/history.h"

namespace rkv::check {

struct BlackboxOp {
  // kGet (value: the value returned, nullopt = nil), kSmembers (SIBLINGS: the live values as
  // members), kSet (value: the value written), kDel.
  Op op;
  int replicas = 0;  // replicas the request waited for (R or W, CONSISTENCY included)
  std::vector<std::string> covered;  // SET: the values its CONTEXT named (empty: no context)
  bool expires_soon = false;         // SET with an expiry within the run
};

struct BlackboxFacts {
  int n = 3;
  bool sloppy = true;
  bool lww = true;  // conflict = lww; false: siblings
};

// The live values of each key in the healed cluster (an absent key: no live value).
using FinalValues = std::map<std::string, std::set<std::string>>;

CheckResult check_leaderless_blackbox(const std::vector<BlackboxOp>& history,
                                      const FinalValues& final_values, const BlackboxFacts& facts);

}  // namespace rkv::check
