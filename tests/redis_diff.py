"""What the differential tests against a real redis-server share.

  RedisServer    a redis-server on a free loopback port, no persistence, stopped by pid
  Conn           a client returning each reply's exact bytes with its decoded value
  contents       (type, content) of a key, for every type, through a RESP2 Conn
  Runner         sends each drawn command to replikv and redis on connections of the same
                 protocol; subclasses say how to compare the replies (check)
  DiffTestCase   a ServerTestCase that starts redis-servers and compares fixed scripts byte
                 for byte in RESP2 and RESP3
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import RespError  # noqa: E402


class RedisServer:
    """A redis-server on a free loopback port, no persistence; stopped by pid."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="rkv-redis-")
        self.port = harness.free_port()
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.tmp],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                with harness.RawClient(self.port, timeout=2) as c:
                    if c.call("PING") == "PONG":
                        return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        shutil.rmtree(self.tmp, ignore_errors=True)


class Conn:
    """A RawClient that returns each reply's exact bytes along with its decoded value."""

    def __init__(self, port, proto):
        self.c = harness.RawClient(port, timeout=10)
        if proto == 3:
            r = self.c.call("HELLO", "3")
            assert not isinstance(r, RespError), r

    def call(self, args):
        self.c.raw_log = bytes(self.c.buf)  # from here on: the bytes of this reply
        self.c.send_command(*args)
        value = self.c.read_reply()
        return value, bytes(self.c.raw_log[:len(self.c.raw_log) - len(self.c.buf)])

    def close(self):
        self.c.close()


def contents(call, key):
    """(type, content) of a key; call(args) returns a decoded RESP2 reply. Unordered types are
    sorted; a sorted set is its members with their scores in order, a list its elements."""
    t = call(["TYPE", key])
    if t == "hash":
        v = call(["HGETALL", key])
        return t, sorted(zip(v[0::2], v[1::2]), key=repr)
    if t == "set":
        return t, sorted(call(["SMEMBERS", key]), key=repr)
    if t == "zset":
        return t, call(["ZRANGE", key, "0", "-1", "WITHSCORES"])
    if t == "list":
        return t, call(["LRANGE", key, "0", "-1"])
    if t == "string":
        return t, call(["GET", key])
    return t, None


class Runner:
    """Sends each command to replikv and redis, on connections of the same protocol (one of
    each per protocol). Subclasses implement check(args, proto, history)."""

    def __init__(self, test, rkv_port, redis_port, local_keyless=None):
        self.t = test
        # Through a cluster node, keyless commands answer from that node's own state, which
        # may lag its leader's: subclasses then check only what that allows.
        self.local_keyless = local_keyless
        self.rkv = {p: Conn(rkv_port, p) for p in (2, 3)}
        self.red = {p: Conn(redis_port, p) for p in (2, 3)}
        self.count = 0

    def close(self):
        for c in list(self.rkv.values()) + list(self.red.values()):
            c.close()

    def both(self, args, proto=2):
        return self.rkv[proto].call(args), self.red[proto].call(args)

    def run(self, gen, ops, rng, deadline, history=None):
        """Draws up to `ops` commands from gen.command() until the deadline; returns how many
        commands were compared so far."""
        history = [] if history is None else history
        for _ in range(ops):
            if time.monotonic() > deadline:
                break
            args = gen.command()
            history.append(args)
            self.check(args, rng.choice([2, 2, 3]), history)
        return self.count

    def check(self, args, proto, history):
        raise NotImplementedError


class DiffTestCase(harness.ServerTestCase):
    def start_redis(self):
        r = RedisServer()
        self.addCleanup(r.stop)
        return r

    def restart_and_compare(self, d, s, red, keys, n, start, seed, ops):
        """Ends a single-node run of Runner `d` (n commands of at most `ops` drawn from `seed`,
        begun at `start`): every key's content compared, then again after node `s` restarts
        (every change reached storage)."""
        d.compare_contents(keys)
        checked = dict(getattr(d, "checked", {}))
        d.close()
        s.restart()
        d = type(d)(self, s.port, red.port)
        self.addCleanup(d.close)
        d.compare_contents(keys)
        self.assertGreaterEqual(n, min(ops, 1000), "too few commands ran within the budget")
        print(f"\n  seed {seed}: {n} commands, replies match {checked or ''} "
              f"({time.monotonic() - start:.1f} s)", file=sys.stderr)
        self.assertAlive(s)

    def assert_script_matches(self, rkv_port, redis_port, script):
        """Runs `script` on both servers from empty, in RESP2 then RESP3: every reply the same
        bytes."""
        for proto in (2, 3):
            a, b = Conn(rkv_port, proto), Conn(redis_port, proto)
            try:
                a.call(["FLUSHALL"])
                b.call(["FLUSHALL"])
                for args in script:
                    (_, got), (_, want) = a.call(args), b.call(args)
                    self.assertEqual(got, want, f"{args} RESP{proto}")
            finally:
                a.close()
                b.close()
