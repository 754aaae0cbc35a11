#!/usr/bin/env bash
# Leaderless keyspaces on one machine, same run, against the project's own primary keyspace,
# etcd (3 members) and Redis with 2 replicas; then one replica stopped (SIGSTOP) under load.
# 50 clients, 64-byte values, random keys out of 100000. See bench/README.md.
#
# One 3-node replikv cluster (fsync = "batch") holds four keyspaces:
#   default  primary, commit = quorum, read = linearizable (clients to its leader)
#   one:     leaderless n = 3, r = w = 1   (what CONSISTENCY ONE waits for)
#   quorum:  leaderless n = 3, r = w = 2   (CONSISTENCY QUORUM)
#   all:     leaderless n = 3, r = w = 3   (CONSISTENCY ALL)
# redis-benchmark cannot send CONSISTENCY on each connection first, so each consistency level
# is a keyspace of its own; the engine computes the replicas to wait for the same way.
# A second cluster with fsync = "never" runs the ONE writes that compare like for like with
# Redis (acknowledged before any fsync); BENCH_NOFSYNC=0 skips it.
#
# Throughput (redis-benchmark, -c 50 -r 100000, 64-byte values, N requests per run):
#   "3 nodes": three redis-benchmark processes at once, 17+17+16 clients, one per node (any
#              node coordinates a leaderless request); rps = all requests / the longest run,
#              p50/p99 from their merged latency histograms (bench/leaderless.py merge)
#   "node 1":  one redis-benchmark, 50 clients, all to node 1
#   primary:   redis-benchmark to the leader of default; Redis: to its primary
#   etcd:      wrk -t 1 -c 50 with bench/etcd_wrk.lua (put), BENCH_SECONDS, to its leader
# Fault (bench/resp_latency.c, compiled here; 50 clients spread over the two live nodes;
# phases healthy / stop / after of BENCH_SECONDS, BENCH_SECONDS, BENCH_SECONDS/2; percentiles
# of the requests SENT in each phase, errors and requests never answered counted):
#   primary SET, the leader of `default` stopped (writes to a follower are relayed to it)
#   leaderless QUORUM SET and GET, a node that does not lead `default` stopped
#
# Environment:
#   BENCH_N           requests per redis-benchmark run (default 100000)
#   BENCH_SECONDS     seconds per wrk run and per fault phase (default 10)
#   BENCH_CLIENTS     concurrent clients (default 50)
#   BENCH_ROUNDS      how many times the throughput sequence runs (default 1; medians shown)
#   BENCH_NOFSYNC     1 (default): also the fsync = "never" cluster for ONE vs Redis
#   BENCH_STOP        1 (default): run the SIGSTOP tests
#   BENCH_RUN_TIMEOUT seconds one redis-benchmark run may take (default 180)
#   BENCH_SETTLE_MAX  seconds to wait at most for an idle machine before each run (default 10)
#   REPLIKV_BIN       replikv binary (default build/replikv)
#   BENCH_KEEP        keep the temporary directory (logs, data, raw outputs) when set
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
N="${BENCH_N:-100000}"
SECS="${BENCH_SECONDS:-10}"
C="${BENCH_CLIENTS:-50}"
ROUNDS="${BENCH_ROUNDS:-1}"
NOFSYNC="${BENCH_NOFSYNC:-1}"
STOP="${BENCH_STOP:-1}"
RUN_TIMEOUT="${BENCH_RUN_TIMEOUT:-180}"
BIN="${REPLIKV_BIN:-$root/build/replikv}"
PY="$(command -v /usr/bin/python3 || command -v python3)"
LOAD="$here/cluster_load.py"
HELP="$here/leaderless.py"
VALUE="$(printf 'v%.0s' $(seq 64))"
round=1

for tool in redis-server redis-benchmark redis-cli etcd wrk cc; do
  command -v "$tool" >/dev/null || { echo "leaderless: $tool not found" >&2; exit 1; }
done
[ -x "$BIN" ] || { echo "leaderless: replikv binary not found at $BIN (make build)" >&2; exit 1; }

tmp="$(mktemp -d -t rkv-leaderless-bench.XXXXXX)"
BENCH_ME=leaderless
# shellcheck source=bench/cluster_lib.sh
source "$here/cluster_lib.sh"

cc -O2 -Wall -o "$tmp/resp_latency" "$here/resp_latency.c"



