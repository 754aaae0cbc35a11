#!/usr/bin/env python3
"""Memory per element of multi-leader keyspaces (lww, crdt, siblings) against a primary keyspace
and redis-server 7.0, on the same machine, same run; and what is left after every element is
deleted and the tombstones are collected.

Every row gets a fresh 3-node replikv cluster (fsync never) declaring four keyspaces: `default`
(primary, commit quorum; keys `p:...`), `mlww` (`lww:`, multi-leader, conflict lww), `mcrdt`
(`crdt:`, crdt) and `msib` (`sib:`, siblings), with `[multileader] tombstone_grace_ms = 0`. A
fresh cluster per row, so that memory one row freed (and the allocator kept) does not serve the
next. Data sets (N elements each, loaded pipelined):

  strings   SET <prefix>s<i> <64 B value>              N keys
  hash      HSET <prefix>h f<i> v<i> ... (BATCH pairs)  one hash of N fields
  set       SADD <prefix>set m<i> ... (BATCH members)   one set of N members
  counters  INCR <prefix>c<i>                           N keys, each 1

Multi-leader writes go to node 1, primary writes to the leader of `default`. The script waits
until every node holds all N elements (and, multi-leader, the writer's peer_<id>_lag_entries are
0; primary, every node applied the leader's commit index), then reads each node's RSS from
/proc/<pid>/status. replikv's INFO used_memory is its RSS (src/runtime/reports.cc), not an
allocator count, so RSS is what is reported for replikv; for Redis both used_memory (allocator
count) and RSS. Reported per element: the writer's RSS growth, the mean growth of the two other
nodes (peers hold no origin log to ship), and, optionally, a peer's RSS after a restart over
its RSS when empty (RocksDB's memtable empty again: the in-memory state alone, loaded from its
rows). Then everything is deleted (DEL, 1000 keys per command; one DEL for hash and set); the
script waits until no node holds a key of the keyspace and, multi-leader, every node reports
tombstones=0 and no log entry waits for a peer; then the RSS growth over the empty node again
(after it stopped shrinking: jemalloc returns freed pages after a delay) and the engine's own
count of what it still keeps (keys_stamped, objects, versioned_keys, log_entries summed over
the nodes) — the latter is exact, RSS only bounds it from above.

  REPLIKV_BIN=build/replikv python3 bench/multileader_memory.py
  BENCH_N=2000 BENCH_ONLY=strings,counters python3 bench/multileader_memory.py

Environment: BENCH_N (elements per row, default 200000), BENCH_BATCH (elements per HSET/SADD
and keys per DEL, also commands per pipelined chunk; default 1000), BENCH_ONLY (comma list of
data sets and/or systems: strings hash set counters redis primary lww crdt siblings),
BENCH_RESTART (1: also the peer-after-restart column; 0 skips it), BENCH_PHASE_TIMEOUT (seconds
a load, a replication wait or a collection wait may take, default 600), REPLIKV_BIN, BENCH_KEEP
(keep the temporary directory: configs, data dirs, node logs).
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
sys.path.insert(0, HERE)
import cluster_load  # noqa: E402
import harness  # noqa: E402
from redis_diff import RedisServer  # noqa: E402

N = int(os.environ.get("BENCH_N", "200000"))
BATCH = int(os.environ.get("BENCH_BATCH", "1000"))
ONLY = set(filter(None, os.environ.get("BENCH_ONLY", "").split(",")))
RESTART = os.environ.get("BENCH_RESTART", "1") != "0"
PHASE_TIMEOUT = float(os.environ.get("BENCH_PHASE_TIMEOUT", "600"))
VALUE = b"v" * 64

DATASETS = ("strings", "hash", "set", "counters")
# system -> (keyspace name, key prefix); siblings keyspaces take the string commands only.
SYSTEMS = {
    "primary": ("default", "p:"),
    "lww": ("mlww", "lww:"),
    "crdt": ("mcrdt", "crdt:"),
    "siblings": ("msib", "sib:"),
}
KEYSPACES_TOML = """
[multileader]
tombstone_grace_ms = 0

[[keyspace]]
name = "mlww"
prefix = "lww:"
model = "multi-leader"
conflict = "lww"

[[keyspace]]
name = "mcrdt"
prefix = "crdt:"
model = "multi-leader"
conflict = "crdt"

[[keyspace]]
name = "msib"
prefix = "sib:"
model = "multi-leader"
conflict = "siblings"
"""


def wanted(*names):
    """True unless BENCH_ONLY names something of this kind and not these."""
    kinds = (set(DATASETS), set(SYSTEMS) | {"redis"})
    return all(not (ONLY & kind) or (ONLY & kind & set(names)) for kind in kinds)


def until(what, predicate, timeout=PHASE_TIMEOUT, every=0.2):
    """Polls predicate() until it returns something true; raises after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        got = predicate()
        if got:
            return got
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:.0f} s")
        time.sleep(every)


