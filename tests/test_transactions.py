"""Transactions (MULTI / EXEC / DISCARD / WATCH / UNWATCH) on real processes.

  test_script_matches_redis           a fixed script of edge cases, sent over two connections
                                      (one WATCHes, the other changes keys) to one replikv node
                                      and to a real redis-server, in RESP2 and RESP3: every
                                      reply must be the same bytes (queuing errors and EXECABORT,
                                      runtime errors inside EXEC, nested MULTI, WATCH inside
                                      MULTI, EXEC/DISCARD without MULTI, a refused EXEC, WATCH
                                      aborts by another client, by an expiry and by FLUSHALL,
                                      UNWATCH, RESET, connection commands queued among data
                                      commands)
  test_redis_py_pipelines_and_watch_retries
                                      redis-py's transactional pipeline (replies, an error
                                      inside EXEC) and its WATCH retry helper with 4 threads
                                      incrementing one key: no increment lost
  test_random_interleavings_match_redis
                                      3,000 random MULTI / EXEC / DISCARD / WATCH / UNWATCH and
                                      string/key commands (test_strings_diff's generator) over
                                      two connections, against redis-server: same bytes
  test_cluster_rules                  a 3-node primary cluster (test_cluster.Cluster) with a
                                      leaderless keyspace added: a transaction sent to a
                                      follower runs as a whole on the leader and is applied on
                                      every node; keys of two keyspaces -> CROSSSLOT and
                                      EXECABORT; a leaderless key -> an error naming the model;
                                      WATCH on a follower aborts EXEC when the change arrives by
                                      replication; transaction counters in INFO and /metrics
  test_watch_increments_lose_nothing  clients on every node increment one counter with
                                      WATCH / GET / MULTI / SET / EXEC (optimistic locking):
                                      the final value equals the number of EXECs that ran
  test_kill_leader_mid_transactions   clients on every node run transactions that INCR three
                                      keys of a group together and move amounts between bank
                                      keys; the leader is killed -9 mid-traffic and restarted.
                                      Then on EVERY node: each group's keys are equal (no
                                      partial transaction), at least as high as the last
                                      acknowledged EXEC's reply, and the bank total is
                                      unchanged.

Environment: REPLIKV_BIN (see harness.py); RKV_TXN_DIFF_SEED, RKV_TXN_DIFF_OPS.
"""

import collections
import os
import random
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import RespError  # noqa: E402
from test_cluster import KS, Cluster  # noqa: E402
from test_strings_diff import Conn, Generator, RedisServer  # noqa: E402

