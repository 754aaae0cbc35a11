#!/usr/bin/env python3
"""Closed-loop load generator and helpers for bench/cluster_compare.sh and bench/failover.py.

Subcommands:
  load         C concurrent workers (threads, one persistent connection each) run one operation
               in a loop for a fixed time and print one JSON line: ops, errors, rps, p50/p99 ms.
               --proto resp: SET/GET over RESP.  --proto etcd: etcd's v3 HTTP/JSON gateway
               (POST /v3/kv/put, /v3/kv/range with serializable=false: a linearizable read).
  etcd-leader  prints the client URL host:port of the etcd member that is leader
  rkv-leader   prints the client port of the replikv node leading a keyspace (admin /status)
  rkv-configs  writes node-i.toml for an N-node replikv cluster (same shape as `cluster up`)

Only the Python standard library is used. Latencies are per request, measured by the worker
around one request/response; every worker uses the same monotonic clock.
"""

import argparse
import base64
import http.client
import json
import os
import random
import secrets
import socket
import sys
import threading
import time
import urllib.request

# ---- replikv cluster configs ----------------------------------------------------------------


def rkv_config(i, ports, data_dir, secret, raft=None, fsync="batch", commit="quorum", extra=""):
    """`ports` = [(client, admin, peer)] for every node; returns node i's TOML (`extra`, more
    TOML such as further [[keyspace]] tables, is appended as is)."""
    c, a, _ = ports[i]
    t = (f'[node]\nid = "n{i + 1}"\nport = {c}\nadmin_port = {a}\n'
         f'data_dir = "{data_dir}/n{i + 1}"\nfsync = "{fsync}"\nlog_level = "warn"\n\n'
         f'[cluster]\nsecret = "{secret}"\n')
    for j, (cj, _, pj) in enumerate(ports):
        t += f'[[cluster.node]]\nid = "n{j + 1}"\nhost = "127.0.0.1"\nport = {cj}\npeer_port = {pj}\n'
    if raft:
        t += "\n[raft]\n" + "".join(f"{k} = {v}\n" for k, v in raft.items())
    t += ('\n[[keyspace]]\nname = "default"\nmodel = "primary"\n'
          f'commit = "{commit}"\nread = "linearizable"\n')
    t += ('\n[[keyspace]]\nname = "accounts"\nprefix = "accounts:"\nmodel = "primary"\n'
          'commit = "quorum"\nread = "linearizable"\n')
    return t + ("\n" + extra if extra else "")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_rkv_configs(data_dir, n=3, raft=None, commit="quorum", fsync="batch", extra=""):
    """Writes node-1..n.toml into data_dir; returns [(config_path, client, admin, peer)]."""
    ports = [(free_port(), free_port(), free_port()) for _ in range(n)]
    secret = secrets.token_hex(16)
    out = []
    for i in range(n):
        path = os.path.join(data_dir, f"node-{i + 1}.toml")
        with open(path, "w") as f:
            f.write(rkv_config(i, ports, data_dir, secret, raft, fsync=fsync, commit=commit,
                               extra=extra))
        out.append((path,) + ports[i])
    return out


def rkv_status(admin_port, timeout=2.0):
    with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/status", timeout=timeout) as r:
        return json.loads(r.read())


