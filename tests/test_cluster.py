"""Three-node replikv clusters as real processes: failover, linearizability, snapshots, errors.

Each node is a `replikv serve --config` process started through harness.Server (free loopback
ports, private data dir, SIGKILL by pid, cleanup always). The configs mirror what
`replikv cluster up` writes (src/cli/cluster.cc), with faster Raft timing so elections take
hundreds of milliseconds, not seconds.

  test_a_failover_keeps_acked_writes   kill -9 the `accounts` leader under load; every acked SET
                                       is readable from every node afterwards
  test_b_linearizable_history          GET/SET/INCR/CAS through all nodes while the leader is
                                       killed and restarted; `replikv check` must accept it
  test_c_snapshot_install_under_kill   a follower catches up by snapshot, is killed -9 during
                                       catch-up, restarts and holds all data
  test_d_forwarding_and_errors         follower forwarding, ROLE / INFO / STALENESS, and a
                                       bounded -TRYAGAIN/-TIMEOUT without a quorum
"""

import json
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import RespError  # noqa: E402

KS = "accounts"
FAST_RAFT = {"tick_ms": 20, "election_ticks": 10, "heartbeat_ticks": 2,
             "request_timeout_ms": 3000, "no_leader_wait_ms": 3000}
# For byte-for-byte comparisons with Redis: a leader change the test did not cause turns a
# reply into a TIMEOUT, and a loaded CI machine (sanitizers, parallel tests) can stall a
# process past the fast election timeout. Elections still follow a kill within ~2 s.
STEADY_RAFT = {"election_ticks": 50, "heartbeat_ticks": 2}


def cluster_config(i, nodes, secret, raft, extra=""):
    """node-i TOML in the shape `replikv cluster up` writes; `nodes` = [(port, peer_port)];
    `extra`: more TOML (keyspaces, settings) appended."""
    t = [f'[node]\nid = "n{i + 1}"\nfsync = "batch"\n', f'[cluster]\nsecret = "{secret}"\n']
    for j, (port, peer) in enumerate(nodes):
        t.append(f'[[cluster.node]]\nid = "n{j + 1}"\nhost = "127.0.0.1"\nport = {port}\n'
                 f'peer_port = {peer}\n')
    if raft:
        t.append("[raft]\n" + "".join(f"{k} = {v}\n" for k, v in raft.items()))
    t.append('[[keyspace]]\nname = "default"\nmodel = "primary"\n')
    t.append(f'[[keyspace]]\nname = "{KS}"\nprefix = "{KS}:"\nmodel = "primary"\n'
             'commit = "quorum"\nread = "linearizable"\n')
    t.append(extra)
    return "\n".join(t)


