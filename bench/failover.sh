#!/usr/bin/env bash
# Failover benchmark: write unavailability of a 3-node replikv cluster (default Raft settings)
# when the leader of keyspace `accounts` is killed -9 under write load through all nodes.
# Each trial kills the leader, measures last ack before the kill -> first ack after it, restarts
# the old leader and waits for it to catch up. Prints per-trial rows, p50 and max.
# See bench/README.md.
#
# Environment:
#   FAILOVER_TRIALS   number of kills (default 10)
#   FAILOVER_WRITERS  concurrent writer connections, spread over the nodes (default 6)
#   FAILOVER_TIMEOUT  seconds the whole run may take (default 600)
#   REPLIKV_BIN       replikv binary (default build/replikv)
#   BENCH_KEEP        keep the temporary directory (configs, logs, data) when set
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
BIN="${REPLIKV_BIN:-$root/build/replikv}"
PY="$(command -v /usr/bin/python3 || command -v python3)"
[ -x "$BIN" ] || { echo "failover: replikv binary not found at $BIN (make build)" >&2; exit 1; }
keep=()
[ -n "${BENCH_KEEP:-}" ] && keep=(--keep)
# failover.py starts and kills only its own node processes and stops them on exit (also on
# SIGTERM from `timeout`).
"$PY" "$here/failover.py" --bin "$BIN" --trials "${FAILOVER_TRIALS:-10}" \
  --writers "${FAILOVER_WRITERS:-6}" "${keep[@]+"${keep[@]}"}" &
child=$!
trap 'kill -TERM "$child" 2>/dev/null || true; wait "$child" 2>/dev/null || true' EXIT INT TERM
deadline=$(( SECONDS + ${FAILOVER_TIMEOUT:-600} ))
while kill -0 "$child" 2>/dev/null; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "failover: exceeded ${FAILOVER_TIMEOUT:-600}s; stopping" >&2
    kill -TERM "$child" 2>/dev/null || true
    break
  fi
  sleep 1
done
rc=0
wait "$child" || rc=$?
trap - EXIT
exit "$rc"
