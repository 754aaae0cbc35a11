#!/usr/bin/env bash
# SET/GET throughput with and without TLS, for replikv and for Redis (Debian's redis-server, built
# with TLS), in the same run, with redis-benchmark as the client of all four. Each server listens
# on a plain port and a TLS port at once (no client certificates asked for); both run in memory
# (replikv --fsync never, Redis without persistence), one server at a time. Prints the figures
# and the ratios replikv/redis (plain and TLS) and TLS/plain (each server). See bench/README.md.
#
# Environment:
#   BENCH_N            requests per redis-benchmark run (default 200000)
#   BENCH_CLIENTS      concurrent connections (default 50)
#   BENCH_PIPELINE     pipeline depth of the pipelined runs (default 16)
#   BENCH_RUN_TIMEOUT  seconds one redis-benchmark run may take (default 180)
#   REPLIKV_BIN        replikv binary (default build/replikv)
#   BENCH_KEEP         keep the temporary directory (logs, certificates, raw csv) when set
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
N="${BENCH_N:-200000}"
C="${BENCH_CLIENTS:-50}"
P="${BENCH_PIPELINE:-16}"
RUN_TIMEOUT="${BENCH_RUN_TIMEOUT:-180}"
BIN="${REPLIKV_BIN:-$root/build/replikv}"
PY="$(command -v /usr/bin/python3 || command -v python3)"

for tool in redis-server redis-benchmark redis-cli openssl; do
  command -v "$tool" >/dev/null || { echo "tls_compare: $tool not found (run scripts/install-deps.sh)" >&2; exit 1; }
done
[ -x "$BIN" ] || { echo "tls_compare: replikv binary not found at $BIN (make build)" >&2; exit 1; }

tmp="$(mktemp -d -t rkv-tls-bench.XXXXXX)"
BENCH_ME=tls_compare
# pids, cleanup at exit (trap), free_port; wait_ping and start_redis are redefined below.
# shellcheck source=cluster_lib.sh
source "$here/cluster_lib.sh"

forget_pid() {
  local keep=() p
  for p in "${pids[@]+"${pids[@]}"}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  pids=("${keep[@]+"${keep[@]}"}")
}

stop_server() { kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; forget_pid "$1"; }

# A throwaway CA and server certificate (EC P-256, as a deployment would likely use).
pki="$tmp/pki"
mkdir -p "$pki"
(
  cd "$pki"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.crt \
    -subj /CN=bench-ca -days 2 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key -out server.csr \
    -subj /CN=localhost 2>/dev/null
  echo "subjectAltName=DNS:localhost,IP:127.0.0.1" >san.ext
  openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
    -extfile san.ext -out server.crt 2>/dev/null
)

wait_ping() {  # port pid name [tls]
  local tls=()
  [ -n "${4:-}" ] && tls=(--tls --cacert "$pki/ca.crt")
  for _ in $(seq 200); do
    [ "$(redis-cli "${tls[@]+"${tls[@]}"}" -h 127.0.0.1 -p "$1" PING 2>/dev/null)" = "PONG" ] && return 0
    kill -0 "$2" 2>/dev/null || { echo "tls_compare: $3 exited at start; log:" >&2; cat "$tmp/$3.log" >&2; exit 1; }
    sleep 0.05
  done
  echo "tls_compare: $3 not ready on port $1" >&2
  exit 1
}

start_replikv() {  # sets port, tport, pid
  port="$(free_port)"; tport="$(free_port)"
  cat >"$tmp/replikv.toml" <<EOF
[tls]
port = $tport
cert_file = "$pki/server.crt"
key_file = "$pki/server.key"
ca_cert_file = "$pki/ca.crt"
auth_clients = "no"
EOF
  "$BIN" serve --config "$tmp/replikv.toml" --port "$port" --admin-port 0 \
    --data-dir "$tmp/replikv-data" --fsync never --log-level warn >"$tmp/replikv.log" 2>&1 &
  pid=$!; pids+=("$pid")
  wait_ping "$port" "$pid" replikv
  wait_ping "$tport" "$pid" replikv tls
}