# (connection index, command). Connection 0 runs the transactions; connection 1 interferes.
SCRIPT = [
    (0, ["FLUSHALL"]),
    (0, ["MULTI"]), (0, ["SET", "a", "1"]), (0, ["INCR", "a"]), (0, ["GET", "a"]),
    (0, ["EXEC"]),
    (0, ["EXEC"]), (0, ["DISCARD"]),
    (0, ["MULTI"]), (0, ["MULTI"]), (0, ["SET", "b", "x"]), (0, ["EXEC"]),
    # Queuing errors doom the transaction.
    (0, ["MULTI"]), (0, ["NOSUCH", "x"]), (0, ["SET", "b", "y"]), (0, ["EXEC"]), (0, ["GET", "b"]),
    (0, ["MULTI"]), (0, ["SET", "b"]), (0, ["EXEC"]),
    (0, ["MULTI"]), (0, ["SAVE"]), (0, ["EXEC"]),
    (0, ["MULTI"]), (0, ["DISCARD", "x"]), (0, ["DISCARD"]),
    # A refused EXEC ends the transaction at once.
    (0, ["MULTI"]), (0, ["INCR", "a"]), (0, ["EXEC", "x"]), (0, ["EXEC"]), (0, ["GET", "a"]),
    # Runtime errors are replies in the array; the other commands still run.
    (0, ["MULTI"]), (0, ["INCR", "b"]), (0, ["SET", "c", "1"]), (0, ["HSET", "b", "f", "v"]),
    (0, ["INCRBY", "c", "x"]), (0, ["INCR", "c"]), (0, ["EXEC"]),
    (0, ["MULTI"]), (0, ["WATCH", "a"]), (0, ["EXEC"]),
    (0, ["MULTI"]), (0, ["EXEC"]),
    # Connection commands queued among data commands keep their places.
    (0, ["MULTI"]), (0, ["PING"]), (0, ["SET", "d", "1"]), (0, ["ECHO", "hi"]),
    (0, ["GET", "d"]), (0, ["PING", "x"]), (0, ["EXEC"]),
    (0, ["MULTI"]), (0, ["HSET", "h", "f", "v"]), (0, ["HGETALL", "h"]),
    (0, ["SADD", "s", "1", "2"]), (0, ["SCARD", "s"]), (0, ["SISMEMBER", "s", "2"]),
    (0, ["TTL", "h"]), (0, ["EXEC"]),
    (0, ["MULTI"]), (0, ["RESET"]), (0, ["EXEC"]),
    # WATCH: another client's change aborts; an unrelated key, or no change, does not.
    (0, ["WATCH", "w"]), (1, ["SET", "w", "1"]), (0, ["MULTI"]), (0, ["SET", "w", "2"]),
    (0, ["EXEC"]), (0, ["GET", "w"]),
    (0, ["WATCH", "w"]), (1, ["SET", "other", "1"]), (0, ["MULTI"]), (0, ["INCR", "w"]),
    (0, ["EXEC"]),
    (0, ["WATCH", "w", "x"]), (1, ["DEL", "x"]), (0, ["MULTI"]), (0, ["INCR", "w"]),
    (0, ["EXEC"]),
    (0, ["WATCH", "w"]), (1, ["INCR", "w"]), (0, ["UNWATCH"]), (0, ["MULTI"]), (0, ["INCR", "w"]),
    (0, ["EXEC"]),
    (0, ["WATCH", "w"]), (1, ["INCR", "w"]), (0, ["MULTI"]), (0, ["DISCARD"]), (0, ["MULTI"]),
    (0, ["INCR", "w"]), (0, ["EXEC"]),
    (0, ["WATCH", "w"]), (1, ["INCR", "w"]), (0, ["MULTI"]), (0, ["UNWATCH"]), (0, ["EXEC"]),
    (0, ["WATCH", "w"]), (1, ["INCR", "w"]), (0, ["RESET"]), (0, ["MULTI"]), (0, ["EXEC"]),
    (0, ["WATCH", "w"]), (0, ["SET", "w", "own"]), (0, ["MULTI"]), (0, ["GET", "w"]),
    (0, ["EXEC"]),
    (0, ["WATCH", "w"]), (1, ["HSET", "w2", "f", "v"]), (1, ["DEL", "w"]), (0, ["MULTI"]),
    (0, ["EXEC"]),
    (0, ["WATCH", "nokey"]), (1, ["GET", "nokey"]), (0, ["MULTI"]), (0, ["EXEC"]),
    # (FLUSHALL aborts only transactions watching keys that existed: docs/guarantees.md.)
    (1, ["SET", "w", "0"]), (0, ["WATCH", "w"]), (1, ["FLUSHALL"]), (0, ["MULTI"]),
    (0, ["PING"]), (0, ["EXEC"]),
    (0, ["WATCH", "w"]), (0, ["WATCH", "y"]), (1, ["SET", "w", "1"]), (0, ["MULTI"]),
    (0, ["EXEC"]),
    (0, ["WATCH"]), (0, ["UNWATCH", "x"]), (0, ["MULTI", "x"]),
]


def run_script(port, proto):
    conns = [Conn(port, proto), Conn(port, proto)]
    try:
        return [conns[i].call(cmd)[1] for i, cmd in SCRIPT]
    finally:
        for c in conns:
            c.close()


class ScriptTest(unittest.TestCase):
    def test_script_matches_redis(self):
        redis = RedisServer()
        self.addCleanup(redis.stop)
        node = harness.Server()
        self.addCleanup(node.cleanup)
        node.start()
        for proto in (2, 3):
            want = run_script(redis.port, proto)
            got = run_script(node.port, proto)
            diffs = [(SCRIPT[i], g, w) for i, (g, w) in enumerate(zip(got, want)) if g != w]
            self.assertEqual(diffs, [], f"RESP{proto}: (command, replikv, redis)")

    def test_redis_py_pipelines_and_watch_retries(self):
        """redis-py's transactional pipeline and its WATCH retry helper, unchanged."""
        try:
            import redis
        except ImportError:
            self.skipTest("redis-py is not installed")
        node = harness.Server()
        self.addCleanup(node.cleanup)
        node.start()
        r = redis.Redis(port=node.port, socket_timeout=10)
        with r.pipeline(transaction=True) as p:
            p.set("p", 1).incr("p").get("p").hset("h", "f", "v").hgetall("h")
            self.assertEqual(p.execute(), [True, 2, b"2", 1, {b"f": b"v"}])
        with r.pipeline(transaction=True) as p:
            p.set("s", "x").incr("s")
            with self.assertRaises(redis.ResponseError):
                p.execute()  # the INCR's error inside EXEC; the SET ran
        self.assertEqual(r.get("s"), b"x")
        r.set("n", 0)

        def bump(pipe):
            v = int(pipe.get("n"))
            pipe.multi()
            pipe.set("n", v + 1)

        def worker():
            c = redis.Redis(port=node.port, socket_timeout=10)
            for _ in range(100):
                c.transaction(bump, "n")

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(r.get("n"), b"400")  # every retry saw the others' increments

    def test_watched_key_expiring_aborts(self):
        node = harness.Server()
        self.addCleanup(node.cleanup)
        node.start()
        with node.raw() as c:
            self.assertEqual(c.call("SET", "e", "1", "PX", "100"), "OK")
            self.assertEqual(c.call("WATCH", "e"), "OK")
            time.sleep(0.2)
            self.assertEqual(c.call("MULTI"), "OK")
            self.assertEqual(c.call("EXEC"), None)


