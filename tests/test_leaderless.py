"""`leaderless` keyspaces (Dynamo-style, src/node/leaderless_engine.h) on 5-node clusters of real
processes: one keyspace `lk` (prefix `lk:`), N=3 R=2 W=2, sloppy quorum, blocking read repair.

  test_a_basics_across_nodes        a write through any node is read through every node at QUORUM
                                    and ALL; SIBLINGS shows one version; MGET/EXISTS/TTL/DEL;
                                    CONSISTENCY shows and changes; INCR and SET NX are refused
                                    with their explanation; RING lists the 5 nodes with primary
                                    shares summing to 1 and replica shares to 3; INFO and /status
  test_b_kill9_under_quorum_load    kill -9 of a node under QUORUM writes through the other four:
                                    no write that starts after every survivor's failure detector
                                    marks it down fails (a few before that may); hints pile up on
                                    the survivors; after a restart they drain to 0; then every
                                    key's last acknowledged value (or a later timed-out one) is
                                    read at ALL through every node, and at ONE through the
                                    restarted node (its own copy for the keys it replicates)
  test_c_wiped_node_refilled_by_repair   a node's data dir is deleted; REPAIR on it (periodic
                                    anti-entropy practically off) brings back exactly the objects
                                    it held, with their values
  test_d_wiped_node_refilled_by_anti_entropy   the same without REPAIR, anti_entropy_ms = 500
  test_e_delete_while_replica_down  keys deleted at QUORUM while one of their replicas is
                                    stopped stay deleted once it returns (hints, then REPAIR):
                                    ALL reads through every node and its own copy give nil
  test_f_delete_while_replica_down_no_hints   the same with hints refused (max_hint_bytes = 0):
                                    only anti-entropy carries the tombstones to the old copies
  test_g_sigstop_replica            SIGSTOP of one node for 5 s under QUORUM reads and writes
                                    through the other four: no client error; latency percentiles
                                    before / during / after are printed, not asserted
  test_h_siblings_from_contexts     conflict = "siblings": two writes naming the same context
                                    through two replicas become 2 siblings; a write with the
                                    context SIBLINGS returned replaces both; a stale context
                                    creates a sibling again
  test_i_lww_concurrent_writes      conflict = "lww": a write through replica A while replica B is
                                    stopped, then one through B when it returns (hints refused,
                                    anti-entropy off, so B never saw A's): one version survives,
                                    the newer, and lww_discarded counts the loss (>= 1, at most
                                    once per replica that held the loser)
  test_j_lww_discard_counted_when_resolved_elsewhere   the same, but LWW drops x at the third
                                    replica while x's coordinator is down; it meets the winner
                                    later in a read it coordinates: the loss is still counted
  test_k_timed_out_relay_not_applied_after_later_write   a SET relayed (by a non-replica) to a
                                    home replica killed -9 a moment before times out; a later
                                    SET of the key is acknowledged; when the killed node returns,
                                    the acknowledged value must stay (the first SET may have
                                    happened before it, never after it)

Every node is a harness.Server (free loopback ports, private data dir, stopped by pid). Keys are
placed on the ring by the server; a test that needs a key's home replicas finds them by writing
the key at ALL and seeing which nodes' INFO `objects` grew (nothing else writes meanwhile).
"""

import os
import secrets
import shutil
import signal
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import RespError  # noqa: E402

KS = "lk"
NODES = 5
AE_OFF = 100_000_000  # anti_entropy_ms large enough that no periodic comparison runs in a test


def node_config(i, ports, secret, leaderless, keyspaces):
    """node-i TOML; `ports` = [(port, peer_port)], `keyspaces` = [(name, {key: value})]."""
    t = [f'[node]\nid = "n{i + 1}"\nfsync = "batch"\n', f'[cluster]\nsecret = "{secret}"\n']
    for j, (port, peer) in enumerate(ports):
        t.append(f'[[cluster.node]]\nid = "n{j + 1}"\nhost = "127.0.0.1"\nport = {port}\n'
                 f'peer_port = {peer}\n')
    t.append("[leaderless]\n" + "".join(f"{k} = {v}\n" for k, v in leaderless.items()))
    t.append('[[keyspace]]\nname = "default"\nmodel = "primary"\n')
    for name, opts in keyspaces:
        kv = dict({"n": 3, "r": 2, "w": 2, "sloppy": "true", "read_repair": '"blocking"',
                   "conflict": '"lww"'}, **opts)
        t.append(f'[[keyspace]]\nname = "{name}"\nprefix = "{name}:"\nmodel = "leaderless"\n'
                 + "".join(f"{k} = {v}\n" for k, v in kv.items()))
    return "\n".join(t)


def parse_info_line(text, ks):
    """The `keyspace_<ks>:model=leaderless,...` line of INFO keyspace_replication as a dict."""
    for line in text.splitlines():
        if line.startswith(f"keyspace_{ks}:model="):
            return dict(f.split("=", 1) for f in line.split(":", 1)[1].split(","))
    raise AssertionError(f"no leaderless line for {ks} in INFO keyspace_replication:\n{text}")


