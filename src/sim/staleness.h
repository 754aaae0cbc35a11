// How stale can a leaderless read be? A Monte Carlo measurement of the WARS model of
// Probabilistically Bounded Staleness (Bailis et al., "Probabilistically Bounded Staleness for
// Practical Partial Quorums", VLDB 2012), for one keyspace with N replicas, read quorum R and
// write quorum W, read repair and anti-entropy off.
//
// The model, per trial (times in ms, the write starts at 0):
//   - the coordinator sends the write to all N replicas; replica i receives it after W_i and
//     holds it from then on; its ack reaches the coordinator at W_i + A_i;
//   - the write is acknowledged at the W-th smallest W_i + A_i;
//   - a read starts t ms after that acknowledgement and goes to all N replicas; replica i
//     answers with what it holds at read_start + R_i, and the answer arrives S_i later;
//   - the coordinator keeps the R first answers by arrival (ties: lower replica index first,
//     which for i.i.d. replicas is a fair coin) and the read is consistent iff at least one of
//     them came from a replica holding the write (or anything newer).
// W, A, R and S are drawn independently per message from one DelayDist per kind. Every t is
// evaluated on the same trials, and the answering set does not depend on t, so each trial's
// outcome is non-decreasing in t and so is the measured curve. With R + W > N every answering
// set meets the write quorum, whose members hold the write by the time it is acknowledged: the
// result is exactly 1.0 at every t (asserted as a postcondition).
//
// Pure computation: no clocks, no I/O, one seeded rkv::Random per message kind (derived from
// the seed), so a seed reproduces a result bit for bit and changing one kind's distribution
// leaves the other kinds' draws unchanged (common random numbers for comparisons).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/random.h"

namespace rkv::sim {

// Limits on what a delay spec or a staleness run may ask for.
inline constexpr size_t kMaxDelayComponents = 16;  // terms of a mixture
inline constexpr double kMaxDelayMs = 1e9;         // parameters above are rejected; draws
                                                   // are clamped here (heavy Pareto tails)
inline constexpr int kMaxStalenessReplicas = 64;   // N
inline constexpr uint64_t kMaxStalenessTrials = 1'000'000'000;
inline constexpr size_t kMaxStalenessPoints = 1000;  // entries of t_ms

// A distribution of one-way message delays in milliseconds: a weighted mixture of components,
// each a constant, uniform, exponential or Pareto distribution plus an optional fixed offset.
//
// Text syntax (whitespace is ignored, names are case-insensitive, numbers are decimal with an
// optional exponent):
//   const:C              always C                                      (C >= 0)
//   uniform:A:B          uniform on [A, B]                             (0 <= A <= B)
//   exp:M                exponential with mean M                       (M > 0)
//   pareto:XM:ALPHA      Pareto, scale XM, shape ALPHA: P(X > x) = (XM/x)^ALPHA for x >= XM
//                        (XM > 0, ALPHA > 0; the mean is infinite for ALPHA <= 1)
//   DIST+OFF             any of the above shifted by OFF >= 0, e.g. "exp:2+0.5"
//   W1*DIST1 + W2*DIST2  a mixture: with probability W1/(W1+W2+...) draw from DIST1, ...;
//                        every term of a mixture needs its weight (W > 0), and the weights
//                        are normalised, e.g. "0.9*exp:1 + 0.1*pareto:10:1.2"
// At most kMaxDelayComponents terms; parameters at most kMaxDelayMs.
struct DelayDist {
  enum class Kind : uint8_t { kConst, kUniform, kExp, kPareto };
  struct Component {
    Kind kind = Kind::kConst;
    double p1 = 0;      // const: C; uniform: A; exp: mean; pareto: XM
    double p2 = 0;      // uniform: B; pareto: ALPHA; unused otherwise
    double offset = 0;  // added to every draw
    double weight = 1;  // normalised: the weights of `components` sum to 1
  };
  // Never empty. The default is "const:0" (no delay).
  std::vector<Component> components{Component{}};

  // Single-component factories; the arguments must satisfy the ranges of the syntax above.
  static DelayDist constant(double c);
  static DelayDist uniform(double a, double b);
  static DelayDist exponential(double mean, double offset = 0);
  static DelayDist pareto(double xm, double alpha);

  // Parses the syntax above. On failure returns nullopt and, if `error` is not null, sets it to
  // a message naming the spec and what is wrong with it.
  static std::optional<DelayDist> parse(std::string_view spec, std::string* error);

  // One delay in ms: finite, >= 0 and <= kMaxDelayMs.
  double draw(Random& rng) const;
  // The analytic mean in ms (infinity when a Pareto term has ALPHA <= 1); ignores the clamp.
  double mean() const;
  // The canonical spec, which parse() accepts: "exp:2+0.5", "0.9*exp:1 + 0.1*pareto:10:1.2".
  std::string describe() const;
};

struct StalenessOptions {
  int n = 3, r = 1, w = 1;
  // Defaults: every kind exponential with mean 1 ms, the shape the PBS paper uses for its
  // synthetic runs (a fast LAN with a light tail); real deployments should pass their own fits.
  DelayDist write_req = DelayDist::exponential(1);  // W: write request, coordinator -> replica
  DelayDist write_ack = DelayDist::exponential(1);  // A: write ack, replica -> coordinator
  DelayDist read_req = DelayDist::exponential(1);   // R: read request, coordinator -> replica
  DelayDist read_resp = DelayDist::exponential(1);  // S: read response, replica -> coordinator
  uint64_t trials = 100000;
  uint64_t seed = 1;
  std::vector<double> t_ms = {0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000};
};

struct StalenessResult {
  std::vector<double> t_ms;          // as asked, same order
  std::vector<double> p_consistent;  // fraction of trials whose read returned the write
  // 95% normal-approximation half width, 1.96 * sqrt(p(1-p)/trials); 0 when p is 0 or 1.
  std::vector<double> ci95_half_width;
  // Write latency: start to acknowledgement. Read latency: start to the R-th answer.
  // Nearest-rank percentiles over the trials, in ms.
  double write_latency_p50 = 0, write_latency_p99 = 0;
  double read_latency_p50 = 0, read_latency_p99 = 0;
  uint64_t trials = 0;
};

// True iff `o` is within the limits above (1 <= r, w <= n <= kMaxStalenessReplicas, 1 <= trials
// <= kMaxStalenessTrials, 1..kMaxStalenessPoints finite t_ms >= 0); otherwise sets `error`.
bool validate_staleness(const StalenessOptions& o, std::string* error);

// Runs o.trials trials of the model above. Precondition: validate_staleness(o). Deterministic
// for o.seed; about 40 ms per 100k trials at N=3 (one thread).
StalenessResult measure_staleness(const StalenessOptions& o);

// A readable report: the settings, the latencies, one row per t (t, P(consistent), ±95% CI),
// and the strict-quorum line (R + W > N => 1.0 at every t) with whether the result bears it out.
std::string format_staleness(const StalenessOptions& o, const StalenessResult& r);

}  // namespace rkv::sim