def rkv_leader(admin_ports, keyspace, timeout=20.0, exclude=()):
    """Index (into admin_ports) of the agreed leader of `keyspace`, waiting up to `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        views = {}
        for i, a in enumerate(admin_ports):
            if i in exclude:
                continue
            try:
                for g in rkv_status(a, 1.0)["replication"]:
                    if g["keyspace"] == keyspace:
                        views[i] = g
            except (OSError, ValueError, KeyError):
                pass
        leaders = [i for i, g in views.items() if g["role"] == "leader"]
        if len(leaders) == 1 and all(g["leader"] == f"n{leaders[0] + 1}" for g in views.values()):
            return leaders[0]
        time.sleep(0.02)
    raise SystemExit(f"no leader of {keyspace} within {timeout}s")


# ---- etcd -------------------------------------------------------------------------------------

def etcd_leader(endpoints, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for ep in endpoints:
            try:
                req = urllib.request.Request(f"http://{ep}/v3/maintenance/status", data=b"{}",
                                             headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(req, timeout=1.0) as r:
                    st = json.loads(r.read())
                if st.get("leader") and st["leader"] == st["header"]["member_id"]:
                    return ep
            except (OSError, ValueError, KeyError):
                pass
        time.sleep(0.05)
    raise SystemExit("no etcd leader")


# ---- workers ----------------------------------------------------------------------------------

class RespConn:
    def __init__(self, host, port, timeout):
        self.s = socket.create_connection((host, port), timeout=timeout)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.f = self.s.makefile("rb")

    def call(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.s.sendall(b"".join(out))
        line = self.f.readline()
        if not line:
            raise ConnectionError("closed")
        if line[:1] == b"$":
            n = int(line[1:])
            if n >= 0:
                return self.f.read(n + 2)[:-2]
            return None
        if line[:1] == b"-":
            raise RuntimeError(line[1:].strip().decode(errors="replace"))
        return line[1:].strip()

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


class EtcdConn:
    def __init__(self, host, port, timeout):
        self.c = http.client.HTTPConnection(host, port, timeout=timeout)
        self.h = {"Content-Type": "application/json"}

    def post(self, path, obj):
        self.c.request("POST", path, json.dumps(obj), self.h)
        r = self.c.getresponse()
        body = r.read()
        if r.status != 200:
            raise RuntimeError(f"HTTP {r.status}: {body[:200]!r}")
        return body

    def close(self):
        self.c.close()


def b64(s):
    return base64.b64encode(s.encode()).decode()


def run_load(proto, endpoint, op, clients, seconds, keys, value_size, prefix="key:"):
    host, port = endpoint.rsplit(":", 1)
    port = int(port)
    value = "v" * value_size
    lats, errors, lock = [], [0], threading.Lock()
    start_evt = threading.Event()
    end = [0.0]

    def worker(seed):
        rnd = random.Random(seed)
        mine, errs = [], 0
        conn = None
        start_evt.wait()
        while time.perf_counter() < end[0]:
            k = f"{prefix}{rnd.randrange(keys):012d}"
            try:
                if conn is None:
                    conn = (RespConn if proto == "resp" else EtcdConn)(host, port, 10)
                t0 = time.perf_counter()
                if proto == "resp":
                    if op == "set":
                        conn.call("SET", k, value)
                    else:
                        conn.call("GET", k)
                elif op == "set":
                    conn.post("/v3/kv/put", {"key": b64(k), "value": b64(value)})
                else:
                    conn.post("/v3/kv/range", {"key": b64(k), "serializable": False})
                mine.append(time.perf_counter() - t0)
            except (OSError, RuntimeError, ConnectionError, http.client.HTTPException):
                errs += 1
                if conn:
                    conn.close()
                conn = None
        if conn:
            conn.close()
        with lock:
            lats.extend(mine)
            errors[0] += errs

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    t_start = time.perf_counter()
    end[0] = t_start + seconds
    start_evt.set()
    for t in threads:
        t.join(seconds + 30)
    elapsed = time.perf_counter() - t_start
    lats.sort()

    def pct(p):
        return lats[min(len(lats) - 1, int(p * len(lats)))] * 1000 if lats else float("nan")

    return {"ops": len(lats), "errors": errors[0], "rps": len(lats) / elapsed,
            "p50_ms": pct(0.50), "p99_ms": pct(0.99)}


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    l = sub.add_parser("load")
    l.add_argument("--proto", choices=["resp", "etcd"], required=True)
    l.add_argument("--endpoint", required=True, help="host:port")
    l.add_argument("--op", choices=["set", "get"], required=True)
    l.add_argument("--clients", type=int, default=50)
    l.add_argument("--seconds", type=float, default=10)
    l.add_argument("--keys", type=int, default=100000)
    l.add_argument("--value-size", type=int, default=64)
    e = sub.add_parser("etcd-leader")
    e.add_argument("endpoints", help="comma-separated host:port")
    r = sub.add_parser("rkv-leader")
    r.add_argument("admin_ports", help="comma-separated admin ports (same order as client ports)")
    r.add_argument("--keyspace", default="default")
    c = sub.add_parser("rkv-configs")
    c.add_argument("data_dir")
    c.add_argument("--nodes", type=int, default=3)
    c.add_argument("--commit", default="quorum", choices=["quorum", "all", "async"],
                   help="commit mode of the default keyspace")
    c.add_argument("--fsync", default="batch", choices=["always", "batch", "never"],
                   help="fsync setting of every node")
    c.add_argument("--raft", action="append", default=[], metavar="KEY=VALUE",
                   help="a [raft] setting of every node (repeatable)")
    c.add_argument("--extra-toml", metavar="FILE",
                   help="TOML appended to every node's config (more keyspaces, [leaderless])")
    a = ap.parse_args()
    if a.cmd == "load":
        res = run_load(a.proto, a.endpoint, a.op, a.clients, a.seconds, a.keys, a.value_size)
        print(json.dumps(res))
    elif a.cmd == "etcd-leader":
        print(etcd_leader(a.endpoints.split(",")))
    elif a.cmd == "rkv-leader":
        print(rkv_leader([int(p) for p in a.admin_ports.split(",")], a.keyspace))
    elif a.cmd == "rkv-configs":
        extra = open(a.extra_toml).read() if a.extra_toml else ""
        for path, cp, ap_, pp in write_rkv_configs(a.data_dir, a.nodes, commit=a.commit, fsync=a.fsync,
                                               raft=dict(kv.split("=", 1) for kv in a.raft) or None,
                                               extra=extra):
            print(path, cp, ap_, pp)


if __name__ == "__main__":
    sys.exit(main())
