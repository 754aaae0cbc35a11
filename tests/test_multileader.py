"""Multi-leader keyspaces with real processes: 3 nodes, each cut off from the others by firewall
rules on the loopback peer ports, each taking writes alone; after healing every node converges
to the same content (the time is printed), every write last-writer-wins discarded is counted,
and a node killed with -9 while replicating loses none of its acknowledged writes.

  test_partitioned_nodes_write_alone_and_converge   iptables cut, writes on every side, heal
  test_kill9_loses_no_acknowledged_write           kill -9 mid-stream, restart, all present
  test_conflicts_and_refusals                      CONFLICTS, INFO fields, no MULTI/WATCH
  test_crdt_counters_and_sets_after_a_partition    conflict = crdt: every increment counts, no
                                                   acknowledged SADD lost unless observed-removed
  test_mixed_writes_on_100k_keys_converge          each node cut off takes SET/SADD/SREM/INCRBY/
                                                   HSET on ~100k keys for PARTITION_S seconds;
                                                   time to converge after healing is printed
  test_regions_shown_with_lag_per_peer             region per node in INFO and /status, beside
                                                   each peer's lag in entries and ms
  test_siblings_after_a_partition                  conflict = siblings: one key written on each
                                                   cut-off node is 3 siblings on every node (also
                                                   after kill -9), SET ... CONTEXT resolves them

The partition test needs root and iptables (CI runs as root with iptables installed); without
them it is skipped with the reason.
"""
import os
import shutil
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import test_cluster  # noqa: E402

ML = """
[[keyspace]]
name = "carts"
prefix = "carts:"
model = "multi-leader"
conflict = "lww"

[[keyspace]]
name = "bag"
prefix = "bag:"
model = "multi-leader"
conflict = "crdt"

[[keyspace]]
name = "sib"
prefix = "sib:"
model = "multi-leader"
conflict = "siblings"

[multileader]
hello_ms = 50
retransmit_ms = 300
"""

UNIQUE = 3000   # keys each node alone writes while cut off
SHARED = 1000   # keys every node writes while cut off (conflicts)

# The 100k-key run: seconds each node writes alone (RKV_ML_PARTITION_S to change).
PARTITION_S = float(os.environ.get("RKV_ML_PARTITION_S", "10"))


def iptables_usable():
    if os.geteuid() != 0 or not shutil.which("iptables"):
        return "needs root and iptables"
    probe = ["-p", "tcp", "--dport", "1", "-j", "DROP"]
    if subprocess.run(["iptables", "-I", "INPUT", "-i", "lo"] + probe,
                      capture_output=True).returncode != 0:
        return "iptables cannot add rules here"
    subprocess.run(["iptables", "-D", "INPUT", "-i", "lo"] + probe, capture_output=True)
    return None


class Firewall:
    """DROP rules on the loopback interface for every packet to or from the given ports."""

    def __init__(self):
        self.rules = []

    def cut(self, ports):
        for port in ports:
            for direction in ("--dport", "--sport"):
                rule = ["INPUT", "-i", "lo", "-p", "tcp", direction, str(port), "-j", "DROP"]
                subprocess.run(["iptables", "-I"] + rule, check=True)
                self.rules.append(rule)

    def heal(self):
        while self.rules:
            subprocess.run(["iptables", "-D"] + self.rules.pop(), check=False)


def pipelined(port, commands, timeout=30):
    """Sends every command on one connection, pipelined; returns the replies in order."""
    out = []
    with harness.RawClient(port, timeout=timeout) as c:
        for start in range(0, len(commands), 500):
            chunk = commands[start:start + 500]
            c.send(b"".join(harness.encode_command(*cmd) for cmd in chunk))
            out.extend(c.read_reply() for _ in chunk)
    return out


def contents(port, keys):
    return dict(zip(keys, pipelined(port, [("GET", k) for k in keys])))


def replication_fields(node, ks="carts"):
    """The keyspace's engine fields from INFO keyspace_replication, as a dict."""
    info = node.cli("INFO", "keyspace_replication", check=True)
    for line in info.splitlines():
        if line.startswith(f"keyspace_{ks}:"):
            return dict(kv.split("=", 1) for kv in line.split(":", 1)[1].split(","))
    raise AssertionError(f"no keyspace_{ks} line in INFO:\n{info}")


REGIONS = ["eu-west", "eu-west", "us-east"]


