#!/usr/bin/env python3
"""Writes far more than maxmemory into replikv and redis-server (one after the other, same run,
same redis-benchmark settings) and prints each one's throughput, peak RSS and final
used_memory under eviction.

    python3 bench/maxmemory.py [--maxmemory 50mb] [--policy allkeys-lru] [--n 200000]

Every run: `redis-benchmark -c 4 -P 32 -r 1000000000 -n N SET key:__rand_int__ <1 KB>`, so
N × 1 KB of distinct keys (200 MB by default). replikv runs single-node with `--fsync never`,
Redis with `--appendonly no --save ''`. Servers use free loopback ports and temporary data dirs
that are removed at exit.
"""

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
VALUE = "v" * 1024


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def info_memory(port):
    out = subprocess.run(["redis-cli", "-p", str(port), "INFO", "memory"], capture_output=True,
                         text=True, timeout=10).stdout
    return dict(line.strip().split(":", 1) for line in out.splitlines() if ":" in line)


def wait_ready(port, proc):
    for _ in range(200):
        if proc.poll() is not None:
            raise RuntimeError("server exited")
        r = subprocess.run(["redis-cli", "-p", str(port), "PING"], capture_output=True, text=True)
        if r.stdout.strip() == "PONG":
            return
        time.sleep(0.05)
    raise RuntimeError("server did not start")


def run(name, cmd, port, n, tmp):
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp)
    try:
        wait_ready(port, proc)
        peak = [0]
        done = threading.Event()

        def sample():
            while not done.is_set():
                peak[0] = max(peak[0], rss(proc.pid))
                time.sleep(0.05)
        t = threading.Thread(target=sample, daemon=True)
        t.start()
        start = time.monotonic()
        out = subprocess.run(["redis-benchmark", "-p", str(port), "-c", "4", "-P", "32", "-r",
                              "1000000000", "-n", str(n), "-q", "SET", "key:__rand_int__", VALUE],
                             capture_output=True, text=True, timeout=600).stdout
        secs = time.monotonic() - start
        done.set()
        t.join()
        mem = info_memory(port)
        errors = "OOM" in out
        print(f"{name:8} {n / secs:10.0f} {peak[0] / 2**20:10.1f} "
              f"{int(mem.get('used_memory', 0)) / 2**20:12.1f} "
              f"{'yes' if errors else 'no':>6}")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--maxmemory", default="50mb")
    ap.add_argument("--policy", default="allkeys-lru")
    ap.add_argument("--n", type=int, default=200000)
    a = ap.parse_args()
    binary = os.environ.get("REPLIKV_BIN", os.path.join(HERE, "..", "build", "replikv"))
    tmp = tempfile.mkdtemp(prefix="rkv-bench-mem-")
    try:
        print(f"maxmemory {a.maxmemory}, {a.policy}, {a.n} SETs of 1 KB to distinct keys")
        print(f"{'server':8} {'SET/s':>10} {'peak RSS':>10} {'used_memory':>12} {'OOM':>6}  (MiB)")
        cfg = os.path.join(tmp, "replikv.toml")
        with open(cfg, "w") as f:
            f.write(f'[memory]\nmaxmemory = "{a.maxmemory}"\nmaxmemory_policy = "{a.policy}"\n')
        port = free_port()
        run("replikv", [binary, "serve", "--config", cfg, "--port", str(port), "--admin-port",
                        "0", "--data-dir", os.path.join(tmp, "data"), "--fsync", "never",
                        "--log-level", "warn"], port, a.n, tmp)
        port = free_port()
        run("redis", ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no",
                      "--maxmemory", a.maxmemory, "--maxmemory-policy", a.policy], port, a.n, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
