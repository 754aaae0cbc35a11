#!/usr/bin/env bash
# Builds the libFuzzer targets of src/fuzz with Clang (ASan + UBSan) and runs each for a bounded
# time from the targets' seeds plus the committed corpus (tests/fuzz/<target>/). Exits non-zero
# when a target crashes, leaks or trips a check; the input is kept in BUILD/artifacts/.
#   scripts/fuzz.sh [BUILD_DIR] [SECONDS_PER_TARGET] [JOBS]
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build-fuzz}"
seconds="${2:-60}"
jobs="${3:-$(nproc)}"
targets=(resp peer config history records)

command -v clang++ >/dev/null || { echo "fuzz: clang++ not found (scripts/install-deps.sh)" >&2; exit 1; }
CC=clang CXX=clang++ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRKV_FUZZ=ON \
  -DRKV_SANITIZE=ON >/dev/null
cmake --build "$build" -j"$jobs" --target replikv-fuzz-seeds $(printf 'fuzz_%s ' "${targets[@]}")

corpus="$build/corpus"
mkdir -p "$corpus" "$build/artifacts"
"$build/src/fuzz/replikv-fuzz-seeds" "$corpus"
status=0
for t in "${targets[@]}"; do
  find "tests/fuzz/$t" -maxdepth 1 -type f ! -name README.md -exec cp {} "$corpus/$t/" \; 2>/dev/null || true
  echo "fuzz: $t for ${seconds}s" >&2
  if ! "$build/src/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$build/artifacts/$t-" "$corpus/$t" \
      >"$build/fuzz-$t.log" 2>&1; then
    echo "fuzz: $t FAILED; last lines of $build/fuzz-$t.log:" >&2
    tail -n 40 "$build/fuzz-$t.log" >&2
    status=1
  else
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$build/fuzz-$t.log" | \
      sed "s/^/fuzz: $t /" >&2 || true
  fi
done
exit "$status"
