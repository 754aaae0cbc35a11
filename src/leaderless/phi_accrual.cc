#include "leaderless/phi_accrual.h"

#include <algorithm>
#include <cmath>

#include "core/assert.h"

namespace rkv::leaderless {

namespace {

// Coefficients of the logistic approximation of the standard normal CDF (Bowling et al. 2009).
constexpr double kLinear = 1.5976;
constexpr double kCubic = 0.070566;

// log(1 + exp(z)) without overflow for large z or loss of precision for very negative z.
double softplus(double z) {
  return z > 0 ? z + std::log1p(std::exp(-z)) : std::log1p(std::exp(z));
}

}  // namespace

PhiAccrual::PhiAccrual(Options o) : options_(o) {
  RKV_ASSERT(o.window >= 1);
  RKV_ASSERT(o.min_std_dev_ms > 0);
  RKV_ASSERT(o.first_interval_ms > 0);
  RKV_ASSERT(o.acceptable_pause_ms >= 0);
  RKV_ASSERT(o.max_sample_interval_ms >= 0);
  intervals_.assign(o.window, 0.0);
  recompute();
}

void PhiAccrual::heartbeat(int64_t now_ms) {
  if (last_ms_) {
    RKV_ASSERT_MSG(now_ms >= *last_ms_, "time went backwards");
    const double interval = static_cast<double>(now_ms - *last_ms_);
    if (options_.max_sample_interval_ms == 0 || interval <= options_.max_sample_interval_ms) {
      intervals_[next_] = interval;
      next_ = (next_ + 1) % intervals_.size();
      count_ = std::min(count_ + 1, intervals_.size());
      recompute();
    }
  }
  last_ms_ = now_ms;
}

int64_t PhiAccrual::last_heartbeat_ms() const {
  RKV_ASSERT(last_ms_.has_value());
  return *last_ms_;
}

void PhiAccrual::recompute() {
  if (count_ == 0) {
    mean_ms_ = options_.first_interval_ms;
    std_dev_ms_ = std::max(options_.first_interval_ms / 4, options_.min_std_dev_ms);
    return;
  }
  // The ring buffer holds exactly the newest count_ intervals in its first count_ slots until
  // it fills, and in all slots after; order does not matter for mean and variance. Two passes
  // keep the variance exact enough for long, steady histories.
  double sum = 0;
  for (size_t i = 0; i < count_; ++i)
    sum += intervals_[i];
  const double mean = sum / static_cast<double>(count_);
  double squares = 0;
  for (size_t i = 0; i < count_; ++i)
    squares += (intervals_[i] - mean) * (intervals_[i] - mean);
  mean_ms_ = mean;
  std_dev_ms_ = std::max(std::sqrt(squares / static_cast<double>(count_)), options_.min_std_dev_ms);
}

double PhiAccrual::phi(int64_t now_ms) const {
  if (!last_ms_) return 0;
  const double elapsed = static_cast<double>(std::max<int64_t>(0, now_ms - *last_ms_));
  const double y = (elapsed - (mean_ms_ + options_.acceptable_pause_ms)) / std_dev_ms_;
  const double z = y * (kLinear + kCubic * y * y);
  // P(later than now) = 1 - F(y) = 1 / (1 + exp(z)); phi = -log10 of it.
  return softplus(z) / std::log(10.0);
}

}  // namespace rkv::leaderless