class RandomDiffTest(unittest.TestCase):
    """Random interleavings of MULTI / EXEC / DISCARD / WATCH / UNWATCH and data commands
    (test_strings_diff's generator) on two connections, replikv against redis-server: every
    reply the same bytes."""

    SEED = int(os.environ.get("RKV_TXN_DIFF_SEED", "1717"))
    OPS = int(os.environ.get("RKV_TXN_DIFF_OPS", "3000"))
    # Replies that depend on when a command ran (TTL) or on chance (RANDOMKEY, KEYS order).
    UNSTABLE = {"TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME", "RANDOMKEY", "KEYS"}

    def test_random_interleavings_match_redis(self):
        redis = RedisServer()
        self.addCleanup(redis.stop)
        node = harness.Server()
        self.addCleanup(node.cleanup)
        node.start()
        rng = random.Random(self.SEED)
        keys = [f"k{i}" for i in range(6)]
        gen = Generator(rng, keys, int(time.time() * 1000) + 10**9)

        def data_command():
            while True:
                args = gen.command()
                if str(args[0]).upper() not in self.UNSTABLE:
                    return args

        deadline = time.monotonic() + 30
        done = 0
        outcomes = collections.Counter()  # EXEC replies by kind
        while done < self.OPS and time.monotonic() < deadline:
            proto = rng.choice([2, 3])
            conns = [(Conn(node.port, proto), Conn(redis.port, proto)) for _ in range(2)]
            history = []
            for _ in range(200):
                r = rng.random()
                if r < 0.25:  # the other client writes
                    i, args = 1, data_command()
                elif r < 0.33:
                    i, args = 0, ["MULTI"]
                elif r < 0.41:
                    i, args = 0, ["EXEC"]
                elif r < 0.44:
                    i, args = 0, ["DISCARD"]
                elif r < 0.51:
                    i, args = 0, ["WATCH"] + rng.sample(keys, rng.randint(1, 2))
                elif r < 0.53:
                    i, args = 0, ["UNWATCH"]
                elif r < 0.55:
                    i, args = 0, rng.choice([["NOSUCH"], ["GET"], ["PING"], ["ECHO", "x"]])
                else:
                    i, args = 0, data_command()
                history.append((i, args))
                got, want = conns[i][0].call(args)[1], conns[i][1].call(args)[1]
                self.assertEqual(got, want, f"RESP{proto} seed {self.SEED}, after "
                                 f"{history[-12:]!r}")
                if args == ["EXEC"]:
                    outcomes["nil" if got in (b"*-1\r\n", b"_\r\n") else
                             "execabort" if got.startswith(b"-EXECABORT") else
                             "ran" if got.startswith(b"*") else "error"] += 1
                done += 1
            for a, b in conns:
                a.close()
                b.close()
        self.assertGreater(done, 500)
        self.assertTrue(outcomes["ran"] > 20 and outcomes["nil"] > 5 and
                        outcomes["execabort"] > 5, outcomes)


def leaderless_cluster():
    """A 3-node primary cluster (test_cluster's) with a leaderless keyspace `prefs` added."""
    c = Cluster()
    for s in c.nodes:
        with open(s.config_path, "a") as f:
            f.write('\n[[keyspace]]\nname = "prefs"\nprefix = "prefs:"\nmodel = "leaderless"\n'
                    'n = 3\nr = 2\nw = 2\n')
    return c


