#!/usr/bin/env bash
# Replicated stores on one machine, same run: a 3-node replikv cluster (commit = quorum,
# read = linearizable), a 3-member etcd cluster, and Redis with 2 replicas (replicaof).
# 50 clients, 64-byte values, random keys out of 100000; every client talks to the leader.
#
#   native load generators, written in C, one per protocol:
#     redis-benchmark (-c 50 -d 64 -r 100000 -n N -t set|get): replikv leader, Redis primary
#     wrk (-t 1 -c 50, BENCH_SECONDS, bench/etcd_wrk.lua): etcd leader via its v3 HTTP/JSON
#       gateway (put; range with serializable=false: a linearizable read)
#   cluster_load.py (50 threads, persistent connections, BENCH_SECONDS each): etcd leader and
#     replikv leader through one Python client, so that ratio compares like with like (the
#     Python client is the bottleneck for both on a small machine)
#
# Every system is started once and stays up; the load runs go one at a time, alternating
# between the systems each ratio compares (never two at once). See bench/README.md.
#
# Environment:
#   BENCH_N           requests per redis-benchmark run (default 100000)
#   BENCH_SECONDS     seconds per cluster_load.py run (default 10)
#   BENCH_CLIENTS     concurrent clients (default 50)
#   BENCH_ROUNDS      how many times the whole sequence runs (default 1); with more than one,
#                     the table shows medians and each ratio is the median of the per-round
#                     ratios (both sides of a ratio are measured minutes apart at most)
#   BENCH_RUN_TIMEOUT seconds one redis-benchmark run may take (default 180)
#   REPLIKV_BIN       replikv binary (default build/replikv)
#   BENCH_KEEP        keep the temporary directory (logs, data) when set
#   BENCH_SETTLE_MAX  seconds to wait at most for an idle machine before each run (default 10)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
N="${BENCH_N:-100000}"
SECS="${BENCH_SECONDS:-10}"
C="${BENCH_CLIENTS:-50}"
ROUNDS="${BENCH_ROUNDS:-1}"
round=1
RUN_TIMEOUT="${BENCH_RUN_TIMEOUT:-180}"
BIN="${REPLIKV_BIN:-$root/build/replikv}"
PY="$(command -v /usr/bin/python3 || command -v python3)"
LOAD="$here/cluster_load.py"

for tool in redis-server redis-benchmark redis-cli etcd wrk; do
  command -v "$tool" >/dev/null || { echo "cluster_compare: $tool not found" >&2; exit 1; }
done
[ -x "$BIN" ] || { echo "cluster_compare: replikv binary not found at $BIN (make build)" >&2; exit 1; }

tmp="$(mktemp -d -t rkv-cluster-bench.XXXXXX)"
BENCH_ME=cluster_compare
# shellcheck source=bench/cluster_lib.sh
source "$here/cluster_lib.sh"

results="$tmp/results.csv"
: >"$results"
record() {  # system client test rps p50 p99
  echo "$round,$1,$2,$3,$4,$5,$6" >>"$results"
  printf '  %-17s %-16s %-4s %10.0f rps  p50=%.3fms p99=%.3fms\n' "$1" "$2" "$3" "$4" "$5" "$6" >&2
}

rbench() {  # system port test
  local out rc=0 bpid row rps p50 p99
  timeout "$RUN_TIMEOUT" redis-benchmark -h 127.0.0.1 -p "$2" -c "$C" -d 64 -r 100000 -n "$N" \
    -t "$3" --csv >"$tmp/bench.out" 2>"$tmp/bench.err" &
  bpid=$!; pids+=("$bpid")
  wait "$bpid" || rc=$?
  unset 'pids[-1]'  # reaped: never signal it again (its pid may be reused)
  if [ "$rc" -ne 0 ] || grep -qi error "$tmp/bench.out" "$tmp/bench.err"; then
    echo "cluster_compare: redis-benchmark $3 against $1 failed (rc $rc):" >&2
    cat "$tmp/bench.out" "$tmp/bench.err" >&2; exit 1
  fi
  row="$(grep -i "^\"$3\"" "$tmp/bench.out" | head -n1 | tr -d '"')"
  IFS=, read -r _ rps _ _ p50 _ p99 _ <<<"$row"
  record "$1" redis-benchmark "$3" "$rps" "$p50" "$p99"
}