def rss(pid):
    return harness.rss_kb(pid) * 1024


def settled_rss(pids, timeout=30.0):
    """RSS of each process once it stopped shrinking: the same to 0.5% over three 1-second
    samples (jemalloc hands freed pages back to the kernel after a decay delay), or the last
    sample at `timeout`."""
    samples = [[rss(p) for p in pids]]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(1.0)
        samples.append([rss(p) for p in pids])
        last = samples[-3:]
        if len(last) == 3 and all(max(col) - min(col) <= 0.005 * max(col) for col in zip(*last)):
            break
    return samples[-1]


# ---- load and delete (pipelined, every reply checked) -----------------------------------------

def commands(dataset, prefix):
    """Yields the commands that load `dataset` under `prefix`: N elements."""
    if dataset == "strings":
        for i in range(N):
            yield ("SET", f"{prefix}s{i}", VALUE)
    elif dataset == "counters":
        for i in range(N):
            yield ("INCR", f"{prefix}c{i}")
    elif dataset == "hash":
        for start in range(0, N, BATCH):
            args = ["HSET", f"{prefix}h"]
            for i in range(start, min(N, start + BATCH)):
                args += [f"f{i}", f"v{i}"]
            yield args
    elif dataset == "set":
        for start in range(0, N, BATCH):
            yield ["SADD", f"{prefix}set"] + [f"m{i}" for i in range(start, min(N, start + BATCH))]


def deletions(dataset, prefix):
    if dataset in ("hash", "set"):
        yield ("DEL", f"{prefix}h" if dataset == "hash" else f"{prefix}set")
        return
    letter = "s" if dataset == "strings" else "c"
    for start in range(0, N, BATCH):
        yield ["DEL"] + [f"{prefix}{letter}{i}" for i in range(start, min(N, start + BATCH))]


def pipeline(port, cmds):
    """Sends `cmds` in chunks of BATCH commands, reading each chunk's replies before the next
    (every reply is one line: +OK, :n or an error). Raises on the first error reply."""
    deadline = time.monotonic() + PHASE_TIMEOUT
    s = socket.create_connection(("127.0.0.1", port), timeout=PHASE_TIMEOUT)
    try:
        chunk = []
        buf = b""

        def flush(chunk, buf):
            s.sendall(b"".join(harness.encode_command(*c) for c in chunk))
            lines = []
            while len(lines) < len(chunk):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"load: not within {PHASE_TIMEOUT:.0f} s")
                data = s.recv(1 << 16)
                if not data:
                    raise ConnectionError("server closed the connection")
                buf += data
                *done, buf = buf.split(b"\r\n")
                lines += done
            for line in lines:
                if line.startswith(b"-"):
                    raise RuntimeError(f"error reply: {line.decode(errors='replace')}")
            return buf

        for c in cmds:
            chunk.append(c)
            if len(chunk) == BATCH:
                buf = flush(chunk, buf)
                chunk = []
        if chunk:
            flush(chunk, buf)
    finally:
        s.close()


# ---- INFO -------------------------------------------------------------------------------------

def info(port, section):
    with harness.RawClient(port, timeout=30) as c:
        return str(c.call("INFO", section))


def info_line(port, section, head):
    """The fields of INFO `section`'s line starting `head:` as a dict (a,b=c,... ->{a:..})."""
    for line in info(port, section).splitlines():
        if line.startswith(head + ":"):
            return dict(kv.split("=", 1) for kv in line[len(head) + 1:].split(",") if "=" in kv)
    return {}


def held(port, dataset, system):
    """Elements of `dataset` a node holds in `system`'s keyspace."""
    name, prefix = SYSTEMS[system]
    with harness.RawClient(port, timeout=30) as c:
        if dataset == "hash":
            return c.call("HLEN", f"{prefix}h")
        if dataset == "set":
            return c.call("SCARD", f"{prefix}set")
    return int(info_line(port, "keyspaces", f"keyspace_{name}").get("keys", 0))


def ml_fields(port, name):
    return info_line(port, "keyspace_replication", f"keyspace_{name}")


def peers_caught_up(port, name):
    f = ml_fields(port, name)
    lags = [int(v) for k, v in f.items() if k.startswith("peer_") and k.endswith("_lag_entries")]
    return len(lags) == 2 and all(v == 0 for v in lags)


def raft_applied(ports, leader_port):
    lead = info_line(leader_port, "keyspace_replication", "keyspace_default")
    want = int(lead["commit_index"])
    return all(int(info_line(p, "keyspace_replication", "keyspace_default")["applied_index"])
               >= want for p in ports)


