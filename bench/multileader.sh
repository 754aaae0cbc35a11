#!/usr/bin/env bash
# Multi-leader keyspaces (conflict = lww: SET; crdt: INCR and SADD) on one machine, same run, against Redis with 2 replicas (writes only on
# its primary), the project's own primary keyspace with commit = async, and a single replikv
# node. 50 clients, 64-byte values, random keys out of 100000. See bench/README.md.
#
# One 3-node replikv cluster (fsync = "batch"): `default` is primary with commit = async
# (clients to its leader), `carts:` is multi-leader, conflict = lww (every node takes writes).
#   "3 nodes": three redis-benchmark processes at once, 17+17+16 clients, one per node;
#              rps = all requests / the longest run, p50/p99 from the merged histograms
#   "node 1":  one redis-benchmark, 50 clients, all to node 1
#   single node: one replikv process, no cluster, fsync = "batch" (the p50 a multi-leader write
#              is compared with: its acknowledgement waits for nothing more)
# Replication lag: every node counts, for each peer's entry it applies, its clock minus the
# entry's stamp (INFO keyspace_replication apply_lag_ms_le_*); the script takes the counts
# before and after the 3-node SET run and prints the percentiles of that run's entries.
#
# Environment: BENCH_N (requests per redis-benchmark run, default 200000), BENCH_CLIENTS (50),
# BENCH_ROUNDS (1), BENCH_RUN_TIMEOUT (180), BENCH_SETTLE_MAX (10), REPLIKV_BIN, BENCH_KEEP.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
N="${BENCH_N:-200000}"
C="${BENCH_CLIENTS:-50}"
ROUNDS="${BENCH_ROUNDS:-1}"
RUN_TIMEOUT="${BENCH_RUN_TIMEOUT:-180}"
BIN="${REPLIKV_BIN:-$root/build/replikv}"
PY="$(command -v /usr/bin/python3 || command -v python3)"
LOAD="$here/cluster_load.py"
HELP="$here/leaderless.py"
VALUE="$(printf 'v%.0s' $(seq 64))"
round=1

for tool in redis-server redis-benchmark redis-cli; do
  command -v "$tool" >/dev/null || { echo "multileader: $tool not found" >&2; exit 1; }
done
[ -x "$BIN" ] || { echo "multileader: replikv binary not found at $BIN (make build)" >&2; exit 1; }

tmp="$(mktemp -d -t rkv-multileader-bench.XXXXXX)"
BENCH_ME=multileader
# shellcheck source=bench/cluster_lib.sh
source "$here/cluster_lib.sh"
results="$tmp/results.csv"
: >"$results"

echo "multileader: clients=$C value=64B keys=100000 N=$N cpus=$(nproc) load=$(cut -d' ' -f1-3 /proc/loadavg)" >&2

cat >"$tmp/ml.toml" <<'EOF'
[[keyspace]]
name = "carts"
prefix = "carts:"
model = "multi-leader"
conflict = "lww"

[[keyspace]]
name = "bag"
prefix = "bag:"
model = "multi-leader"
conflict = "crdt"
EOF

start_rkv rkv --commit async --extra-toml "$tmp/ml.toml"
read -r -a ports <<<"${rkv_nodes%%;*}"

single_port="$(free_port)"
cat >"$tmp/single.toml" <<EOF
[node]
port = $single_port
admin_port = 0
data_dir = "$tmp/single"
fsync = "batch"
log_level = "warn"
EOF
"$BIN" serve --config "$tmp/single.toml" >"$tmp/single.log" 2>&1 &
pids+=("$!")
wait_ping "$single_port" "$!" single
start_redis

lag_counts() {  # cumulative apply-lag buckets summed over the 3 nodes: "bound=count ..."
  for p in "${ports[@]}"; do
    redis-cli -p "$p" INFO keyspace_replication | tr -d '\r' | grep '^keyspace_carts:' \
      | tr ',' '\n' | sed -n 's/^apply_lag_ms_le_\([0-9a-z]*\)=\([0-9]*\)$/\1=\2/p'
  done | "$PY" -c '
import sys, collections
c = collections.OrderedDict()
for line in sys.stdin:
    k, v = line.strip().split("=")
    c[k] = c.get(k, 0) + int(v)
print(" ".join(f"{k}={v}" for k, v in c.items()))'
}

lag_report() {  # before after -> percentiles of the entries applied between them
  "$PY" - "$1" "$2" <<'PYEOF'
import sys
b = dict(kv.split("=") for kv in sys.argv[1].split())
a = dict(kv.split("=") for kv in sys.argv[2].split())
keys = list(a)
d = [int(a[k]) - int(b.get(k, 0)) for k in keys]  # cumulative counts of this run
total = d[-1]
def pct(q):
    for k, n in zip(keys, d):
        if n >= q * total:
            return "<= " + (k + " ms" if k != "inf" else "more than 5000 ms")
print(f"replication lag of the 3-node multi-leader SET run: {total} entries applied on peers; "
      f"p50 {pct(0.5)}, p99 {pct(0.99)}, p99.9 {pct(0.999)}")
PYEOF
}

