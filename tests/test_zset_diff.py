"""Differential test of sorted sets: replikv against a real redis-server (7.0).

A seeded generator draws thousands of sorted-set commands (every one of ZADD .. ZSCAN, with
valid and invalid arguments: option conflicts, NaN, infinities, exclusive and lex bounds,
LIMIT, negative and huge ranks and counts, wrong argument counts) over a small key set, with
string, set and generic key commands mixed in (WRONGTYPE, TYPE, SCAN TYPE zset, RENAME, COPY,
EXPIRE; a set is a valid input of ZUNION/ZINTER/ZDIFF), and sends each to both servers in
RESP2 or RESP3. Sorted-set replies are ordered, so every reply must be the same bytes, except:

  * ZRANDMEMBER: the same reply type and length, every member (and score) one of the key's,
    distinct for a positive count;
  * what test_collections_diff.DiffRunner already allows (TTL within 2 s, SCAN's order, keyless
    commands through a cluster follower).

The random stream keeps every sorted set within Redis's listpack limits (members of at most
64 bytes, a few dozen members), where Redis's answers to a lex range over differing scores
and to ZSCAN are defined by the content; a fixed part then builds sorted sets past the limits
(skiplist encoding) and compares ranges, ranks, paged ZSCANs, stores and pops on them.
At the end every key's type and content are compared, again after the single node restarts,
and the same draw runs through a follower of a 3-node primary cluster.

  test_single_node_matches_redis       one replikv node, ~12000 commands, then large sets
  test_primary_follower_matches_redis  a 3-node primary cluster, commands to a follower, the
                                       leader killed -9 midway (test_collections_diff's run)

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
from redis_diff import DiffTestCase  # noqa: E402
from test_collections_diff import (OPS, SEED, TIME_BUDGET_S, DiffRunner, DiffTestMixin,  # noqa: E402
                                   Generator)


class ZsetGenerator(Generator):
    """Draws sorted-set commands, and some set, string and key commands, over a small key
    set (Generator's key choice and weighted pick)."""

    def member(self):
        r = self.r
        return r.choice([
            lambda: r.choice("abcdefgh"),
            lambda: f"m{r.randint(0, 9)}",
            lambda: r.choice(["", "A", "ab", "abc", "b\xff", "x" * 64, "-", "+", "[a", "(a"]),
        ])()

    def members(self, lo=1, hi=4):
        return [self.member() for _ in range(self.r.randint(lo, hi))]

    def score(self, valid=0.93):
        r = self.r
        if r.random() > valid:
            return r.choice(["nan", "x", "", "1e400", " 1", "(1", "1 ", "-nan", "0x", "--1"])
        return r.choice([
            lambda: str(r.randint(-5, 5)),
            lambda: str(r.randint(-5, 5)),
            lambda: r.choice(["0", "0", "1.5", "-2.25", "0.1", "-0", "inf", "-inf", "+inf",
                              "1e300", "3e2", "0x10", "1e-400", "1e-320", "9007199254740993",
                              "123456789.125"]),
        ])()

    def bound(self):
        """A score range end: valid mostly, exclusive often."""
        r = self.r
        b = r.choice([str(r.randint(-6, 6)), "inf", "-inf", "+inf", "1.5", "0", "-0", "",
                      "x", "nan", "1e400", " 2"])
        return ("(" + b) if r.random() < 0.3 else b

    def lex(self):
        r = self.r
        return r.choice(["-", "+", "[" + self.member(), "(" + self.member(), "[", "(",
                         self.member() or "a", "+x", "-a", ""])

    def rank(self):
        r = self.r
        return r.choice([str(r.randint(-8, 8)), str(r.randint(-8, 8)), "0", "-1", "100",
                         "-100", "x", "9223372036854775807", "-9223372036854775808"])

    def count(self):
        r = self.r
        return r.choice([str(r.randint(-4, 6)), "0", "1", "-1", "x", "1.5",
                         "9223372036854775807", "-9223372036854775808"])

    def limit(self):
        r = self.r
        if r.random() < 0.6:
            return []
        return ["LIMIT", r.choice(["0", "1", "2", "-1", "5", "x"]),
                r.choice(["1", "2", "3", "-1", "0", "-5", "100", "x"])]

    def range_cmd(self):
        r, k = self.r, self.key
        name = r.choice(["ZRANGE", "ZRANGE", "ZRANGE", "ZREVRANGE", "ZRANGEBYSCORE",
                         "ZREVRANGEBYSCORE", "ZRANGEBYLEX", "ZREVRANGEBYLEX", "ZRANGESTORE"])
        by = None
        if name in ("ZRANGE", "ZRANGESTORE"):
            by = r.choice([None, None, "BYSCORE", "BYLEX"])
        elif name.endswith("BYSCORE"):
            by = "BYSCORE"
        elif name.endswith("BYLEX"):
            by = "BYLEX"
        if by == "BYSCORE":
            lo, hi = self.bound(), self.bound()
        elif by == "BYLEX":
            lo, hi = self.lex(), self.lex()
        else:
            lo, hi = self.rank(), self.rank()
        args = [name] + ([k()] if name == "ZRANGESTORE" else []) + [k(), lo, hi]
        opts = []
        if name in ("ZRANGE", "ZRANGESTORE") and by:
            opts.append(by)
        if name in ("ZRANGE", "ZRANGESTORE") and r.random() < 0.4:
            opts.append("REV")
        if r.random() < 0.4:
            opts.append("WITHSCORES")
        opts += self.limit()
        if r.random() < 0.03:
            opts.append(r.choice(["BOGUS", "BYSCORE", "REV", "LIMIT"]))
        r.shuffle(opts) if r.random() < 0.2 else None
        return args + opts

    def setop(self):
        r = self.r
        name = r.choice(["ZUNION", "ZINTER", "ZDIFF", "ZUNIONSTORE", "ZINTERSTORE",
                         "ZDIFFSTORE"])
        n = r.randint(1, 3)
        args = [name] + ([self.key()] if name.endswith("STORE") else [])
        args.append(r.choice([str(n)] * 8 + ["0", "x", "9", "-1"]))
        args += [self.key() for _ in range(n)]
        if r.random() < 0.35:
            args += ["WEIGHTS"] + [r.choice(["1", "2", "-1", "0", "0.5", "inf", "x"])
                                   for _ in range(r.choice([n, n, n, n + 1, max(n - 1, 0)]))]
        if r.random() < 0.35:
            args += ["AGGREGATE", r.choice(["SUM", "min", "MAX", "avg"])]
        if r.random() < 0.4:
            args.append("WITHSCORES")
        return args

    def command(self):
        r, k = self.r, self.key
        table = [
            (14, lambda: ["ZADD", k()] + [o for o in ("NX", "XX", "GT", "LT", "CH", "INCR")
                                          if r.random() < 0.1]
             + sum(([self.score(), self.member()] for _ in range(r.randint(1, 3))), [])
             + ([self.member()] if r.random() < 0.03 else [])),
            (5, lambda: ["ZINCRBY", k(), r.choice(
                ["1", "-1", "2.5", "0.1", "inf", "-inf", "1e308", "x", "nan", "0"]),
                self.member()]),
            (4, lambda: ["ZSCORE", k(), self.member()]),
            (2, lambda: ["ZMSCORE", k()] + self.members()),
            (3, lambda: [r.choice(["ZRANK", "ZREVRANK"]), k(), self.member()]),
            (2, lambda: ["ZCARD", k()]),
            (3, lambda: ["ZCOUNT", k(), self.bound(), self.bound()]),
            (2, lambda: ["ZLEXCOUNT", k(), self.lex(), self.lex()]),
            (16, self.range_cmd),
            (4, lambda: ["ZREM", k()] + self.members()),
            (2, lambda: ["ZREMRANGEBYRANK", k(), self.rank(), self.rank()]),
            (2, lambda: ["ZREMRANGEBYSCORE", k(), self.bound(), self.bound()]),
            (2, lambda: ["ZREMRANGEBYLEX", k(), self.lex(), self.lex()]),
            (3, lambda: [r.choice(["ZPOPMIN", "ZPOPMAX"]), k()]
             + r.choice([[], [], [self.count()], ["1", "2"]])),
            (3, lambda: ["ZRANDMEMBER", k()] + r.choice([
                [], [self.count()], [self.count(), "WITHSCORES"], [self.count(), "withscores"],
                [self.count(), "BOGUS"], ["1", "WITHSCORES", "x"],
                ["-4611686018427387904", "WITHSCORES"]])),
            (6, self.setop),
            (2, lambda: ["ZINTERCARD"] + self.intercard()),
            (2, lambda: ["ZSCAN", k(), r.choice(["0", "0", "x", "5"])]
             + r.choice([[], [], ["COUNT", r.choice(["1", "0", "x"])],
                         ["MATCH", r.choice(["*", "m*", "[a-c]"])], ["BOGUS"]])),
            # sets, strings and keys meeting sorted sets
            (3, lambda: ["SADD", k()] + self.members()),
            (2, lambda: ["SET", k(), r.choice(["v", "1"])]),
            (1, lambda: [r.choice(["GET", "INCR", "SMEMBERS", "HGETALL"]), k()]),
        ] + self.key_commands(["zset", "set", "string"]) + [
            (1, lambda: ["OBJECT", "ENCODING", k()]),
            # wrong argument counts
            (1, lambda: r.choice([["ZADD", k(), "1"], ["ZSCORE", k()], ["ZRANGE", k(), "0"],
                                  ["ZINCRBY", k(), "1"], ["ZPOPMIN"], ["ZUNIONSTORE", k(), "1"],
                                  ["ZRANK", k(), "a", "WITHSCORE"], ["ZCOUNT", k(), "0"],
                                  ["ZUNION", "1"], ["ZSCAN", k()], ["ZRANGESTORE", k(), k(), "0"]])),
        ]
        return self.pick(table)

    def intercard(self):
        r = self.r
        n = r.randint(1, 3)
        args = [r.choice([str(n)] * 6 + ["0", "x", "9"])] + [self.key() for _ in range(n)]
        return args + r.choice([[], [], ["LIMIT", str(r.randint(0, 3))], ["LIMIT", "-1"],
                                ["LIMIT", "x"], ["BOGUS"]])


class ZsetDiffRunner(DiffRunner):
    """DiffRunner with ZRANDMEMBER's check (redis_diff.contents compares sorted sets)."""

    def check(self, args, proto, history):
        if str(args[0]).upper() != "ZRANDMEMBER":
            return super().check(args, proto, history)
        self.count += 1
        got, got_raw = self.rkv[proto].call(args)
        want, want_raw = self.red[proto].call(args)
        ctx = f"command #{self.count} {args!r} (RESP{proto})\n  replikv: {got_raw!r}\n" \
              f"  redis:   {want_raw!r}"
        if isinstance(got, harness.RespError) or isinstance(want, harness.RespError) \
                or not isinstance(want, list):
            if isinstance(want, list) or isinstance(got, list):
                self.t.assertEqual(got_raw, want_raw, ctx)
            elif want is None or isinstance(want, harness.Null):
                self.t.assertEqual(got_raw, want_raw, ctx)
            else:  # one member, chosen at random
                self.t.assertEqual(got_raw[:1], want_raw[:1], ctx)
            self.checked["random"] += 1
            return
        self.t.assertEqual(got_raw[:1], want_raw[:1], ctx)
        self.t.assertEqual(len(got), len(want), ctx)
        _, content = self.contents(self.red[2], args[1])
        flat = content or []
        scores = dict(zip(flat[0::2], flat[1::2]))
        with_scores = len(args) == 4
        picks = got
        if with_scores:
            if got and not isinstance(got[0], list):  # RESP2: flat pairs
                picks = [[got[i], got[i + 1]] for i in range(0, len(got), 2)]
            for m, sc in picks:
                self.t.assertIn(m, scores, ctx)
                self.t.assertEqual(float(sc), float(scores[m]), ctx)
            picks = [p[0] for p in picks]
        for m in picks:
            self.t.assertIn(m, scores, ctx)
        if not args[2].startswith("-"):
            self.t.assertEqual(len(set(picks)), len(picks), ctx)
        self.checked["random"] += 1


def big_zset_script():
    """Commands on sorted sets past Redis's listpack limits (skiplist encoding) whose replies
    are defined by the content: compared byte for byte."""
    script = [["DEL", "big", "lexbig", "long", "dst"],
              ["ZADD", "big"] + sum(([str(i % 50), f"m{i:04d}"] for i in range(400)), []),
              ["ZADD", "lexbig"] + sum((["0", f"w{i:04d}"] for i in range(300)), []),
              ["ZADD", "long", "1", "x" * 65, "2", "y"]]
    for args in (["ZCARD", "big"], ["ZRANK", "big", "m0123"], ["ZREVRANK", "big", "m0123"],
                 ["ZRANGE", "big", "100", "120", "WITHSCORES"], ["ZRANGE", "big", "-5", "-1"],
                 ["ZREVRANGE", "big", "0", "9", "WITHSCORES"],
                 ["ZRANGEBYSCORE", "big", "(10", "12", "LIMIT", "3", "7"],
                 ["ZREVRANGEBYSCORE", "big", "40", "-inf", "WITHSCORES", "LIMIT", "5", "5"],
                 ["ZCOUNT", "big", "(3", "+inf"], ["ZLEXCOUNT", "lexbig", "[w0100", "(w0200"],
                 ["ZRANGEBYLEX", "lexbig", "(w0290", "+"],
                 ["ZREVRANGEBYLEX", "lexbig", "[w0010", "-", "LIMIT", "2", "3"],
                 ["ZRANGE", "lexbig", "[w0150", "(w0160", "BYLEX", "LIMIT", "1", "-1"],
                 ["OBJECT", "ENCODING", "big"], ["OBJECT", "ENCODING", "long"],
                 ["OBJECT", "ENCODING", "lexbig"], ["ZRANGE", "long", "0", "-1"],
                 ["ZMSCORE", "big", "m0399", "nope"], ["ZINCRBY", "big", "0.5", "m0007"],
                 ["ZRANGESTORE", "dst", "big", "10", "20", "BYSCORE", "REV", "LIMIT", "0", "30"],
                 ["ZRANGE", "dst", "0", "-1", "WITHSCORES"],
                 ["ZUNIONSTORE", "dst", "2", "big", "lexbig", "WEIGHTS", "2", "3"],
                 ["ZRANGE", "dst", "295", "305", "WITHSCORES"],
                 ["ZINTER", "2", "big", "dst", "AGGREGATE", "MIN", "WITHSCORES"],
                 ["ZDIFF", "2", "dst", "big"], ["ZINTERCARD", "2", "big", "dst", "LIMIT", "50"],
                 ["ZREMRANGEBYRANK", "big", "10", "29"], ["ZREMRANGEBYSCORE", "big", "(45", "47"],
                 ["ZREMRANGEBYLEX", "lexbig", "[w0100", "[w0199"], ["ZCARD", "lexbig"],
                 ["ZPOPMIN", "big", "3"], ["ZPOPMAX", "big", "2"], ["ZPOPMAX", "big"],
                 ["ZRANGE", "big", "0", "-1", "WITHSCORES"], ["ZCARD", "big"]):
        script.append(args)
    return script


@unittest.skipUnless(shutil.which("redis-server"), "redis-server not installed")
class ZsetDiffTest(DiffTestMixin, DiffTestCase):
    NAMES = ("z0", "z1", "z2", "s0", "k")

    def test_single_node_matches_redis(self):
        start = time.monotonic()
        red = self.start_redis()
        s = self.start_server()
        rng = random.Random(SEED)
        keys = list(self.NAMES) + ["accounts:z"]  # one in another keyspace
        d = ZsetDiffRunner(self, s.port, red.port)
        self.addCleanup(d.close)
        n = d.run(ZsetGenerator(rng, keys), 3 * OPS, rng, start + TIME_BUDGET_S * 0.45)
        d.compare_contents(keys)
        for proto in (2, 3):
            for args in big_zset_script():
                d.check(args, proto, [])
        # A paged ZSCAN of a large sorted set covers every member (the order is the table's).
        for conn in (d.rkv[2], d.red[2]):
            seen, cursor = {}, "0"
            while True:
                cursor, items = conn.call(["ZSCAN", "big", cursor, "COUNT", "7"])[0]
                seen.update(zip(items[0::2], items[1::2]))
                if cursor == "0":
                    break
            flat = conn.call(["ZRANGE", "big", "0", "-1", "WITHSCORES"])[0]
            self.assertEqual(seen, dict(zip(flat[0::2], flat[1::2])))
        self.restart_and_compare(d, s, red, keys + ["big", "lexbig", "long", "dst"], n, start,
                                 SEED, OPS)

    def test_primary_follower_matches_redis(self):
        self.primary_follower_diff(ZsetGenerator, ZsetDiffRunner, self.NAMES)


if __name__ == "__main__":
    unittest.main(verbosity=2)