pyload() {  # system proto endpoint op
  local j
  j="$(timeout $((SECS * 3 + 60)) "$PY" "$LOAD" load --proto "$2" --endpoint "$3" --op "$4" \
        --clients "$C" --seconds "$SECS" --value-size 64 --keys 100000)"
  read -r rps p50 p99 errs < <("$PY" -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["rps"], d["p50_ms"], d["p99_ms"], d["errors"])' "$j")
  [ "$errs" = "0" ] || echo "cluster_compare: $1 $4: $errs errors during the run" >&2
  record "$1" python "$4" "$rps" "$p50" "$p99"
}

wrkload() {  # system endpoint op(put|get)
  local out rc=0 wpid line
  OP="$3" KEYS=100000 VALUE_SIZE=64 timeout $((SECS * 3 + 60)) wrk -t 1 -c "$C" -d "${SECS}s" \
    -s "$here/etcd_wrk.lua" "http://$2" >"$tmp/wrk.out" 2>&1 &
  wpid=$!; pids+=("$wpid")
  wait "$wpid" || rc=$?
  unset 'pids[-1]'
  line="$(grep '^WRK_RESULT' "$tmp/wrk.out" || true)"
  if [ "$rc" -ne 0 ] || [ -z "$line" ]; then
    echo "cluster_compare: wrk $3 against $1 failed (rc $rc):" >&2; cat "$tmp/wrk.out" >&2; exit 1
  fi
  local rps p50 p99 errs
  rps="$(sed -n 's/.* rps=\([0-9.]*\).*/\1/p' <<<"$line")"
  p50="$(sed -n 's/.* p50_ms=\([0-9.]*\).*/\1/p' <<<"$line")"
  p99="$(sed -n 's/.* p99_ms=\([0-9.]*\).*/\1/p' <<<"$line")"
  errs="$(sed -n 's/.* errors=\([0-9]*\).*/\1/p' <<<"$line")"
  [ "$errs" = "0" ] || echo "cluster_compare: $1 wrk $3: $errs failed requests" >&2
  record "$1" wrk "$([ "$3" = put ] && echo set || echo get)" "$rps" "$p50" "$p99"
}

echo "cluster_compare: clients=$C value=64B keys=100000 N=$N python=${SECS}s cpus=$(nproc) load=$(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "cluster_compare: $("$BIN" --version 2>/dev/null | head -n1 || echo replikv), etcd $(etcd --version | awk 'NR==1{print $3}'), redis $(redis-server --version | awk '{print $3}')" >&2

# Every system is started once and stays up (idle ones cost next to nothing); the runs of
# each round alternate between the systems compared, so that the two sides of every ratio are
# measured seconds apart: a shared machine's speed drifts by 2x over minutes.
start_rkv rkv
q_nodes="$rkv_nodes"
start_rkv rkv-async --commit async
ab_nodes="$rkv_nodes"
# fsync = never: acknowledged once written to the leader's log without waiting for the disk,
# surviving a process crash but not a power loss, as Redis's AOF with everysec does.
start_rkv rkv-async-nofsync --commit async --fsync never
an_nodes="$rkv_nodes"
start_etcd
start_redis

