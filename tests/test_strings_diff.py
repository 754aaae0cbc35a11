"""Differential test of the string and key commands: replikv against a real redis-server.

A seeded generator draws a few thousand commands (the string and key commands added for the
data-types issue and the existing ones: SET with options, INCR*, APPEND, EXPIRE*, DEL, ...) over
a small key set, with valid and invalid arguments, and sends each to both servers, in RESP2 or
RESP3 (a connection of each per protocol). Every reply must be the same bytes, except:

  * TTL, PTTL, EXPIRETIME, PEXPIRETIME of a key given a relative expiry: the two servers ran
    the command a few milliseconds apart, so the numbers may differ by that much;
  * RANDOMKEY: the choice is random; both must answer nil or not alike, and the key replikv
    names must exist in both (through a cluster follower, whose keyless reads answer from its
    own state, possibly behind its leader: RANDOMKEY and KEYS must name keys of the key set);
  * KEYS: the order is the hash table's; compared as sets. (DBSIZE is not drawn: it counts
    keys whose expiry passed but that were not collected yet, which each server does on its own
    schedule.)

Relative expiries are long (minutes), so no key expires by itself between the two servers'
executions; absolute ones in the past (deleting at once) are drawn too. At the end every key's
value and expiry are compared, and again after the single node restarts (every change was
reported to storage).

  test_single_node_matches_redis       one replikv node (no cluster), ~4000 commands
  test_edge_cases_match_redis          a fixed script at the edges (extreme integers, size
                                       limits, long double range, latest expiry times)
  test_primary_follower_matches_redis  a 3-node primary cluster, commands sent to a follower
                                       (writes forwarded to the leader, applied everywhere):
                                       replies match Redis, every node converges to Redis's
                                       values (also after a kill -9 and restart), and a
                                       cross-keyspace RENAME/COPY/MSETNX/LCS is refused with
                                       -CROSSSLOT

Environment: REPLIKV_BIN (see harness.py); RKV_DIFF_SEED, RKV_DIFF_OPS to override the draw.
"""

import os
import random
import shutil
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import RespError  # noqa: E402
from redis_diff import Conn, DiffTestCase, RedisServer, Runner  # noqa: E402,F401

SEED = int(os.environ.get("RKV_DIFF_SEED", "20261202"))
OPS = int(os.environ.get("RKV_DIFF_OPS", "4000"))
TIME_BUDGET_S = 40.0  # the whole file stays well under a minute

TIMING = {"TTL": 2, "PTTL": 2000, "EXPIRETIME": 2, "PEXPIRETIME": 2000}


