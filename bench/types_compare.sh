#!/usr/bin/env bash
# redis-benchmark's default suite (PING, SET, GET, INCR, LPUSH, RPUSH, LPOP, RPOP, SADD, HSET,
# SPOP, ZADD, ZPOPMIN, LRANGE_100..600, MSET) against replikv and Redis in the same run:
#   single   one replikv node, --fsync never   vs  redis-server without persistence
#   cluster  3-node replikv, default keyspace primary (commit quorum, fsync batch), sent to the
#            leader                             vs  Redis primary + 2 replicas, AOF everysec
# Each test's requests per second side by side, with the ratio replikv / Redis; the runs of a
# pair alternate in order between rounds (cluster_lib.sh's pair). See bench/README.md.
#
# Environment:
#   BENCH_N          requests per test (default 100000)
#   BENCH_CLIENTS    connections (default 50)
#   BENCH_PIPELINE   pipeline depth (default 1)
#   BENCH_ROUNDS     rounds of each pair (default 1)
#   BENCH_ONLY       single | cluster (default both)
#   BENCH_RUN_TIMEOUT  seconds one redis-benchmark suite may take (default 600)
#   REPLIKV_BIN      replikv binary (default build/replikv)
#   BENCH_KEEP       keep the temporary directory when set
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
N="${BENCH_N:-100000}"
C="${BENCH_CLIENTS:-50}"
P="${BENCH_PIPELINE:-1}"
ROUNDS="${BENCH_ROUNDS:-1}"
ONLY="${BENCH_ONLY:-}"
RUN_TIMEOUT="${BENCH_RUN_TIMEOUT:-600}"
BIN="${REPLIKV_BIN:-$root/build/replikv}"
PY="$(command -v /usr/bin/python3 || command -v python3)"
LOAD="$here/cluster_load.py"

for tool in redis-server redis-benchmark redis-cli; do
  command -v "$tool" >/dev/null || { echo "types_compare: $tool not found (run scripts/install-deps.sh)" >&2; exit 1; }
done
[ -x "$BIN" ] || { echo "types_compare: replikv binary not found at $BIN (make build)" >&2; exit 1; }

tmp="$(mktemp -d -t rkv-types-bench.XXXXXX)"
BENCH_ME=types_compare
# shellcheck source=bench/cluster_lib.sh
source "$here/cluster_lib.sh"

results="$tmp/results.csv"
echo "setup,server,round,test,rps,p50_ms,p99_ms" >"$results"

# suite SETUP SERVER PORT: the default suite against one server; one csv row per test.
suite() {
  local setup="$1" server="$2" port="$3" rc=0
  redis-cli -p "$port" FLUSHALL >/dev/null 2>&1 || true
  timeout "$RUN_TIMEOUT" redis-benchmark -h 127.0.0.1 -p "$port" -c "$C" -n "$N" -r 100000 \
    -P "$P" --csv >"$tmp/bench.out" 2>"$tmp/bench.err" &
  local bpid=$!
  pids+=("$bpid")
  wait "$bpid" || rc=$?
  if [ "$rc" -ne 0 ] || grep -qi "error" "$tmp/bench.out" "$tmp/bench.err"; then
    echo "types_compare: redis-benchmark against $server failed (rc $rc):" >&2
    cat "$tmp/bench.out" "$tmp/bench.err" >&2
    exit 1
  fi
  # "test","rps","avg","min","p50","p95","p99","max"
  "$PY" - "$setup" "$server" "$round" "$tmp/bench.out" >>"$results" <<'PYEOF'
import csv, sys
setup, server, rnd, path = sys.argv[1:5]
for row in csv.reader(open(path)):
    if not row or row[0] == "test":
        continue
    print(",".join([setup, server, rnd, row[0].split(" ")[0], row[1], row[4], row[6]]))
PYEOF
  echo "  $setup $server round $round: $(grep -c . "$tmp/bench.out") lines" >&2
}

start_single() {  # replikv --fsync never and redis without persistence; sets sp, rp1
  sp="$(free_port)"
  mkdir -p "$tmp/single"
  "$BIN" serve --port "$sp" --admin-port 0 --data-dir "$tmp/single/data" --fsync never \
    --log-level warn >"$tmp/replikv-single.log" 2>&1 &
  pids+=("$!")
  wait_ping "$sp" "$!" replikv-single
  rp1="$(free_port)"
  mkdir -p "$tmp/redis-single"
  redis-server --port "$rp1" --bind 127.0.0.1 --dir "$tmp/redis-single" --daemonize no \
    --save '' --appendonly no --logfile "$tmp/redis-single.log" &
  pids+=("$!")
  wait_ping "$rp1" "$!" redis-single
}

echo "types_compare: N=$N clients=$C pipeline=$P rounds=$ROUNDS cpus=$(nproc) load=$(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "types_compare: $("$BIN" --version 2>/dev/null | head -n1 || echo replikv) vs redis $(redis-server --version | awk '{print $3}')" >&2

if [ "$ONLY" != cluster ]; then
  start_single
  for round in $(seq "$ROUNDS"); do
    pair "suite single replikv $sp" "suite single redis $rp1"
  done
fi
if [ "$ONLY" != single ]; then
  start_rkv rkv
  start_redis
  for round in $(seq "$ROUNDS"); do
    lp="$(leader_port "$rkv_nodes")"
    pair "suite cluster replikv $lp" "suite cluster redis ${rp[0]}"
  done
fi

"$PY" - "$results" <<'PYEOF'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
tests = []
for r in rows:
    if r["test"] not in tests:
        tests.append(r["test"])
line = "-" * 92
for setup, label in (("single", "single node: replikv --fsync never vs redis no persistence"),
                     ("cluster", "3 nodes: replikv primary (quorum, fsync batch) vs redis + 2 "
                                 "replicas (aof everysec)")):
    mine = [r for r in rows if r["setup"] == setup]
    if not mine:
        continue
    print(line)
    print(label)
    print(f"{'test':<14} {'replikv rps':>12} {'redis rps':>12} {'ratio':>6}  "
          f"{'replikv p50/p99 ms':>18} {'redis p50/p99 ms':>17}")
    below = []
    for t in tests:
        a = [r for r in mine if r["test"] == t and r["server"] == "replikv"]
        b = [r for r in mine if r["test"] == t and r["server"] == "redis"]
        if not a or not b:
            continue
        ra = statistics.median(float(r["rps"]) for r in a)
        rb = statistics.median(float(r["rps"]) for r in b)
        ratio = ra / rb
        if ratio < 0.8:
            below.append(t)
        print(f"{t:<14} {ra:>12.0f} {rb:>12.0f} {ratio:>6.2f}  "
              f"{a[-1]['p50_ms'] + '/' + a[-1]['p99_ms']:>18} "
              f"{b[-1]['p50_ms'] + '/' + b[-1]['p99_ms']:>17}")
    print(f"below 0.8x: {', '.join(below) if below else 'none'}")
print(line)
PYEOF