one_round() {
  # Leaders are looked up again each round: a cluster may have elected another one meanwhile.
  q_port="$(leader_port "$q_nodes")"
  ab_port="$(leader_port "$ab_nodes")"
  an_port="$(leader_port "$an_nodes")"
  pair 'rbench replikv "$q_port" set' 'wrkload etcd "$eleader" put'
  pair 'rbench rkv-async-nofsync "$an_port" set' 'rbench redis "${rp[0]}" set'
  settle; rbench replikv-async "$ab_port" set
  pair 'rbench replikv "$q_port" get' 'wrkload etcd "$eleader" get'
  settle; rbench redis "${rp[0]}" get
  pair 'pyload replikv resp "127.0.0.1:$q_port" set' 'pyload etcd etcd "$eleader" set'
  pair 'pyload replikv resp "127.0.0.1:$q_port" get' 'pyload etcd etcd "$eleader" get'
}

for round in $(seq "$ROUNDS"); do
  [ "$ROUNDS" -gt 1 ] && echo "cluster_compare: round $round of $ROUNDS" >&2
  one_round
done
# The replicas really followed: they hold as many keys as the primary (checked, not assumed).
want="$(redis-cli -p "${rp[0]}" DBSIZE)"
for _ in $(seq 100); do
  [ "$(redis-cli -p "${rp[1]}" DBSIZE)" = "$want" ] && [ "$(redis-cli -p "${rp[2]}" DBSIZE)" = "$want" ] && break
  sleep 0.1
done
echo "redis: primary holds $want keys, replicas $(redis-cli -p "${rp[1]}" DBSIZE) and $(redis-cli -p "${rp[2]}" DBSIZE)" >&2
stop_all

"$PY" - "$results" "$ROUNDS" <<'EOF'
import csv, statistics, sys
runs = {}  # (system, client, op) -> {round: (rps, p50, p99)}
for r in csv.reader(open(sys.argv[1])):
    runs.setdefault((r[1], r[2], r[3]), {})[int(r[0])] = tuple(map(float, r[4:]))
rounds = int(sys.argv[2])
med = statistics.median
label = f"median of {rounds} rounds" if rounds > 1 else "one round"
print(f"{'system':17} {'client':16} {'op':4} {'rps':>10} {'p50 ms':>8} {'p99 ms':>8}   ({label})")
for (s, c, op), by_round in runs.items():
    v = list(by_round.values())
    print(f"{s:17} {c:16} {op:4} {med([x[0] for x in v]):10.0f} {med([x[1] for x in v]):8.3f} "
          f"{med([x[2] for x in v]):8.3f}")
print()
def ratio(a, b, text):
    if a not in runs or b not in runs:
        return
    common = sorted(set(runs[a]) & set(runs[b]))
    per = [tuple(runs[a][k][i] / runs[b][k][i] for i in range(3)) for k in common]
    line = (f"{text:50} rps x{med([p[0] for p in per]):.2f}   p50 x{med([p[1] for p in per]):.2f}"
            f"   p99 x{med([p[2] for p in per]):.2f}")
    if len(per) > 1:
        line += "   (rps per round: " + " ".join(f"{p[0]:.2f}" for p in per) + ")"
    print(line)
ratio(("replikv", "redis-benchmark", "set"), ("etcd", "wrk", "set"), "replikv/etcd quorum writes (native clients)")
ratio(("replikv", "redis-benchmark", "get"), ("etcd", "wrk", "get"), "replikv/etcd linearizable reads (native)")
ratio(("replikv", "python", "set"), ("etcd", "python", "set"), "replikv/etcd quorum writes (python client)")
ratio(("replikv", "python", "get"), ("etcd", "python", "get"), "replikv/etcd linearizable reads (python)")
ratio(("replikv", "redis-benchmark", "set"), ("redis", "redis-benchmark", "set"), "replikv/redis SET (redis-benchmark)")
ratio(("replikv", "redis-benchmark", "get"), ("redis", "redis-benchmark", "get"), "replikv/redis GET (redis-benchmark)")
ratio(("replikv-async", "redis-benchmark", "set"), ("redis", "redis-benchmark", "set"), "replikv async (fsync batch)/redis SET w/ replicas")
ratio(("rkv-async-nofsync", "redis-benchmark", "set"), ("redis", "redis-benchmark", "set"), "replikv async (fsync never)/redis SET w/ replicas")
EOF
