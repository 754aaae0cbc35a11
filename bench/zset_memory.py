#!/usr/bin/env python3
"""Memory per member of a 1,000,000-member sorted set: replikv against redis-server.

Loads ZADD big <i> m<i> for i in 0..N-1 (members "m0".."m999999", integer scores) through
pipelined ZADDs of 1000 pairs into a fresh single node (fsync never, RocksDB underneath) and a
fresh redis-server (no persistence), and prints each process's RSS growth per member, with
Redis's used_memory growth and MEMORY USAGE for the key; then replikv's again after a restart
(members loaded from their rows, RocksDB's memtable empty).

  REPLIKV_BIN=build/replikv python3 bench/zset_memory.py [N]
"""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
import harness  # noqa: E402
from test_strings_diff import RedisServer  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
BATCH = 1000


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def encode(args):
    out = [f"*{len(args)}\r\n".encode()]
    for a in args:
        b = a.encode() if isinstance(a, str) else a
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


def load(port):
    s = socket.create_connection(("127.0.0.1", port))
    pending = 0
    for start in range(0, N, BATCH):
        args = ["ZADD", "big"]
        for i in range(start, min(N, start + BATCH)):
            args += [str(i), f"m{i}"]
        s.sendall(encode(args))
        pending += 1
        if pending >= 16:  # read the replies of the earlier batches
            drain(s, pending)
            pending = 0
    drain(s, pending)
    s.close()


def drain(s, n):
    buf = b""
    while buf.count(b"\r\n") < n:
        buf += s.recv(65536)


def measure(name, port, pid, extra=None):
    time.sleep(0.5)
    before = rss_bytes(pid)
    extra_before = extra() if extra else None
    t = time.monotonic()
    load(port)
    time.sleep(1.0)
    after = rss_bytes(pid)
    line = (f"{name}: RSS +{(after - before) / 2**20:.1f} MiB = {(after - before) / N:.0f} B/member "
            f"(load {time.monotonic() - t:.1f} s)")
    if extra:
        used, usage = extra()
        line += (f"; used_memory +{(used - extra_before[0]) / N:.0f} B/member; "
                 f"MEMORY USAGE {usage / N:.0f} B/member")
    print(line, flush=True)


def main():
    red = RedisServer()
    try:
        with harness.RawClient(red.port) as c:
            def redis_extra():
                info = c.call("INFO", "memory")
                used = int(next(l.split(":")[1] for l in info.splitlines()
                                if l.startswith("used_memory:")))
                usage = c.call("MEMORY", "USAGE", "big", "SAMPLES", "0") or 0
                return used, usage
            measure("redis-server", red.port, red.proc.pid, redis_extra)
            print("  encoding:", c.call("OBJECT", "ENCODING", "big"), " card:",
                  c.call("ZCARD", "big"))
    finally:
        red.stop()
    s = harness.Server(fsync="never")
    s.start()
    try:
        time.sleep(0.5)
        empty = rss_bytes(s.pid)
        measure("replikv", s.port, s.pid)
        # After a restart the members are loaded from their rows and RocksDB's memtable is
        # empty: the in-memory structures alone (against an empty node's RSS).
        s.restart()
        time.sleep(1.0)
        print(f"replikv after restart: {(rss_bytes(s.pid) - empty) / N:.0f} B/member over an "
              f"empty node", flush=True)
        with harness.RawClient(s.port) as c:
            print("  encoding:", c.call("OBJECT", "ENCODING", "big"), " card:",
                  c.call("ZCARD", "big"), " rank of m500000:", c.call("ZRANK", "big", "m500000"))
    finally:
        s.stop()
        s.cleanup()


if __name__ == "__main__":
    main()