def percentile(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


class LeaderlessCluster:
    """NODES replikv processes with leaderless keyspaces. Node i is self.nodes[i] (id n<i+1>)."""

    def __init__(self, leaderless=None, keyspaces=((KS, {}),), n=NODES):
        ports = [(harness.free_port(), harness.free_port()) for _ in range(n)]
        secret = secrets.token_hex(16)
        self.ks = keyspaces[0][0]  # the keyspace INFO is read from unless told otherwise
        self.nodes = []
        for i in range(n):
            cfg = node_config(i, ports, secret, leaderless or {}, keyspaces)
            s = harness.Server(fsync="batch", config=cfg)
            s.port, s.admin_port = ports[i][0], harness.free_port()
            self.nodes.append(s)

    def start(self):
        for s in self.nodes:
            s.start()
        self.wait_states({}, timeout=15)
        return self

    def cleanup(self):
        for s in self.nodes:
            if s.alive():
                try:
                    os.kill(s.pid, signal.SIGCONT)  # a test that failed while a node was frozen
                except OSError:
                    pass
            s.cleanup()

    def logs(self):
        return "\n".join(f"--- n{i + 1} log tail ---\n{s.log_tail(15)}"
                         for i, s in enumerate(self.nodes))

    # ---- talking to nodes ------------------------------------------------------------------
    def call(self, i, *args, consistency=None, timeout=10):
        with self.nodes[i].raw(timeout=timeout) as c:
            if consistency:
                assert c.call("CONSISTENCY", consistency) == "OK"
            return c.call(*args)

    def calls(self, i, commands, consistency=None, timeout=20):
        """Pipelines `commands` (tuples) on one connection to node i; returns the replies."""
        out = []
        with self.nodes[i].raw(timeout=timeout) as c:
            if consistency:
                assert c.call("CONSISTENCY", consistency) == "OK"
            for start in range(0, len(commands), 200):
                chunk = commands[start:start + 200]
                c.send(b"".join(harness.encode_command(*cmd) for cmd in chunk))
                out += [c.read_reply() for _ in chunk]
        return out

    def info(self, i, ks=None):
        text = self.call(i, "INFO", "keyspace_replication")
        return parse_info_line(str(text), ks or self.ks)

    def objects(self, i, ks=None):
        return int(self.info(i, ks)["objects"])

    def stat_sum(self, field, nodes=None, ks=None):
        nodes = range(len(self.nodes)) if nodes is None else nodes
        return sum(int(self.info(i, ks)[field]) for i in nodes)

    def wait_states(self, expect, timeout=20, observers=None):
        """Waits until every live observer's failure detector shows each node as `expect`
        says (node index -> "up"/"down"; nodes not named: "up" when alive). Returns the time."""
        observers = [i for i in (observers or range(len(self.nodes))) if self.nodes[i].alive()]
        want = {j: expect.get(j, "up" if self.nodes[j].alive() else "down")
                for j in range(len(self.nodes))}
        deadline = time.monotonic() + timeout
        last = {}
        while time.monotonic() < deadline:
            ok = True
            for i in observers:
                f = self.info(i)
                last[i] = {j: f.get(f"node_n{j + 1}") for j in want if j != i}
                ok &= all(last[i][j] == want[j] for j in last[i])
            if ok:
                return time.monotonic()
            time.sleep(0.05)
        raise AssertionError(f"failure detectors did not reach {want} in {timeout}s: {last}")

    def wait_stat(self, i, field, pred, timeout, what, ks=None):
        deadline = time.monotonic() + timeout
        f = None
        while time.monotonic() < deadline:
            f = self.info(i, ks)
            if pred(int(f[field])):
                return int(f[field])
            time.sleep(0.05)
        raise AssertionError(f"n{i + 1}: {what} not reached in {timeout}s ({field}={f[field]}); "
                             f"INFO: {f}\n{self.nodes[i].log_tail()}")

    def wait_peer_flushed(self, i, j, timeout=20):
        """Waits until node i's link to node j is up with nothing queued (what i sent j while j
        was away has been written to it)."""
        deadline = time.monotonic() + timeout
        line = None
        while time.monotonic() < deadline:
            text = str(self.call(i, "INFO", "keyspace_replication"))
            line = next((x for x in text.splitlines() if x.startswith(f"peer_n{j + 1}:")), None)
            if line:
                f = dict(p.split("=", 1) for p in line.split(":", 1)[1].split(","))
                if f.get("connected") == "1" and f.get("queued_frames") == "0":
                    return
            time.sleep(0.05)
        raise AssertionError(f"n{i + 1}'s queue to n{j + 1} did not drain in {timeout}s: {line}")

    def homes_of(self, key, value, via=0, ks=None):
        """Writes key=value at ALL (through node `via`) and returns the indexes of the nodes
        whose object count grew: the key's home replicas. The key must be new and nothing else
        may write meanwhile."""
        before = [self.objects(i, ks) for i in range(len(self.nodes))]
        r = self.call(via, "SET", key, value, consistency="ALL")
        assert r == "OK", f"SET {key} at ALL: {r!r}"
        after = [self.objects(i, ks) for i in range(len(self.nodes))]
        homes = [i for i in range(len(self.nodes)) if after[i] > before[i]]
        assert len(homes) == 3, f"{key} is held by {homes} (objects {before} -> {after})"
        return homes


class LeaderlessTestCase(unittest.TestCase):
    def make_cluster(self, **kw):
        # Ports are picked free but only bound when the servers start; a test running in
        # parallel may take one meanwhile. A cluster that fails to start, or whose nodes do not
        # all see each other at start, is torn down and started again on fresh ports.
        for attempt in range(3):
            c = LeaderlessCluster(**kw)
            self.addCleanup(c.cleanup)
            try:
                c.start()
                return c
            except (AssertionError, RuntimeError):  # not up, or "Address already in use"
                if attempt == 2:
                    raise
                print("\n[cluster] did not come up; retrying on fresh ports", file=sys.stderr)
                c.cleanup()


class Load:
    """Client threads doing SET (and GET when `reads`) at a consistency level on keys of their
    own, each through one node of `targets`. Per key: the last acknowledged value, and the values
    of later writes whose outcome is unknown (TIMEOUT, lost connection): any of those may be what
    a read returns. Every request is recorded as (invoke time, latency, error or None)."""

    def __init__(self, cluster, targets, threads=4, keys=25, consistency="QUORUM", reads=False,
                 prefix=f"{KS}:load"):
        self.cluster, self.targets = cluster, targets
        self.nkeys, self.consistency, self.reads, self.prefix = keys, consistency, reads, prefix
        self.acked = {}  # key -> last acknowledged value
        self.maybe = {}  # key -> values written after it with an unknown outcome
        self.ops = []  # (invoke monotonic, latency s, op, error or None)
        self.lock = threading.Lock()
        self.stop_ev = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(w,), daemon=True)
                        for w in range(threads)]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def finish(self):
        self.stop_ev.set()
        for t in self.threads:
            t.join(30)
        assert not any(t.is_alive() for t in self.threads), "a client thread hung"

    def key(self, w, j):
        return f"{self.prefix}:{w}:{j}"

    def run(self, w):
        node = self.targets[w % len(self.targets)]
        c, seq = None, 0
        while not self.stop_ev.is_set():
            j = seq % self.nkeys
            k, v = self.key(w, j), f"v{w}-{seq}"
            read = self.reads and seq % 2 == 1
            t0 = time.monotonic()
            try:
                if c is None:
                    c = self.cluster.nodes[node].raw(timeout=10)
                    if c.call("CONSISTENCY", self.consistency) != "OK":
                        raise ValueError("CONSISTENCY refused")
                r = c.call("GET", k) if read else c.call("SET", k, v)
            except (OSError, harness.ConnectionClosed, ValueError) as e:
                r = RespError(f"connection: {e!r}")
                if c:
                    c.close()
                c = None
            lat = time.monotonic() - t0
            err = None
            with self.lock:
                if read:
                    ok = {self.acked.get(k)} | set(self.maybe.get(k, []))
                    if isinstance(r, RespError):
                        err = str(r)
                    elif r not in ok:
                        err = f"GET {k} returned {r!r}, expected one of {sorted(map(str, ok))}"
                elif r == "OK":
                    self.acked[k], self.maybe[k] = v, []
                else:
                    err = str(r)
                    if not str(r).startswith("UNAVAILABLE"):  # UNAVAILABLE: not applied
                        self.maybe.setdefault(k, []).append(v)
                self.ops.append((t0, lat, "GET" if read else "SET", err))
            if err:
                time.sleep(0.01)
            seq += 1
        if c:
            c.close()

    def errors(self, since=None, until=None):
        return [(t, e) for t, _, _, e in self.ops
                if e and (since is None or t >= since) and (until is None or t < until)]

    def latencies(self, since, until):
        return [lat for t, lat, _, e in self.ops if since <= t < until and not e]

    def allowed(self, k):
        return {self.acked.get(k)} | set(self.maybe.get(k, []))

    def keys(self):
        return [self.key(w, j) for w in range(len(self.threads)) for j in range(self.nkeys)]


