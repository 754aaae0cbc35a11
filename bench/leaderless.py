#!/usr/bin/env python3
"""Helpers of bench/leaderless.sh (Python standard library only).

  merge OUT...              OUT: the plain (non --csv) output of redis-benchmark processes that
                            ran at the same time. Prints "rps p50_ms p99_ms requests": rps is all
                            their requests over the longest run's duration; p50/p99 come from the
                            merged latency distributions each one prints (cumulative counts at
                            HDR histogram points, so exact to the histogram's resolution).
  report RESULTS STOPS      prints the table, the ratios and which targets were met.
                            RESULTS: csv rows round,system,entry,op,rps,p50,p99.
                            STOPS: lines "label<TAB>PHASE name=... (resp_latency's output)".
"""

import bisect
import csv
import re
import statistics
import sys

# ---- merge ------------------------------------------------------------------------------------

POINT = re.compile(r"^\s*[\d.]+% <= ([\d.]+) milliseconds \(cumulative count (\d+)\)")


def parse_rb(path):
    """(requests, seconds, [(latency_ms, cumulative count)]) of one redis-benchmark output."""
    text = open(path, errors="replace").read().replace("\r", "\n")
    m = re.search(r"(\d+) requests completed in", text)
    t = re.search(r"throughput summary: ([\d.]+) requests per second", text)
    if not m or not t:
        raise SystemExit(f"leaderless.py: no summary in {path}:\n{text[-2000:]}")
    n = int(m.group(1))
    points = sorted({(float(p.group(1)), int(p.group(2)))
                     for p in map(POINT.match, text.splitlines()) if p})
    return n, n / float(t.group(1)), points


def merge(paths):
    runs = [parse_rb(p) for p in paths]
    total = sum(n for n, _, _ in runs)
    seconds = max(s for _, s, _ in runs)
    # Each run's cumulative count at latency x is the largest count among its points <= x.
    curves = []
    for _, _, pts in runs:
        xs, cs = [p[0] for p in pts], [p[1] for p in pts]
        for i in range(1, len(cs)):
            cs[i] = max(cs[i], cs[i - 1])
        curves.append((xs, cs))
    grid = sorted({x for xs, _ in curves for x in xs})

    def count_le(x):
        c = 0
        for xs, cs in curves:
            i = bisect.bisect_right(xs, x)
            c += cs[i - 1] if i else 0
        return c

    def pct(q):
        want = q * total
        for x in grid:
            if count_le(x) >= want:
                return x
        return grid[-1] if grid else float("nan")

    print(f"{total / seconds:.1f} {pct(0.50):.3f} {pct(0.99):.3f} {total}")


# ---- report -----------------------------------------------------------------------------------

def read_results(path):
    runs = {}  # (system, entry, op) -> {round: (rps, p50, p99)}
    for r in csv.reader(open(path)):
        runs.setdefault((r[1], r[2], r[3]), {})[int(r[0])] = tuple(map(float, r[4:7]))
    return runs


def read_stops(path):
    stops = {}  # label -> {phase: {field: value}}
    try:
        lines = open(path).read().splitlines()
    except FileNotFoundError:
        return stops
    for line in lines:
        label, _, rest = line.partition("\t")
        fields = dict(re.findall(r'(\w+)=("[^"]*"|\S+)', rest))
        fields = {k: v.strip('"') for k, v in fields.items()}
        stops.setdefault(label, {})[fields["name"]] = fields
    return stops