# ---- one replikv cluster per row --------------------------------------------------------------

class Cluster:
    """Three replikv processes from a copy of the binary, in a directory of their own; stopped by
    pid (SIGTERM, SIGKILL after 10 s)."""

    def __init__(self, binary, root):
        self.binary = binary
        self.dir = tempfile.mkdtemp(prefix="cluster-", dir=root)
        self.nodes = cluster_load.write_rkv_configs(self.dir, 3, fsync="never",
                                                    extra=KEYSPACES_TOML)
        self.ports = [n[1] for n in self.nodes]
        self.admin = [n[2] for n in self.nodes]
        self.procs = [None] * 3

    def start(self, i):
        log = open(os.path.join(self.dir, f"n{i + 1}.log"), "ab")
        self.procs[i] = subprocess.Popen([self.binary, "serve", "--config", self.nodes[i][0]],
                                         stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL,
                                         preexec_fn=harness._die_with_parent)
        log.close()

        def pong():
            if self.procs[i].poll() is not None:
                raise RuntimeError(f"node {i + 1} exited; see {self.dir}/n{i + 1}.log")
            try:
                with harness.RawClient(self.ports[i], timeout=2) as c:
                    return c.call("PING") == "PONG"
            except OSError:
                return False
        # A restart replays its log and loads every key before it answers: minutes when large.
        until(f"node {i + 1} answers PING", pong, timeout=min(PHASE_TIMEOUT, 180), every=0.05)

    def start_all(self):
        for i in range(3):
            self.start(i)
        return self

    def pid(self, i):
        return self.procs[i].pid

    def stop(self, i):
        p = self.procs[i]
        if p is None or p.poll() is not None:
            return
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(10)

    def close(self):
        for i in range(3):
            self.stop(i)
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)


def measure_replikv(binary, root, system, dataset):
    name, prefix = SYSTEMS[system]
    c = Cluster(binary, root).start_all()
    try:
        if system == "primary":
            w = cluster_load.rkv_leader(c.admin, "default", timeout=30)
        else:
            w = 0
        peers = [i for i in range(3) if i != w]
        wport = c.ports[w]

        def replicated():
            if system == "primary":
                if not raft_applied(c.ports, wport):
                    return False
            elif not peers_caught_up(wport, name):
                return False
            return all(held(p, dataset, system) == N for p in c.ports)

        r = peers[0]  # the peer that is restarted
        if RESTART:
            # Its "empty" for the restarted columns: the same node restarted with nothing
            # loaded (a reopened data dir costs some RSS of its own).
            c.stop(r)
            c.start(r)
        time.sleep(1.0)
        empty = [rss(c.pid(i)) for i in range(3)]
        t = time.monotonic()
        pipeline(wport, commands(dataset, prefix))
        load_s = time.monotonic() - t
        until("every node holds every element", replicated)
        repl_s = time.monotonic() - t - load_s
        time.sleep(2.0)
        loaded = [rss(c.pid(i)) for i in range(3)]
        row = {"writer": (loaded[w] - empty[w]) / N,
               "peers": sum(loaded[i] - empty[i] for i in peers) / len(peers) / N,
               "load_s": load_s, "repl_s": repl_s}
        if RESTART:
            c.stop(r)
            c.start(r)
            until("the restarted peer holds every element",
                  lambda: held(c.ports[r], dataset, system) == N
                  and (system != "primary" or raft_applied(c.ports, wport)))
            time.sleep(2.0)
            row["restarted"] = (rss(c.pid(r)) - empty[r]) / N

        t = time.monotonic()
        pipeline(wport, deletions(dataset, prefix))

        def collected():
            if any(held(p, dataset, system) for p in c.ports):
                return False
            if system == "primary":
                return raft_applied(c.ports, wport)
            fields = [ml_fields(p, name) for p in c.ports]
            return (peers_caught_up(wport, name)
                    and all(int(f["tombstones"]) == 0 for f in fields)) and fields
        until("deleted everywhere and tombstones collected", collected)
        row["gc_s"] = time.monotonic() - t
        after = settled_rss([c.pid(i) for i in range(3)])
        row["writer_after"] = (after[w] - empty[w]) / N
        row["peers_after"] = sum(after[i] - empty[i] for i in peers) / len(peers) / N
        if RESTART:
            # Live RSS keeps RocksDB's memtable (the deletions' rows beside the elements' own)
            # and whatever the allocator holds on to; a restart shows the state alone.
            c.stop(r)
            c.start(r)
            until("the restarted peer is caught up",
                  lambda: peers_caught_up(wport, name) if system != "primary"
                  else raft_applied(c.ports, wport))
            time.sleep(2.0)
            row["restarted_after"] = (rss(c.pid(r)) - empty[r]) / N
        if system != "primary":
            fields = [ml_fields(p, name) for p in c.ports]  # the restarted peer's from its rows
            left = {k: sum(int(f.get(k, 0)) for f in fields)
                    for k in ("keys_stamped", "tombstones", "objects", "versioned_keys",
                              "log_entries")}
            row["left"] = ", ".join(f"{k} {v}" for k, v in left.items())
        return row
    except BaseException:
        print(f"  {system} {dataset}: failed; node logs in {c.dir}", file=sys.stderr)
        os.environ["BENCH_KEEP"] = "1"
        raise
    finally:
        c.close()


