#!/usr/bin/env python3
"""Scale benchmark: a 3-node replikv cluster grown to millions of keys under a sustained write
load, with Redis (a primary and 2 replicas) on the same data in the same run.

For each size of the dataset (default 100k, 1M, 5M keys of 64 bytes) the load is
`redis-benchmark -t set -c 50 -d V -r SIZE -n 2*SIZE` against the leader (Redis: the primary),
which leaves about 86% of the SIZE key names written (random keys, with replacement). After
each step it prints, per system:

  rps, p50 / p99 / p99.9 / max latency (ms)      from redis-benchmark's own distribution
  leadership changes                              Raft terms gained by the `default` keyspace
  longest event-loop step (ms)                    INFO stats loop_step_recent_max_us, max over nodes
  RSS per node (MB), disk per node (MB)           /proc/<pid>/status VmRSS, du of the data dir
  snapshots sent / installed                      admin /status
  Redis: latest fork (ms) of a BGSAVE run after each step (its stop-the-world pause)

and RSS ratios to Redis. At the end it kills one follower with SIGKILL, restarts it, and
reports how long until it answers PING and until it holds the leader's commit index, while the
load goes on. Every process is started here on free loopback ports with temporary data dirs and
is killed by pid at exit.

    python3 bench/scale.py                              # 100k, 1M, 5M keys of 64 B
    python3 bench/scale.py --sizes 100000,1000000 --value-size 1024
    python3 bench/scale.py --skip-redis --sizes 1000000
    python3 bench/scale.py --sizes 1000000 --raft snapshot_log_bytes=67108864
    BENCH_KEEP=1 python3 bench/scale.py ...             # keep the data dirs and node logs

Needs redis-server, redis-benchmark, redis-cli (Debian: redis-server, redis-tools).
"""

import argparse
import atexit
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster_load  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROCS = []


def cleanup():
    for p in PROCS:
        if p.poll() is None:
            try:
                os.kill(p.pid, signal.SIGCONT)
                p.kill()
            except ProcessLookupError:
                pass
    for p in PROCS:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


atexit.register(cleanup)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))


def rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def disk_mb(path):
    total = 0
    for dirpath, _, files in os.walk(path):
        for name in files:
            try:
                total += os.stat(os.path.join(dirpath, name)).st_blocks * 512
            except OSError:
                pass
    return total / 1e6


def cli(port, *args, timeout=30):
    r = subprocess.run(["redis-cli", "-p", str(port), *map(str, args)], capture_output=True,
                       text=True, timeout=timeout)
    return r.stdout


def info_field(port, section, field):
    m = re.search(rf"^{field}:(\S+)", cli(port, "INFO", section), re.M)
    return m.group(1) if m else None