def region_config(i, nodes, secret, raft, extra=""):
    """cluster_config with a region on every [[cluster.node]] (REGIONS[j] for node j)."""
    text = test_cluster.cluster_config(i, nodes, secret, raft, extra)
    for j, (port, _) in enumerate(nodes):
        text = text.replace(f"port = {port}\n", f'port = {port}\nregion = "{REGIONS[j]}"\n', 1)
    return text


class MultiLeaderTest(unittest.TestCase):
    def start_cluster(self):
        c = test_cluster.Cluster(3, extra=ML)
        self.addCleanup(c.cleanup)
        c.start()
        return c

    def wait_everywhere(self, c, key, value, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = [contents(n.port, [key])[key] for n in c.nodes]
            if all(g == value for g in got):
                return
            time.sleep(0.05)
        raise AssertionError(f"{key} did not reach every node: {got}")

    def cut_off_cluster(self, hello):
        """A cluster that replicated `hello` (a key) everywhere, then every node cut off from the
        others; returns (cluster, firewall). Skips the test without root and iptables."""
        why = iptables_usable()
        if why:
            self.skipTest(why)
        c = self.start_cluster()
        pipelined(c.nodes[0].port, [("SET", hello, "1")])
        self.wait_everywhere(c, hello, "1")
        fw = Firewall()
        self.addCleanup(fw.heal)
        fw.cut(c.peer_ports)
        return c, fw

    def test_partitioned_nodes_write_alone_and_converge(self):
        c, fw = self.cut_off_cluster("carts:hello")
        # Each node alone: its own keys, and the shared ones every node writes.
        expected_unique = {}
        for i, n in enumerate(c.nodes):
            cmds = []
            for k in range(UNIQUE):
                key = f"carts:n{i}:{k}"
                expected_unique[key] = f"v{i}-{k}"
                cmds.append(("SET", key, f"v{i}-{k}"))
            for k in range(SHARED):
                cmds.append(("SET", f"carts:shared:{k}", f"from-n{i + 1}"))
            replies = pipelined(n.port, cmds)
            self.assertEqual(set(replies), {"OK"}, f"node {i} refused writes while cut off")
        time.sleep(1.0)  # the cut holds: nothing crossed
        self.assertEqual(contents(c.nodes[1].port, ["carts:n0:0"])["carts:n0:0"], None)
        fw.heal()
        healed = time.monotonic()
        keys = sorted(expected_unique) + [f"carts:shared:{k}" for k in range(SHARED)]
        deadline = healed + 30
        while True:
            views = [contents(n.port, keys) for n in c.nodes]
            if views[0] == views[1] == views[2] and \
                    all(views[0][k] == v for k, v in expected_unique.items()):
                break
            self.assertLess(time.monotonic(), deadline, "no convergence within 30 s of healing")
            time.sleep(0.05)
        took = time.monotonic() - healed
        print(f"\n  converged {len(keys)} keys ({3 * (UNIQUE + SHARED)} divergent writes) "
              f"{took:.2f} s after healing", file=sys.stderr)
        winners = {views[0][f"carts:shared:{k}"] for k in range(SHARED)}
        self.assertTrue(winners <= {"from-n1", "from-n2", "from-n3"}, winners)
        # Every shared key had 3 concurrent writes of which 2 were discarded; each discard was
        # counted on some node (where the losing write arrived after the winner).
        discarded = sum(int(replication_fields(n)["lww_discarded"]) for n in c.nodes)
        self.assertGreaterEqual(discarded, 2 * SHARED)
        self.assertEqual(pipelined(c.nodes[0].port, [("DBSIZE",)]), [len(keys) + 1])

    def test_crdt_counters_and_sets_after_a_partition(self):
        why = iptables_usable()
        if why:
            self.skipTest(why)
        c = self.start_cluster()
        pipelined(c.nodes[0].port, [("SADD", "bag:s", "seen")])
        self.wait_everywhere(c, "bag:hello", None)
        deadline = time.monotonic() + 20
        while any(pipelined(n.port, [("SISMEMBER", "bag:s", "seen")]) != [1] for n in c.nodes):
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.05)
        fw = Firewall()
        self.addCleanup(fw.heal)
        fw.cut(c.peer_ports)
        incs = 0
        added = set()
        for i, n in enumerate(c.nodes):
            cmds = []
            for k in range(2000):
                cmds.append(("INCRBY", f"bag:n{k % 50}", str(i + 1)))
                cmds.append(("SADD", f"bag:s", f"m{i}-{k}"))
                cmds.append(("HINCRBY", "bag:h", f"f{k % 10}", "1"))
            if i == 1:
                cmds.append(("SREM", "bag:s", "seen"))  # observed: removed everywhere
            replies = pipelined(n.port, cmds)
            errors = [r for r in replies if isinstance(r, harness.RespError)]
            self.assertEqual(errors, [], f"node {i} refused writes while cut off")
            incs += 2000 * (i + 1)
            added |= {f"m{i}-{k}" for k in range(2000)}
        fw.heal()
        healed = time.monotonic()
        deadline = healed + 30
        while True:
            views = [pipelined(n.port, [("SMEMBERS", "bag:s"), ("HGETALL", "bag:h")] +
                               [("GET", f"bag:n{k}") for k in range(50)]) for n in c.nodes]
            norm = [(sorted(v[0]), v[1:]) for v in views]
            if norm[0] == norm[1] == norm[2] and set(norm[0][0]) == added:
                break
            self.assertLess(time.monotonic(), deadline, "no convergence within 30 s")
            time.sleep(0.05)
        print(f"\n  crdt: converged {time.monotonic() - healed:.2f} s after healing", file=sys.stderr)
        counters = views[0][2:]
        self.assertEqual(sum(int(x) for x in counters), incs)  # every increment counted
        h = views[0][1]
        pairs = dict(zip(h[0::2], h[1::2])) if isinstance(h, list) else dict(h)
        self.assertEqual(sum(int(v) for v in pairs.values()), 3 * 2000)

    def test_mixed_writes_on_100k_keys_converge(self):
        c, fw = self.cut_off_cluster("carts:hello")
        U, X, H = 15000, 10000, 8000  # per-node lww keys, shared keys of each kind, hashes

        def first_pass(i):
            """Every key once: 45k unique + 10k shared strings (lww), 10k shared counters,
            10k shared sets (a member added, another added then removed here), 24k hashes."""
            cmds = []
            for k in range(U):
                cmds.append(("SET", f"carts:u{i}:{k}", f"v{i}-{k}"))
            for k in range(X):
                cmds.append(("SET", f"carts:x:{k}", f"from-n{i + 1}"))
                cmds.append(("INCRBY", f"bag:c:{k}", str(i + 1)))
                cmds.append(("SADD", f"bag:s:{k}", f"m{i}"))
                cmds.append(("SADD", f"bag:s:{k}", f"gone{i}"))
                cmds.append(("SREM", f"bag:s:{k}", f"gone{i}"))
            for k in range(H):
                cmds.append(("HSET", f"bag:h{i}:{k}", "f", f"v{i}"))
            return cmds

        def more(i, round_):
            """Later rounds: more increments and members on the shared keys."""
            cmds = []
            for k in range(0, X, 7):
                cmds.append(("INCRBY", f"bag:c:{k}", str(i + 1)))
                cmds.append(("SADD", f"bag:s:{k}", f"r{round_}-{i}"))
                cmds.append(("SET", f"carts:x:{k}", f"from-n{i + 1}-r{round_}"))
            return cmds

        incs = {k: 0 for k in range(X)}
        members = {k: set() for k in range(X)}
        errors = []
        lock = threading.Lock()

        def writer(i):
            stop = time.monotonic() + PARTITION_S
            round_, batch = 0, first_pass(i)
            while True:
                replies = pipelined(c.nodes[i].port, batch, timeout=60)
                with lock:
                    for cmd, r in zip(batch, replies):
                        if isinstance(r, harness.RespError):
                            errors.append((i, cmd, r))
                        elif cmd[0] == "INCRBY":
                            incs[int(cmd[1].rsplit(":", 1)[1])] += i + 1
                        elif cmd[0] == "SADD" and not cmd[2].startswith("gone"):
                            members[int(cmd[1].rsplit(":", 1)[1])].add(cmd[2])
                round_ += 1
                if time.monotonic() >= stop:
                    return
                batch = more(i, round_)

        threads = [threading.Thread(target=writer, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors[:3], [], "writes refused while cut off")
        logs = [int(replication_fields(n, ks)["log_seq"]) for n in c.nodes
                for ks in ("carts", "bag")]
        fw.heal()
        healed = time.monotonic()
        deadline = healed + 60

        def caught_up():
            for n in c.nodes:
                for ks in ("carts", "bag"):
                    f = replication_fields(n, ks)
                    if any(v != "0" for k, v in f.items() if k.endswith("_lag_entries")):
                        return False
            return True

        while not caught_up():
            self.assertLess(time.monotonic(), deadline, "peers still lag 60 s after healing")
            time.sleep(0.02)
        took = time.monotonic() - healed
        keys = 3 * U + 3 * X + 3 * H
        print(f"\n  100k: {keys} keys, {sum(logs)} writes made apart in {PARTITION_S:.0f} s; "
              f"every node applied every peer's log {took:.2f} s after healing", file=sys.stderr)

        def view(n):
            cmds = [("GET", f"carts:u{i}:{k}") for i in range(3) for k in range(U)]
            cmds += [("GET", f"carts:x:{k}") for k in range(X)]
            cmds += [("GET", f"bag:c:{k}") for k in range(X)]
            cmds += [("SMEMBERS", f"bag:s:{k}") for k in range(X)]
            cmds += [("HGET", f"bag:h{i}:{k}", "f") for i in range(3) for k in range(H)]
            r = pipelined(n.port, cmds, timeout=60)
            return [sorted(x) if isinstance(x, list) else x for x in r]

        views = [view(n) for n in c.nodes]
        self.assertTrue(views[0] == views[1] == views[2], "the nodes hold different values")
        v = views[0]
        self.assertEqual(v[:3 * U], [f"v{i}-{k}" for i in range(3) for k in range(U)])
        shared = v[3 * U:3 * U + X]
        self.assertTrue(all(s.startswith("from-n") for s in shared))
        counters = v[3 * U + X:3 * U + 2 * X]
        self.assertEqual([int(x) for x in counters], [incs[k] for k in range(X)])
        sets = v[3 * U + 2 * X:3 * U + 3 * X]
        self.assertEqual(sets, [sorted(members[k]) for k in range(X)])  # no "gone", none lost
        self.assertEqual(v[3 * U + 3 * X:], [f"v{i}" for i in range(3) for k in range(H)])

    def wait_siblings(self, c, key, values, timeout=30):
        """Until every node's SIBLINGS of key holds exactly `values` (any order) and the nodes
        agree; returns node 0's reply."""
        deadline = time.monotonic() + timeout
        while True:
            views = [pipelined(n.port, [("SIBLINGS", key)])[0] for n in c.nodes]
            held = [sorted(s[0] for s in v[1]) for v in views]
            if all(h == sorted(values) for h in held) and views[0] == views[1] == views[2]:
                return views[0]
            self.assertLess(time.monotonic(), deadline, f"siblings of {key}: {views}")
            time.sleep(0.05)

    def test_siblings_after_a_partition(self):
        c, fw = self.cut_off_cluster("sib:hello")
        written = []
        for i, n in enumerate(c.nodes):
            self.assertEqual(pipelined(n.port, [("SET", "sib:k", f"from-n{i + 1}")]), ["OK"])
            written.append(f"from-n{i + 1}")
        time.sleep(0.5)  # the cut holds: each node has its own write alone
        self.assertEqual(pipelined(c.nodes[0].port, [("SIBLINGS", "sib:k")])[0][1][0][0],
                         "from-n1")
        fw.heal()
        healed = time.monotonic()
        reply = self.wait_siblings(c, "sib:k", written)
        print(f"\n  siblings: 3 concurrent writes held on every node "
              f"{time.monotonic() - healed:.2f} s after healing", file=sys.stderr)
        # [context, [[value, hlc, dot, expire_at_ms], ...]], as a leaderless keyspace answers.
        context, versions = reply
        self.assertIsInstance(context, str)
        self.assertEqual(len({v[2] for v in versions}), 3, "siblings share a dot")
        self.assertTrue(all(v[3] == 0 for v in versions))
        gets = {pipelined(n.port, [("GET", "sib:k")])[0] for n in c.nodes}
        self.assertEqual(len(gets), 1, f"nodes show different winners: {gets}")
        fields = [replication_fields(n, "sib") for n in c.nodes]
        self.assertTrue(all(f["keys_with_siblings"] == "1" for f in fields), fields)
        self.assertGreaterEqual(sum(int(f["siblings_created"]) for f in fields), 2)
        metrics = c.nodes[0].metrics()
        self.assertEqual(metrics[("replikv_multi_leader_keys_with_siblings", 'keyspace="sib"')], 1)
        # kill -9 and restart: the versions come back from disk.
        c.nodes[2].kill9()
        c.nodes[2].start()
        self.assertEqual(self.wait_siblings(c, "sib:k", written), reply)
        # A write naming the context it read replaces exactly those three, everywhere.
        self.assertEqual(pipelined(c.nodes[1].port,
                                   [("SET", "sib:k", "merged", "CONTEXT", context)]), ["OK"])
        self.wait_siblings(c, "sib:k", ["merged"])
        self.wait_everywhere(c, "sib:k", "merged")
        self.assertTrue(all(replication_fields(n, "sib")["keys_with_siblings"] == "0"
                            for n in c.nodes))
        err = pipelined(c.nodes[0].port, [("SADD", "sib:s", "x")])[0]
        self.assertIsInstance(err, harness.RespError)
        self.assertIn("supported: GET, MGET, EXISTS, TTL, PTTL, SIBLINGS, SET, DEL", str(err))

    def test_kill9_loses_no_acknowledged_write(self):
        c = self.start_cluster()
        pipelined(c.nodes[0].port, [("SET", "carts:hello", "1")])
        self.wait_everywhere(c, "carts:hello", "1")
        victim = c.nodes[1]
        cmds = [("SET", f"carts:k:{k}", str(k)) for k in range(5000)]
        replies = pipelined(victim.port, cmds)
        acked = [cmds[i][1] for i, r in enumerate(replies) if r == "OK"]
        victim.kill9()  # some of its log is surely still on the way to its peers
        victim.start()
        deadline = time.monotonic() + 30
        while True:
            views = [contents(n.port, acked) for n in c.nodes]
            missing = [sum(1 for k in acked if v[k] != k.rsplit(":", 1)[1]) for v in views]
            if missing == [0, 0, 0]:
                break
            if time.monotonic() >= deadline:
                samples = [[(k, v[k]) for k in acked if v[k] != k.rsplit(":", 1)[1]][:3]
                           for v in views]
                self.fail(f"acknowledged writes missing per node: {missing}; e.g. {samples}")
            time.sleep(0.1)
        self.assertEqual(len(acked), 5000)

    def test_conflicts_and_refusals(self):
        c = self.start_cluster()
        pipelined(c.nodes[0].port, [("SET", "carts:hello", "1")])
        self.wait_everywhere(c, "carts:hello", "1")
        self.assertEqual(pipelined(c.nodes[0].port, [("CONFLICTS", "carts", "COUNT", "5")]),
                         [[]])  # none yet
        err = pipelined(c.nodes[0].port, [("CONFLICTS", "nope")])[0]
        self.assertIn("no keyspace", str(err))
        with harness.RawClient(c.nodes[0].port) as r:
            err = r.call("WATCH", "carts:hello")
            self.assertIsInstance(err, harness.RespError)
            self.assertIn("multi-leader", str(err))
        f = replication_fields(c.nodes[0])
        for field in ("log_seq", "lww_discarded", "peer_n2_lag_entries", "peer_n3_lag_ms"):
            self.assertIn(field, f)
        self.assertEqual(f["model"], "multi-leader")

    def test_regions_shown_with_lag_per_peer(self):
        c = test_cluster.Cluster(3, extra=ML, config=region_config)
        self.addCleanup(c.cleanup)
        c.start()
        pipelined(c.nodes[2].port, [("SET", "carts:far", "1")])
        self.wait_everywhere(c, "carts:far", "1")
        info = c.nodes[2].cli("INFO", "keyspace_replication", check=True)
        self.assertIn("region:us-east", info)
        self.assertIn("node_regions:n1=eu-west,n2=eu-west,n3=us-east", info)
        self.assertIn("peer_n1:region=eu-west,connected=", info)
        f = replication_fields(c.nodes[2])
        for field in ("peer_n1_lag_entries", "peer_n1_lag_ms", "peer_n2_lag_entries"):
            self.assertIn(field, f)
        st = c.nodes[0].status()
        self.assertEqual(st["region"], "eu-west")
        self.assertEqual([(n["id"], n["region"]) for n in st["nodes"]],
                         [("n1", "eu-west"), ("n2", "eu-west"), ("n3", "us-east")])


if __name__ == "__main__":
    unittest.main(verbosity=2)
