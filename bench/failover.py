#!/usr/bin/env python3
"""Write unavailability when the leader of `accounts` is killed -9 (see bench/failover.sh).

A 3-node replikv cluster with default Raft settings runs under write load: W writer threads,
spread over all three nodes, each SETting fresh `accounts:` keys in a closed loop (a writer
whose node dies reconnects to the next node). Each trial kills -9 the current leader and
measures
  window   = first ack after the kill - last ack completed before it, where "first ack after"
             counts only SETs sent after the kill (a reply already in flight from the old
             leader when it died would otherwise end the window after a few ms)
  election = time until the survivors agree on a new leader (admin /status, polled every 20 ms)
then restarts the old leader and waits until it has applied everything committed.

Prints one line per trial and a summary (p50, max). Every process started here is killed at exit.
"""

import argparse
import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster_load as cl  # noqa: E402

procs = {}  # node index -> Popen


def start(i, nodes, bin_, tmp):
    log = open(os.path.join(tmp, f"n{i + 1}.log"), "ab")
    procs[i] = subprocess.Popen([bin_, "serve", "--config", nodes[i][0]], stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            c = cl.RespConn("127.0.0.1", nodes[i][1], 1)
            ok = c.call("PING") == b"PONG"
            c.close()
            if ok:
                return
        except (OSError, RuntimeError, ConnectionError):
            pass
        if procs[i].poll() is not None:
            raise SystemExit(f"n{i + 1} exited at start; see its log")
        time.sleep(0.05)
    raise SystemExit(f"n{i + 1} not ready")


def kill9(i):
    p = procs.get(i)
    if p and p.poll() is None:
        p.kill()
        p.wait(10)


def cleanup():
    for p in procs.values():
        if p.poll() is None:
            p.terminate()
    for p in procs.values():
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)


class Load:
    def __init__(self, nodes, writers):
        self.nodes = nodes
        self.acks = []  # (invoke, complete) monotonic times of acknowledged SETs, append-only
        self.errors = 0
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(w,), daemon=True)
                        for w in range(writers)]
        for t in self.threads:
            t.start()

    def run(self, w):
        target, conn, i = w % len(self.nodes), None, 0
        while not self.stop.is_set():
            i += 1
            try:
                if conn is None:
                    conn = cl.RespConn("127.0.0.1", self.nodes[target][1], 15)
                t0 = time.monotonic()
                conn.call("SET", f"accounts:fo:{w}:{i}", "v" * 64)
                self.acks.append((t0, time.monotonic()))  # list.append is atomic under the GIL
            except RuntimeError:  # -TRYAGAIN / -TIMEOUT: the connection is still fine
                self.errors += 1
                time.sleep(0.005)
            except (OSError, ConnectionError, ValueError):
                self.errors += 1
                if conn:
                    conn.close()
                conn, target = None, (target + 1) % len(self.nodes)
                time.sleep(0.01)
        if conn:
            conn.close()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(30)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--writers", type=int, default=6)
    ap.add_argument("--steady", type=float, default=1.5, help="seconds of load before a kill")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="rkv-failover-")
    atexit.register(lambda: a.keep or shutil.rmtree(tmp, ignore_errors=True))
    atexit.register(cleanup)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(130))
    nodes = [n[:3] for n in cl.write_rkv_configs(tmp, 3)]  # (config, client port, admin port)
    admin = [n[2] for n in nodes]
    for i in range(3):
        start(i, nodes, a.bin, tmp)
    cl.rkv_leader(admin, "accounts", timeout=30)
    load = Load(nodes, a.writers)
    windows, elections = [], []
    print(f"{'trial':>5} {'killed':>6} {'new':>4} {'election ms':>12} {'window ms':>10}", flush=True)
    try:
        for t in range(a.trials):
            time.sleep(a.steady)
            old = cl.rkv_leader(admin, "accounts", timeout=30)
            n_before = len(load.acks)
            if n_before == 0 or time.monotonic() - load.acks[-1][1] > 1.0:
                raise SystemExit("no steady write load before the kill")
            t_kill = time.monotonic()
            kill9(old)
            new = cl.rkv_leader(admin, "accounts", timeout=60, exclude=(old,))
            t_elected = time.monotonic()
            deadline = t_kill + 60
            while time.monotonic() < deadline:
                after = [done for sent, done in load.acks[n_before:] if sent > t_kill]
                if after:
                    break
                time.sleep(0.01)
            else:
                raise SystemExit("writes did not resume within 60 s of the kill")
            before = max(done for _, done in load.acks[:n_before + 200] if done <= t_kill)
            window = (min(after) - before) * 1000
            election = (t_elected - t_kill) * 1000
            windows.append(window)
            elections.append(election)
            print(f"{t + 1:5d} {'n%d' % (old + 1):>6} {'n%d' % (new + 1):>4} {election:12.0f} "
                  f"{window:10.0f}", flush=True)
            start(old, nodes, a.bin, tmp)
            commit = max(g["commit_index"] for g in
                         [next(x for x in cl.rkv_status(admin[new])["replication"]
                               if x["keyspace"] == "accounts")])
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                g = next(x for x in cl.rkv_status(admin[old])["replication"]
                         if x["keyspace"] == "accounts")
                if g["applied_index"] >= commit:
                    break
                time.sleep(0.05)
            else:
                raise SystemExit(f"n{old + 1} did not catch up within 60 s")
    finally:
        load.finish()

    def pct(xs, p):
        xs = sorted(xs)
        return xs[min(len(xs) - 1, int(p * len(xs)))]

    print()
    print(f"trials={len(windows)} writers={a.writers} acks={len(load.acks)} errors={load.errors}")
    print(f"write unavailability window: p50 {pct(windows, 0.5):.0f} ms   max {max(windows):.0f} ms")
    print(f"election (survivors agree):  p50 {pct(elections, 0.5):.0f} ms   max {max(elections):.0f} ms")


if __name__ == "__main__":
    main()
