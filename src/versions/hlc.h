// Hybrid logical clock (Kulkarni, Demirbas et al., "Logical Physical Clocks", 2014).
//
// A timestamp is one uint64_t: the upper 48 bits are wall milliseconds since the Unix epoch, the
// lower 16 bits a logical counter. Timestamps compare as plain integers, stay within a bounded
// distance of physical time (at most max_offset_ms ahead of the local clock, as remote
// timestamps further ahead are refused), and respect causality: a timestamp taken after
// observing another is greater than it. The multi-leader engine orders concurrent writes by it
// (conflict = "lww") and every versioned sibling carries one for display and LWW.
//
// Sans-IO: the clock never reads time itself; every call is handed the physical time by the
// driver (the node's wall clock in the runtime, a drifting simulated clock in the simulator).
// Not thread-safe; one clock per node, used from the node's event loop.
//
// When the physical clock stands still or steps backwards, the wall part stays and the counter
// grows; when the counter would pass 65535, the wall part is advanced by one millisecond instead
// (the clock runs briefly ahead of physical time, it never wraps).
#pragma once

#include <cstdint>

#include "core/assert.h"

namespace rkv::versions {

inline constexpr int kHlcLogicalBits = 16;
inline constexpr uint32_t kHlcMaxLogical = (1u << kHlcLogicalBits) - 1;               // 65535
inline constexpr int64_t kHlcMaxWallMs = (int64_t{1} << (64 - kHlcLogicalBits)) - 1;  // 2^48-1

inline int64_t hlc_wall_ms(uint64_t ts) {
  return static_cast<int64_t>(ts >> kHlcLogicalBits);
}
inline uint32_t hlc_logical(uint64_t ts) {
  return static_cast<uint32_t>(ts & kHlcMaxLogical);
}
// 0 <= wall_ms <= kHlcMaxWallMs, logical <= kHlcMaxLogical.
inline uint64_t make_hlc(int64_t wall_ms, uint32_t logical) {
  RKV_ASSERT(wall_ms >= 0 && wall_ms <= kHlcMaxWallMs);
  RKV_ASSERT(logical <= kHlcMaxLogical);
  return (static_cast<uint64_t>(wall_ms) << kHlcLogicalBits) | logical;
}

class HlcClock {
 public:
  // Remote timestamps whose wall part is more than max_offset_ms ahead of our physical clock are
  // not followed (observe() refuses them), so one peer with a runaway clock cannot drag every
  // clock of the cluster into the future. max_offset_ms >= 0.
  explicit HlcClock(int64_t max_offset_ms = 500);

  // A timestamp for a local event or a send: strictly greater than every timestamp returned by
  // now(), observed by observe() or restored by restore() before, and with a wall part of at
  // least physical_ms. physical_ms outside [0, kHlcMaxWallMs] is clamped into it.
  uint64_t now(int64_t physical_ms);

  // A timestamp received from a peer. Returns false, counts it in rejected() and leaves the clock
  // as it was when hlc_wall_ms(remote) > physical_ms + max_offset_ms. Otherwise the clock
  // advances so that the next now() is greater than `remote` (observe does not itself consume a
  // tick: call now() when the receive event needs its own timestamp).
  bool observe(uint64_t remote, int64_t physical_ms);

  // The greatest timestamp returned, observed or restored so far (0 for a fresh clock). Persist
  // it (or a bound above it) to restore() after a restart.
  uint64_t last() const { return last_; }
  // How many remote timestamps observe() has refused.
  uint64_t rejected() const { return rejected_; }
  int64_t max_offset_ms() const { return max_offset_ms_; }

  // After a restart: never go below a persisted timestamp. Never moves the clock backwards.
  void restore(uint64_t floor);

 private:
  int64_t max_offset_ms_;
  uint64_t last_ = 0;
  uint64_t rejected_ = 0;
};

}  // namespace rkv::versions
