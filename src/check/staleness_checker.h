// Bounded staleness of reads on string registers (the promise of `read = "follower"`), checked
// key by key.
//
// Model: each key is a register written only by `set`, every value written to a key being
// unique (so a read names the write it observed), initially absent. A get with status ok
// carries what the serving replica reported (Op::staleness_ms = s, Op::entries_behind = b);
// a get without them is held to s = 0 and b = 0, i.e. it must be fresh (a recorder that could
// not learn the report must record the read as info, which imposes nothing). The promise:
//
//   the read observed every ok set to its key that completed before
//     cutoff = read.invoke - s * 1000 * (1 + rate_margin) - slack_us      (microseconds)
//   except at most b of them.
//
// What is checked (sound: a replica that reports honestly is never flagged; not complete):
//   phantom: a value read must have been written by an ok or info set of that key invoked no
//            later than the read completed;
//   missed:  the writes the read definitely missed are the ok sets w of its key with
//            w.complete < cutoff that come after the state read: after the initial absent
//            state when the read returned null, else after the set p that wrote the value read
//            when p is ok and p.complete < w.invoke (an info p precedes nothing, since it may
//            take effect at any time after its invoke). More than b of them is a violation.
// Sets with status fail are dropped; gets with status fail or info impose nothing.
#pragma once

#include <cstdint>
#include <vector>

#include "check/check_result.h"
#include "check/history.h"

namespace rkv::check {

// How far a read's allowance exceeds what its replica reported. Both must be >= 0.
struct StalenessBounds {
  // Added to every read's allowance: the server's reporting granularity (staleness is counted
  // in ticks, 25 ms by default, so the true time since contact can be one tick longer than
  // reported), the delay of the leader's message that carried the replica's last news, and the
  // time from a write's commit on the leader to its reply.
  int64_t slack_us = 50'000;
  // Relative margin on the reported staleness for the replica's clock running slower than the
  // recorder's (0.01 = 1%, far above real drift).
  double rate_margin = 0.01;
};

// The instant (recorder microseconds) before which every ok set must be visible to `read`,
// except read.entries_behind of them: read.invoke - staleness_ms * 1000 * (1 + rate_margin) -
// slack_us, rounded down; saturates at the smallest int64.
int64_t staleness_cutoff(const Op& read, const StalenessBounds& bounds);

// kBadInput if the history holds anything but get and set, if two sets of one key (not
// failed) write the same value, or if a bound is negative. On a violation the failing key
// with the fewest operations is explained: its first failing read (by invoke), its report and
// cutoff, the write it observed, and the writes it definitely missed.
CheckResult check_bounded_staleness(const std::vector<Op>& history,
                                    const StalenessBounds& bounds = {});

}  // namespace rkv::check
