"""Differential test of hashes and sets: replikv against a real redis-server.

A seeded generator draws thousands of hash and set commands (every one of HSET .. HSCAN and
SADD .. SSCAN, with valid and invalid arguments, wrong argument counts, and string and generic
key commands mixed in so that WRONGTYPE, TYPE, SCAN TYPE, DEL, RENAME, COPY, EXPIRE meet
collections) over a small key set, and sends each to both servers, in RESP2 or RESP3 (a
connection of each per protocol). Every reply must be the same bytes, except where the order
or the choice is not defined:

  * HKEYS HVALS HGETALL SMEMBERS SINTER SUNION SDIFF KEYS: the same reply type and the same
    elements, in any order (Redis's order is its encoding's);
  * HSCAN SSCAN from cursor 0: each server's iteration is run to its end, and the elements
    collected must be the same; from another cursor (a position in one server's own table),
    every element returned must be one of the collection's;
  * SRANDMEMBER HRANDFIELD: the same reply type and length, every element one of the key's
    (and distinct for a positive count);
  * TTL: within 2 s (the servers run each command a few milliseconds apart);
  * SCAN and OBJECT through a cluster follower: they have no key, so they read the follower's
    own state, which may lag: SCAN must name keys of the key set, OBJECT is not compared;
  * SPOP: replikv is asked first; the members it removed must be members in Redis and as many
    as Redis would remove; then Redis removes the same ones (SREM), so both keep one state.

At the end every key's type and content are compared, and again after the single node
restarts (every element reached storage as its own row).

  test_single_node_matches_redis       one replikv node, ~4000 commands
  test_edge_cases_match_redis          a fixed script at the edges (long double range,
                                       extreme counts and cursors, stores onto sources,
                                       encodings of fresh values), byte for byte
  test_primary_follower_matches_redis  a 3-node primary cluster (small snapshot interval, so
                                       images of the collections are built and installed),
                                       commands sent to a follower; the leader is killed -9
                                       midway and restarted; every replica ends with Redis's
                                       content

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
import redis_diff  # noqa: E402
from redis_diff import DiffTestCase, Runner  # noqa: E402

SEED = int(os.environ.get("RKV_DIFF_SEED", "20261217"))
OPS = int(os.environ.get("RKV_DIFF_OPS", "4000"))
TIME_BUDGET_S = 45.0  # the whole file stays well under a minute

UNORDERED = {"HKEYS", "HVALS", "HGETALL", "SMEMBERS", "SINTER", "SUNION", "SDIFF", "KEYS"}
SCANS = {"HSCAN", "SSCAN"}
RANDOM_READS = {"SRANDMEMBER", "HRANDFIELD"}


def canon(v):
    """A hashable, order-free form of a reply value (for unordered replies)."""
    if isinstance(v, harness.Map):
        return ("map", tuple(sorted((repr(canon(k)), repr(canon(x))) for k, x in v)))
    if isinstance(v, list):
        return (type(v).__name__, tuple(sorted(repr(canon(x)) for x in v)))
    return v


class Generator:
    """Draws hash, set and some string/key commands over a small key set."""

    def __init__(self, rng, keys):
        self.r = rng
        self.keys = keys

    def key(self):
        return self.r.choice(self.keys)

    def field(self):
        r = self.r
        return r.choice([
            lambda: f"f{r.randint(0, 7)}",
            lambda: str(r.randint(-3, 12)),
            lambda: r.choice(["", "a", "hello world", "007", "-0", "9223372036854775807"]),
            lambda: "x" * r.choice([63, 64, 65, 70]),  # around listpack's value limit
        ])()

    def members(self, lo=1, hi=4):
        return [self.field() for _ in range(self.r.randint(lo, hi))]

    def value(self):
        r = self.r
        return r.choice([
            lambda: str(r.randint(-20, 20)),
            lambda: r.choice(["", "abc", "1.5", "-0.25", "3e2", " 1", "inf", "x" * 70,
                              "9223372036854775807", "-9223372036854775808"]),
            lambda: "".join(r.choice("abcxyz") for _ in range(r.randint(1, 8))),
        ])()

    def count(self, huge_negative=False):
        """A count argument. A huge negative one only where it is refused (a huge negative
        count asks for that many picks, which neither server could answer)."""
        pool = [str(self.r.randint(-6, 8)), "0", "1", "-1", "100", "x", "1.5",
                "-9223372036854775808", "9223372036854775807"]
        if huge_negative:
            pool += ["-4611686018427387904", "4611686018427387904"]
        return self.r.choice(pool)

    def scan_opts(self):
        opts = []
        for _ in range(self.r.choice([0, 0, 1, 1, 2])):
            o = self.r.choice(["MATCH", "COUNT", "BOGUS"])
            if o == "MATCH":
                opts += ["MATCH", self.r.choice(["*", "f*", "*1*", "[a-f]*", "x"])]
            elif o == "COUNT":
                opts += ["COUNT", self.r.choice(["1", "3", "100", "0", "-1", "x"])]
            else:
                opts.append(o)
        return opts

    def command(self):
        r, k = self.r, self.key
        table = [
            # hashes
            (10, lambda: ["HSET", k()] + sum(([self.field(), self.value()]
                                              for _ in range(r.randint(1, 3))), [])
             + ([self.field()] if r.random() < 0.03 else [])),
            (2, lambda: ["HMSET", k()] + sum(([self.field(), self.value()]
                                              for _ in range(r.randint(1, 3))), [])),
            (3, lambda: ["HSETNX", k(), self.field(), self.value()]),
            (5, lambda: ["HGET", k(), self.field()]),
            (2, lambda: ["HMGET", k()] + self.members()),
            (4, lambda: ["HDEL", k()] + self.members()),
            (2, lambda: ["HEXISTS", k(), self.field()]),
            (2, lambda: ["HLEN", k()]),
            (2, lambda: ["HSTRLEN", k(), self.field()]),
            (1, lambda: [r.choice(["HKEYS", "HVALS", "HGETALL"]), k()]),
            (4, lambda: ["HINCRBY", k(), self.field(), r.choice([
                str(r.randint(-100, 100)), "x", "1.5", "9223372036854775807",
                "-9223372036854775808", ""])]),
            (4, lambda: ["HINCRBYFLOAT", k(), self.field(), r.choice([
                "1", "1.5", "-0.1", "3e2", "abc", "inf", "-inf", "nan", "1e308", "0",
                str(r.uniform(-100, 100))])]),
            (3, lambda: ["HRANDFIELD", k()] + r.choice([
                [], [self.count()], [self.count(True), "WITHVALUES"], [self.count(), "withvalues"],
                [self.count(), "BOGUS"], ["1", "WITHVALUES", "x"]])),
            (2, lambda: ["HSCAN", k(), r.choice(["0", "0", "x", "-1"])] + self.scan_opts()),
            # sets
            (10, lambda: ["SADD", k()] + self.members()),
            (4, lambda: ["SREM", k()] + self.members()),
            (3, lambda: ["SISMEMBER", k(), self.field()]),
            (2, lambda: ["SMISMEMBER", k()] + self.members()),
            (2, lambda: ["SMEMBERS", k()]),
            (2, lambda: ["SCARD", k()]),
            (3, lambda: ["SPOP", k()] + r.choice([[], [], [self.count()], ["1", "2"]])),
            (3, lambda: ["SRANDMEMBER", k()] + r.choice([[], [self.count()], ["1", "2"]])),
            (3, lambda: ["SMOVE", k(), k(), self.field()]),
            (3, lambda: [r.choice(["SINTER", "SUNION", "SDIFF"])]
             + [k() for _ in range(r.randint(1, 3))]),
            (3, lambda: [r.choice(["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"])]
             + [k() for _ in range(r.randint(2, 4))]),
            (2, lambda: self.sintercard()),
            (2, lambda: ["SSCAN", k(), r.choice(["0", "0", "x"])] + self.scan_opts()),
            # strings and keys meeting collections
            (2, lambda: ["SET", k(), self.value()]),
            (2, lambda: [r.choice(["GET", "STRLEN", "INCR", "GETDEL"]), k()]),
            (1, lambda: [r.choice(["APPEND", "GETSET"]), k(), self.value()]),
            (1, lambda: ["SETRANGE", k(), "1", "x"]),
            (1, lambda: ["MGET", k(), k()]),
            (1, lambda: ["LCS", k(), k()]),
        ] + self.key_commands(["hash", "set", "string", "zset"]) + [
            (1, lambda: ["OBJECT", "ENCODING", k()]),
            # wrong argument counts
            (1, lambda: r.choice([["HSET", k(), "f"], ["HGET", k()], ["SADD", k()],
                                  ["SMOVE", k(), k()], ["SINTERSTORE", k()], ["HINCRBY", k()],
                                  ["SINTERCARD", "1"], ["HSCAN", k()], ["HMSET", k(), "a"]])),
        ]
        return self.pick(table)

    def key_commands(self, scan_types):
        """(weight, draw) entries of the generic key commands that meet every type."""
        r, k = self.r, self.key
        return [
            (2, lambda: ["TYPE", k()]),
            (1, lambda: ["DEL", k()]),
            (1, lambda: ["EXISTS", k(), k()]),
            (1, lambda: [r.choice(["RENAME", "RENAMENX"]), k(), k()]),
            (1, lambda: ["COPY", k(), k()] + r.choice([[], ["REPLACE"]])),
            (1, lambda: ["EXPIRE", k(), str(r.randint(300, 5000))]),
            (1, lambda: ["PERSIST", k()]),
            (1, lambda: ["TTL", k()]),
            (1, lambda: ["SCAN", "0", "COUNT", "1000", "TYPE", r.choice(scan_types)]),
        ]

    def pick(self, table):
        """Calls one of the (weight, draw) entries of `table`, chosen by weight."""
        total = sum(w for w, _ in table)
        pick = self.r.uniform(0, total)
        for w, f in table:
            pick -= w
            if pick <= 0:
                return f()
        return table[-1][1]()

    def sintercard(self):
        r = self.r
        n = r.randint(1, 3)
        args = ["SINTERCARD", r.choice([str(n)] * 6 + ["0", "x", "9"])]
        args += [self.key() for _ in range(n)]
        args += r.choice([[], [], ["LIMIT", str(r.randint(0, 3))], ["LIMIT", "-1"], ["LIMIT", "x"], ["LIMIT"],
                          ["BOGUS"]])
        return args


def is_error(v):
    return isinstance(v, RespError)


class DiffRunner(Runner):
    """Through a cluster node, keyless commands (SCAN, OBJECT: no key position in COMMAND INFO)
    answer from that node's own state, which may lag its leader's: then SCAN only has to name
    keys of this key universe, and OBJECT's answer is not compared."""

    def __init__(self, test, rkv_port, redis_port, local_keyless=None):
        super().__init__(test, rkv_port, redis_port, local_keyless)
        self.checked = {"exact": 0, "unordered": 0, "scan": 0, "random": 0, "spop": 0}

    def scan_all(self, conn, args):
        """Runs an HSCAN/SSCAN iteration to its end; (elements, None) or (None, error bytes)."""
        out, cursor, rounds = [], "0", 0
        while True:
            a = list(args)
            a[2] = cursor
            v, raw = conn.call(a)
            if is_error(v):
                return None, raw
            cursor, items = v[0], v[1]
            if args[0].upper() == "HSCAN":
                out += [(items[i], items[i + 1]) for i in range(0, len(items), 2)]
            else:
                out += items
            rounds += 1
            if cursor == "0" or rounds > 10000:
                return sorted(set(map(repr, out))), None

    def contents(self, conn, key):
        """(type, content) of a key on one server, through a RESP2 connection."""
        return self.contents_via(lambda args: conn.call(args)[0], key)

    @classmethod
    def contents_via(cls, call, key):
        """(type, content) of a key, `call` sending one command (a list) and returning its
        decoded RESP2 reply."""
        return redis_diff.contents(call, key)

    def check(self, args, proto, history):
        name = str(args[0]).upper()
        ctx = lambda got, want: (f"command #{self.count} {args!r} (RESP{proto})\n"
                                 f"  replikv: {got!r}\n  redis:   {want!r}\n"
                                 f"  last commands: {history[-8:]!r}")
        self.count += 1
        if name == "SPOP":
            return self.check_spop(args, proto, ctx)
        if name in SCANS and len(args) >= 3 and args[2] == "0":
            got, gerr = self.scan_all(self.rkv[proto], args)
            want, werr = self.scan_all(self.red[proto], args)
            self.t.assertEqual((gerr, got), (werr, want), ctx(got or gerr, want or werr))
            self.checked["scan"] += 1
            return
        (got, got_raw) = self.rkv[proto].call(args)
        (want, want_raw) = self.red[proto].call(args)
        if is_error(got) or is_error(want):
            self.t.assertEqual(got_raw, want_raw, ctx(got_raw, want_raw))
            self.checked["exact"] += 1
        elif name == "TTL" and isinstance(got, int) and isinstance(want, int) and min(got, want) >= 0:
            # The two servers ran the command a few milliseconds apart (more through a cluster).
            self.t.assertLessEqual(abs(got - want), 2, ctx(got_raw, want_raw))
            self.checked["exact"] += 1
        elif name in ("SCAN", "OBJECT") and self.local_keyless is not None:
            if name == "SCAN":
                for k in got[1]:
                    self.t.assertIn(k, self.local_keyless, ctx(got_raw, want_raw))
            self.checked["random"] += 1
        elif name == "OBJECT" and isinstance(want, str):
            # Redis's encoding depends on the value's history (never converted back; APPEND
            # makes a short string "raw"): replikv reports the one for the present content.
            # In the random stream only the family is checked; fixed cases below are exact.
            family = {"int": "s", "embstr": "s", "raw": "s", "listpack": "c",
                      "hashtable": "c", "intset": "c", "skiplist": "c"}
            self.t.assertEqual(family.get(got), family.get(want), ctx(got_raw, want_raw))
            self.checked["exact"] += 1
        elif name in SCANS:
            # A cursor other than 0 names a position in one server's own table (a bucket
            # there, and where a collection's elements are depends on its history in Redis):
            # what it returns must be elements of the collection, and nothing more is defined.
            _, content = self.contents(self.red[2], args[1])
            content = content or []
            items = got[1]
            if name == "HSCAN":
                items = list(zip(items[0::2], items[1::2]))
                content = [tuple(p) for p in content]
            for item in items:
                self.t.assertIn(item, content, ctx(got_raw, want_raw))
            self.checked["scan"] += 1
        elif name == "SCAN":  # one call covers the key set (COUNT 1000): order aside
            self.t.assertEqual((got[0], canon(got[1])), (want[0], canon(want[1])),
                               ctx(got_raw, want_raw))
            self.checked["unordered"] += 1
        elif name in UNORDERED:
            self.t.assertEqual(got_raw[:1], want_raw[:1], ctx(got_raw, want_raw))
            self.t.assertEqual(canon(got), canon(want), ctx(got_raw, want_raw))
            self.checked["unordered"] += 1
        elif name in RANDOM_READS:
            self.check_random_read(args, got, got_raw, want, want_raw, ctx)
            self.checked["random"] += 1
        else:
            self.t.assertEqual(got_raw, want_raw, ctx(got_raw, want_raw))
            self.checked["exact"] += 1

    def check_random_read(self, args, got, got_raw, want, want_raw, ctx):
        self.t.assertEqual(got_raw[:1], want_raw[:1], ctx(got_raw, want_raw))
        if not isinstance(got, list):  # one pick, or nil
            self.t.assertEqual(got is None or isinstance(got, harness.Null),
                               want is None or isinstance(want, harness.Null),
                               ctx(got_raw, want_raw))
            got = [] if got is None or isinstance(got, harness.Null) else [got]
            want = []
        else:
            self.t.assertEqual(len(got), len(want), ctx(got_raw, want_raw))
        _, content = self.contents(self.red[2], args[1])
        content = content or []
        with_values = args[0].upper() == "HRANDFIELD" and len(args) == 4
        if args[0].upper() == "HRANDFIELD":
            fields = dict(content)
            picks = []
            if with_values and got and not isinstance(got[0], list):  # RESP2: flat pairs
                got = [[got[i], got[i + 1]] for i in range(0, len(got), 2)]
            for p in got:
                f = p[0] if with_values else p
                self.t.assertIn(f, fields, ctx(got_raw, want_raw))
                if with_values:
                    self.t.assertEqual(p[1], fields[f], ctx(got_raw, want_raw))
                picks.append(f)
        else:
            picks = got
            for m in picks:
                self.t.assertIn(m, content, ctx(got_raw, want_raw))
        if len(args) >= 3 and not args[2].startswith("-"):
            self.t.assertEqual(len(set(map(repr, picks))), len(picks), ctx(got_raw, want_raw))

    def check_spop(self, args, proto, ctx):
        got, got_raw = self.rkv[proto].call(args)
        empty = (got is None or isinstance(got, harness.Null) or is_error(got)
                 or (isinstance(got, list) and not got))
        if empty:  # nothing removed: Redis must answer alike
            want, want_raw = self.red[proto].call(args)
            self.t.assertEqual(got_raw, want_raw, ctx(got_raw, want_raw))
            self.checked["exact"] += 1
            return
        popped = got if isinstance(got, list) else [got]
        key = args[1]
        card = self.red[2].call(["SCARD", key])[0]
        self.t.assertIsInstance(card, int, ctx(got_raw, card))
        n = int(args[2]) if len(args) == 3 else 1
        self.t.assertEqual(len(popped), min(n, card), ctx(got_raw, f"SCARD {card}"))
        self.t.assertEqual(len(set(map(repr, popped))), len(popped), ctx(got_raw, "distinct"))
        if len(args) == 3:
            header = ("~" if proto == 3 else "*") + str(len(popped))
            self.t.assertTrue(got_raw.startswith(header.encode() + b"\r\n"), ctx(got_raw, header))
        else:
            self.t.assertTrue(got_raw.startswith(b"$"), ctx(got_raw, "a bulk string"))
        present = self.red[2].call(["SMISMEMBER", key] + popped)[0]
        self.t.assertEqual(present, [1] * len(popped), ctx(got_raw, "members in redis"))
        self.red[2].call(["SREM", key] + popped)
        self.checked["spop"] += 1

    def compare_contents(self, keys, rkv_conn=None):
        for k in keys:
            got = self.contents(rkv_conn or self.rkv[2], k)
            want = self.contents(self.red[2], k)
            self.t.assertEqual(got, want, f"content of {k!r}")


