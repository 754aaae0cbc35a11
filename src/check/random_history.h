// Seeded generators of histories that are correct by construction, for tests and benchmarks:
// each operation gets a random interval and a linearization point inside it, and the points
// are applied in time order to a real sequential register, so every generated history is
// linearizable (and a mutated read can be checked to be caught).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "check/history.h"
#include "core/random.h"

namespace rkv::check {

// One operation of a random concurrent schedule and the time at which it takes effect
// (its linearization point, between its invoke and complete).
struct Planned {
  Op op;
  int64_t at;
};

// `n` operations over `processes` processes: operation i of process p is make(i, p); it is
// invoked 1..max_latency after the process's previous operation completed, takes effect up to
// max_latency later and completes up to max_latency after that; then after(planned) may adjust
// it. Operations of different processes overlap at random. Returned in the order in which they
// take effect.
template <typename Make, typename After>
std::vector<Planned> plan_concurrent(Random& rng, int processes, int64_t n, int64_t max_latency,
                                     Make make, After after) {
  std::vector<Planned> planned;
  std::vector<int64_t> clock(static_cast<size_t>(processes), 0);
  for (int64_t i = 0; i < n; ++i) {
    const int p = static_cast<int>(rng.uniform(static_cast<uint64_t>(processes)));
    Planned x;
    x.op = make(i, p);
    int64_t& free_at = clock[static_cast<size_t>(p)];
    x.op.invoke = free_at + static_cast<int64_t>(rng.range(1, static_cast<uint64_t>(max_latency)));
    x.at = x.op.invoke + static_cast<int64_t>(rng.uniform(static_cast<uint64_t>(max_latency)));
    x.op.complete = x.at + static_cast<int64_t>(rng.uniform(static_cast<uint64_t>(max_latency)));
    free_at = x.op.complete;
    after(x);
    planned.push_back(std::move(x));
  }
  std::stable_sort(planned.begin(), planned.end(),
                   [](const Planned& a, const Planned& b) { return a.at < b.at; });
  return planned;
}
template <typename Make>
std::vector<Planned> plan_concurrent(Random& rng, int processes, int64_t n, int64_t max_latency,
                                     Make make) {
  return plan_concurrent(rng, processes, n, max_latency, make, [](Planned&) {});
}

struct RegisterHistoryOptions {
  int processes = 10;             // concurrent clients; each runs one operation at a time
  int keys = 1;                   // keys "k0".."k{keys-1}", chosen uniformly per operation
  int64_t ops = 1000;             // operations generated in total
  int64_t max_latency = 100;      // microseconds from invoke to the linearization point and on
  double info_fraction = 0.0;     // writes whose outcome becomes unknown (half of them applied)
  bool only_set_get_del = false;  // no cas/incr/append (every set writes a unique value)
};

// Returns the ops sorted by invoke time, numbered by `line` from 1 in that order.
std::vector<Op> generate_register_history(Random& rng, const RegisterHistoryOptions& options);

}  // namespace rkv::check