def wait_ping(port, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if cli(port, "PING", timeout=2).strip() == "PONG":
                return True
        except subprocess.TimeoutExpired:
            pass
        time.sleep(0.05)
    return False


def benchmark(port, size, value_size, clients, n, timeout):
    """Runs redis-benchmark SET; returns dict rps, p50, p99, p999, max (ms), error text."""
    cmd = ["redis-benchmark", "-p", str(port), "-t", "set", "-c", str(clients), "-d",
           str(value_size), "-r", str(size), "-n", str(n)]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        out = r.stdout + r.stderr
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (
            e.stdout or "")
        out += "\n(timed out)"
    res = {"rps": 0.0, "p50": None, "p99": None, "p999": None, "max": None, "error": None}
    m = re.search(r"throughput summary:\s*([\d.]+) requests per second", out)
    if m:
        res["rps"] = float(m.group(1))
    dist = [(float(p), float(ms)) for p, ms in
            re.findall(r"([\d.]+)% <= ([\d.]+) milliseconds", out)]
    for key, q in (("p50", 50.0), ("p99", 99.0), ("p999", 99.9)):
        for p, ms in dist:
            if p >= q:
                res[key] = ms
                break
    if dist:
        res["max"] = dist[-1][1]
    err = re.search(r"^(Error.*|.*(TRYAGAIN|TIMEOUT|timed out).*)$", out, re.M)
    if err or not m:
        res["error"] = (err.group(1) if err else out.strip().splitlines()[-1:] or ["?"])
    return res


class Replikv:
    def __init__(self, binary, tmp, fsync, raft=None):
        self.binary = binary
        self.dir = os.path.join(tmp, "rkv")
        os.makedirs(self.dir)
        self.nodes = cluster_load.write_rkv_configs(self.dir, 3, fsync=fsync, raft=raft)
        for path, *_ in self.nodes:  # info: the logs name every leadership change
            with open(path) as f:
                text = f.read()
            with open(path, "w") as f:
                f.write(text.replace('log_level = "warn"', 'log_level = "info"'))
        self.procs = [None] * 3
        for i in range(3):
            self.start(i)
        for i in range(3):
            if not wait_ping(self.nodes[i][1], 30):
                raise SystemExit(f"replikv node {i} did not start")
        self.leader = cluster_load.rkv_leader([n[2] for n in self.nodes], "default", 30)
        self.start_term = self.term()

    def start(self, i):
        log = open(os.path.join(self.dir, f"n{i + 1}.log"), "ab")
        p = subprocess.Popen([self.binary, "serve", "--config", self.nodes[i][0]],
                             stdout=log, stderr=log)
        PROCS.append(p)
        self.procs[i] = p

    def port(self, i):
        return self.nodes[i][1]

    def group(self, i):
        for g in cluster_load.rkv_status(self.nodes[i][2], 5)["replication"]:
            if g["keyspace"] == "default":
                return g
        return None

    def term(self):
        terms = []
        for i in range(3):
            try:
                terms.append(self.group(i)["term"])
            except (OSError, ValueError, KeyError, TypeError):
                pass
        return max(terms) if terms else 0

    def stats(self):
        loop = []
        snaps_sent = snaps_installed = 0
        for i in range(3):
            v = info_field(self.port(i), "stats", "loop_step_recent_max_us")
            loop.append(int(v) / 1000 if v else 0)
            try:
                g = self.group(i)
                snaps_sent += g.get("snapshots_sent", 0)
                snaps_installed += g.get("snapshots_installed", 0)
            except (OSError, ValueError, TypeError):
                pass
        return {
            "leader_changes": self.term() - self.start_term,
            "loop_ms": max(loop),
            "rss": [rss_mb(p.pid) for p in self.procs],
            "disk": [disk_mb(os.path.join(self.dir, f"n{i + 1}")) for i in range(3)],
            "snapshots": f"{snaps_sent}/{snaps_installed}",
            "keys": dbsize(self.port(self.leader)),
        }

    def restart_follower(self):
        f = (self.leader + 1) % 3
        os.kill(self.procs[f].pid, signal.SIGKILL)
        self.procs[f].wait()
        t0 = time.monotonic()
        self.start(f)
        ok = wait_ping(self.port(f), 600)
        serving = time.monotonic() - t0
        caught = None
        deadline = time.monotonic() + 600
        while ok and time.monotonic() < deadline:
            try:
                lead = self.group(self.leader)["commit_index"]
                if self.group(f)["applied_index"] >= lead:
                    caught = time.monotonic() - t0
                    break
            except (OSError, ValueError, KeyError, TypeError):
                pass
            time.sleep(0.2)
        return serving if ok else None, caught


def dbsize(port):
    try:
        return int(cli(port, "DBSIZE").strip())
    except ValueError:
        return 0


class Redis:
    def __init__(self, tmp):
        self.ports = [cluster_load.free_port() for _ in range(3)]
        self.procs = []
        for i, port in enumerate(self.ports):
            d = os.path.join(tmp, f"redis-{i}")
            os.makedirs(d)
            extra = ["--replicaof", "127.0.0.1", str(self.ports[0])] if i else []
            p = subprocess.Popen(
                ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", d,
                 "--save", "", "--appendonly", "yes", "--appendfsync", "everysec",
                 "--daemonize", "no", *extra], stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL)
            PROCS.append(p)
            self.procs.append(p)
        for port in self.ports:
            if not wait_ping(port, 30):
                raise SystemExit("redis did not start")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if cli(self.ports[0], "INFO", "replication").count("state=online") == 2:
                break
            time.sleep(0.1)

    def stats(self):
        # The pause of a fork: what a snapshot (or AOF rewrite) costs Redis's event loop.
        cli(self.ports[0], "BGSAVE")
        fork_ms = None
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if info_field(self.ports[0], "persistence", "rdb_bgsave_in_progress") == "0":
                v = info_field(self.ports[0], "stats", "latest_fork_usec")
                fork_ms = int(v) / 1000 if v else None
                break
            time.sleep(0.2)
        return {"rss": [rss_mb(p.pid) for p in self.procs], "fork_ms": fork_ms,
                "keys": dbsize(self.ports[0])}


