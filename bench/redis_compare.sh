#!/usr/bin/env bash
# Compares replikv with Redis (Debian's redis-server) on this machine, in the same run, at
# matching durability, using redis-benchmark as the client for both. Prints a table of
# throughput ratios and latency percentiles. See bench/README.md.
#
# Environment:
#   BENCH_N         requests per redis-benchmark run (default 300000)
#   BENCH_CLIENTS   concurrent connections (default 50)
#   BENCH_PIPELINE  pipeline depth of the pipelined runs (default 16)
#   BENCH_N_SYNC    requests per run of the fsync-every-write comparison (default BENCH_N/10)
#   BENCH_RUN_TIMEOUT  seconds one redis-benchmark run may take (default 180)
#   REPLIKV_BIN     replikv binary (default build/replikv)
#   BENCH_KEEP      keep the temporary directory (logs, data, raw csv) when set
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
N="${BENCH_N:-300000}"
C="${BENCH_CLIENTS:-50}"
P="${BENCH_PIPELINE:-16}"
NS="${BENCH_N_SYNC:-$(( N / 10 > 10000 ? N / 10 : 10000 ))}"
RUN_TIMEOUT="${BENCH_RUN_TIMEOUT:-180}"
BIN="${REPLIKV_BIN:-$root/build/replikv}"
PY="$(command -v /usr/bin/python3 || command -v python3)"

for tool in redis-server redis-benchmark redis-cli; do
  command -v "$tool" >/dev/null || { echo "redis_compare: $tool not found (run scripts/install-deps.sh)" >&2; exit 1; }
done
[ -x "$BIN" ] || { echo "redis_compare: replikv binary not found at $BIN (make build)" >&2; exit 1; }

tmp="$(mktemp -d -t rkv-bench.XXXXXX)"
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]+"${pids[@]}"}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]+"${pids[@]}"}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ -n "${BENCH_KEEP:-}" ]; then
    echo "redis_compare: kept $tmp" >&2
  else
    rm -rf "$tmp"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_ping() {  # port pid name
  for _ in $(seq 200); do
    if [ "$(redis-cli -h 127.0.0.1 -p "$1" PING 2>/dev/null)" = "PONG" ]; then return 0; fi
    kill -0 "$2" 2>/dev/null || { echo "redis_compare: $3 exited at start; log:" >&2; cat "$tmp/$3.log" >&2; exit 1; }
    sleep 0.05
  done
  echo "redis_compare: $3 not ready on port $1" >&2
  exit 1
}

# Each start_* sets $port and $pid of the server it started.
start_replikv() {  # fsync-mode
  local name="replikv-$1"
  port="$(free_port)"
  mkdir -p "$tmp/$name"
  "$BIN" serve --port "$port" --admin-port 0 --data-dir "$tmp/$name/data" --fsync "$1" \
    --log-level warn >"$tmp/$name.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  wait_ping "$port" "$pid" "$name"
}

start_redis() {  # label, then redis-server options
  local name="redis-$1"
  shift
  port="$(free_port)"
  mkdir -p "$tmp/$name"
  redis-server --port "$port" --bind 127.0.0.1 --dir "$tmp/$name" --daemonize no \
    --logfile "$tmp/$name.log" "$@" &
  pid=$!
  pids+=("$pid")
  wait_ping "$port" "$pid" "$name"
}

# Drops a pid that has been waited for, so cleanup never signals a recycled pid.
forget_pid() {
  local keep=() p
  for p in "${pids[@]+"${pids[@]}"}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  pids=("${keep[@]+"${keep[@]}"}")
}

stop_server() {  # pid
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  forget_pid "$1"
}

results="$tmp/results.csv"
echo "pair,server,test,pipeline,rps,p50_ms,p99_ms" >"$results"

bench() {  # pair server port test pipeline [n]
  local pair="$1" server="$2" port="$3" test="$4" pipe="$5" n="${6:-$N}" out
  # In the background + wait, so a signal to this script is handled at once (not after the run).
  timeout "$RUN_TIMEOUT" redis-benchmark -h 127.0.0.1 -p "$port" -c "$C" -d 64 -r 100000 \
    -n "$n" -P "$pipe" -t "$test" --csv >"$tmp/bench.out" 2>"$tmp/bench.err" &
  local bpid=$!
  pids+=("$bpid")
  local rc=0
  wait "$bpid" || rc=$?
  forget_pid "$bpid"
  if [ "$rc" -ne 0 ]; then
    echo "redis_compare: redis-benchmark failed (or exceeded ${RUN_TIMEOUT}s) against $server:" >&2
    cat "$tmp/bench.err" >&2
    exit 1
  fi
  out="$(cat "$tmp/bench.out")"
  if grep -qi "error" <<<"$out" || grep -qi "error" "$tmp/bench.err"; then
    echo "redis_compare: errors reported by redis-benchmark against $server:" >&2
    echo "$out" >&2
    cat "$tmp/bench.err" >&2
    exit 1
  fi
  # "SET","rps","avg","min","p50","p95","p99","max"
  local row
  row="$(grep -i "^\"$test\"" <<<"$out" | head -n1 | tr -d '"')"
  [ -n "$row" ] || { echo "redis_compare: no csv row for $test in: $out" >&2; exit 1; }
  IFS=, read -r _ rps _ _ p50 _ p99 _ <<<"$row"
  echo "$pair,$server,$test,$pipe,$rps,$p50,$p99" >>"$results"
  printf '  %-8s %-22s %-4s P=%-3s %12s rps  p50=%sms p99=%sms\n' \
    "$pair" "$server" "$test" "$pipe" "$rps" "$p50" "$p99" >&2
}

suite() {  # pair server port
  local t p
  for p in 1 "$P"; do
    for t in set get; do
      bench "$1" "$2" "$3" "$t" "$p"
    done
  done
}

echo "redis_compare: N=$N (sync runs $NS) clients=$C pipeline=$P value=64B keyspace=100000 cpus=$(nproc)" >&2
echo "redis_compare: $("$BIN" --version 2>/dev/null || echo replikv) vs $(redis-server --version | awk '{print $3}')" >&2

# Pair 1: fsync about once per group / per second.
start_replikv batch
suite "durable" "replikv --fsync batch" "$port"
stop_server "$pid"
start_redis everysec --save '' --appendonly yes --appendfsync everysec
suite "durable" "redis aof everysec" "$port"
stop_server "$pid"

# Pair 2: no disk sync at all.
start_replikv never
suite "memory" "replikv --fsync never" "$port"
stop_server "$pid"
start_redis nopersist --save '' --appendonly no
suite "memory" "redis no persistence" "$port"
stop_server "$pid"

# Group commit: every acknowledged write synced (replikv always; Redis appendfsync always)
# against replikv batch, plain SET only. Fewer requests: each sync costs a disk flush.
NA="$NS"
start_replikv always
bench "sync" "replikv --fsync always" "$port" set 1 "$NA"
stop_server "$pid"
start_replikv batch
bench "sync" "replikv --fsync batch" "$port" set 1 "$NA"
stop_server "$pid"
start_redis always --save '' --appendonly yes --appendfsync always
bench "sync" "redis aof always" "$port" set 1 "$NA"
stop_server "$pid"

"$PY" "$here/report.py" "$results"
