# Shared by the replicated benchmarks (cluster_compare.sh, leaderless.sh): free ports, readiness
# checks, a 3-member etcd cluster, Redis with 2 replicas, waiting for an idle machine, and the
# alternating order of the two runs a ratio compares, a 3-node replikv cluster, and the cleanup
# at exit (every process in `pids` stopped, `tmp` removed unless BENCH_KEEP). The caller defines
# tmp, PY, LOAD, BIN, round and BENCH_ME (its name, for messages) before sourcing this file, and
# adds the pid of every process it starts to `pids`. record and rb also read C (clients), N
# (requests), VALUE, RUN_TIMEOUT, HELP (bench/leaderless.py) and results (the CSV they append to).

pids=()  # every process started and not yet reaped

# Stops every process in pids: CONT (a node left stopped by an interrupted fault test must run to
# exit), TERM, and KILL after 5 s.
stop_all() {
  local pid
  for pid in "${pids[@]+"${pids[@]}"}"; do kill -CONT "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]+"${pids[@]}"}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]+"${pids[@]}"}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  pids=()
}

cleanup() {
  stop_all
  if [ -n "${BENCH_KEEP:-}" ]; then echo "$BENCH_ME: kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_ping() {  # port pid name
  for _ in $(seq 300); do
    [ "$(redis-cli -h 127.0.0.1 -p "$1" PING 2>/dev/null)" = "PONG" ] && return 0
    kill -0 "$2" 2>/dev/null || { echo "$BENCH_ME: $3 exited; log:" >&2; cat "$tmp/$3.log" >&2; exit 1; }
    sleep 0.05
  done
  echo "$BENCH_ME: $3 not ready on port $1" >&2; exit 1
}

start_etcd() {  # a 3-member etcd cluster; sets eleader
  local i init=""
  cl=(); pe=()
  for i in 0 1 2; do
    cl+=("$(free_port)"); pe+=("$(free_port)")
    init+="${init:+,}e$i=http://127.0.0.1:${pe[$i]}"
  done
  for i in 0 1 2; do
    etcd --name "e$i" --data-dir "$tmp/etcd/e$i" \
      --listen-client-urls "http://127.0.0.1:${cl[$i]}" --advertise-client-urls "http://127.0.0.1:${cl[$i]}" \
      --listen-peer-urls "http://127.0.0.1:${pe[$i]}" --initial-advertise-peer-urls "http://127.0.0.1:${pe[$i]}" \
      --initial-cluster "$init" --initial-cluster-state new --initial-cluster-token "rkv-$BENCH_ME-$$" \
      --log-level error >"$tmp/etcd-e$i.log" 2>&1 &
    pids+=("$!")
  done
  eleader="$(timeout 60 "$PY" "$LOAD" etcd-leader "127.0.0.1:${cl[0]},127.0.0.1:${cl[1]},127.0.0.1:${cl[2]}")"
  echo "etcd: leader at $eleader" >&2
}

start_redis() {  # primary + 2 replicas (async replication), AOF everysec on each; sets rp
  local i
  rp=()
  local own=()
  for i in 0 1 2; do
    rp+=("$(free_port)")
    mkdir -p "$tmp/redis-$i"
    extra=()
    [ "$i" -gt 0 ] && extra=(--replicaof 127.0.0.1 "${rp[0]}")
    redis-server --port "${rp[$i]}" --bind 127.0.0.1 --dir "$tmp/redis-$i" --daemonize no \
      --save '' --appendonly yes --appendfsync everysec --logfile "$tmp/redis-$i.log" \
      "${extra[@]+"${extra[@]}"}" &
    pids+=("$!"); own+=("$!")
  done
  for i in 0 1 2; do wait_ping "${rp[$i]}" "${own[$i]}" "redis-$i"; done
  # A replica counts in connected_slaves from the moment it asks for a full sync, but the primary
  # starts streaming writes to it only after the initial transfer (which Redis delays by
  # repl-diskless-sync-delay, 5 s by default): wait until both are "online", or the run would
  # measure a primary that is not yet replicating.
  local online=0
  for _ in $(seq 300); do
    online="$(redis-cli -p "${rp[0]}" INFO replication | grep -c 'state=online' || true)"
    [ "$online" = 2 ] && break
    sleep 0.1
  done
  [ "$online" = 2 ] || { echo "$BENCH_ME: Redis replicas not online after 30 s" >&2; exit 1; }
}