def fmt_ms(v):
    return "-" if v is None else f"{v:.1f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="100000,1000000,5000000")
    ap.add_argument("--value-size", type=int, default=64)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--fsync", default="batch")
    ap.add_argument("--skip-redis", action="store_true")
    ap.add_argument("--step-timeout", type=int, default=1800)
    ap.add_argument("--raft", action="append", default=[], metavar="KEY=VALUE",
                    help="a [raft] setting of every replikv node (repeatable)")
    ap.add_argument("--bin", default=os.environ.get("REPLIKV_BIN",
                                                    os.path.join(ROOT, "build", "replikv")))
    a = ap.parse_args()
    for tool in ("redis-server", "redis-benchmark", "redis-cli"):
        if not shutil.which(tool):
            raise SystemExit(f"scale: {tool} not found (apt-get install redis-server redis-tools)")
    sizes = [int(s) for s in a.sizes.split(",")]
    tmp = tempfile.mkdtemp(prefix="rkv-scale-")
    if os.environ.get("BENCH_KEEP"):
        print(f"scale: keeping {tmp} (node logs in rkv/n*.log)", flush=True)
    else:
        atexit.register(lambda: shutil.rmtree(tmp, ignore_errors=True))
    print(f"scale: {a.bin}, {a.value_size}-byte values, {a.clients} clients, fsync {a.fsync}, "
          f"sizes {sizes}" + (f", [raft] {' '.join(a.raft)}" if a.raft else ""), flush=True)

    rkv = Replikv(a.bin, tmp, a.fsync, dict(kv.split("=", 1) for kv in a.raft) or None)
    redis = None if a.skip_redis else Redis(tmp)
    print(f"{'system':8} {'size':>8} {'keys':>8} {'rps':>8} {'p50':>6} {'p99':>6} {'p99.9':>6} "
          f"{'max':>7} {'elect':>5} {'loop ms':>8} {'RSS MB per node':>22} {'disk MB per node':>20} "
          f"{'snap s/i':>8} {'RSS/redis':>9} {'fork ms':>7}  errors", flush=True)
    for size in sizes:
        n = 2 * size
        r = benchmark(rkv.port(rkv.leader), size, a.value_size, a.clients, n, a.step_timeout)
        s = rkv.stats()
        rd = rs = None
        if redis:
            rd = benchmark(redis.ports[0], size, a.value_size, a.clients, n, a.step_timeout)
            rs = redis.stats()
        ratio = (f"{max(s['rss']) / max(rs['rss']):.2f}" if rs and max(rs["rss"]) else "-")
        print(f"{'replikv':8} {size:>8} {s['keys']:>8} {r['rps']:>8.0f} {fmt_ms(r['p50']):>6} "
              f"{fmt_ms(r['p99']):>6} {fmt_ms(r['p999']):>6} {fmt_ms(r['max']):>7} "
              f"{s['leader_changes']:>5} {s['loop_ms']:>8.1f} "
              f"{' '.join(f'{x:.0f}' for x in s['rss']):>22} "
              f"{' '.join(f'{x:.0f}' for x in s['disk']):>20} {s['snapshots']:>8} {ratio:>9} "
              f"{'':>7}  {r['error'] or ''}", flush=True)
        if redis:
            print(f"{'redis':8} {size:>8} {rs['keys']:>8} {rd['rps']:>8.0f} {fmt_ms(rd['p50']):>6} "
                  f"{fmt_ms(rd['p99']):>6} {fmt_ms(rd['p999']):>6} {fmt_ms(rd['max']):>7} "
                  f"{'':>5} {'':>8} {' '.join(f'{x:.0f}' for x in rs['rss']):>22} {'':>20} "
                  f"{'':>8} {'':>9} {fmt_ms(rs['fork_ms']):>7}  {rd['error'] or ''}", flush=True)
        rkv.leader = cluster_load.rkv_leader([nd[2] for nd in rkv.nodes], "default", 30)

    # A follower killed and restarted at the largest size, while the load goes on.
    size = sizes[-1]
    bench = subprocess.Popen(
        ["redis-benchmark", "-p", str(rkv.port(rkv.leader)), "-t", "set", "-c",
         str(a.clients), "-d", str(a.value_size), "-r", str(size), "-n", str(10 * size)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    PROCS.append(bench)
    time.sleep(2)
    term0 = rkv.term()
    serving, caught = rkv.restart_follower()
    time.sleep(2)
    bench.send_signal(signal.SIGINT)
    try:
        out, _ = bench.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        bench.kill()
        out = ""
    errors = len(re.findall(r"TRYAGAIN|TIMEOUT|Error", out))
    print(f"follower restart at {size} keys: serving after {fmt_ms(serving)} s, caught up after "
          f"{fmt_ms(caught)} s, leadership changes {rkv.term() - term0}, client error lines "
          f"{errors}", flush=True)


if __name__ == "__main__":
    main()
