// Times the linearizability checker on seeded, linearizable-by-construction histories.
//   rkv_check_bench [seed]
// Workload 1 (the target): 100,000 operations over 1,000 keys, 10 concurrent processes.
// Workload 2: one hot key, 5,000 operations, 10 concurrent processes.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "check/linearizability.h"
#include "check/random_history.h"

namespace {

int run(const char* name, uint64_t seed, const rkv::check::RegisterHistoryOptions& options) {
  rkv::Random rng(seed);
  const auto history = rkv::check::generate_register_history(rng, options);
  const auto start = std::chrono::steady_clock::now();
  const auto result = rkv::check::check_linearizable(history);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "%s: seed=%llu ops=%lld keys=%d processes=%d info=%.2f -> %s in %.3f s (%.0f ops/s)\n", name,
      static_cast<unsigned long long>(seed), static_cast<long long>(history.size()), options.keys,
      options.processes, options.info_fraction, rkv::check::verdict_name(result.verdict), seconds,
      static_cast<double>(history.size()) / seconds);
  return result.ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const uint64_t seed = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 42;
  rkv::check::RegisterHistoryOptions wide;
  wide.ops = 100'000;
  wide.keys = 1'000;
  wide.processes = 10;
  wide.info_fraction = 0.02;
  rkv::check::RegisterHistoryOptions hot;
  hot.ops = 5'000;
  hot.keys = 1;
  hot.processes = 10;
  hot.info_fraction = 0.0;
  int rc = run("100k ops / 1000 keys", seed, wide);
  rc |= run("5k ops / 1 hot key", seed, hot);
  return rc;
}