# Before each measured run the machine must be idle: background work a run leaves behind (etcd's
# WAL and compaction, a replikv snapshot, Redis's AOF rewrite) would otherwise land on whichever
# system runs next. Waits until less than 10% of the CPUs is busy, for at most BENCH_SETTLE_MAX s.
settle() {
  "$PY" - "${BENCH_SETTLE_MAX:-10}" <<'PYEOF'
import sys, time
def snap():
    v = list(map(int, open("/proc/stat").readline().split()[1:]))
    return sum(v), v[3] + v[4]  # total, idle + iowait
end = time.monotonic() + float(sys.argv[1])
prev = snap()
while time.monotonic() < end:
    time.sleep(0.5)
    cur = snap()
    busy = 1 - (cur[1] - prev[1]) / max(1, cur[0] - prev[0])
    prev = cur
    if busy < 0.10:
        break
PYEOF
}

# The two runs a ratio compares, one after the other; odd rounds run the first one first, even
# rounds the second, so a drift of the machine's speed within a round favours neither side.
pair() {  # "run A" "run B"
  if (( round % 2 == 1 )); then
    settle; eval "$1"; settle; eval "$2"
  else
    settle; eval "$2"; settle; eval "$1"
  fi
}

# start_rkv NAME [rkv-configs options]: a 3-node replikv cluster (fsync batch unless --fsync is given, read=linearizable);
# sets rkv_nodes to "client ports;admin ports" (for leader_port).
start_rkv() {
  local name="$1" i cfg cp ap own=() cports=() aports=()
  shift
  mkdir -p "$tmp/$name"
  mapfile -t nodes < <("$PY" "$LOAD" rkv-configs "$tmp/$name" --nodes 3 "$@")
  for i in 0 1 2; do
    read -r cfg cp ap _ <<<"${nodes[$i]}"
    cports+=("$cp"); aports+=("$ap")
    "$BIN" serve --config "$cfg" >"$tmp/$name-n$((i + 1)).log" 2>&1 &
    pids+=("$!"); own+=("$!")
  done
  for i in 0 1 2; do wait_ping "${cports[$i]}" "${own[$i]}" "$name-n$((i + 1))"; done
  rkv_nodes="${cports[*]};$(IFS=,; echo "${aports[*]}")"
  echo "replikv ($name): leader of keyspace default on port $(leader_port "$rkv_nodes")" >&2
}

leader_port() {  # "client ports;admin ports" of a replikv cluster -> its leader's client port
  local c li
  read -r -a c <<<"${1%%;*}"
  li="$("$PY" "$LOAD" rkv-leader "${1#*;}" --keyspace default)"
  echo "${c[$li]}"
}

# One measured run: appended to $results as "round,system,entry,op,rps,p50,p99" and shown.
record() {  # system entry op rps p50 p99
  echo "$round,$1,$2,$3,$4,$5,$6" >>"$results"
  printf '  %-30s %-8s %-4s %10.0f rps  p50=%.3fms p99=%.3fms\n' "$1" "$2" "$3" "$4" "$5" "$6" >&2
}

# rb SYSTEM ENTRY OP KEYPREFIX PORT... (OP: set, get, incr, sadd): redis-benchmark processes at once, one per port, the
# clients and requests split evenly between them; records the merged result.
rb() {
  local sys="$1" entry="$2" op="$3" prefix="$4" k i c n rc=0 fail=0 outs=() bp=() cmd rps p50 p99
  shift 4
  k=$#
  case "$op" in
    set) cmd=(set "${prefix}__rand_int__" "$VALUE") ;;
    incr) cmd=(incr "${prefix}__rand_int__") ;;
    sadd) cmd=(sadd "${prefix}set" "__rand_int__") ;;  # one set, random members
    *) cmd=(get "${prefix}__rand_int__") ;;
  esac
  for ((i = 0; i < k; i++)); do
    c=$((C / k + (i < C % k ? 1 : 0)))
    n=$((N / k + (i < N % k ? 1 : 0)))
    timeout "$RUN_TIMEOUT" redis-benchmark -h 127.0.0.1 -p "$1" -c "$c" -n "$n" -r 100000 \
      "${cmd[@]}" >"$tmp/rb$i.out" 2>&1 &
    bp+=("$!"); pids+=("$!"); outs+=("$tmp/rb$i.out")
    shift
  done
  for i in "${bp[@]}"; do rc=0; wait "$i" || rc=$?; [ "$rc" -eq 0 ] || fail=$rc; done
  for i in "${bp[@]}"; do unset 'pids[-1]'; done  # reaped: never signal them again
  if [ "$fail" -ne 0 ] || grep -qi error "${outs[@]}"; then
    echo "$BENCH_ME: redis-benchmark $op against $sys ($entry) failed (rc $fail):" >&2
    tail -n 20 "${outs[@]}" >&2; exit 1
  fi
  read -r rps p50 p99 _ < <("$PY" "$HELP" merge "${outs[@]}")
  record "$sys" "$entry" "$op" "$rps" "$p50" "$p99"
}