class LeaderlessTest(LeaderlessTestCase):
    # ---- 1 -------------------------------------------------------------------------------
    def test_a_basics_across_nodes(self):
        c = self.make_cluster()
        keys = {}
        for i in range(NODES):
            k, v = f"{KS}:basic{i}", f"value-{i}"
            self.assertEqual(c.call(i, "SET", k, v), "OK")
            keys[k] = v
        ks = sorted(keys)
        for j in range(NODES):
            for level in ("QUORUM", "ALL"):
                got = c.calls(j, [("GET", k) for k in ks], consistency=level)
                self.assertEqual(got, [keys[k] for k in ks], f"GET at {level} through n{j + 1}")
                self.assertEqual(c.call(j, "MGET", *ks, f"{KS}:absent", consistency=level),
                                 [keys[k] for k in ks] + [None])
                self.assertEqual(c.call(j, "EXISTS", *ks, f"{KS}:absent", consistency=level),
                                 len(ks))
            for k in ks:
                ctx, versions = c.call(j, "SIBLINGS", k, consistency="ALL")
                self.assertTrue(ctx, "SIBLINGS gave an empty context for a stored key")
                self.assertEqual(len(versions), 1, f"SIBLINGS {k} through n{j + 1}: {versions}")
                value, hlc, dot, expire = versions[0]
                self.assertEqual((value, expire), (keys[k], 0))
                self.assertGreater(hlc, 0)
                self.assertRegex(dot, r"^[0-9a-f]+:[0-9]+$")
        self.assertEqual(c.call(0, "SIBLINGS", f"{KS}:absent")[1], [])

        # TTL travels with the value; DEL counts live keys and is seen everywhere.
        self.assertEqual(c.call(1, "SET", f"{KS}:ttl", "t", "EX", "100"), "OK")
        for j in range(NODES):
            self.assertIn(c.call(j, "TTL", f"{KS}:ttl", consistency="ALL"), range(95, 101))
            self.assertEqual(c.call(j, "TTL", f"{KS}:basic0", consistency="ALL"), -1)
            self.assertEqual(c.call(j, "PTTL", f"{KS}:absent", consistency="ALL"), -2)
        self.assertEqual(c.call(2, "DEL", f"{KS}:basic0", f"{KS}:basic1", f"{KS}:absent"), 2)
        for j in range(NODES):
            self.assertEqual(c.call(j, "MGET", f"{KS}:basic0", f"{KS}:basic1",
                                    consistency="ALL"), [None, None])

        # CONSISTENCY is per connection.
        with c.nodes[3].raw() as conn:
            self.assertEqual(conn.call("CONSISTENCY"), "DEFAULT")
            for level in ("ONE", "TWO", "THREE", "QUORUM", "ALL", "ANY"):
                self.assertEqual(conn.call("CONSISTENCY", level.lower()), "OK")
                self.assertEqual(conn.call("CONSISTENCY"), level)
            self.assertEqual(conn.call("SET", f"{KS}:any", "a"), "OK")  # ANY: writes
            err = conn.call("GET", f"{KS}:any")
            self.assertIsInstance(err, RespError)
            self.assertIn("ANY applies to writes only", str(err))
            self.assertIsInstance(conn.call("CONSISTENCY", "MOST"), RespError)
            self.assertEqual(conn.call("CONSISTENCY"), "ANY", "a bad level changed the setting")
            self.assertEqual(conn.call("CONSISTENCY", "DEFAULT"), "OK")
            self.assertEqual(conn.call("CONSISTENCY"), "DEFAULT")
            self.assertEqual(conn.call("GET", f"{KS}:any"), "a")
        with c.nodes[4].raw() as conn:
            self.assertEqual(conn.call("CONSISTENCY"), "DEFAULT", "CONSISTENCY leaked across "
                             "connections")

        # Read-modify-write commands are refused with the reason, and change nothing.
        for cmd in (("INCR", f"{KS}:basic2"), ("INCRBY", f"{KS}:basic2", "5"),
                    ("DECR", f"{KS}:basic2")):
            err = c.call(0, *cmd)
            self.assertIsInstance(err, RespError, cmd)
            self.assertIn(f"{cmd[0]} is not available on leaderless keyspace '{KS}'", str(err))
            self.assertIn("primary keyspace", str(err))
        err = c.call(0, "SET", f"{KS}:basic2", "x", "NX")
        self.assertIsInstance(err, RespError)
        self.assertIn("CONTEXT", str(err))
        self.assertIsInstance(c.call(0, "APPEND", f"{KS}:basic2", "x"), RespError)
        self.assertEqual(c.call(0, "GET", f"{KS}:basic2", consistency="ALL"), keys[f"{KS}:basic2"])

        # RING: every node sees 5 members; shares sum to 1 (first replica) and N (any replica).
        for j in range(NODES):
            ring = c.call(j, "RING")
            self.assertEqual(len(ring), 1, ring)
            name, n, members = ring[0]
            self.assertEqual((name, n), (KS, 3))
            self.assertEqual(sorted(m[0] for m in members), [f"n{i + 1}" for i in range(NODES)])
            self.assertTrue(all(m[1] == 64 for m in members), members)
            self.assertAlmostEqual(sum(float(m[2]) for m in members), 1.0, delta=0.002)
            self.assertAlmostEqual(sum(float(m[3]) for m in members), 3.0, delta=0.006)
            states = {m[0]: m[4] for m in members}
            self.assertEqual(states.pop(f"n{j + 1}"), "self")
            self.assertEqual(set(states.values()), {"up"}, ring)

        # INFO and /status describe the engine.
        f = c.info(0)
        self.assertEqual((f["n"], f["r"], f["w"], f["sloppy"], f["conflict"]),
                         ("3", "2", "2", "true", "lww"))
        held = sum(c.objects(i) for i in range(NODES))
        # basic0..4, ttl, any, and absent: a DEL leaves a tombstone even where nothing was.
        self.assertEqual(held, 3 * (len(keys) + 3), "each key lives on 3 nodes")
        engines = c.nodes[0].status()["engines"]
        mine = [e for e in engines if e["keyspace"] == KS]
        self.assertEqual(len(mine), 1, engines)
        self.assertEqual(mine[0]["model"], "leaderless")

        # KEYS, SCAN and DBSIZE list the cluster's live leaderless keys from any node (each node
        # replicates only 3/5 of them; deleted ones stay hidden behind their tombstones).
        live = sorted([f"{KS}:basic2", f"{KS}:basic3", f"{KS}:basic4", f"{KS}:ttl", f"{KS}:any"])
        for j in range(NODES):
            self.assertEqual(sorted(c.call(j, "KEYS", f"{KS}:*")), live, f"KEYS through n{j + 1}")
            seen, cursor, calls = [], "0", 0
            while True:
                cursor, batch = c.call(j, "SCAN", cursor, "MATCH", f"{KS}:*", "COUNT", "5")
                seen += batch
                calls += 1
                self.assertLess(calls, 5000)
                if cursor == "0":
                    break
            self.assertEqual(sorted(seen), live, f"SCAN through n{j + 1}")
            self.assertEqual(c.call(j, "DBSIZE"), len(live), f"DBSIZE through n{j + 1}")
        self.assertEqual(c.stat_sum("write_timeouts") + c.stat_sum("unavailable"), 0)

    # ---- 2 -------------------------------------------------------------------------------
    def test_b_kill9_under_quorum_load(self):
        c = self.make_cluster(leaderless={"anti_entropy_ms": AE_OFF})  # hints do the work
        victim, others = NODES - 1, list(range(NODES - 1))
        load = Load(c, targets=others, threads=4, keys=25).start()
        time.sleep(1.5)
        t_kill = time.monotonic()
        c.nodes[victim].kill9()
        t_detected = c.wait_states({victim: "down"}, timeout=15, observers=others)
        max_hints = 0
        while time.monotonic() < t_detected + 3:
            max_hints = max(max_hints, c.stat_sum("hints", others))
            time.sleep(0.2)
        load.finish()
        t_end = time.monotonic()
        early = load.errors(until=t_detected)
        late = load.errors(since=t_detected)
        writes = len(load.ops)
        print(f"\n[kill9] {writes} writes; failure detected by all 4 after "
              f"{t_detected - t_kill:.2f}s; {len(early)} errors before that, {len(late)} after; "
              f"max hints held {max_hints}", file=sys.stderr)
        for t, e in early[:5]:
            print(f"  early error at +{t - t_kill:.2f}s: {e[:140]}", file=sys.stderr)
        self.assertEqual(late[:5], [], f"{len(late)} writes failed after the failure detectors "
                         f"marked n{victim + 1} down")
        self.assertLessEqual(len(early), 12, f"too many errors before detection: {early[:5]}")
        self.assertGreater(len(load.acked), 0)
        self.assertGreater(len(load.latencies(t_detected, t_end)), 20,
                           "hardly any write was acknowledged while the node was down")
        self.assertGreater(max_hints, 0, "no hints held for the dead node")

        c.nodes[victim].start()
        c.wait_states({})
        deadline = time.monotonic() + 30
        while c.stat_sum("hints", others) > 0:
            self.assertLess(time.monotonic(), deadline,
                            f"hints did not drain in 30 s: {[c.info(i)['hints'] for i in others]}"
                            f"\n{c.logs()}")
            time.sleep(0.1)
        print(f"[kill9] hints drained {time.monotonic() - deadline + 30:.2f}s after restart; "
              f"delivered {c.stat_sum('hints_delivered', others)}", file=sys.stderr)

        for i in others:  # what they queued for the dead node has reached it
            c.wait_peer_flushed(i, victim)
        time.sleep(0.3)
        keys = load.keys()
        # The restarted node's own copies first (at ONE it answers from them for the keys it
        # replicates, and a read at ONE repairs nothing on it).
        for j in [victim] + others:
            for level in (("ONE",) if j == victim else ()) + ("ALL",):
                got = c.calls(j, [("GET", k) for k in keys], consistency=level)
                bad = [(k, g, sorted(map(str, load.allowed(k)))) for k, g in zip(keys, got)
                       if g not in load.allowed(k)]
                self.assertEqual(bad[:5], [], f"{len(bad)} keys wrong at {level} through "
                                 f"n{j + 1}")

    # ---- 3 -------------------------------------------------------------------------------
    def wipe_and_refill(self, c, use_repair):
        victim = 2
        keys = [f"{KS}:w{i}" for i in range(300)]
        for start in range(0, len(keys), 60):  # written at ALL: every home replica holds it
            chunk = keys[start:start + 60]
            got = c.calls((start // 60) % NODES, [("SET", k, k.upper()) for k in chunk],
                          consistency="ALL")
            self.assertEqual(got, ["OK"] * len(chunk))
        held = c.objects(victim)
        self.assertGreater(held, 60, "the wiped node replicates hardly any key")
        c.nodes[victim].stop()
        shutil.rmtree(c.nodes[victim].data_dir)
        c.nodes[victim].start()
        after_wipe = c.objects(victim)
        c.wait_states({})
        if use_repair:
            self.assertEqual(after_wipe, 0)
            # The check below is sensitive: at ONE the wiped node answers its keys from its own
            # (empty) store.
            got = c.calls(victim, [("GET", k) for k in keys], consistency="ONE")
            missing = sum(1 for g in got if g is None)
            self.assertEqual(missing, held, "a read at ONE did not show the wiped node's store")
            self.assertEqual(c.objects(victim), 0, "a read at ONE wrote to the wiped node")
            self.assertEqual(c.call(victim, "REPAIR"), 1)
        t0 = time.monotonic()
        c.wait_stat(victim, "objects", lambda n: n >= held, 30, f"{held} objects back")
        print(f"\n[wipe] {held} objects back on n{victim + 1} in {time.monotonic() - t0:.2f}s "
              f"({'REPAIR' if use_repair else 'anti_entropy_ms=500'}; {after_wipe} right after "
              f"restart); sync_keys sent by others "
              f"{c.stat_sum('sync_keys', [i for i in range(NODES) if i != victim])}",
              file=sys.stderr)
        self.assertEqual(c.objects(victim), held, "the refilled node holds other objects")
        if use_repair:  # every range it replicates was compared with both other replicas
            c.wait_stat(victim, "ms_since_ranges_in_sync",
                        lambda ms: 0 <= ms < (time.monotonic() - t0) * 1000, 10,
                        "every range compared with every replica since REPAIR")
        got = c.calls(victim, [("GET", k) for k in keys], consistency="ONE")
        bad = [(k, g) for k, g in zip(keys, got) if g != k.upper()]
        self.assertEqual(bad[:5], [], f"{len(bad)} keys wrong at ONE through the refilled node")
        for j in range(NODES):
            got = c.calls(j, [("GET", k) for k in keys], consistency="ALL")
            self.assertEqual(got, [k.upper() for k in keys], f"ALL through n{j + 1}")

    def test_c_wiped_node_refilled_by_repair(self):
        c = self.make_cluster(leaderless={"anti_entropy_ms": AE_OFF})
        self.wipe_and_refill(c, use_repair=True)

    def test_d_wiped_node_refilled_by_anti_entropy(self):
        c = self.make_cluster(leaderless={"anti_entropy_ms": 500})
        self.wipe_and_refill(c, use_repair=False)

    # ---- 4 -------------------------------------------------------------------------------
    def delete_while_down(self, c, hints):
        keys = [f"{KS}:d{i}" for i in range(12)]
        homes = {k: c.homes_of(k, "old-" + k) for k in keys}
        victim = homes[keys[0]][0]
        mine = [k for k in keys if victim in homes[k]]
        others = [i for i in range(NODES) if i != victim]
        c.nodes[victim].stop()  # its copies of `mine` stay on its disk
        c.wait_states({victim: "down"})  # writes are not relayed to it any more
        coordinator = homes[keys[0]][1]
        got = c.calls(coordinator, [("DEL", k) for k in keys], consistency="QUORUM")
        self.assertEqual(got, [1] * len(keys), "DEL at QUORUM with one replica down")
        for j in others:
            self.assertEqual(c.call(j, "MGET", *keys, consistency="QUORUM"), [None] * len(keys))
        c.nodes[victim].start()
        c.wait_states({})
        if hints:
            deadline = time.monotonic() + 20
            while c.stat_sum("hints", others) > 0:
                self.assertLess(time.monotonic(), deadline, "hints did not drain in 20 s")
                time.sleep(0.05)
            self.assertGreater(c.stat_sum("hints_delivered", others), 0)
        else:
            self.assertEqual(c.stat_sum("hints_stored"), 0)
            # Anti-entropy (500 ms) carries the tombstones: wait until the returned node's
            # own copies are deleted (read at ONE: answered from its store).
            deadline = time.monotonic() + 30
            while True:
                got = c.calls(victim, [("GET", k) for k in mine], consistency="ONE")
                if got == [None] * len(mine):
                    break
                self.assertLess(time.monotonic(), deadline,
                                f"anti-entropy did not delete {got} in 30 s: {c.info(victim)}")
                time.sleep(0.1)

        def check(when):
            got = c.calls(victim, [("GET", k) for k in mine], consistency="ONE")
            self.assertEqual(got, [None] * len(mine), f"{when}: n{victim + 1}'s own copies")
            for j in range(NODES):
                self.assertEqual(c.calls(j, [("GET", k) for k in keys], consistency="ALL"),
                                 [None] * len(keys), f"{when}: ALL through n{j + 1}")
                self.assertEqual(c.call(j, "EXISTS", *keys, consistency="ALL"), 0)
            for k in mine:
                ctx, versions = c.call(victim, "SIBLINGS", k, consistency="ALL")
                self.assertEqual([v[0] for v in versions], [None], f"{when}: SIBLINGS {k}")

        check("after the replica returned")
        self.repair_all(c)
        check("after REPAIR")
        return victim, mine

    def repair_all(self, c, timeout=20):
        """REPAIR on every node, then waits until they started most of its comparisons (each
        node compares ~190 ranges with 2 other replicas, 4 per 10 ms tick) and 1 s more."""
        t0 = time.monotonic()
        before = c.stat_sum("sync_rounds")
        for j in range(NODES):
            self.assertEqual(c.call(j, "REPAIR"), 1)
        while c.stat_sum("sync_rounds") < before + 1000:
            self.assertLess(time.monotonic(), t0 + timeout, "REPAIR started < 1000 comparisons")
            time.sleep(0.1)
        time.sleep(1)

    def test_e_delete_while_replica_down(self):
        c = self.make_cluster(leaderless={"anti_entropy_ms": AE_OFF})
        self.delete_while_down(c, hints=True)

    def test_f_delete_while_replica_down_no_hints(self):
        c = self.make_cluster(leaderless={"anti_entropy_ms": 500, "max_hint_bytes": 0})
        self.delete_while_down(c, hints=False)

    # ---- 5 -------------------------------------------------------------------------------
    def test_g_sigstop_replica(self):
        c = self.make_cluster()
        victim, others = NODES - 1, list(range(NODES - 1))
        load = Load(c, targets=others, threads=4, keys=25, reads=True)
        for w in range(4):  # every key exists before the load starts
            self.assertEqual(c.calls(w % 4, [("SET", load.key(w, j), "init")
                                             for j in range(25)], consistency="ALL"),
                             ["OK"] * 25)
            for j in range(25):
                load.acked[load.key(w, j)] = "init"
        load.start()
        time.sleep(2)
        t_stop = time.monotonic()
        os.kill(c.nodes[victim].pid, signal.SIGSTOP)
        try:
            time.sleep(5)
        finally:
            os.kill(c.nodes[victim].pid, signal.SIGCONT)
        t_cont = time.monotonic()
        time.sleep(2)
        load.finish()
        t_end = time.monotonic()
        for name, a, b in (("before", t_stop - 2, t_stop), ("stopped", t_stop, t_cont),
                           ("after", t_cont, t_end)):
            lat = load.latencies(a, b)
            print(f"\n[sigstop] {name:8s} {len(lat):5d} ok requests  p50 "
                  f"{percentile(lat, 50) * 1000:7.2f} ms  p99 {percentile(lat, 99) * 1000:7.2f} ms"
                  f"  max {max(lat, default=0) * 1000:7.1f} ms", file=sys.stderr, end="")
        errors = load.errors()
        print(f"\n[sigstop] {len(errors)} errors", file=sys.stderr)
        for t, e in errors[:5]:
            print(f"  error at +{t - t_stop:.2f}s after SIGSTOP: {e[:160]}", file=sys.stderr)
        # Writes relayed (by a node that is not a replica of the key) to the frozen replica at
        # the moment it froze cannot be answered: they fail with TIMEOUT (outcome unknown).
        # Relays sent after that go to another replica as soon as one relay is overdue
        # (request_timeout_ms / 20), so nothing may fail later than that.
        late = [(t, e) for t, e in errors if t - t_stop > 0.5]
        self.assertEqual(late, [], f"{len(errors)} client errors while one replica of three "
                         f"was frozen, {len(late)} of them more than 0.5 s after SIGSTOP")
        self.assertLessEqual(len(errors), 20, errors[:5])
        self.assertGreater(len(load.latencies(t_stop, t_cont)), 20)

    # ---- 6 -------------------------------------------------------------------------------
    def test_h_siblings_from_contexts(self):
        c = self.make_cluster(keyspaces=(("sk", {"conflict": '"siblings"'}),))
        k = "sk:cart"
        homes = c.homes_of(k, "v0")
        a, b = homes[0], homes[1]
        outside = next(i for i in range(NODES) if i not in homes)
        ctx0, versions = c.call(a, "SIBLINGS", k, consistency="ALL")
        self.assertEqual([v[0] for v in versions], ["v0"])
        self.assertEqual(c.call(a, "SET", k, "x", "CONTEXT", ctx0), "OK")
        self.assertEqual(c.call(b, "SET", k, "y", "CONTEXT", ctx0), "OK")
        ctx1 = None
        for j in range(NODES):
            ctx, versions = c.call(j, "SIBLINGS", k, consistency="ALL")
            self.assertEqual(sorted(v[0] for v in versions), ["x", "y"],
                             f"SIBLINGS through n{j + 1}: {versions}")
            self.assertEqual(len({v[2] for v in versions}), 2, "siblings share a dot")
            ctx1 = ctx1 or ctx
            self.assertEqual(ctx, ctx1, "replicas disagree on the context after an ALL read")
            self.assertIn(c.call(j, "GET", k, consistency="ALL"), ("x", "y"))
        self.assertGreaterEqual(max(int(c.info(i)["max_siblings"]) for i in homes), 2)

        # A write naming the context that showed both replaces both (relayed: `outside` is not
        # a replica of the key).
        self.assertEqual(c.call(outside, "SET", k, "z", "CONTEXT", ctx1), "OK")
        for j in range(NODES):
            ctx, versions = c.call(j, "SIBLINGS", k, consistency="ALL")
            self.assertEqual([v[0] for v in versions], ["z"], f"through n{j + 1}")
        # A stale context (it did not see z) makes the new write concurrent with z.
        self.assertEqual(c.call(b, "SET", k, "w", "CONTEXT", ctx1), "OK")
        ctx, versions = c.call(a, "SIBLINGS", k, consistency="ALL")
        self.assertEqual(sorted(v[0] for v in versions), ["w", "z"])
        # A write without CONTEXT replaces what its coordinator holds; here, both.
        self.assertEqual(c.call(a, "SET", k, "final", consistency="ALL"), "OK")
        for j in range(NODES):
            self.assertEqual([v[0] for v in c.call(j, "SIBLINGS", k, consistency="ALL")[1]],
                             ["final"])
        err = c.call(a, "SET", k, "bad", "CONTEXT", "not-a-context!")
        self.assertIsInstance(err, RespError)
        self.assertIn("CONTEXT", str(err))

    # ---- 7 -------------------------------------------------------------------------------
    def test_i_lww_concurrent_writes(self):
        # Hints refused and anti-entropy off: a stopped replica learns nothing of what was
        # written while it was away until it is read.
        c = self.make_cluster(leaderless={"anti_entropy_ms": AE_OFF, "max_hint_bytes": 0})
        k = f"{KS}:lww"
        homes = c.homes_of(k, "v0")
        a, b, third = homes
        c.nodes[b].stop()
        # Once a sees b down it sends x to a fallback (which refuses the hint), not to b: a
        # message to b itself would wait in a's peer queue and reach b when it returns.
        c.wait_states({b: "down"})
        self.assertEqual(c.call(a, "SET", k, "x", consistency="QUORUM"), "OK")  # a and third
        c.nodes[b].start()
        # b still holds v0: its write replaces v0 only, so it is concurrent with x. ALL: the
        # reply waits until a and third merged it.
        self.assertEqual(c.call(b, "SET", k, "y", consistency="ALL"), "OK")
        # x is lost where it met y: at a and at third. Every replica counts what it discards
        # (docs/guarantees.md): the sum is at least the writes lost, at most one per replica.
        discarded = [int(c.info(i)["lww_discarded"]) for i in range(NODES)]
        self.assertIn(sum(discarded), (1, 2), f"lww_discarded per node {discarded}")
        self.assertEqual(discarded[b], 0, f"b never held x: {discarded}")
        for j in range(NODES):
            ctx, versions = c.call(j, "SIBLINGS", k, consistency="ALL")
            self.assertEqual([v[0] for v in versions], ["y"], f"through n{j + 1}")
            self.assertEqual(c.call(j, "GET", k, consistency="ONE"), "y")
        self.assertEqual(max(int(c.info(i)["max_siblings"]) for i in range(NODES)), 1,
                         "an LWW object held siblings")
        # CONTEXT is not taken under LWW: a stale context does not create a sibling.
        self.assertEqual(c.call(third, "SET", k, "z", "CONTEXT", ctx), "OK")
        self.assertEqual(c.call(a, "SET", k, "zz", "CONTEXT", ctx), "OK")
        for j in range(NODES):
            self.assertEqual([v[0] for v in c.call(j, "SIBLINGS", k, consistency="ALL")[1]],
                             ["zz"])

    def test_j_lww_discard_counted_when_resolved_elsewhere(self):
        """x (coordinated by a) loses to a concurrent y at the third replica while a is down;
        a learns of y through a read it coordinates, where the answers already show x as
        superseded. x was still discarded by LWW: lww_discarded counts it (at least once, at
        most once per replica that held it)."""
        c = self.make_cluster(leaderless={"anti_entropy_ms": AE_OFF, "max_hint_bytes": 0})
        k = f"{KS}:lww2"
        a, b, third = c.homes_of(k, "v0")
        c.nodes[b].stop()
        c.wait_states({b: "down"})  # see test_i: x must not wait in a's queue for b
        self.assertEqual(c.call(a, "SET", k, "x", consistency="QUORUM"), "OK")  # a and third
        c.nodes[a].stop()
        c.wait_states({a: "down", b: "down"})
        t_start = time.monotonic()
        c.nodes[b].start()
        # b must see a down too, or y would wait in b's queue for a and reach it before the
        # read. A peer not heard from since the start counts as up for 5 gossip periods.
        c.wait_states({a: "down"}, observers=[b])
        time.sleep(max(0.0, t_start + 1.5 - time.monotonic()))
        # b never saw x; third holds x and takes y (concurrent, newer): x is lost there.
        self.assertEqual(c.call(b, "SET", k, "y", consistency="TWO"), "OK")
        c.nodes[a].start()
        c.wait_states({})
        self.assertEqual(c.call(a, "GET", k, consistency="ALL"), "y")
        for j in range(NODES):
            self.assertEqual(c.call(j, "GET", k, consistency="ONE"), "y")
        discarded = [int(c.info(i)["lww_discarded"]) for i in range(NODES)]
        self.assertIn(sum(discarded), (1, 2), f"lww_discarded per node {discarded}: one write "
                      "(x), held by two replicas, was discarded")

    # ---- regression ----------------------------------------------------------------------
    def test_k_timed_out_relay_not_applied_after_later_write(self):
        """A node that is not a replica of a key relays SET to the key's first home replica.
        That replica was just killed -9, so the relay times out ("outcome unknown"); once the
        failure detector marks it down, a second SET of the key through the same node is
        acknowledged. When the killed node returns, the acknowledged value must stay: the first
        SET may have happened before it, never after it (test_b and test_g hit the same thing
        under load)."""
        c = self.make_cluster(leaderless={"anti_entropy_ms": AE_OFF})
        k = f"{KS}:relay"
        homes = c.homes_of(k, "v0")
        relayer = next(i for i in range(NODES) if i not in homes)
        first = None
        for h in homes:  # the relay goes to the first home replica; find it by killing
            c.nodes[h].kill9()
            r = c.call(relayer, "SET", k, f"timed-out-{h}")
            if isinstance(r, RespError):
                self.assertTrue(str(r).startswith("TIMEOUT"), r)
                first = h
                break
            self.assertEqual(r, "OK")
            c.nodes[h].start()
            c.wait_states({})
        self.assertIsNotNone(first, "no relay through a killed home replica timed out")
        c.wait_states({first: "down"})
        self.assertEqual(c.call(relayer, "SET", k, "acked"), "OK")
        self.assertEqual(c.call(relayer, "GET", k, consistency="ALL"), "acked")
        c.nodes[first].start()
        c.wait_states({})
        c.wait_peer_flushed(relayer, first)
        time.sleep(0.3)
        for j in range(NODES):
            ctx, versions = c.call(j, "SIBLINGS", k, consistency="ALL")
            self.assertEqual([v[0] for v in versions], ["acked"],
                             f"through n{j + 1}; writes coordinated by the returned "
                             f"n{first + 1} since its restart: "
                             f"{c.info(first)['writes_coordinated']}; lww_discarded per node "
                             f"{[c.info(i)['lww_discarded'] for i in range(NODES)]}")


if __name__ == "__main__":
    unittest.main()
