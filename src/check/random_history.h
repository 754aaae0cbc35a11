// Seeded generators of histories that are correct by construction, for tests and benchmarks:
// each operation gets a random interval and a linearization point inside it, and the points
// are applied in time order to a real sequential register, so every generated history is
// linearizable (and a mutated read can be checked to be caught).
#pragma once

#include <cstdint>
#include <vector>

#include "check/history.h"
#include "core/random.h"

namespace rkv::check {

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
