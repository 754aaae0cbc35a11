// PhiAccrual: the phi accrual failure detector (Hayashibara, Défago, Yared, Katayama, 2004), in
// the form Akka uses (Cassandra's is the same idea over an exponential model of intervals). Instead
// of a yes/no verdict after a fixed timeout it reports a suspicion level phi that grows the longer
// a peer stays silent, scaled by how regular that peer's heartbeats have been: phi = -log10(P(a
// heartbeat arrives later than now)). phi = 1 means a 10% chance the peer is merely late, phi = 8
// one in 10^8. The caller picks the threshold (the trade-off between detection time and false
// suspicion).
//
// Model: the intervals between the last `window` heartbeats follow a normal distribution with
// their sample mean (plus acceptable_pause_ms) and standard deviation (at least
// min_std_dev_ms). The normal CDF is approximated by the logistic function
//   F(y) ~ 1 / (1 + exp(-(1.5976 y + 0.070566 y^3))),  y = (elapsed - mean) / std dev
// (Bowling et al. 2009; max error ~1.4e-4), and phi = log10(1 + exp(z)) with z the exponent
// above, evaluated so it neither overflows nor loses precision: phi is finite for any silence,
// and rises monotonically with it (roughly like y^3 once y > 3).
//
// Before any heartbeat phi is 0: the detector knows nothing, and suspecting a peer it has never
// heard from is the caller's decision (Gossip reports such peers as down). Until two heartbeats
// have given one interval, the history is replaced by a prior: mean first_interval_ms, standard
// deviation first_interval_ms / 4 (or min_std_dev_ms if larger).
//
// Sans-IO: time comes in as now_ms; it must not go backwards between heartbeats.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace rkv::leaderless {

class PhiAccrual {
 public:
  struct Options {
    size_t window = 100;              // intervals kept (the newest); >= 1
    double min_std_dev_ms = 100;      // floor on the spread, so a metronome is not hair-trigger
    double acceptable_pause_ms = 0;   // added to the mean: pauses (GC, load) not to suspect
    double first_interval_ms = 1000;  // the prior, until the first interval is measured; > 0
    // Intervals longer than this are not sampled (the peer was away, not slow: one outage
    // would otherwise inflate the mean and spread for a whole window). 0 = sample every one.
    double max_sample_interval_ms = 0;
  };

  // (Two constructors, not a default argument: g++ cannot use Options' member initializers
  // inside its own enclosing class.)
  PhiAccrual() : PhiAccrual(Options{}) {}
  explicit PhiAccrual(Options o);

  // A heartbeat arrived at now_ms (>= the previous heartbeat's now_ms).
  void heartbeat(int64_t now_ms);
  // The suspicion level at now_ms: 0 before any heartbeat, >= 0 and finite always.
  double phi(int64_t now_ms) const;
  bool available(int64_t now_ms, double threshold) const { return phi(now_ms) < threshold; }

  // The distribution phi uses: the sampled mean (without acceptable_pause_ms) and the
  // standard deviation (with the floor applied); the prior until an interval is sampled.
  double mean_interval_ms() const { return mean_ms_; }
  double std_dev_ms() const { return std_dev_ms_; }

  bool has_heartbeat() const { return last_ms_.has_value(); }
  // The newest heartbeat's time; has_heartbeat() required.
  int64_t last_heartbeat_ms() const;
  size_t samples() const { return count_; }
  const Options& options() const { return options_; }

 private:
  void recompute();

  Options options_;
  std::vector<double> intervals_;  // ring buffer of the newest `count_` intervals
  size_t next_ = 0;                // where the next interval goes
  size_t count_ = 0;
  std::optional<int64_t> last_ms_;
  double mean_ms_;
  double std_dev_ms_;
};

}  // namespace rkv::leaderless