results="$tmp/results.csv"
stops="$tmp/stops.txt"
: >"$results"
: >"$stops"
wrkload() {  # system endpoint (etcd put)
  local rc=0 wpid line rps p50 p99 errs
  OP=put KEYS=100000 VALUE_SIZE=64 timeout $((SECS * 3 + 60)) wrk -t 1 -c "$C" -d "${SECS}s" \
    -s "$here/etcd_wrk.lua" "http://$2" >"$tmp/wrk.out" 2>&1 &
  wpid=$!; pids+=("$wpid")
  wait "$wpid" || rc=$?
  unset 'pids[-1]'
  line="$(grep '^WRK_RESULT' "$tmp/wrk.out" || true)"
  if [ "$rc" -ne 0 ] || [ -z "$line" ]; then
    echo "leaderless: wrk put against $1 failed (rc $rc):" >&2; cat "$tmp/wrk.out" >&2; exit 1
  fi
  rps="$(sed -n 's/.* rps=\([0-9.]*\).*/\1/p' <<<"$line")"
  p50="$(sed -n 's/.* p50_ms=\([0-9.]*\).*/\1/p' <<<"$line")"
  p99="$(sed -n 's/.* p99_ms=\([0-9.]*\).*/\1/p' <<<"$line")"
  errs="$(sed -n 's/.* errors=\([0-9]*\).*/\1/p' <<<"$line")"
  [ "$errs" = "0" ] || echo "leaderless: $1 wrk put: $errs failed requests" >&2
  record "$1" leader set "$rps" "$p50" "$p99"
}

echo "leaderless: clients=$C value=64B keys=100000 N=$N seconds=$SECS cpus=$(nproc) load=$(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "leaderless: $("$BIN" --version 2>/dev/null | head -n1 || echo replikv), etcd $(etcd --version | awk 'NR==1{print $3}'), redis $(redis-server --version | awk '{print $3}')" >&2

cat >"$tmp/leaderless.toml" <<'EOF'
[[keyspace]]
name = "one"
prefix = "one:"
model = "leaderless"
n = 3
r = 1
w = 1

[[keyspace]]
name = "quorum"
prefix = "quorum:"
model = "leaderless"
n = 3
r = 2
w = 2

[[keyspace]]
name = "all"
prefix = "all:"
model = "leaderless"
n = 3
r = 3
w = 3
EOF

# start_rkv NAME [rkv-configs options]: a 3-node cluster with the keyspaces above. Sets
# rkv_nodes ("client ports;admin ports"), rkv_cports and rkv_pids (arrays, node order).
start_rkv() {
  local name="$1" i cfg cp ap aports=()
  shift
  mkdir -p "$tmp/$name"
  mapfile -t nodes < <("$PY" "$LOAD" rkv-configs "$tmp/$name" --nodes 3 \
                         --extra-toml "$tmp/leaderless.toml" "$@")
  rkv_cports=(); rkv_pids=()
  for i in 0 1 2; do
    read -r cfg cp ap _ <<<"${nodes[$i]}"
    rkv_cports+=("$cp"); aports+=("$ap")
    "$BIN" serve --config "$cfg" >"$tmp/$name-n$((i + 1)).log" 2>&1 &
    pids+=("$!"); rkv_pids+=("$!")
  done
  for i in 0 1 2; do wait_ping "${rkv_cports[$i]}" "${rkv_pids[$i]}" "$name-n$((i + 1))"; done
  rkv_nodes="${rkv_cports[*]};$(IFS=,; echo "${aports[*]}")"
}

leader_index() {  # "client ports;admin ports" -> index (0..2) of the leader of `default`
  "$PY" "$LOAD" rkv-leader "${1#*;}" --keyspace default
}


start_rkv rkv
m_nodes="$rkv_nodes"; m_ports=("${rkv_cports[@]}"); m_pids=("${rkv_pids[@]}")
if [ "$NOFSYNC" = 1 ]; then
  start_rkv rkv-nofsync --fsync never
  nf_ports=("${rkv_cports[@]}")
fi
start_etcd
start_redis

one_round() {
  local li p_port
  li="$(leader_index "$m_nodes")"
  p_port="${m_ports[$li]}"
  echo "replikv: leader of default is n$((li + 1))" >&2
  # writes (SET runs first in every keyspace, so the reads mostly hit)
  pair 'rb "leaderless QUORUM" "3 nodes" set quorum: "${m_ports[@]}"' \
       'rb "primary quorum" leader set key: "$p_port"'
  settle; wrkload "etcd (3 members)" "$eleader"
  pair 'rb "leaderless ONE" "3 nodes" set one: "${m_ports[@]}"' \
       'rb "Redis + 2 replicas" primary set key: "${rp[0]}"'
  if [ "$NOFSYNC" = 1 ]; then
    settle; rb "leaderless ONE fsync=never" "3 nodes" set one: "${nf_ports[@]}"
  fi
  settle; rb "leaderless ALL" "3 nodes" set all: "${m_ports[@]}"
  settle; rb "leaderless ONE" "node 1" set one: "${m_ports[0]}"
  settle; rb "leaderless QUORUM" "node 1" set quorum: "${m_ports[0]}"
  settle; rb "leaderless ALL" "node 1" set all: "${m_ports[0]}"
  # reads
  pair 'rb "leaderless QUORUM" "3 nodes" get quorum: "${m_ports[@]}"' \
       'rb "primary quorum" leader get key: "$p_port"'
  pair 'rb "leaderless ONE" "3 nodes" get one: "${m_ports[@]}"' \
       'rb "Redis + 2 replicas" primary get key: "${rp[0]}"'
  settle; rb "leaderless ALL" "3 nodes" get all: "${m_ports[@]}"
  settle; rb "leaderless ONE" "node 1" get one: "${m_ports[0]}"
  settle; rb "leaderless QUORUM" "node 1" get quorum: "${m_ports[0]}"
  settle; rb "leaderless ALL" "node 1" get all: "${m_ports[0]}"
}

