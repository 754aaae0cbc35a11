// Server statistics, owned by the event loop thread (not thread-safe): command counters, a
// latency histogram, connection and byte counters. Rendered as Prometheus text for /metrics,
// as INFO sections, and as JSON for /status.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>

#include "resp/commands.h"

namespace rkv {

// Latency histogram with fixed, Prometheus-friendly bucket bounds in microseconds.
class LatencyHistogram {
 public:
  static constexpr std::array<uint64_t, 16> kBoundsUs = {
      10,   25,    50,    100,   250,    500,    1000,   2500,
      5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000};
  void record(uint64_t us) {
    size_t i = 0;
    while (i < kBoundsUs.size() && us > kBoundsUs[i])
      ++i;
    ++counts_[i];
    sum_us_ += us;
    ++total_;
  }
  uint64_t total() const { return total_; }
  uint64_t sum_us() const { return sum_us_; }
  uint64_t count_in(size_t bucket) const { return counts_[bucket]; }
  // Upper bound of the bucket holding quantile q (0..1); 0 when empty.
  uint64_t quantile_us(double q) const;

 private:
  std::array<uint64_t, kBoundsUs.size() + 1> counts_{};  // last = +Inf
  uint64_t sum_us_ = 0;
  uint64_t total_ = 0;
};

// How long the event loop spent in each of its steps (a step: one batch of client reads with
// the commands they carry, one end of round, one peer message, one timer tick, one completed
// group commit). Every client and peer of the node waits while a step runs, so the longest
// ones are what a slow request or a missed heartbeat is made of.
class LoopSteps {
 public:
  // Records a step of `us` microseconds that ended at `now_ms` (steady clock).
  void record(uint64_t us, int64_t now_ms) {
    hist_.record(us);
    max_us_ = std::max(max_us_, us);
    if (now_ms - window_start_ms_ >= kWindowMs) {
      previous_max_us_ = now_ms - window_start_ms_ >= 2 * kWindowMs ? 0 : window_max_us_;
      window_max_us_ = 0;
      window_start_ms_ = now_ms;
    }
    window_max_us_ = std::max(window_max_us_, us);
  }
  const LatencyHistogram& histogram() const { return hist_; }
  uint64_t max_us() const { return max_us_; }
  // The longest step of the last 30 to 60 seconds.
  uint64_t recent_max_us() const { return std::max(window_max_us_, previous_max_us_); }

 private:
  static constexpr int64_t kWindowMs = 30'000;
  LatencyHistogram hist_;
  uint64_t max_us_ = 0;
  uint64_t window_max_us_ = 0, previous_max_us_ = 0;
  int64_t window_start_ms_ = 0;
};

struct ServerStats {
  std::array<uint64_t, static_cast<size_t>(resp::CommandId::kCount_)> calls{};
  std::array<uint64_t, static_cast<size_t>(resp::CommandId::kCount_)> errors{};
  uint64_t unknown_commands = 0;
  uint64_t auth_failures = 0;      // AUTH / HELLO AUTH with a wrong user or password
  uint64_t auth_rate_limited = 0;  // attempts refused unchecked: too many failures lately
  uint64_t noauth_rejected = 0;    // commands refused before authentication

  // NOPERM: the user may not run the command / may not touch one of its keys.
  uint64_t acl_denied_commands = 0;
  uint64_t acl_denied_keys = 0;

  uint64_t protocol_errors = 0;
  uint64_t connections_total = 0;
  uint64_t rejected_connections = 0;
  uint64_t tls_handshake_failures = 0;  // TLS port: handshakes refused or broken
  uint64_t closed_output_limit = 0;
  uint64_t input_paused = 0;  // times a client's input stopped: too many replies still held
  uint64_t closed_idle = 0;
  uint64_t net_input_bytes = 0;
  uint64_t net_output_bytes = 0;
  uint64_t persist_batches = 0;
  uint64_t persist_syncs = 0;
  uint64_t persist_rows = 0;
  uint64_t persist_failures = 0;  // batch writes the disk refused (each retry counts)
  // EXEC outcomes: ran, aborted by a changed WATCHed key (nil), EXECABORT (queuing error),
  // refused or failed as a whole (an error reply: keys of several keyspaces, no leader, ...).
  uint64_t transactions_executed = 0;
  uint64_t transactions_aborted = 0;
  uint64_t transactions_execabort = 0;
  uint64_t transactions_failed = 0;
  LatencyHistogram latency;  // command received -> reply ready to send (includes fsync wait)
  LoopSteps loop;
  uint64_t total_commands() const;
};

}  // namespace rkv
