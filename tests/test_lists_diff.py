"""Differential test of lists: replikv against a real redis-server.

A seeded generator draws thousands of list commands (every one of LPUSH .. LMPOP, with valid
and invalid arguments and wrong argument counts; BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP with
short timeouts, so they answer at once when a list has data and time out with nil when none
has; and string and generic key commands mixed in so that WRONGTYPE, TYPE, SCAN TYPE, DEL,
RENAME, COPY, EXPIRE meet lists) over a small key set, and sends each to both servers, in
RESP2 or RESP3. Every reply must be the same bytes: a list's order is defined, so nothing is
compared loosely (DiffRunner's looser rules only concern other types and keyless commands
through a follower).

  test_single_node_matches_redis       one replikv node, ~4000 commands; contents compared,
                                       again after a restart (every element is its own row)
  test_edge_cases_match_redis          a fixed script at the edges, byte for byte
  test_primary_follower_matches_redis  the same through a follower of a 3-node primary
                                       cluster whose leader is killed -9 midway

Environment: REPLIKV_BIN (see harness.py); RKV_DIFF_SEED, RKV_DIFF_OPS to override the draw.
"""

import functools
import os
import random
import shutil
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from redis_diff import DiffTestCase  # noqa: E402
from test_collections_diff import (OPS, SEED, TIME_BUDGET_S, DiffRunner,  # noqa: E402
                                   DiffTestMixin)


class ListGenerator:
    """Draws list commands (and some string/key commands) over a small key set."""

    def __init__(self, rng, keys, cluster=False):
        self.r = rng
        self.keys = keys
        # In a replicated keyspace a numkeys larger than the keys given makes the arguments
        # after them keys too (as COMMAND GETKEYS says): -CROSSSLOT before Redis's syntax error.
        self.cluster = cluster

    def key(self):
        return self.r.choice(self.keys)

    def elem(self):
        r = self.r
        return r.choice([
            lambda: r.choice("abc"),
            lambda: str(r.randint(-2, 3)),
            lambda: r.choice(["", "hello world", "x" * 70, "007"]),
        ])()

    def elems(self, lo=1, hi=4):
        return [self.elem() for _ in range(self.r.randint(lo, hi))]

    def index(self):
        return self.r.choice([str(self.r.randint(-8, 8)), "0", "-1", "100", "-100", "x",
                              "9223372036854775807", "-9223372036854775808", "1.5"])

    def count(self):
        return self.r.choice([str(self.r.randint(-3, 6)), "0", "x", "9223372036854775807",
                              "-9223372036854775808"])

    def end(self):
        return self.r.choice(["LEFT", "RIGHT", "left", "right", "up"] if self.r.random() < 0.1
                             else ["LEFT", "RIGHT", "left", "right"])

    def timeout(self):
        # Never 0 (it would wait forever on empty lists): short ones, and invalid ones.
        return self.r.choice(["0.01", "0.01", "0.02", "1e-2", "x", "-1", "inf", "1e400", "0.0001"])

    def lpos_opts(self):
        opts = []
        for _ in range(self.r.choice([0, 1, 1, 2, 3])):
            o = self.r.choice(["RANK", "COUNT", "MAXLEN", "BOGUS"])
            if o == "RANK":
                opts += ["RANK", self.r.choice(["1", "2", "-1", "-2", "0", "x", "3"])]
            elif o == "COUNT":
                opts += ["COUNT", self.r.choice(["0", "1", "2", "-1", "x"])]
            elif o == "MAXLEN":
                opts += ["MAXLEN", self.r.choice(["0", "1", "3", "-1"])]
            else:
                opts.append(o)
        return opts

    def mpop_tail(self, numkeys_pool):
        r = self.r
        keys = [self.key() for _ in range(r.randint(1, 3))]
        if self.cluster:
            numkeys_pool = [n for n in numkeys_pool if n != "4"]
        n = r.choice([str(len(keys))] * 6 + numkeys_pool)
        tail = [n] + keys + [self.end()]
        if r.random() < 0.5:
            tail += ["COUNT", r.choice(["1", "2", "5", "0", "-1", "x"])]
        if r.random() < 0.05:
            tail += ["COUNT", "1"]
        return tail

    def command(self):
        r = self.r
        k = self.key()
        choices = [
            (10, lambda: [r.choice(["LPUSH", "RPUSH"]), k] + self.elems()),
            (2, lambda: [r.choice(["LPUSHX", "RPUSHX"]), k] + self.elems()),
            (6, lambda: [r.choice(["LPOP", "RPOP"]), k]),
            (3, lambda: [r.choice(["LPOP", "RPOP"]), k, self.count()]),
            (1, lambda: ["LPOP", k, "1", "2"]),
            (3, lambda: ["LLEN", k]),
            (6, lambda: ["LRANGE", k, self.index(), self.index()]),
            (4, lambda: ["LINDEX", k, self.index()]),
            (3, lambda: ["LSET", k, self.index(), self.elem()]),
            (4, lambda: ["LINSERT", k, r.choice(["BEFORE", "AFTER", "after", "middle"]),
                         self.elem(), self.elem()]),
            (4, lambda: ["LREM", k, r.choice(["0", "1", "-1", "2", "-2", "x"]), self.elem()]),
            (3, lambda: ["LTRIM", k, self.index(), self.index()]),
            (5, lambda: ["LPOS", k, self.elem()] + self.lpos_opts()),
            (4, lambda: ["LMOVE", k, self.key(), self.end(), self.end()]),
            (2, lambda: ["RPOPLPUSH", k, self.key()]),
            (3, lambda: ["LMPOP"] + self.mpop_tail(["0", "x", "4", "-1"])),
            (2, lambda: [r.choice(["BLPOP", "BRPOP"])] + [self.key() for _ in range(
                r.randint(1, 3))] + [self.timeout()]),
            (1, lambda: ["BLMOVE", k, self.key(), self.end(), self.end(), self.timeout()]),
            (1, lambda: ["BRPOPLPUSH", k, self.key(), self.timeout()]),
            (1, lambda: ["BLMPOP", self.timeout()] + self.mpop_tail(["0", "x", "4"])),
            (2, lambda: ["TYPE", k]),
            (1, lambda: ["OBJECT", "ENCODING", k]),
            (1, lambda: ["SET", k, self.elem()]),
            (1, lambda: ["GET", k]),
            (1, lambda: ["DEL", k]),
            (1, lambda: ["EXISTS", k]),
            (1, lambda: ["RENAME", k, self.key()]),
            (1, lambda: ["COPY", k, self.key()] + (["REPLACE"] if r.random() < 0.5 else [])),
            (1, lambda: ["EXPIRE", k, "1000"]),
            (1, lambda: ["TTL", k]),
            (1, lambda: ["SCAN", "0", "TYPE", r.choice(["list", "string"]), "COUNT", "1000"]),
            (1, lambda: ["SADD", k, self.elem()]),
        ]
        total = sum(w for w, _ in choices)
        pick = r.uniform(0, total)
        for w, f in choices:
            pick -= w
            if pick <= 0:
                return f()
        return choices[0][1]()