for round in $(seq "$ROUNDS"); do
  p_port="$(leader_port "$rkv_nodes")"
  before="$(lag_counts)"
  pair 'rb "multi-leader lww" "3 nodes" set carts: "${ports[@]}"' \
       'rb "Redis + 2 replicas" primary set key: "${rp[0]}"'
  after="$(lag_counts)"
  lag_report "$before" "$after" | tee -a "$tmp/lag.txt" >&2
  pair 'rb "primary async" leader set key: "$p_port"' \
       'rb "multi-leader lww" "node 1" set carts: "${ports[0]}"'
  settle; rb "single node" node set carts: "$single_port"
  pair 'rb "multi-leader crdt" "3 nodes" incr bag: "${ports[@]}"' \
       'rb "Redis + 2 replicas" primary incr cnt: "${rp[0]}"'
  pair 'rb "multi-leader crdt" "3 nodes" sadd bag: "${ports[@]}"' \
       'rb "Redis + 2 replicas" primary sadd s: "${rp[0]}"'
done

# Every node holds every key written (checked, not assumed).
want=""
for _ in $(seq 200); do
  sizes=()
  for p in "${ports[@]}"; do sizes+=("$(redis-cli -p "$p" KEYS 'carts:*' | wc -l)"); done
  [ "${sizes[0]}" = "${sizes[1]}" ] && [ "${sizes[1]}" = "${sizes[2]}" ] && { want="${sizes[0]}"; break; }
  sleep 0.1
done
[ -n "$want" ] || { echo "multileader: nodes did not converge: ${sizes[*]} carts keys" >&2; exit 1; }
echo "replikv: every node holds the same $want carts: keys" >&2
# Every increment counted on every node (conflict = crdt): the counters sum to the INCRs sent.
"$PY" - "$((N * ROUNDS))" "${ports[@]}" <<'PYEOF' >&2
import socket, sys, time
want, ports = int(sys.argv[1]), [int(p) for p in sys.argv[2:]]
def call(sock, f, *args):
    sock.sendall(b"".join(b"*%d\r\n" % len(a) + b"".join(b"$%d\r\n%s\r\n" % (len(x), x) for x in a) for a in args))
    out = []
    for _ in args:
        line = f.readline()
        if line[:1] == b"*":
            out.append([f.readline() and f.readline().rstrip(b"\r\n") for _ in range(int(line[1:]))])
        elif line[:1] == b"$":
            n = int(line[1:])
            out.append(None if n < 0 else f.read(n + 2)[:-2])
        else:
            out.append(line.rstrip(b"\r\n"))
    return out
deadline = time.monotonic() + 30
while True:
    sums = []
    for p in ports:
        s = socket.create_connection(("127.0.0.1", p)); f = s.makefile("rb")
        keys = [k for k in call(s, f, [b"KEYS", b"bag:0*"])[0]]
        vals = call(s, f, *[[b"GET", k] for k in keys]) if keys else []
        sums.append(sum(int(v) for v in vals if v is not None)); s.close()
    if sums == [want] * len(ports) or time.monotonic() > deadline:
        break
    time.sleep(0.2)
print(f"replikv: crdt counters sum to {sums} on the 3 nodes; INCRs sent: {want}"
      + ("" if sums == [want] * len(ports) else "  MISMATCH"))
PYEOF

"$PY" - "$results" "$tmp/lag.txt" <<'PYEOF'
import csv, statistics, sys
runs = {}
for r in csv.reader(open(sys.argv[1])):
    runs.setdefault((r[1], r[2], r[3]), []).append(tuple(map(float, r[4:7])))
med = lambda k, i: statistics.median(x[i] for x in runs[k])
print(f"{'system':28} {'clients to':12} {'op':5} {'rps':>9} {'p50 ms':>8} {'p99 ms':>8}")
for k in runs:
    print(f"{k[0]:28} {k[1]:12} {k[2]:5} {med(k, 0):9.0f} {med(k, 1):8.3f} {med(k, 2):8.3f}")
print()
ml, redis = ("multi-leader lww", "3 nodes", "set"), ("Redis + 2 replicas", "primary", "set")
single, node1 = ("single node", "node", "set"), ("multi-leader lww", "node 1", "set")
asyncp = ("primary async", "leader", "set")
for op in ("incr", "sadd"):
    a, b = ("multi-leader crdt", "3 nodes", op), ("Redis + 2 replicas", "primary", op)
    if a in runs and b in runs:
        r = med(a, 0) / med(b, 0)
        print(f"multi-leader crdt {op.upper()} (3 nodes) / Redis + 2 replicas: rps x{r:.2f}   "
              f"target >= 1.5: {'MET' if r >= 1.5 else 'NOT MET'}")
r = med(ml, 0) / med(redis, 0)
print(f"multi-leader SET (3 nodes) / Redis + 2 replicas SET: rps x{r:.2f}   target >= 1.5: "
      f"{'MET' if r >= 1.5 else 'NOT MET'}")
print(f"multi-leader SET (3 nodes) / primary async SET:      rps x{med(ml, 0) / med(asyncp, 0):.2f}")
for k in (ml, node1):
    q = med(k, 1) / med(single, 1)
    print(f"multi-leader SET ({k[1]}) p50 / single node p50:    x{q:.2f}   target <= 1.2: "
          f"{'MET' if q <= 1.2 else 'NOT MET'}")
for line in open(sys.argv[2]):
    print(line.rstrip())
PYEOF