class Generator:
    """Draws commands over a small key set. `keys` share one keyspace when `prefix` is set."""

    def __init__(self, rng, keys, far_future_ms):
        self.r = rng
        self.keys = keys
        self.future_ms = far_future_ms

    def key(self):
        return self.r.choice(self.keys)

    def value(self):
        r = self.r
        return r.choice([
            lambda: str(r.randint(-20, 20)),
            lambda: str(r.randint(-10**6, 10**6)),
            lambda: r.choice(["", "a", "abc", "hello world", "ohmytext", "mynewtext", "007",
                              " 1", "1.5", "-0.25", "3e2", "0x1f", "inf", "nan",
                              "9223372036854775807", "-9223372036854775808"]),
            lambda: "".join(r.choice("abcxyz") for _ in range(r.randint(1, 12))),
            lambda: bytes(r.randrange(256) for _ in range(r.randint(1, 6))),
        ])()

    def int_arg(self, lo=-30, hi=60):
        r = self.r.random()
        if r < 0.05:
            return self.r.choice(["x", "1.5", "", "9223372036854775807", "-9223372036854775808",
                                  "99999999999999999999", "+1", "01"])
        return str(self.r.randint(lo, hi))

    def ttl_s(self):
        """A relative expiry in seconds: long (minutes), or invalid / not positive."""
        if self.r.random() < 0.1:
            return self.r.choice(["0", "-1", "x", "9223372036854775807", "9223372036854775"])
        return str(self.r.randint(200, 5000))

    def ttl_ms(self):
        if self.r.random() < 0.1:
            return self.r.choice(["0", "-1", "x", "9223372036854775807"])
        return str(self.r.randint(200000, 5000000))

    def abs_ms(self):
        """An absolute expiry in ms: mostly far ahead, sometimes past (deletes), or invalid."""
        c = self.r.random()
        if c < 0.15:
            return str(self.r.randint(1, 10**6))
        if c < 0.2:
            return self.r.choice(["0", "-5", "x"])
        return str(self.future_ms + self.r.randint(0, 10**7))

    def abs_s(self):
        ms = self.abs_ms()
        return str(int(ms) // 1000) if ms.lstrip("-").isdigit() and int(ms) > 0 else ms

    def expire_opts(self):
        opts = []
        for _ in range(self.r.choice([0, 0, 0, 1, 1, 2])):
            opts.append(self.r.choice(["NX", "XX", "GT", "LT", "nx", "BOGUS"]))
        return opts

    def set_opts(self, getex=False):
        choices = (["EX", "PX", "EXAT", "PXAT", "PERSIST", "KEEPTTL"] if getex else
                   ["NX", "XX", "GET", "KEEPTTL", "EX", "PX", "EXAT", "PXAT", "nx", "get"])
        out = []
        for _ in range(self.r.choice([0, 1, 1, 1, 2, 2, 3])):
            o = self.r.choice(choices)
            out.append(o)
            arg = {"EX": self.ttl_s, "PX": self.ttl_ms, "EXAT": self.abs_s,
                   "PXAT": self.abs_ms}.get(o.upper())
            if arg and self.r.random() < 0.95:  # else the value is missing
                out.append(arg())
        return out

    def range_unit(self):
        return self.r.choice([[], [], ["BYTE"], ["BIT"], ["bit"], ["BOGUS"]])

    def command(self):
        r, k = self.r, self.key
        table = [
            (6, lambda: ["GET", k()]),
            (8, lambda: ["SET", k(), self.value()] + self.set_opts()),
            (2, lambda: ["SETNX", k(), self.value()]),
            (2, lambda: ["GETDEL", k()]),
            (2, lambda: ["MGET"] + [k() for _ in range(r.randint(1, 4))]),
            (2, lambda: ["MSET"] + sum(([k(), self.value()] for _ in range(r.randint(1, 3))),
                                       [])),
            (2, lambda: ["DEL"] + [k() for _ in range(r.randint(1, 3))]),
            (2, lambda: ["EXISTS"] + [k() for _ in range(r.randint(1, 3))]),
            (3, lambda: ["INCR", k()]),
            (3, lambda: [r.choice(["INCRBY", "DECRBY"]), k(), self.int_arg(-100, 100)]),
            (1, lambda: ["DECR", k()]),
            (3, lambda: ["APPEND", k(), self.value()]),
            (2, lambda: ["STRLEN", k()]),
            (2, lambda: ["EXPIRE", k(), self.ttl_s()] + self.expire_opts()),
            (2, lambda: ["PEXPIRE", k(), self.ttl_ms()] + self.expire_opts()),
            (3, lambda: [r.choice(["TTL", "PTTL"]), k()]),
            (2, lambda: ["PERSIST", k()]),
            (1, lambda: ["TYPE", k()]),
            # The commands added here.
            (2, lambda: ["SETEX", k(), self.ttl_s(), self.value()]),
            (2, lambda: ["PSETEX", k(), self.ttl_ms(), self.value()]),
            (4, lambda: ["GETEX", k()] + self.set_opts(getex=True)),
            (3, lambda: ["GETSET", k(), self.value()]),
            (3, lambda: ["MSETNX"] + sum(([k(), self.value()] for _ in range(r.randint(1, 3))),
                                         []) + ([k()] if r.random() < 0.05 else [])),
            (5, lambda: ["INCRBYFLOAT", k(), r.choice([
                "1", "1.5", "-0.1", "10.5", "0.1", "3e2", "-2.5e-3", "0x10", "abc", " 1",
                "1e308", "inf", "-inf", "5.0e3", "1.7976931348623157e308", "0",
                str(r.uniform(-1000, 1000))])]),
            (4, lambda: ["SETRANGE", k(), self.int_arg(-2, 40), self.value()]),
            (4, lambda: [r.choice(["GETRANGE", "SUBSTR"]), k(), self.int_arg(-15, 15),
                         self.int_arg(-15, 15)]),
            (4, lambda: ["LCS", k(), k()] + r.choice([
                [], ["LEN"], ["IDX"], ["IDX", "WITHMATCHLEN"], ["IDX", "MINMATCHLEN", "2"],
                ["IDX", "MINMATCHLEN", self.int_arg(-2, 4), "WITHMATCHLEN"], ["LEN", "IDX"],
                ["MINMATCHLEN"], ["BOGUS"]])),
            (4, lambda: ["SETBIT", k(), self.int_arg(-1, 100),
                         r.choice(["0", "1", "1", "2", "-1", "x"])]),
            (3, lambda: ["GETBIT", k(), self.int_arg(-1, 100)]),
            (4, lambda: ["BITCOUNT", k()] + r.choice([
                [], [], [self.int_arg(-20, 20)],
                [self.int_arg(-20, 20), self.int_arg(-20, 20)] + self.range_unit(),
                [self.int_arg(-60, 60), self.int_arg(-60, 60), "BIT"],
                ["0", "-1", "BYTE", "x"]])),
            (4, lambda: ["BITPOS", k(), r.choice(["0", "1", "1", "0", "2", "x"])] + r.choice([
                [], [], [self.int_arg(-10, 10)],
                [self.int_arg(-10, 10), self.int_arg(-10, 10)],
                [self.int_arg(-10, 10), self.int_arg(-10, 10)] + self.range_unit(),
                [self.int_arg(-60, 60), self.int_arg(-60, 60), "BIT"],
                [self.int_arg(-10, 10), "BIT"], ["0", "1", "BIT", "x"]])),
            (2, lambda: ["EXPIREAT", k(), self.abs_s()] + self.expire_opts()),
            (2, lambda: ["PEXPIREAT", k(), self.abs_ms()] + self.expire_opts()),
            (3, lambda: [r.choice(["EXPIRETIME", "PEXPIRETIME"]), k()]),
            (3, lambda: [r.choice(["RENAME", "RENAMENX"]), k(), k()]),
            (3, lambda: ["COPY", k(), k()] + r.choice([[], [], ["REPLACE"], ["DB", "0"],
                                                        ["REPLACE", "DB", "0"], ["BOGUS"],
                                                        ["DB"], ["DB", "x"]])),
            (2, lambda: ["UNLINK"] + [k() for _ in range(r.randint(1, 3))]),
            (2, lambda: ["TOUCH"] + [k() for _ in range(r.randint(1, 3))]),
            (2, lambda: ["RANDOMKEY"]),
            (1, lambda: ["KEYS", "*"]),
            # Wrong argument counts.
            (1, lambda: r.choice([["SETEX", k(), "10"], ["GETRANGE", k(), "0"], ["LCS", k()],
                                  ["SETBIT", k(), "1"], ["GETBIT", k()], ["BITPOS", k()],
                                  ["EXPIRETIME"], ["RENAME", k()], ["COPY", k()], ["UNLINK"],
                                  ["RANDOMKEY", k()], ["MSETNX", k()], ["GETEX"]])),
        ]
        total = sum(w for w, _ in table)
        pick = r.uniform(0, total)
        for w, f in table:
            pick -= w
            if pick <= 0:
                return f()
        return table[-1][1]()


def int_or_none(v):
    return v if isinstance(v, int) and not isinstance(v, bool) else None


class DiffRunner(Runner):
    """Through a cluster node, keyless reads (RANDOMKEY, KEYS) answer from that node's own
    state, which may lag its leader's: then only membership in this key universe is checked."""

    def check(self, args, proto, history):
        (got, got_raw), (want, want_raw) = self.both(args, proto)
        self.count += 1
        name = str(args[0]).upper()
        ctx = lambda: (f"command #{self.count} {args!r} (RESP{proto})\n  replikv: {got_raw!r}\n"
                       f"  redis:   {want_raw!r}\n  last commands: {history[-8:]!r}")
        if name in TIMING and int_or_none(got) is not None and int_or_none(want) is not None:
            if got < 0 or want < 0:
                self.t.assertEqual(got, want, ctx())
            else:
                self.t.assertLessEqual(abs(got - want), TIMING[name], ctx())
        elif (name in ("RANDOMKEY", "KEYS") and self.local_keyless is not None
              and not isinstance(got, RespError) and not isinstance(want, RespError)):
            for item in (got if isinstance(got, list) else [got]):
                self.t.assertIn(item, self.local_keyless + [None, harness.Null()], ctx())
        elif name == "RANDOMKEY" and len(args) == 1:
            self.t.assertEqual(got is None or isinstance(got, harness.Null),
                               want is None or isinstance(want, harness.Null), ctx())
            if got is not None and not isinstance(got, harness.Null):
                for c in (self.rkv[2], self.red[2]):
                    self.t.assertEqual(c.call(["EXISTS", got])[0], 1, ctx())
        elif name == "KEYS" and isinstance(got, list) and isinstance(want, list):
            self.t.assertEqual(sorted(map(repr, got)), sorted(map(repr, want)), ctx())
        else:
            self.t.assertEqual(got_raw, want_raw, ctx())

    def compare_contents(self, keys):
        """Every key's value and absolute expiry (to the second) are the same in both."""
        for k in keys:
            (got, _), (want, _) = self.both(["GET", k])
            self.t.assertEqual(got, want, f"value of {k!r}")
            (got, _), (want, _) = self.both(["PEXPIRETIME", k])
            if got < 0 or want < 0:
                self.t.assertEqual(got, want, f"expiry of {k!r}")
            else:
                self.t.assertLessEqual(abs(got - want), TIMING["PEXPIRETIME"], f"expiry of {k!r}")


@unittest.skipUnless(shutil.which("redis-server"), "redis-server not installed")
class StringsDiffTest(DiffTestCase):
    def test_single_node_matches_redis(self):
        start = time.monotonic()
        red = self.start_redis()
        s = self.start_server()
        rng = random.Random(SEED)
        keys = ["k0", "k1", "k2", "k3", "k4", "accounts:a"]  # one in another keyspace
        gen = Generator(rng, keys, int(time.time() * 1000) + 10**9)
        d = DiffRunner(self, s.port, red.port)
        self.addCleanup(d.close)
        n = d.run(gen, OPS, rng, start + TIME_BUDGET_S * 0.6)
        self.restart_and_compare(d, s, red, keys, n, start, SEED, OPS)

    def test_edge_cases_match_redis(self):
        """Fixed commands at the edges the random draw rarely reaches: extreme integers, the
        size limits (refused before anything is allocated), long double range, latest times."""
        red = self.start_redis()
        s = self.start_server()
        i64min, i64max = "-9223372036854775808", "9223372036854775807"
        script = [
            ["SET", "s", "Hello World"], ["GETRANGE", "s", i64min, i64max],
            ["GETRANGE", "s", i64max, i64min], ["SUBSTR", "s", "-3", i64max],
            ["SETRANGE", "s", "536870912", "x"], ["SETRANGE", "s", i64max, "x"],
            ["SETRANGE", "missing", "536870912", ""], ["SETRANGE", "s", "11", "\x00"],
            ["SETBIT", "b", "4294967296", "1"], ["SETBIT", "b", "4294967295", "x"],
            ["GETBIT", "b", "4294967295"], ["GETBIT", "s", "4294967296"],
            ["GETBIT", "s", "-1"], ["BITCOUNT", "s", i64min, i64max],
            ["BITCOUNT", "s", i64min, i64max, "BIT"], ["BITCOUNT", "s", i64max, i64min, "BIT"],
            ["BITPOS", "s", "0", i64min, i64max, "BIT"], ["BITPOS", "s", "1", i64min, i64max],
            ["BITPOS", "s", "0", i64max], ["BITPOS", "s", "1", "-1", i64min],
            ["INCRBYFLOAT", "f", "1e308"], ["INCRBYFLOAT", "f", "1e308"],
            ["INCRBYFLOAT", "f", "-1e308"], ["INCRBYFLOAT", "g", "-1e-300"],
            ["INCRBYFLOAT", "g", "1e-300"], ["INCRBYFLOAT", "h", "0.1"],
            ["INCRBYFLOAT", "h", "0.2"], ["INCRBYFLOAT", "h", "1e-17"],
            ["INCRBYFLOAT", "h", "-0.3"], ["INCRBYFLOAT", "h", "1.1e4932"],
            ["INCRBYFLOAT", "h", "1.1e4932"], ["INCRBYFLOAT", "h", "1e5000"],
            ["INCRBYFLOAT", "h", "-inf"], ["INCRBYFLOAT", "i", "1e-4940"],
            ["PEXPIREAT", "s", i64max], ["PEXPIRETIME", "s"], ["EXPIRETIME", "s"],
            ["EXPIREAT", "s", "9223372036854775"], ["EXPIRETIME", "s"],
            ["EXPIREAT", "s", "9223372036854776"], ["PEXPIREAT", "s", i64min],
            ["EXISTS", "s"], ["SET", "t", "v", "PXAT", i64max], ["EXPIRETIME", "t"],
            ["SET", "t", "v", "EXAT", "9223372036854775"], ["PEXPIRETIME", "t"],
            ["GETEX", "t", "PXAT", i64max], ["PEXPIRETIME", "t"],
            ["GETEX", "t", "EXAT", "9223372036854776"], ["GETEX", "t", "PX", i64max],
            ["SETEX", "u", "9223372036854775", "v"], ["PSETEX", "u", i64max, "v"],
            ["SET", "a", "ohmytext"], ["SET", "c", "mynewtext"],
            ["LCS", "a", "c", "IDX", "MINMATCHLEN", i64max],
            ["LCS", "a", "c", "IDX", "MINMATCHLEN", i64min, "WITHMATCHLEN"],
            ["LCS", "a", "c", "idx", "len"], ["LCS", "a", "a", "IDX", "WITHMATCHLEN"],
            ["COPY", "a", "c", "DB", "0", "REPLACE"], ["COPY", "a", "c", "DB", "-1"],
            ["COPY", "a", "c", "DB", "2147483648"], ["RENAME", "a", "a"],
            ["RENAMENX", "a", "a"], ["RENAME", "nope", "nope"], ["MSETNX", "a", "1", "n", "2"],
            ["EXISTS", "n"], ["TOUCH", "a", "a", "n"], ["UNLINK", "a", "a", "c"],
        ]
        self.assert_script_matches(s.port, red.port, script)

    def test_primary_follower_matches_redis(self):
        import test_cluster  # noqa: E402 - the 3-node cluster helpers
        start = time.monotonic()
        red = self.start_redis()
        cluster = test_cluster.Cluster(3, raft=test_cluster.STEADY_RAFT)
        self.addCleanup(cluster.cleanup)
        cluster.start()
        leader = cluster.leader()
        follower = (leader + 1) % 3
        rng = random.Random(SEED + 1)
        ks = test_cluster.KS + ":"
        keys = [ks + k for k in ("a", "b", "c", "d")]
        gen = Generator(rng, keys, int(time.time() * 1000) + 10**9)
        d = DiffRunner(self, cluster.nodes[follower].port, red.port, local_keyless=keys)
        self.addCleanup(d.close)
        n = d.run(gen, max(OPS // 8, 200), rng, start + TIME_BUDGET_S * 0.5)
        d.compare_contents(keys)
        # Every replica applied the same entries and holds Redis's values.
        cluster.wait_converged()
        want = {}
        with harness.RawClient(red.port) as c:
            for k in keys:
                want[k] = c.call("GET", k)
        for i in range(3):
            self.assertEqual(cluster.local_values(i, keys), want, f"node n{i + 1}")
        # Keys of one command in two replicated keyspaces: refused, nothing changed.
        crossslot = RespError(
            "CROSSSLOT keys of one command must belong to one keyspace when it is replicated")
        with cluster.nodes[follower].raw() as c:
            c.call("SET", keys[0], "v")
            for cmd in (["RENAME", keys[0], "other"], ["RENAMENX", keys[0], "other"],
                        ["COPY", keys[0], "other"], ["MSETNX", keys[1], "1", "other", "2"],
                        ["LCS", keys[0], "other"]):
                self.assertEqual(c.call(*cmd), crossslot, cmd)
            self.assertEqual(c.call("GET", keys[0]), "v")
            self.assertEqual(c.call("EXISTS", "other"), 0)
            # RANDOMKEY reads the node's own state: a key it holds.
            cluster.wait_converged()
            self.assertIn(c.call("RANDOMKEY"), set(keys) | {None})
            self.assertEqual(c.call("INCRBYFLOAT", keys[2] + "f", "2.5"), "2.5")
        cluster.wait_converged()
        want[keys[0]] = "v"
        want[keys[2] + "f"] = "2.5"
        for i in range(3):
            self.assertEqual(cluster.local_values(i, list(want)), want, f"node n{i + 1}")
        # A replica killed and restarted rebuilds the same state from its log and snapshot.
        cluster.nodes[follower].kill9()
        cluster.nodes[follower].start()
        cluster.wait_converged()
        self.assertEqual(cluster.local_values(follower, list(want)), want, "after restart")
        print(f"\n  seed {SEED + 1}: {n} commands through follower n{follower + 1}, replies "
              f"identical, 3 replicas converged ({time.monotonic() - start:.1f} s)",
              file=sys.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