@unittest.skipUnless(shutil.which("redis-server"), "redis-server not installed")
class ListsDiffTest(DiffTestMixin, DiffTestCase):
    def test_single_node_matches_redis(self):
        start = time.monotonic()
        red = self.start_redis()
        s = self.start_server()
        rng = random.Random(SEED + 17)
        keys = ["l0", "l1", "l2", "k", "accounts:l"]  # one in another keyspace
        gen = ListGenerator(rng, keys)
        d = DiffRunner(self, s.port, red.port)
        self.addCleanup(d.close)
        n = d.run(gen, OPS, rng, start + TIME_BUDGET_S * 0.4)
        d.compare_contents(keys)
        # A longer list, past a few chunks: ranges, indexes and middle changes across them.
        for proto in (2, 3):
            for c in (d.rkv[proto], d.red[proto]):
                c.call(["DEL", "big"])
                c.call(["RPUSH", "big"] + [f"e{i % 50}" for i in range(3000)])
            for args in (["LRANGE", "big", "1000", "1020"], ["LINDEX", "big", "-1500"],
                         ["LINSERT", "big", "BEFORE", "e25", "new"], ["LSET", "big", "2000", "y"],
                         ["LREM", "big", "-3", "e7"], ["LPOS", "big", "e9", "RANK", "-2",
                                                        "COUNT", "5", "MAXLEN", "2000"],
                         ["LTRIM", "big", "5", "-5"], ["LMPOP", "1", "big", "RIGHT", "COUNT", "7"],
                         ["LLEN", "big"], ["OBJECT", "ENCODING", "big"]):
                d.check(args, proto, [])
        # Every element reached storage as its own row: a restart rebuilds the same lists.
        self.restart_and_compare(d, s, red, keys + ["big"], n, start, SEED + 17, OPS)

    def test_edge_cases_match_redis(self):
        red = self.start_redis()
        s = self.start_server()
        i64min, i64max = "-9223372036854775808", "9223372036854775807"
        script = [
            ["RPUSH", "l", "a", "b", "a", "c", "a"], ["LPOS", "l", "a", "RANK", i64min],
            ["LPOS", "l", "a", "RANK", i64min, "COUNT", "2"], ["LPOS", "l", "a", "RANK", i64max],
            ["LPOS", "l", "a", "COUNT", "0", "MAXLEN", "4"], ["LPOS", "l", "a", "RANK", "-2"],
            ["LPOS", "l", "a", "COUNT", "x"], ["LPOS", "l", "a", "MAXLEN", "x"],
            ["LPOS", "l", "a", "RANK", "x"], ["LPOS", "l", "a", "RANK", "0", "COUNT", "-1"],
            ["LPOS", "nokey", "a"], ["LPOS", "nokey", "a", "COUNT", "0"],
            ["LRANGE", "l", i64min, i64max], ["LRANGE", "l", i64max, i64min],
            ["LINDEX", "l", i64min], ["LSET", "l", i64max, "x"], ["LTRIM", "l", i64min, i64max],
            ["LPOP", "l", "0"], ["LPOP", "nokey", "0"], ["LPOP", "l", "-0"], ["RPOP", "l", "01"],
            ["LPOP", "l", i64max], ["EXISTS", "l"], ["RPUSH", "r", "1"],
            ["LMOVE", "r", "r", "RIGHT", "LEFT"], ["LMOVE", "r", "r", "LEFT", "RIGHT"],
            ["BLPOP", "nokey", "r", "0"], ["EXISTS", "r"], ["RPUSH", "r", "1", "2"],
            ["BLMOVE", "r", "r", "LEFT", "RIGHT", "0"], ["BRPOPLPUSH", "r", "dst", "0"],
            ["BLMPOP", "0", "2", "nokey", "r", "LEFT", "COUNT", i64max], ["LRANGE", "dst", "0", "-1"],
            ["BLPOP", "nokey", "1e300"], ["BLPOP", "nokey", "nan"],
            ["BLPOP", "nokey", " 1"], ["BLPOP", "dst", "-0"], ["BLPOP", "nokey", "0.001"], ["BLPOP", "nokey", "0.0001"],
            ["BLMOVE", "nokey", "dst", "LEFT", "LEFT", "0.001"],
            ["BRPOPLPUSH", "nokey", "dst", "0.001"], ["BLMPOP", "0.001", "1", "nokey", "LEFT"],
            ["LMPOP", i64max, "a", "LEFT"], ["LMPOP", "1", "a", "LEFT", "COUNT"],
            ["LMPOP", "1", "a", "LEFT", "COUNT", i64max, "x"], ["BLMPOP", "0", i64min, "a", "LEFT"],
            ["SET", "s", "v"], ["LPUSH", "s", "x"], ["BLPOP", "nokey", "s", "0"],
            ["BLMOVE", "s", "d", "LEFT", "LEFT", "x"], ["RPUSH", "q", "e"],
            ["BLMOVE", "q", "s", "LEFT", "LEFT", "0"], ["LLEN", "q"],
            ["RPOPLPUSH", "nokey", "s"], ["LINSERT", "nokey", "middle", "a", "b"],
            ["LSET", "nokey", "x", "y"], ["RENAME", "q", "q2"], ["LRANGE", "q2", "0", "-1"],
            ["COPY", "q2", "q3"], ["LPUSH", "q3", "z"], ["LRANGE", "q2", "0", "-1"],
            ["LRANGE", "q3", "0", "-1"], ["OBJECT", "ENCODING", "q3"], ["TYPE", "q3"],
            ["SCAN", "0", "TYPE", "list", "MATCH", "q2"], ["EXPIRE", "q3", "100"], ["TTL", "q3"],
            ["LPUSHX", "nokey", "a"], ["RPUSHX", "s", "a"], ["LREM", "q3", i64min, "z"],
            ["LREM", "q3", i64max, "e"], ["EXISTS", "q3"],
        ]
        self.assert_script_matches(s.port, red.port, script)

    def test_primary_follower_matches_redis(self):
        self.primary_follower_diff(functools.partial(ListGenerator, cluster=True), DiffRunner,
                                   ("l0", "l1", "l2", "k"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