class DiffTestMixin:
    """What the differential tests of each type share (test_zset_diff.py uses it too), on top
    of redis_diff.DiffTestCase."""

    def primary_follower_diff(self, generator, runner, names):
        """Runs `generator`'s commands on keys `names` through a follower of a 3-node primary
        cluster with `runner` (a DiffRunner), the leader killed -9 and restarted midway, then
        compares every replica's content with Redis's."""
        import test_cluster  # noqa: E402 - the 3-node cluster helpers
        start = time.monotonic()
        red = self.start_redis()
        raft = dict(test_cluster.STEADY_RAFT, snapshot_min_entries=64, snapshot_catchup_entries=32)
        cluster = test_cluster.Cluster(3, raft=raft)
        self.addCleanup(cluster.cleanup)
        cluster.start()
        leader = cluster.leader()
        follower = (leader + 1) % 3
        rng = random.Random(SEED + 1)
        ks = test_cluster.KS + ":"
        keys = [ks + k for k in names]
        gen = generator(rng, keys)
        d = runner(self, cluster.nodes[follower].port, red.port, local_keyless=keys)
        self.addCleanup(d.close)
        history = []
        budget = max(OPS // 2, 300)
        n = d.run(gen, budget // 2, rng, start + TIME_BUDGET_S * 0.3, history)
        # The leader dies mid-stream (between two acknowledged commands: every acknowledged
        # write is committed) and comes back; the follower keeps serving once a new leader is
        # elected.
        cluster.nodes[leader].kill9()
        cluster.leader(exclude=(leader,))
        n = d.run(gen, budget // 4, rng, start + TIME_BUDGET_S * 0.4, history)
        cluster.nodes[leader].start()
        n = d.run(gen, budget // 4, rng, start + TIME_BUDGET_S * 0.5, history)
        d.compare_contents(keys)
        cluster.wait_converged()
        for i in range(3):
            with cluster.nodes[i].raw(timeout=20) as c:
                self.assertEqual(c.call("READMODE", "follower"), "OK")
                for k in keys:
                    got = d.contents_via(lambda args: c.call(*args), k)
                    want = d.contents(d.red[2], k)
                    self.assertEqual(got, want, f"n{i + 1}: content of {k!r}")
        snaps = [cluster.group(i)["snapshot_index"] for i in range(3)]
        installed = cluster.group(leader).get("snapshots_installed", 0)
        print(f"\n  seed {SEED + 1}: {n} commands through follower n{follower + 1} (leader "
              f"n{leader + 1} killed -9 and restarted), replies match, 3 replicas converged, "
              f"snapshot indexes {snaps}, restarted node installed {installed} "
              f"({time.monotonic() - start:.1f} s)", file=sys.stderr)


@unittest.skipUnless(shutil.which("redis-server"), "redis-server not installed")
class CollectionsDiffTest(DiffTestMixin, DiffTestCase):

    def test_single_node_matches_redis(self):
        start = time.monotonic()
        red = self.start_redis()
        s = self.start_server()
        rng = random.Random(SEED)
        keys = ["h0", "h1", "s0", "s1", "s2", "k", "accounts:c"]  # one in another keyspace
        gen = Generator(rng, keys)
        d = DiffRunner(self, s.port, red.port)
        self.addCleanup(d.close)
        n = d.run(gen, OPS, rng, start + TIME_BUDGET_S * 0.45)
        d.compare_contents(keys)
        # Larger collections, past the compact encodings: paged scans, hashtable encodings.
        for proto in (2, 3):
            for c in (d.rkv[proto], d.red[proto]):
                c.call(["DEL", "big", "bigs"])
                c.call(["HSET", "big"] + sum(([f"f{i}", f"v{i}"] for i in range(300)), []))
                c.call(["SADD", "bigs"] + [f"m{i}" for i in range(700)])
            for args in (["HSCAN", "big", "0", "COUNT", "7"], ["SSCAN", "bigs", "0"],
                         ["SSCAN", "bigs", "0", "MATCH", "m1*"], ["OBJECT", "ENCODING", "big"],
                         ["OBJECT", "ENCODING", "bigs"], ["SRANDMEMBER", "bigs", "5"],
                         ["HRANDFIELD", "big", "-5", "WITHVALUES"], ["SPOP", "bigs", "3"],
                         ["SINTERCARD", "1", "bigs", "LIMIT", "10"], ["SCARD", "bigs"]):
                d.check(args, proto, [])
        self.restart_and_compare(d, s, red, keys + ["big", "bigs"], n, start, SEED, OPS)

    def test_edge_cases_match_redis(self):
        """Fixed commands at the edges the random draw rarely reaches, byte for byte (each
        reply's order is defined: one element, or counts)."""
        red = self.start_redis()
        s = self.start_server()
        i64min, i64max = "-9223372036854775808", "9223372036854775807"
        script = [
            ["HINCRBYFLOAT", "h", "f", "1e308"], ["HINCRBYFLOAT", "h", "f", "1e308"],
            ["HINCRBYFLOAT", "h", "f", "-1e308"], ["HINCRBYFLOAT", "h", "g", "-1e-300"],
            ["HINCRBYFLOAT", "h", "g", "1e-300"], ["HINCRBYFLOAT", "h", "p", "0.1"],
            ["HINCRBYFLOAT", "h", "p", "0.2"], ["HINCRBYFLOAT", "h", "p", "1e-17"],
            ["HINCRBYFLOAT", "h", "p", "-0.3"], ["HINCRBYFLOAT", "h", "q", "1.1e4932"],
            ["HINCRBYFLOAT", "h", "q", "1e5000"], ["HINCRBYFLOAT", "h", "q", "-inf"],
            ["HINCRBYFLOAT", "h", "r", "1e-4940"], ["HINCRBYFLOAT", "h", "s", " 1"],
            ["HINCRBYFLOAT", "h", "s", "0x10"], ["HINCRBYFLOAT", "h", "s", "5.0e3"],
            ["HGET", "h", "p"], ["HINCRBY", "h", "i", i64max], ["HINCRBY", "h", "i", "1"],
            ["HINCRBY", "h", "j", i64min], ["HINCRBY", "h", "j", "-1"],
            ["HINCRBY", "h", "j", "+1"], ["HINCRBY", "h", "p", "1"],
            ["HSET", "h", "neg0", "-0"], ["HINCRBY", "h", "neg0", "1"],
            ["HSET", "h", "lead0", "01"], ["HINCRBY", "h", "lead0", "1"],
            ["HSTRLEN", "h", "q"], ["HLEN", "h"], ["HEXISTS", "h", "r"],
            ["HRANDFIELD", "h", i64min], ["HRANDFIELD", "h", "0"], ["HRANDFIELD", "h", "0", "WITHVALUES"],
            ["HRANDFIELD", "h", "-4611686018427387904", "WITHVALUES"],
            ["HRANDFIELD", "h", "4611686018427387904", "WITHVALUES"],
            ["HRANDFIELD", "h", "x"], ["HRANDFIELD", "h", "1", "WITHVALUES", "x"],
            ["SADD", "one", "m"], ["SRANDMEMBER", "one", "-3"], ["SRANDMEMBER", "one", "3"],
            ["SRANDMEMBER", "one", i64max], ["SRANDMEMBER", "one", i64min],
            ["HSET", "oneh", "f", "v"], ["HRANDFIELD", "oneh", "-3", "WITHVALUES"],
            ["HRANDFIELD", "oneh", "3", "WITHVALUES"], ["HRANDFIELD", "oneh"],
            ["SPOP", "one", i64max], ["EXISTS", "one"], ["SPOP", "one", i64max],
            ["SPOP", "one", "-0"], ["SPOP", "one", "01"], ["SPOP", "one", ""],
            ["SADD", "ints", "1", "2", "3"], ["OBJECT", "ENCODING", "ints"],
            ["SADD", "ints", "x"], ["OBJECT", "ENCODING", "ints"],
            ["OBJECT", "ENCODING", "h"], ["OBJECT", "ENCODING", "oneh"],
            ["OBJECT", "ENCODING", "nosuchkey"], ["OBJECT", "BOGUS", "h"], ["OBJECT", "ENCODING"],
            ["HSCAN", "oneh", "18446744073709551615"], ["SSCAN", "ints", "18446744073709551616"],
            ["HSCAN", "oneh", "+0"], ["SSCAN", "ints", " 0"], ["SSCAN", "missing", "x"],
            ["SSCAN", "missing", "0", "COUNT", "0"], ["SSCAN", "ints", "0", "COUNT", "0"],
            ["SSCAN", "ints", "0", "MATCH"], ["HSCAN", "oneh", "0", "MATCH", "f", "COUNT", "1"],
            ["SINTERCARD", "1", "ints", "LIMIT", "0"], ["SINTERCARD", "1", "ints", "LIMIT", "2"],
            ["SINTERCARD", "2", "ints", "missing"], ["SINTERCARD", i64max, "ints"],
            ["SINTERCARD", "1", "ints", "LIMIT", "x"], ["SINTERCARD", "1", "ints", "LIMIT", "1", "LIMIT", "2"],
            ["SMOVE", "ints", "ints", "1"], ["SMOVE", "ints", "ints", "9"],
            ["SMOVE", "ints", "oneh", "1"], ["SMOVE", "nosuch", "oneh", "1"],
            ["SINTERSTORE", "dst", "ints", "missing"], ["SUNIONSTORE", "dst", "ints", "missing"],
            ["SCARD", "dst"], ["SDIFFSTORE", "dst", "dst", "ints"], ["EXISTS", "dst"],
            ["SUNIONSTORE", "oneh", "ints"], ["TYPE", "oneh"],
            ["SMISMEMBER", "ints", "1", "nope", "x"], ["HMGET", "h", "p", "nope"],
            ["HDEL", "oneh", "f"], ["HSETNX", "ints", "f", "v"], ["GETRANGE", "ints", "0", "1"],
            ["LCS", "ints", "h"], ["MGET", "ints", "h"], ["SETRANGE", "h", "0", ""],
            ["APPEND", "h", ""], ["RENAME", "h", "h2"], ["HGET", "h2", "i"], ["TYPE", "h2"],
            ["COPY", "h2", "ints"], ["COPY", "h2", "ints", "REPLACE"], ["TYPE", "ints"],
            ["SCAN", "0", "TYPE", "HASH", "MATCH", "int*"],
        ]
        self.assert_script_matches(s.port, red.port, script)

    def test_primary_follower_matches_redis(self):
        self.primary_follower_diff(Generator, DiffRunner, ("h0", "h1", "s0", "s1", "k"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
