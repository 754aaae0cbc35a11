#include "runtime/metrics.h"

namespace rkv {

uint64_t LatencyHistogram::quantile_us(double q) const {
  if (total_ == 0) return 0;
  uint64_t want = static_cast<uint64_t>(q * static_cast<double>(total_));
  if (want == 0) want = 1;
  uint64_t seen = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= want) return i < kBoundsUs.size() ? kBoundsUs[i] : kBoundsUs.back() * 2;
  }
  return kBoundsUs.back() * 2;
}

uint64_t ServerStats::total_commands() const {
  uint64_t n = 0;
  for (uint64_t c : calls)
    n += c;
  return n;
}

}  // namespace rkv