def info_field(server, field):
    with server.raw() as c:
        for line in str(c.call("INFO", "stats")).splitlines():
            if line.startswith(field + ":"):
                return int(line.split(":", 1)[1])
    raise AssertionError(f"no {field} in INFO stats")


def wait_for(pred, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


class ClusterTest(unittest.TestCase):
    def start_cluster(self, c):
        self.addCleanup(c.cleanup)
        c.start()
        return c

    def test_cluster_rules(self):
        c = self.start_cluster(leaderless_cluster())
        li = c.leader()
        fi = (li + 1) % 3
        F, L = c.nodes[fi], c.nodes[li]
        with F.raw() as f:
            # Through a follower: relayed to the leader as a whole, then applied everywhere.
            self.assertEqual(f.call("MULTI"), "OK")
            for cmd in (["SET", f"{KS}:t1", "5"], ["INCRBY", f"{KS}:t1", "2"],
                        ["GET", f"{KS}:t1"], ["INCR", f"{KS}:t2"], ["PING"]):
                self.assertEqual(f.call(*cmd), "QUEUED")
            self.assertEqual(f.call("EXEC"), ["OK", 7, "7", 1, "PONG"])
            c.wait_converged()
            for i in range(3):
                self.assertEqual(c.local_values(i, [f"{KS}:t1", f"{KS}:t2"]),
                                 {f"{KS}:t1": "7", f"{KS}:t2": "1"})
            # Keys of two replicated keyspaces: refused while queuing, EXEC aborts.
            self.assertEqual(f.call("MULTI"), "OK")
            self.assertEqual(f.call("SET", f"{KS}:t1", "1"), "QUEUED")
            err = f.call("SET", "other", "1")
            self.assertIsInstance(err, RespError)
            self.assertTrue(str(err).startswith("CROSSSLOT"), err)
            self.assertTrue(str(f.call("EXEC")).startswith("EXECABORT"))
            self.assertEqual(c.local_values(fi, [f"{KS}:t1"]), {f"{KS}:t1": "7"})
            # A leaderless key: an error naming the model.
            self.assertEqual(f.call("MULTI"), "OK")
            err = f.call("SET", "prefs:a", "1")
            self.assertIn("leaderless", str(err))
            self.assertTrue(str(f.call("EXEC")).startswith("EXECABORT"))
            self.assertIn("leaderless", str(f.call("WATCH", "prefs:a")))
            # A keyless data command has no keyspace to run in on a cluster.
            self.assertEqual(f.call("MULTI"), "OK")
            self.assertIsInstance(f.call("DBSIZE"), RespError)
            self.assertEqual(f.call("DISCARD"), "OK")
            # WATCHed keys count as keys of the transaction.
            self.assertEqual(f.call("WATCH", "other"), "OK")
            self.assertEqual(f.call("MULTI"), "OK")
            self.assertEqual(f.call("INCR", f"{KS}:t1"), "QUEUED")
            self.assertTrue(str(f.call("EXEC")).startswith("CROSSSLOT"))

            # WATCH on the follower; the change arrives by replication from the leader.
            self.assertEqual(f.call("WATCH", f"{KS}:w"), "OK")
            with L.raw() as l_conn:
                self.assertEqual(l_conn.call("SET", f"{KS}:w", "1"), "OK")
            wait_for(lambda: c.local_values(fi, [f"{KS}:w"])[f"{KS}:w"] == "1",
                     what="the follower to apply the change")
            self.assertEqual(f.call("MULTI"), "OK")
            self.assertEqual(f.call("SET", f"{KS}:w", "mine"), "QUEUED")
            self.assertEqual(f.call("EXEC"), None)
            # Unchanged: it runs.
            self.assertEqual(f.call("WATCH", f"{KS}:w"), "OK")
            self.assertEqual(f.call("MULTI"), "OK")
            self.assertEqual(f.call("SET", f"{KS}:w", "mine"), "QUEUED")
            self.assertEqual(f.call("EXEC"), ["OK"])
            # An empty transaction watching a primary key still orders its check in the log.
            self.assertEqual(f.call("WATCH", f"{KS}:w"), "OK")
            self.assertEqual(f.call("MULTI"), "OK")
            self.assertEqual(f.call("EXEC"), [])
        self.assertGreaterEqual(info_field(F, "transactions_executed"), 3)
        self.assertGreaterEqual(info_field(F, "transactions_aborted_watch"), 1)
        self.assertGreaterEqual(info_field(F, "transactions_execabort"), 2)
        self.assertIn("replikv_transactions_executed_total", F.http("/metrics")[2])

    def test_watch_increments_lose_nothing(self):
        c = self.start_cluster(Cluster())
        key = f"{KS}:counter"
        with c.nodes[c.leader()].raw() as conn:
            self.assertEqual(conn.call("SET", key, "0"), "OK")
        done = []
        errors = []
        deadline = time.monotonic() + 6

        def client(node):
            ran = 0
            try:
                with node.raw(timeout=20) as conn:
                    while time.monotonic() < deadline:
                        assert conn.call("WATCH", key) == "OK"
                        v = conn.call("GET", key)
                        if isinstance(v, RespError):
                            conn.call("UNWATCH")
                            continue
                        assert conn.call("MULTI") == "OK"
                        assert conn.call("SET", key, str(int(v) + 1)) == "QUEUED"
                        r = conn.call("EXEC")
                        if r == ["OK"]:
                            ran += 1
                        elif r != None:
                            errors.append(r)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)
            done.append(ran)

        threads = [threading.Thread(target=client, args=(c.nodes[i % 3],)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(errors, [])
        self.assertGreater(sum(done), 20)
        c.wait_converged()
        for i in range(3):
            self.assertEqual(c.local_values(i, [key])[key], str(sum(done)), f"n{i + 1}")

    def test_kill_leader_mid_transactions(self):
        c = self.start_cluster(Cluster())
        groups, bank, per_bank = 6, [f"{KS}:bank:{i}" for i in range(5)], 1000
        with c.nodes[c.leader()].raw() as conn:
            for k in bank:
                self.assertEqual(conn.call("SET", k, str(per_bank)), "OK")
        acked = [0] * groups  # the highest value an acknowledged EXEC returned, per group
        stop = threading.Event()
        stats = {"exec": 0, "failed": 0}
        partial = []  # EXEC replies showing a group's keys unequal

        def group_keys(g):
            return [f"{KS}:g{g}:{x}" for x in "xyz"]

        def client(g, rng):
            conn = None
            while not stop.is_set():
                try:
                    if conn is None:
                        node = rng.choice([s for s in c.nodes if s.alive()] or c.nodes)
                        conn = harness.RawClient(node.port, timeout=10)
                    if rng.random() < 0.5:
                        cmds = [["INCR", k] for k in group_keys(g)]
                    else:
                        a, b = rng.sample(bank, 2)
                        amount = str(rng.randint(1, 50))
                        cmds = [["DECRBY", a, amount], ["INCRBY", b, amount]]
                    conn.send(b"".join(harness.encode_command(*x)
                                       for x in [["MULTI"]] + cmds + [["EXEC"]]))
                    replies = [conn.read_reply() for _ in range(len(cmds) + 2)]
                    r = replies[-1]
                    if isinstance(r, list):
                        stats["exec"] += 1
                        if cmds[0][0] == "INCR":
                            if len(set(r)) != 1:  # one unit: the keys move together
                                partial.append((g, r))
                            acked[g] = max(acked[g], r[0])
                    else:
                        stats["failed"] += 1  # TRYAGAIN / TIMEOUT while the leader changes
                except (OSError, harness.ConnectionClosed):
                    stats["failed"] += 1  # the connection went down with its node
                    if conn:
                        conn.close()
                    conn = None
                    time.sleep(0.05)
            if conn:
                conn.close()

        threads = [threading.Thread(target=client, args=(g, random.Random(g)))
                   for g in range(groups)]
        for t in threads:
            t.start()
        time.sleep(2.5)
        li = c.leader()
        c.nodes[li].kill9()
        time.sleep(2.5)
        c.nodes[li].start()
        time.sleep(2.0)
        stop.set()
        for t in threads:
            t.join(30)
        self.assertEqual(partial, [])
        self.assertGreater(stats["exec"], 50, stats)
        self.assertGreater(stats["failed"], 0, stats)  # the kill interrupted transactions
        c.wait_converged()
        keys = bank + [k for g in range(groups) for k in group_keys(g)]
        for i in range(3):
            got = c.local_values(i, keys)
            self.assertEqual(sum(int(got[k]) for k in bank), per_bank * len(bank), f"n{i + 1}")
            for g in range(groups):
                vals = [got[k] for k in group_keys(g)]
                self.assertEqual(len(set(vals)), 1, f"n{i + 1}: partial transaction {vals}")
                self.assertGreaterEqual(int(vals[0] or 0), acked[g], f"n{i + 1} lost an EXEC")


if __name__ == "__main__":
    unittest.main()
