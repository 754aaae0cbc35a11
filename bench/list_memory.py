#!/usr/bin/env python3
"""Memory per element of one 1,000,000-element list of short elements ("e0" .. "e999999",
6.9 bytes on average), replikv against redis-server 7.0 on the same machine.

Both are filled with 1000 pipelined `RPUSH biglist e<i> ...` of 1000 elements each. Reported:
redis-server's INFO used_memory delta, RSS delta and MEMORY USAGE; replikv's process RSS delta
(single node, fsync never: it includes RocksDB's memtable holding the freshly written element
rows, as docs/architecture.md's hash and set figures do).

Usage: REPLIKV_BIN=build/replikv python3 bench/list_memory.py
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
import harness  # noqa: E402
from test_strings_diff import RedisServer  # noqa: E402

N, BATCH = 1_000_000, 1000


def fill(port):
    c = harness.RawClient(port, timeout=60)
    for start in range(0, N, BATCH):
        c.send_command("RPUSH", "biglist", *[f"e{i}" for i in range(start, start + BATCH)])
    for _ in range(0, N, BATCH):
        c.read_reply()
    assert c.call("LLEN", "biglist") == N
    c.close()


def used_memory(port):
    with harness.RawClient(port, timeout=60) as c:
        for line in str(c.call("INFO", "memory")).splitlines():
            if line.startswith("used_memory:"):
                return int(line.split(":")[1])


def rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024


red = RedisServer()
try:
    u0, r0 = used_memory(red.port), rss(red.proc.pid)
    fill(red.port)
    time.sleep(0.5)
    u1, r1 = used_memory(red.port), rss(red.proc.pid)
    with harness.RawClient(red.port) as c:
        usage = c.call("MEMORY", "USAGE", "biglist", "SAMPLES", "0")
    print(f"redis-server: used_memory delta {(u1 - u0) / N:.2f} B/element, RSS delta "
          f"{(r1 - r0) / N:.2f} B/element, MEMORY USAGE {usage / N:.2f} B/element")
finally:
    red.stop()

s = harness.Server(fsync="never")
s.start()
try:
    r0 = rss(s.pid)
    fill(s.port)
    time.sleep(0.5)
    print(f"replikv: RSS delta {(rss(s.pid) - r0) / N:.2f} B/element")
finally:
    s.cleanup()