start_redis() {  # sets port, tport, pid
  port="$(free_port)"; tport="$(free_port)"
  mkdir -p "$tmp/redis"
  redis-server --port "$port" --tls-port "$tport" --bind 127.0.0.1 --dir "$tmp/redis" \
    --daemonize no --logfile "$tmp/redis.log" --save '' --appendonly no \
    --tls-cert-file "$pki/server.crt" --tls-key-file "$pki/server.key" \
    --tls-ca-cert-file "$pki/ca.crt" --tls-auth-clients no &
  pid=$!; pids+=("$pid")
  wait_ping "$port" "$pid" redis
  wait_ping "$tport" "$pid" redis tls
}

results="$tmp/results.csv"
echo "server,transport,test,pipeline,rps,p50_ms,p99_ms" >"$results"

bench() {  # server transport port test pipeline
  local server="$1" transport="$2" port="$3" test="$4" pipe="$5" tls=() out row rps p50 p99
  [ "$transport" = tls ] && tls=(--tls --cacert "$pki/ca.crt")
  timeout "$RUN_TIMEOUT" redis-benchmark "${tls[@]+"${tls[@]}"}" -h 127.0.0.1 -p "$port" -c "$C" \
    -d 64 -r 100000 -n "$N" -P "$pipe" -t "$test" --csv >"$tmp/bench.out" 2>"$tmp/bench.err" &
  local bpid=$! rc=0
  pids+=("$bpid")
  wait "$bpid" || rc=$?
  forget_pid "$bpid"
  out="$(cat "$tmp/bench.out")"
  if [ "$rc" -ne 0 ] || grep -qi error <<<"$out" || grep -qi error "$tmp/bench.err"; then
    echo "tls_compare: redis-benchmark failed against $server ($transport):" >&2
    echo "$out" >&2; cat "$tmp/bench.err" >&2
    exit 1
  fi
  row="$(grep -i "^\"$test\"" <<<"$out" | head -n1 | tr -d '"')"
  [ -n "$row" ] || { echo "tls_compare: no csv row for $test in: $out" >&2; exit 1; }
  IFS=, read -r _ rps _ _ p50 _ p99 _ <<<"$row"
  echo "$server,$transport,$test,$pipe,$rps,$p50,$p99" >>"$results"
  printf '  %-8s %-6s %-4s P=%-3s %12s rps  p50=%sms p99=%sms\n' \
    "$server" "$transport" "$test" "$pipe" "$rps" "$p50" "$p99" >&2
}

suite() {  # server
  local p t transport
  for p in 1 "$P"; do
    for transport in plain tls; do
      for t in set get; do
        if [ "$transport" = tls ]; then bench "$1" tls "$tport" "$t" "$p"; else bench "$1" plain "$port" "$t" "$p"; fi
      done
    done
  done
}

echo "tls_compare: N=$N clients=$C pipeline=$P value=64B keyspace=100000 cpus=$(nproc)" >&2
echo "tls_compare: $("$BIN" --version 2>/dev/null || echo replikv) vs redis $(redis-server --version | awk '{print $3}'), $(openssl version)" >&2
start_replikv
suite replikv
stop_server "$pid"
start_redis
suite redis
stop_server "$pid"

"$PY" - "$results" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
rps = {(r["server"], r["transport"], r["test"], r["pipeline"]): float(r["rps"]) for r in rows}
cases = sorted({(r["test"], r["pipeline"]) for r in rows}, key=lambda c: (int(c[1]), c[0] != "set"))
print(f"{'test':5} {'pipe':>4} {'replikv':>10} {'replikv':>10} {'redis':>10} {'redis':>10}"
      f" {'rkv/redis':>9} {'rkv/redis':>9} {'rkv':>7} {'redis':>7}")
print(f"{'':5} {'':>4} {'plain':>10} {'tls':>10} {'plain':>10} {'tls':>10}"
      f" {'plain':>9} {'tls':>9} {'tls/pl':>7} {'tls/pl':>7}")
for test, pipe in cases:
    k = lambda s, t: rps[(s, t, test, pipe)]
    print(f"{test.upper():5} {pipe:>4} {k('replikv','plain'):>10.0f} {k('replikv','tls'):>10.0f}"
          f" {k('redis','plain'):>10.0f} {k('redis','tls'):>10.0f}"
          f" {k('replikv','plain')/k('redis','plain'):>9.2f} {k('replikv','tls')/k('redis','tls'):>9.2f}"
          f" {k('replikv','tls')/k('replikv','plain'):>7.2f} {k('redis','tls')/k('redis','plain'):>7.2f}")
EOF
