// The monotonic clock seam (DESIGN.md §2: time reaches a core only through what it is handed).
//
// A Node reads two clocks. Wall time (the `now_ms` of its inputs, milliseconds since the Unix
// epoch) stamps what users see: expiry deadlines, TIME, logged command times. It may be stepped
// by NTP or an operator. Protocol time comes from a MonotonicClock: Raft's ticks, leases,
// request deadlines and follower staleness are measured on it, because a promise such as "no
// other leader exists until this lease ends" needs a clock that never steps and keeps counting
// while the process is stopped.
#pragma once

#include <cstdint>

namespace rkv {

class MonotonicClock {
 public:
  virtual ~MonotonicClock() = default;
  // Milliseconds from an arbitrary origin; never decreases. Only differences are meaningful.
  virtual int64_t now_ms() const = 0;
};

}  // namespace rkv
