"""Prints the comparison table of bench/redis_compare.sh from its results csv.

Input columns: pair,server,test,pipeline,rps,p50_ms,p99_ms (one row per redis-benchmark run).
"""

import csv
import sys

PAIRS = [
    ("durable", "replikv --fsync batch", "redis aof everysec"),
    ("memory", "replikv --fsync never", "redis no persistence"),
]


def main(path):
    rows = list(csv.DictReader(open(path)))
    by = {(r["pair"], r["server"], r["test"], r["pipeline"]): r for r in rows}
    line = "-" * 104
    print()
    print(line)
    print(f"{'durability':<40} {'test':<5} {'pipe':>4} {'replikv rps':>12} {'redis rps':>12} "
          f"{'ratio':>6}  {'replikv p50/p99 ms':>18} {'redis p50/p99 ms':>17}")
    print(line)
    for pair, ours, theirs in PAIRS:
        keys = sorted({(r["test"], r["pipeline"]) for r in rows if r["pair"] == pair},
                      key=lambda k: (int(k[1]), k[0] != "set"))
        for test, pipe in keys:
            a, b = by.get((pair, ours, test, pipe)), by.get((pair, theirs, test, pipe))
            if not a or not b:
                continue
            ratio = float(a["rps"]) / float(b["rps"])
            label = f"{ours.replace('replikv ', '')} vs {theirs.replace('redis ', '')}"
            print(f"{label:<40} {test.upper():<5} {pipe:>4} {float(a['rps']):>12.0f} "
                  f"{float(b['rps']):>12.0f} {ratio:>6.2f}  "
                  f"{a['p50_ms'] + '/' + a['p99_ms']:>18} {b['p50_ms'] + '/' + b['p99_ms']:>17}")
    print(line)
    sync = {r["server"]: r for r in rows if r["pair"] == "sync"}
    always, batch = sync.get("replikv --fsync always"), sync.get("replikv --fsync batch")
    if always and batch:
        print("group commit, SET without pipelining (every ack waits for its fsync group):")
        for name, r in sync.items():
            print(f"  {name:<26} {float(r['rps']):>10.0f} rps   p50/p99 "
                  f"{r['p50_ms']}/{r['p99_ms']} ms")
        print(f"  replikv always / batch = {float(always['rps']) / float(batch['rps']):.2f}")
        redis_always = sync.get("redis aof always")
        if redis_always:
            print(f"  replikv always / redis aof always = "
                  f"{float(always['rps']) / float(redis_always['rps']):.2f}")
    print(line)


if __name__ == "__main__":
    main(sys.argv[1])