# ---- Redis ------------------------------------------------------------------------------------

def redis_used(port):
    return int(info_line_plain(port, "memory", "used_memory"))


def info_line_plain(port, section, head):
    for line in info(port, section).splitlines():
        if line.startswith(head + ":"):
            return line.split(":", 1)[1]
    raise RuntimeError(f"no {head} in INFO {section}")


def measure_redis(dataset):
    red = RedisServer()
    try:
        port, pid = red.port, red.proc.pid
        time.sleep(0.5)
        u0, r0 = redis_used(port), rss(pid)
        t = time.monotonic()
        pipeline(port, commands(dataset, ""))
        load_s = time.monotonic() - t
        time.sleep(1.0)
        u1, r1 = redis_used(port), rss(pid)
        pipeline(port, deletions(dataset, ""))
        until("redis: everything deleted", lambda: int(
            info_line(port, "keyspace", "db0").get("keys", 0)) == 0)
        r2 = settled_rss([pid], timeout=20)[0]
        u2 = redis_used(port)
        return {"used": (u1 - u0) / N, "rss": (r1 - r0) / N, "used_after": (u2 - u0) / N,
                "rss_after": (r2 - r0) / N, "load_s": load_s}
    finally:
        red.stop()


# ---- report -----------------------------------------------------------------------------------

def print_row(system, dataset, r):
    def opt(k, fmt):
        return format(r[k], fmt) if k in r else f"{'-':>9}"
    print(f"{system:10} {dataset:9} {r['writer']:8.0f} {r['peers']:8.0f} "
          f"{opt('restarted', '9.0f')} {r['writer_after']:9.1f} {r['peers_after']:9.1f} "
          f"{opt('restarted_after', '9.1f')}  "
          f"load {r['load_s']:.1f} s, repl +{r['repl_s']:.1f} s, gc {r['gc_s']:.1f} s"
          + (f"; left: {r['left']}" if "left" in r else ""), flush=True)


def main():
    root = tempfile.mkdtemp(prefix="rkv-mlmem-")
    try:
        binary = os.path.join(root, "replikv")
        shutil.copy2(harness.replikv_bin(), binary)  # a rebuild does not change it under us
        with open("/proc/loadavg") as f:
            load = " ".join(f.read().split()[:3])
        print(f"multileader_memory: N={N} batch={BATCH} cpus={os.cpu_count()} load={load} "
              f"binary={harness.replikv_bin()}", flush=True)
        print("replikv: bytes per element of RSS growth (/proc/<pid>/status VmRSS; replikv's "
              "INFO used_memory is RSS too).\n"
              "  writer = node that took the writes; peers = mean of the other two; restarted = "
              "a peer restarted, over its empty RSS;\n  after = once everything was deleted and "
              "tombstones collected (live RSS settled; that peer restarted again), over the "
              "empty node.", flush=True)
        print(f"{'':20} {'loaded':>27} {'after DEL and collection':>29}\n"
              f"{'system':10} {'data':9} {'writer':>8} {'peers':>8} {'restarted':>9} "
              f"{'writer':>9} {'peers':>9} {'restarted':>9}", flush=True)
        for dataset in DATASETS:
            for system in SYSTEMS:
                if system == "siblings" and dataset != "strings":
                    continue  # siblings keyspaces take the string command set only
                if wanted(system, dataset):
                    print_row(system, dataset, measure_replikv(binary, root, system, dataset))
        print("\nredis-server (no persistence): bytes per element of used_memory growth (allocator "
              "count) and RSS growth, loaded and after DEL", flush=True)
        for dataset in DATASETS:
            if wanted("redis", dataset):
                r = measure_redis(dataset)
                print(f"{'redis':10} {dataset:9} used_memory {r['used']:6.0f}  RSS {r['rss']:6.0f}"
                      f"   after DEL: used_memory {r['used_after']:6.1f}  RSS "
                      f"{r['rss_after']:6.1f}   load {r['load_s']:.1f} s", flush=True)
    finally:
        if os.environ.get("BENCH_KEEP"):
            print(f"multileader_memory: kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