def report(results_path, stops_path):
    runs = read_results(results_path)
    stops = read_stops(stops_path)
    med = statistics.median
    rounds = max((max(v) for v in runs.values()), default=1)
    label = f"median of {rounds} rounds" if rounds > 1 else "one round"
    print(f"{'system':40} {'clients to':14} {'op':4} {'rps':>9} {'p50 ms':>8} {'p99 ms':>8}"
          f"   ({label})")
    for (s, e, op), by_round in runs.items():
        v = list(by_round.values())
        print(f"{s:40} {e:14} {op:4} {med([x[0] for x in v]):9.0f} "
              f"{med([x[1] for x in v]):8.3f} {med([x[2] for x in v]):8.3f}")
    print()
    verdicts = []

    def ratio(a, b, text, target=None):
        if a not in runs or b not in runs:
            return
        common = sorted(set(runs[a]) & set(runs[b]))
        per = [tuple(runs[a][k][i] / runs[b][k][i] for i in range(3)) for k in common]
        rps = med([p[0] for p in per])
        line = f"{text:70} rps x{rps:5.2f}   p99 x{med([p[2] for p in per]):5.2f}"
        if target is not None:
            ok = rps >= target
            line += f"   target >= {target:g}: {'MET' if ok else 'NOT MET'}"
            verdicts.append((text, ok))
        if len(per) > 1:
            line += "   (rps per round: " + " ".join(f"{p[0]:.2f}" for p in per) + ")"
        print(line)

    spread, single = "3 nodes", "node 1"
    prim = ("primary quorum", "leader", "set")
    etcd = ("etcd (3 members)", "leader", "set")
    redis = ("Redis + 2 replicas", "primary", "set")
    for e in (spread, single):
        ratio(("leaderless QUORUM", e, "set"), prim,
              f"leaderless QUORUM SET ({e}) / primary quorum SET", 1)
        ratio(("leaderless QUORUM", e, "set"), etcd,
              f"leaderless QUORUM SET ({e}) / etcd put", 5)
        ratio(("leaderless ONE", e, "set"), redis,
              f"leaderless ONE SET ({e}) / Redis SET with 2 replicas", 1.0)
    ratio(("leaderless ONE fsync=never", spread, "set"), redis,
          f"leaderless ONE SET fsync=never ({spread}) / Redis SET with 2 replicas", 1.0)
    ratio(("leaderless QUORUM", spread, "get"), ("primary quorum", "leader", "get"),
          f"leaderless QUORUM GET ({spread}) / primary linearizable GET")
    ratio(("leaderless ONE", spread, "get"), ("Redis + 2 replicas", "primary", "get"),
          f"leaderless ONE GET ({spread}) / Redis GET (primary)")

    if stops:
        print()
        print(f"{'one replica stopped (SIGSTOP)':38} {'phase':7} {'s':>5} {'ok/s':>7} "
              f"{'p50 ms':>7} {'p99 ms':>7} {'p99.9':>7} {'max ms':>7} {'errors':>6} "
              f"{'err max':>7} {'unfin.':>6} {'gap ms':>7}")
        for lab, phases in stops.items():
            for name in ("healthy", "stop", "after"):
                f = phases.get(name)
                if not f:
                    continue
                print(f"{lab:38} {name:7} {float(f['seconds']):5.1f} {float(f['rps']):7.0f} "
                      f"{float(f['p50_ms']):7.2f} {float(f['p99_ms']):7.2f} "
                      f"{float(f['p999_ms']):7.1f} {float(f['max_ms']):7.1f} "
                      f"{f['errors']:>6} {float(f['err_max_ms']):7.1f} {f['unfinished']:>6} "
                      f"{float(f['gap_ms']):7.1f}")
                if f.get("err_sample"):
                    print(f"{'':38}   first error: {f['err_sample'].strip()}")
        for lab, phases in stops.items():
            if "healthy" not in phases or "stop" not in phases:
                continue
            h, s = float(phases["healthy"]["p99_ms"]), float(phases["stop"]["p99_ms"])
            x = s / h if h > 0 else float("nan")
            st = phases["stop"]
            line = (f"{lab}: p99 stop / healthy = x{x:.2f} ({s:.1f} / {h:.1f} ms); during the "
                    f"stop {st['errors']} errors, {st['unfinished']} unanswered, longest "
                    f"stretch without an OK reply {float(st['gap_ms']):.0f} ms")
            if lab.startswith("leaderless QUORUM"):
                ok = x <= 2
                line += f"   target <= 2: {'MET' if ok else 'NOT MET'}"
                verdicts.append((lab + ", p99 stop / healthy <= 2", ok))
            print(line)
    if verdicts:
        print()
        met = [t for t, ok in verdicts if ok]
        print(f"targets met: {len(met)} of {len(verdicts)}")
        for t, ok in verdicts:
            print(f"  {'MET    ' if ok else 'NOT MET'}  {t}")


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "merge":
        merge(sys.argv[2:])
    elif len(sys.argv) == 4 and sys.argv[1] == "report":
        report(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    sys.exit(main())
