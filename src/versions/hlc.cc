#include "versions/hlc.h"

#include <algorithm>

namespace rkv::versions {

namespace {
int64_t clamp_physical(int64_t physical_ms) {
  return std::clamp<int64_t>(physical_ms, 0, kHlcMaxWallMs);
}
}  // namespace

HlcClock::HlcClock(int64_t max_offset_ms) : max_offset_ms_(max_offset_ms) {
  RKV_ASSERT(max_offset_ms >= 0);
}

uint64_t HlcClock::now(int64_t physical_ms) {
  const int64_t physical = clamp_physical(physical_ms);
  const int64_t wall = hlc_wall_ms(last_);
  uint64_t next;
  if (physical > wall) {
    next = make_hlc(physical, 0);
  } else if (hlc_logical(last_) < kHlcMaxLogical) {
    next = last_ + 1;  // same wall part, counter + 1
  } else {
    // The counter is exhausted: borrow one millisecond from the future rather than wrap.
    RKV_ASSERT_MSG(wall < kHlcMaxWallMs, "hybrid logical clock exhausted");
    next = make_hlc(wall + 1, 0);
  }
  RKV_ASSERT(next > last_);
  last_ = next;
  return next;
}

bool HlcClock::observe(uint64_t remote, int64_t physical_ms) {
  // Both walls lie in [0, 2^48), so the difference cannot overflow (max_offset_ms_ may be huge).
  if (hlc_wall_ms(remote) - clamp_physical(physical_ms) > max_offset_ms_) {
    ++rejected_;
    return false;
  }
  last_ = std::max(last_, remote);
  return true;
}

void HlcClock::restore(uint64_t floor) {
  last_ = std::max(last_, floor);
}

}  // namespace rkv::versions