# stop_test LABEL VICTIM OP KEYPREFIX: 50 clients on the two other nodes; the victim is stopped
# for the middle phase by resp_latency itself (SIGSTOP, then SIGCONT; also on its exit).
stop_test() {
  local label="$1" v="$2" op="$3" prefix="$4" i live=() half rc=0 lpid
  for i in 0 1 2; do [ "$i" = "$v" ] || live+=("${m_ports[$i]}"); done
  half=$(( (SECS + 1) / 2 ))
  echo "fault: $label: n$((v + 1)) (pid ${m_pids[$v]}) stopped for ${SECS}s, clients on the other two" >&2
  settle
  timeout $((SECS * 3 + 90)) "$tmp/resp_latency" --ports "$(IFS=,; echo "${live[*]}")" \
    --clients "$C" --op "$op" --prefix "${prefix}key:" --keys 100000 --value-size 64 \
    --phases "$SECS,$SECS,$half" --stop-pid "${m_pids[$v]}" --drain 10 >"$tmp/stop.out" &
  lpid=$!; pids+=("$lpid")
  wait "$lpid" || rc=$?
  unset 'pids[-1]'
  kill -CONT "${m_pids[$v]}" 2>/dev/null || true
  [ "$rc" -eq 0 ] || { echo "leaderless: resp_latency failed (rc $rc)" >&2; cat "$tmp/stop.out" >&2; exit 1; }
  sed "s/^/$label\t/" "$tmp/stop.out" >>"$stops"
  sed 's/^/  /' "$tmp/stop.out" >&2
  wait_ping "${m_ports[$v]}" "${m_pids[$v]}" "rkv-n$((v + 1))"
}

for round in $(seq "$ROUNDS"); do
  [ "$ROUNDS" -gt 1 ] && echo "leaderless: round $round of $ROUNDS" >&2
  one_round
done

# "term=T leader=nX" of `default` as node I (0..2) sees it.
default_view() {
  redis-cli -p "${m_ports[$1]}" INFO keyspace_replication 2>/dev/null | tr -d '\r' \
    | sed -n 's/^keyspace_default:.*term=\([0-9]*\),leader=\([^,]*\),.*/term=\1 leader=\2/p'
}

if [ "$STOP" = 1 ]; then
  # The primary test runs first, on a cluster that has not just caught a node up.
  li="$(leader_index "$m_nodes")"
  other=$(( li == 0 ? 1 : 0 ))
  before="$(default_view "$other")"
  stop_test "primary quorum SET, leader stopped" "$li" set ""
  li2="$(leader_index "$m_nodes")"
  echo "replikv: default before the stop: $before (n$((li + 1)) stopped); after: $(default_view "$other")" >&2
  victim=$(( li2 == 2 ? 1 : 2 ))  # a node that does not lead `default`
  stop_test "leaderless QUORUM SET" "$victim" set quorum:
  stop_test "leaderless QUORUM GET" "$victim" get quorum:
  echo "replikv: default after the leaderless stops: $(default_view "$other")" >&2
fi

# Redis's replicas really followed (checked, not assumed).
want="$(redis-cli -p "${rp[0]}" DBSIZE)"
for _ in $(seq 100); do
  [ "$(redis-cli -p "${rp[1]}" DBSIZE)" = "$want" ] && [ "$(redis-cli -p "${rp[2]}" DBSIZE)" = "$want" ] && break
  sleep 0.1
done
echo "redis: primary holds $want keys, replicas $(redis-cli -p "${rp[1]}" DBSIZE) and $(redis-cli -p "${rp[2]}" DBSIZE)" >&2
for i in 0 1 2; do
  echo "replikv n$((i + 1)) INFO keyspace_replication, leaderless keyspaces:" >&2
  redis-cli -p "${m_ports[$i]}" INFO keyspace_replication 2>/dev/null | tr -d '\r' | grep '^keyspace_' \
    | sed 's/^/  /' >&2 || true
done

"$PY" "$HELP" report "$results" "$stops"