class Cluster:
    """N replikv processes forming one cluster. Node i is self.nodes[i] (a harness.Server)."""

    def __init__(self, n=3, raft=None, extra="", config=None):
        """`config`: the node TOML builder, called as cluster_config is (default
        cluster_config)."""
        config = config or cluster_config
        raft = dict(FAST_RAFT, **(raft or {}))
        ports = [(harness.free_port(), harness.free_port()) for _ in range(n)]
        self.peer_ports = [p for _, p in ports]
        secret = secrets.token_hex(16)
        self.nodes = []
        for i in range(n):
            s = harness.Server(fsync="batch", config=config(i, ports, secret, raft, extra))
            s.port, s.admin_port = ports[i][0], harness.free_port()
            self.nodes.append(s)

    def start(self):
        for s in self.nodes:
            s.start()
        return self

    def cleanup(self):
        for s in self.nodes:
            s.cleanup()

    def group(self, i, ks=KS):
        """The /status replication entry of keyspace `ks` on node i, or None if unreachable."""
        try:
            st = self.nodes[i].status()
        except (OSError, RuntimeError, ValueError):
            return None
        for g in st.get("replication", []):
            if g["keyspace"] == ks:
                return g
        return None

    def leader(self, ks=KS, timeout=15.0, exclude=()):
        """Index of the node that is leader of `ks` and acknowledged by every other live node."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            live = [i for i, s in enumerate(self.nodes) if s.alive() and i not in exclude]
            groups = {i: self.group(i, ks) for i in live}
            leaders = [i for i, g in groups.items() if g and g["role"] == "leader"]
            if len(leaders) == 1:
                name = f"n{leaders[0] + 1}"
                if all(g and g["leader"] == name for g in groups.values()):
                    return leaders[0]
            time.sleep(0.05)
        raise AssertionError(f"no agreed leader of {ks} within {timeout}s: "
                             + json.dumps({i: self.group(i, ks) for i in range(len(self.nodes))}))

    def wait_applied(self, i, index, ks=KS, timeout=30.0):
        """Waits until node i has applied at least `index` of keyspace `ks`."""
        deadline = time.monotonic() + timeout
        g = None
        while time.monotonic() < deadline:
            g = self.group(i, ks)
            if g and g["applied_index"] >= index:
                return g
            time.sleep(0.05)
        raise AssertionError(f"n{i + 1} did not apply up to {index} in {timeout}s: {g}\n"
                             + self.nodes[i].log_tail())

    def wait_converged(self, ks=KS, timeout=30.0):
        """Waits until every node applied what the leader has committed; returns that index."""
        li = self.leader(ks)
        commit = self.group(li, ks)["commit_index"]
        for i in range(len(self.nodes)):
            self.wait_applied(i, commit, ks, timeout)
        return commit

    def local_values(self, i, keys):
        """Values of `keys` as node i holds them locally (READMODE follower), pipelined."""
        out = {}
        with self.nodes[i].raw(timeout=20) as c:
            assert c.call("READMODE", "follower") == "OK"
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                c.send(b"".join(harness.encode_command("GET", k) for k in chunk))
                for k in chunk:
                    out[k] = c.read_reply()
        return out


class ClusterTestCase(unittest.TestCase):
    def make_cluster(self, **kw):
        c = Cluster(**kw)
        self.addCleanup(c.cleanup)
        c.start()
        return c

    def assertAllNodesHold(self, cluster, expected):
        keys = sorted(expected)
        for i in range(len(cluster.nodes)):
            got = cluster.local_values(i, keys)
            bad = [(k, expected[k], got[k]) for k in keys if got[k] != expected[k]]
            self.assertEqual(bad[:10], [], f"n{i + 1} lacks {len(bad)} of {len(keys)} acked writes")


class Writers:
    """Threads writing distinct keys through different nodes; records every acknowledged SET."""

    def __init__(self, cluster, n=6, prefix=f"{KS}:a"):
        self.cluster, self.prefix = cluster, prefix
        self.acked = {}
        self.ack_times = []  # monotonic time of every ack
        self.errors = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(w,), daemon=True) for w in range(n)]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(20)
        assert not any(t.is_alive() for t in self.threads), "a writer hung"

    def run(self, w):
        nodes = self.cluster.nodes
        target, i, c = w % len(nodes), 0, None
        while not self.stop.is_set():
            k, v = f"{self.prefix}:{w}:{i}", f"v{w}-{i}"
            try:
                if c is None:
                    c = harness.RawClient(nodes[target].port, timeout=5)
                r = c.call("SET", k, v)
            except (OSError, harness.ConnectionClosed, ValueError) as e:
                with self.lock:
                    self.errors.append(repr(e))
                if c:
                    c.close()
                c, target = None, (target + 1) % len(nodes)  # the node may be dead: move on
                time.sleep(0.02)
                i += 1
                continue
            if r == "OK":
                with self.lock:
                    self.acked[k] = v
                    self.ack_times.append(time.monotonic())
            else:
                with self.lock:
                    self.errors.append(str(r))
                time.sleep(0.01)
            i += 1
        if c:
            c.close()

    def acks_since(self, t):
        with self.lock:
            return sum(1 for x in self.ack_times if x > t)


class FailoverTest(ClusterTestCase):
    def test_a_failover_keeps_acked_writes(self):
        c = self.make_cluster()
        old = c.leader()
        w = Writers(c).start()
        try:
            time.sleep(1.5)
            self.assertGreater(w.acks_since(0), 0, f"no write acked before the kill: {w.errors[:5]}")
            t_kill = time.monotonic()
            c.nodes[old].kill9()
            new = c.leader(exclude=(old,), timeout=10)
            self.assertNotEqual(new, old)
            deadline = t_kill + 10
            while w.acks_since(t_kill) == 0 and time.monotonic() < deadline:
                time.sleep(0.02)
            self.assertGreater(w.acks_since(t_kill), 0,
                               f"no write acked within 10 s of the kill: {w.errors[-5:]}")
            window = min(x for x in w.ack_times if x > t_kill) - t_kill
            print(f"\n  failover: n{old + 1} killed, n{new + 1} leads, first ack after "
                  f"{window * 1000:.0f} ms", file=sys.stderr)
            time.sleep(1.0)
            c.nodes[old].start()
            time.sleep(1.0)
        finally:
            w.finish()
        commit = c.wait_converged(timeout=30)
        self.assertGreater(len(w.acked), 50)
        print(f"  {len(w.acked)} acked writes, commit index {commit}, {len(w.errors)} errors",
              file=sys.stderr)
        self.assertAllNodesHold(c, w.acked)


# ---- linearizability ------------------------------------------------------------------------

class History:
    def __init__(self, path):
        self.f = open(path, "w")
        self.lock = threading.Lock()
        self.t0 = time.monotonic_ns()

    def now(self):
        return (time.monotonic_ns() - self.t0) // 1000

    def add(self, rec):
        with self.lock:
            self.f.write(json.dumps(rec) + "\n")

    def close(self):
        self.f.close()


def lin_client(cluster, hist, proc, target, keys, stop, seed):
    """One client: random ops on `keys` through node `target`. After an `info` op the process
    takes a new id (its op may still be in flight) and a new connection."""
    rnd = random.Random(seed)
    c, pid, seen, n = None, proc, {}, 0
    while not stop.is_set():
        k = rnd.choice(keys)
        kind = rnd.choice(["get", "get", "set", "incr", "cas"])
        rec = {"process": pid, "op": kind, "key": k}
        n += 1
        if kind == "get":
            args = ("GET", k)
        elif kind == "set":
            rec["value"] = str(proc * 1_000_000 + n)
            args = ("SET", k, rec["value"])
        elif kind == "incr":
            args = ("INCR", k)
        elif seen.get(k) is not None:
            rec["value"], rec["expected"] = str(proc * 1_000_000 + n), seen[k]
            args = ("SET", k, rec["value"], "IFEQ", rec["expected"])
        else:
            kind = rec["op"] = "set"
            rec["value"] = str(proc * 1_000_000 + n)
            args = ("SET", k, rec["value"])
        rec["node"] = f"n{target + 1}"
        rec["invoke"] = hist.now()
        try:
            if c is None:
                c = harness.RawClient(cluster.nodes[target].port, timeout=4)
            r = c.call(*args)
        except (OSError, harness.ConnectionClosed, ValueError) as e:
            rec.update(complete=None, status="info", error=repr(e))
            if kind == "get":
                rec.pop("value", None)
            hist.add(rec)
            if c:
                c.close()
            c, pid = None, pid + 100
            target = (target + 1) % len(cluster.nodes)
            time.sleep(0.05)
            continue
        rec["complete"] = hist.now()
        if isinstance(r, RespError):
            msg = str(r.args[0])
            rec["error"] = msg
            if msg.startswith("TRYAGAIN") or (kind == "incr" and msg.startswith("ERR")):
                rec["status"] = "fail"
            else:
                rec["status"] = "info"  # TIMEOUT and anything unexpected: outcome unknown
                rec["complete"] = None
                pid += 100
            rec.pop("value", None) if kind in ("get", "incr") else None
            hist.add(rec)
            time.sleep(0.01)
            continue
        if kind == "get":
            rec["value"] = r
            seen[k] = r
            rec["status"] = "ok"
        elif kind == "incr":
            rec["value"] = str(r)
            seen[k] = str(r)
            rec["status"] = "ok"
        elif kind == "set":
            rec["status"] = "ok" if r == "OK" else "info"
            seen[k] = rec["value"]
        else:  # cas: OK = swapped, nil = comparison failed (nothing written)
            if r == "OK":
                rec["status"] = "ok"
                seen[k] = rec["value"]
            elif r is None:
                rec["status"] = "fail"
                seen.pop(k, None)
            else:
                rec["status"] = "info"
        if rec["status"] == "info":
            rec["complete"] = None
            pid += 100
        hist.add(rec)
    if c:
        c.close()


class LinearizabilityTest(ClusterTestCase):
    CLIENTS = 6
    KEYS = 20

    def test_b_linearizable_history(self):
        c = self.make_cluster()
        c.leader()
        tmp = tempfile.mkdtemp(prefix="rkv-lin-")
        if not os.environ.get("REPLIKV_KEEP"):
            self.addCleanup(shutil.rmtree, tmp, True)
        path = os.path.join(tmp, "history.jsonl")
        hist = History(path)
        keys = [f"{KS}:lin:{i}" for i in range(self.KEYS)]
        stop = threading.Event()
        threads = [threading.Thread(target=lin_client, daemon=True,
                                    args=(c, hist, p, p % 3, keys, stop, 1000 + p))
                   for p in range(self.CLIENTS)]
        for t in threads:
            t.start()
        try:
            time.sleep(2.0)
            victim = c.leader()
            c.nodes[victim].kill9()
            c.leader(exclude=(victim,), timeout=10)
            time.sleep(2.0)
            c.nodes[victim].start()
            time.sleep(2.0)
        finally:
            stop.set()
            for t in threads:
                t.join(15)
            hist.close()
        self.assertFalse(any(t.is_alive() for t in threads), "a client hung")
        with open(path) as f:
            recs = [json.loads(line) for line in f]
        ok = sum(1 for r in recs if r["status"] == "ok")
        print(f"\n  history: {len(recs)} ops, {ok} ok, "
              f"{sum(1 for r in recs if r['status'] == 'info')} info, killed n{victim + 1}",
              file=sys.stderr)
        self.assertGreater(ok, 100)
        r = subprocess.run([harness.replikv_bin(), "check", "--model", "linearizable", path],
                           capture_output=True, text=True, timeout=120)
        out = r.stdout + r.stderr
        if r.returncode == 3:
            self.skipTest("linearizability check inconclusive (exit 3, search budget): " + out[-500:])
        self.assertEqual(r.returncode, 0, f"replikv check rejected the history ({path}):\n"
                         + out[-3000:])


# ---- snapshots --------------------------------------------------------------------------------

def write_keys(port, items, timeout=20):
    """Pipelined SETs through one node; returns the keys whose SET was acknowledged."""
    acked = {}
    with harness.RawClient(port, timeout=timeout) as c:
        for start in range(0, len(items), 200):
            chunk = items[start:start + 200]
            c.send(b"".join(harness.encode_command("SET", k, v) for k, v in chunk))
            for k, v in chunk:
                if c.read_reply() == "OK":
                    acked[k] = v
    return acked


class SnapshotTest(ClusterTestCase):
    def test_c_snapshot_install_under_kill(self):
        c = self.make_cluster(raft={"snapshot_min_entries": 200, "snapshot_catchup_entries": 100})
        lead = c.leader()
        f = (lead + 1) % 3
        pad = "x" * 400
        acked = {}

        def behind_then_restart(tag):
            """Stops f, writes 4000 keys (the leader compacts once max(200, keys) entries have
            piled up: at indexes 3200 and 6400 here, so f can only catch up from a snapshot),
            restarts f; returns the commit index f must reach."""
            c.nodes[f].stop()
            items = [(f"{KS}:snap{tag}:{i}", f"{i}-{pad}") for i in range(4000)]
            got = write_keys(c.nodes[lead].port, items)
            self.assertEqual(len(got), len(items), "writes with 2 of 3 nodes up must succeed")
            acked.update(got)
            commit = c.group(lead)["commit_index"]
            c.nodes[f].start()
            return commit

        # Round 1 measures how long a snapshot catch-up takes on this machine.
        commit = behind_then_restart(1)
        t0 = time.monotonic()
        c.wait_applied(f, commit, timeout=60)
        catch_up = time.monotonic() - t0
        self.assertEqual(c.group(f)["snapshots_installed"], 1, f"n{f + 1} caught up otherwise")
        # Round 2 kills f -9 halfway through its catch-up, then restarts it.
        commit = behind_then_restart(2)
        time.sleep(catch_up / 2)
        g = c.group(f)
        c.nodes[f].kill9()
        print(f"\n  snapshot catch-up took {catch_up * 1000:.0f} ms; n{f + 1} killed -9 after "
              f"{catch_up * 500:.0f} ms at applied {g and g['applied_index']} / {commit}",
              file=sys.stderr)
        acked.update(write_keys(c.nodes[lead].port, [(f"{KS}:snap3:{i}", str(i)) for i in range(500)]))
        c.nodes[f].start()
        c.wait_converged(timeout=60)
        got = c.local_values(f, sorted(acked))
        bad = [k for k in acked if got[k] != acked[k]]
        self.assertEqual(bad[:5], [], f"n{f + 1} lacks {len(bad)} keys after snapshot catch-up")
        self.assertAllNodesHold(c, acked)

        # The leader compacted its own log: its image is a file of its own, the only one left
        # (older images go once the record naming the newer one is durable), and a kill -9 and
        # restart load the keyspace from it.
        images = os.path.join(c.nodes[lead].data_dir, "images")
        files = sorted(os.listdir(images))
        self.assertEqual(len([n for n in files if n.startswith(f"image.{KS}.")]), 1, files)
        self.assertEqual([n for n in files if n.endswith(".tmp")], [], files)
        c.nodes[lead].kill9()
        c.nodes[lead].start()
        c.wait_converged(timeout=60)
        self.assertAllNodesHold(c, acked)


# ---- forwarding and errors --------------------------------------------------------------------

class ForwardingTest(ClusterTestCase):
    def test_d_forwarding_and_errors(self):
        c = self.make_cluster()
        lead = c.leader()
        fol = (lead + 1) % 3
        with c.nodes[fol].raw() as r:
            self.assertEqual(r.call("SET", f"{KS}:fw", "1"), "OK")
            self.assertEqual(r.call("GET", f"{KS}:fw"), "1")  # linearizable read, forwarded
            self.assertEqual(r.call("INCR", f"{KS}:fw"), 2)
            self.assertIsNone(r.call("STALENESS"), "no follower read yet")
            self.assertEqual(r.call("READMODE", "follower"), "OK")
            commit = c.group(lead)["commit_index"]
            c.wait_applied(fol, commit)
            self.assertEqual(r.call("GET", f"{KS}:fw"), "2")
            st = r.call("STALENESS")
            self.assertIsInstance(st, list, st)
            st = dict(zip(st[::2], st[1::2]))
            self.assertEqual(st["keyspace"], KS)
            self.assertEqual(st["entries_behind"], 0)
            self.assertGreaterEqual(st["ms_since_leader_contact"], 0)
            self.assertLess(st["ms_since_leader_contact"], 2000)
        c.wait_converged()
        c.leader(ks="default")  # both primary keyspaces have a known leader
        for i in range(3):
            with c.nodes[i].raw() as r:
                role = {e[0]: e for e in r.call("ROLES")}
                e = role[KS]
                self.assertEqual(e[1], "leader" if i == lead else "follower", e)
                self.assertEqual(e[3], f"n{lead + 1}", e)
                self.assertGreaterEqual(e[2], 1)
                self.assertGreaterEqual(e[4], e[5] - 0)  # commit >= applied
                info = r.call("INFO", "keyspace_replication")
                self.assertIn(f"node_id:n{i + 1}", info)
                self.assertIn(f"keyspace_{KS}:role={e[1]}", info)
                self.assertIn(f"leader=n{lead + 1}", info)
                # ROLE and INFO replication in Redis's shape: a node that leads every primary
                # keyspace is a master listing its followers; any other is a replica of the
                # leader of the first primary keyspace (in ROLES order) it does not lead.
                groups = r.call("ROLES")
                redis_role = r.call("ROLE")
                info = r.call("INFO", "replication")
                not_led = [g for g in groups if g[1] != "leader"]
                if not not_led:
                    self.assertEqual(redis_role[0], "master", (redis_role, groups))
                    self.assertEqual(sorted(int(x[1]) for x in redis_role[2]),
                                     sorted(c.nodes[j].port for j in range(3) if j != i))
                    self.assertIn("role:master\r\nconnected_slaves:2", info)
                    self.assertGreaterEqual(redis_role[1], e[5])
                else:
                    master_port = c.nodes[int(not_led[0][3][1:]) - 1].port
                    self.assertEqual(redis_role[:4], ["slave", "127.0.0.1", master_port,
                                                      "connected"], (redis_role, groups))
                    self.assertIn(f"role:slave\r\nmaster_host:127.0.0.1\r\n"
                                  f"master_port:{master_port}\r\nmaster_link_status:up", info)
                    self.assertGreaterEqual(redis_role[4], e[5])
        # Two of three down: no quorum. A write must fail in bounded time with a retryable or
        # an outcome-unknown error, never hang or report success.
        for survivor_is_leader in (False, True):
            with self.subTest(survivor_is_leader=survivor_is_leader):
                for s in c.nodes:
                    if not s.alive():
                        s.start()
                lead = c.leader(timeout=15)
                keep = lead if survivor_is_leader else (lead + 1) % 3
                for i in range(3):
                    if i != keep:
                        c.nodes[i].kill9()
                with c.nodes[keep].raw(timeout=20) as r:
                    t0 = time.monotonic()
                    rep = r.call("SET", f"{KS}:noquorum", "x")
                    dt = time.monotonic() - t0
                    self.assertIsInstance(rep, RespError, rep)
                    self.assertRegex(rep.args[0], r"^(TRYAGAIN|TIMEOUT)", rep)
                    self.assertLess(dt, 10.0)
                    t0 = time.monotonic()
                    rep = r.call("GET", f"{KS}:fw")  # linearizable read cannot be confirmed
                    self.assertIsInstance(rep, RespError, rep)
                    self.assertRegex(rep.args[0], r"^(TRYAGAIN|TIMEOUT)", rep)
                    self.assertLess(time.monotonic() - t0, 10.0)
                    self.assertEqual(r.call("PING"), "PONG")
                    print(f"\n  no quorum (survivor {'leader' if survivor_is_leader else 'follower'}"
                          f"): SET answered in {dt * 1000:.0f} ms: {rep.args[0][:60]}",
                          file=sys.stderr)


class ForwardToDeadLeaderTest(ClusterTestCase):
    """BUG (documented, fails today): a write that a follower forwards to a leader that was
    just killed is held until request_timeout_ms (here 3000 ms; 5000 by default) even though
    a new leader is elected in a few hundred ms, often the forwarding node itself. Clients see
    the whole request timeout as write unavailability (bench/failover.sh: election ~0.5 s,
    window ~5 s). Expected: once the leader changes (or the peer link is known down), pending
    forwards end early: -TIMEOUT for writes that may have been delivered, -TRYAGAIN (or a
    re-send) for those that never left, so that clients retry against the new leader."""

    def test_e_forward_to_dead_leader_ends_with_election(self):
        c = self.make_cluster()
        lead = c.leader()
        fol = (lead + 1) % 3
        with c.nodes[fol].raw(timeout=20) as r:
            self.assertEqual(r.call("SET", f"{KS}:e", "1"), "OK")
            c.nodes[lead].kill9()
            t0 = time.monotonic()
            rep = r.call("SET", f"{KS}:e", "2")
            dt = time.monotonic() - t0
        new = c.leader(exclude=(lead,), timeout=10)
        print(f"\n  forwarded SET answered after {dt * 1000:.0f} ms ({rep!r}); new leader n{new + 1}",
              file=sys.stderr)
        self.assertLess(dt, 1.5, "the forwarded write waited for request_timeout_ms instead of "
                        "ending when the leader changed")


class ClusterPauseTest(ClusterTestCase):
    def test_whole_cluster_pause_keeps_its_leader(self):
        """Every node stopped at once (a suspended VM, a stalled host) for several election
        timeouts, then resumed: nobody heard from anybody meanwhile, which is no evidence of a
        failure. The leader must not fail its check-quorum, nor a follower campaign, on ticks
        for time in which the messages they would have read were waiting unread: the leader
        and the term stay, and writes go on."""
        import signal
        c = self.make_cluster()
        lead = c.leader()
        harness.redis_cli(c.nodes[lead].port, "SET", f"{KS}:p", "1", check=True)
        term = c.group(lead)["term"]
        for s in c.nodes:
            os.kill(s.pid, signal.SIGSTOP)
        time.sleep(1.5)  # election timeout here: 200-400 ms
        for s in c.nodes:
            os.kill(s.pid, signal.SIGCONT)
        time.sleep(1.0)
        self.assertEqual(c.leader(), lead)
        self.assertEqual(c.group(lead)["term"], term, "an election followed the pause")
        self.assertEqual(harness.redis_cli(c.nodes[lead].port, "SET", f"{KS}:p", "2",
                                           check=True).strip(), "OK")
        self.assertIn("paused for", c.nodes[lead].log_tail())


if __name__ == "__main__":
    unittest.main(verbosity=2)
