"""`replikv cluster up` as a supervisor, driven by `replikv cluster <command>` from outside.

The cluster is the one a user gets (the configs `cluster up` writes, default Raft timing). The
tests walk the README's "Failover, partition and recovery" section:

  test_a_failover_and_rejoin   kill -9 the `accounts` leader: the others keep running, another
                               node leads, writes continue; restart: it rejoins and catches up
  test_b_isolate_and_heal      isolate the leader: clients still reach it, the other two elect a
                               leader and take writes the isolated node does not see; heal: it
                               catches up. The peer-link counters of the isolated node stop.
  test_c_pause_resume_status   pause a follower (status says paused), writes go on, resume
  test_d_stop_cleans_up        Ctrl-C stops every node, removes the state file and every rule
  test_e_supervisor_killed     kill -9 of the supervisor takes its nodes with it

Isolation needs root and iptables; without them test_b is skipped.
"""

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import RespError  # noqa: E402

KS = "accounts"


def port_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def free_base_port(nodes):
    """A base port whose client, admin and peer ports (base+i, +1000+i, +10000+i) are free.
    Below the lab's blocks (21000 up) and with peer ports under Linux's ephemeral range (32768
    up), where another test's client socket could take one between this check and the bind."""
    for _ in range(200):
        base = random.randint(14000, 19000)
        if all(port_free(base + off + i) for off in (0, 1000, 10000) for i in range(nodes)):
            return base
    raise RuntimeError("no free base port")


def iptables_usable():
    if os.geteuid() != 0:
        return "isolate needs root"
    if not shutil.which("iptables"):
        return "no iptables"
    r = subprocess.run(["iptables", "-w", "-S", "OUTPUT"], capture_output=True)
    return None if r.returncode == 0 else "iptables does not work here"


class LocalCluster:
    """`replikv cluster up` in a temporary data dir, and its control commands."""

    def __init__(self, nodes=3):
        self.tmp = tempfile.mkdtemp(prefix="rkv-cluster-")
        self.data_dir = os.path.join(self.tmp, "cluster")
        self.base = free_base_port(nodes)
        self.n = nodes
        self.out = open(os.path.join(self.tmp, "up.out"), "wb")
        self.proc = subprocess.Popen(
            [harness.replikv_bin(), "cluster", "up", "--nodes", str(nodes), "--base-port",
             str(self.base), "--data-dir", self.data_dir],
            stdout=self.out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            preexec_fn=harness._die_with_parent)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("cluster up exited:\n" + self.output())
            if os.path.exists(self.state_path()) and all(self.pings(i) for i in range(nodes)):
                return
            time.sleep(0.1)
        raise RuntimeError("cluster did not come up:\n" + self.output())

    def state_path(self):
        return os.path.join(self.data_dir, "cluster.json")

    def state(self):
        with open(self.state_path()) as f:
            return json.load(f)

    def output(self):
        with open(os.path.join(self.tmp, "up.out"), "rb") as f:
            return f.read().decode(errors="replace")

    def ctl(self, *args, check=True):
        r = subprocess.run([harness.replikv_bin(), "cluster", *args, "-d", self.data_dir],
                           capture_output=True, timeout=60)
        out = r.stdout.decode() + r.stderr.decode()
        if check and r.returncode != 0:
            raise AssertionError(f"cluster {args} exited {r.returncode}: {out}")
        return out

    def port(self, i):
        return self.base + i

    def pings(self, i):
        try:
            with harness.RawClient(self.port(i), timeout=2) as c:
                return c.call("PING") == "PONG"
        except (OSError, harness.ConnectionClosed):
            return False

    def group(self, i, ks=KS):
        try:
            with __import__("urllib.request").request.urlopen(
                    f"http://127.0.0.1:{self.base + 1000 + i}/status", timeout=2) as r:
                st = json.loads(r.read().decode())
        except OSError:
            return None
        return next((g for g in st.get("replication", []) if g["keyspace"] == ks), None)

    def leader(self, among, timeout=30):
        """Index of the leader of `ks` that every node of `among` acknowledges."""
        deadline = time.monotonic() + timeout
        groups = {}
        while time.monotonic() < deadline:
            groups = {i: self.group(i) for i in among}
            leaders = [i for i, g in groups.items() if g and g["role"] == "leader"]
            if len(leaders) == 1 and all(g and g["leader"] == f"n{leaders[0] + 1}"
                                         for g in groups.values()):
                return leaders[0]
            time.sleep(0.1)
        raise AssertionError(f"no agreed leader among {among}: {groups}")

    def set(self, i, key, value, timeout=30):
        """SET through node i, retried on errors until `timeout`; returns the reply."""
        deadline = time.monotonic() + timeout
        r = None
        while time.monotonic() < deadline:
            try:
                with harness.RawClient(self.port(i), timeout=5) as c:
                    r = c.call("SET", key, value)
                    if r == "OK":
                        return r
            except (OSError, harness.ConnectionClosed) as e:
                r = e
            time.sleep(0.2)
        raise AssertionError(f"SET {key} through n{i + 1} failed: {r!r}")

    def local_get(self, i, key):
        with harness.RawClient(self.port(i), timeout=5) as c:
            assert c.call("READMODE", "follower") == "OK"
            return c.call("GET", key)

    def wait_local(self, i, key, value, timeout=30):
        deadline = time.monotonic() + timeout
        got = None
        while time.monotonic() < deadline:
            got = self.local_get(i, key)
            if got == value:
                return
            time.sleep(0.1)
        raise AssertionError(f"n{i + 1} holds {key}={got!r}, not {value!r}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode

    def cleanup(self):
        pids = []
        try:
            pids = [n["pid"] for n in self.state()["nodes"] if n["pid"]]
        except (OSError, ValueError, KeyError):
            pass
        self.stop()
        for pid in pids:  # only if the supervisor failed to stop them
            try:
                if str(self.data_dir).encode() in open(f"/proc/{pid}/cmdline", "rb").read():
                    os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if os.geteuid() == 0 and shutil.which("iptables"):
            tag = f"rkv-cluster:{self.base}:"
            rules = subprocess.run(["iptables", "-w", "-S", "OUTPUT"], capture_output=True,
                                   text=True).stdout.splitlines()
            for rule in rules:
                if tag in rule:
                    subprocess.run(["iptables", "-w", "-D"] + rule.replace('"', "").split()[1:])
        self.out.close()
        if not os.environ.get("REPLIKV_KEEP"):
            shutil.rmtree(self.tmp, ignore_errors=True)


def peer_received(cluster, i):
    """Bytes node i received from its peers, summed over the admin /metrics series."""
    with __import__("urllib.request").request.urlopen(
            f"http://127.0.0.1:{cluster.base + 1000 + i}/metrics", timeout=5) as r:
        body = r.read().decode()
    return sum(int(float(line.rsplit(" ", 1)[1])) for line in body.splitlines()
               if line.startswith("replikv_peer_bytes_received_total{"))


class ClusterControlTest(unittest.TestCase):
    def start(self):
        c = LocalCluster(3)
        self.addCleanup(c.cleanup)
        return c

    def test_a_failover_and_rejoin(self):
        c = self.start()
        old = c.leader(range(3))
        c.set(old, f"{KS}:before", "1")
        out = c.ctl("kill", f"n{old + 1}")
        self.assertIn("killed", out)
        survivors = [i for i in range(3) if i != old]
        new = c.leader(survivors)
        self.assertNotEqual(new, old)
        for i in survivors:
            self.assertTrue(c.pings(i), f"n{i + 1} stopped with the killed node")
        c.set(survivors[0], f"{KS}:during", "2")
        status = c.ctl("status")
        self.assertRegex(status, rf"n{old + 1}\s+0\s+stopped \(killed by signal 9\)")
        self.assertIn(f"n{old + 1} (pid", c.output())

        c.ctl("restart", f"n{old + 1}")
        c.wait_local(old, f"{KS}:during", "2")
        c.wait_local(old, f"{KS}:before", "1")
        c.set(old, f"{KS}:after", "3")  # forwarded to the leader if it follows
        for i in range(3):
            c.wait_local(i, f"{KS}:after", "3")

    def test_b_isolate_and_heal(self):
        why = iptables_usable()
        if why:
            self.skipTest(why)
        c = self.start()
        old = c.leader(range(3))
        c.set(old, f"{KS}:x", "before")
        for i in range(3):
            c.wait_local(i, f"{KS}:x", "before")
        self.assertIn("isolated", c.ctl("isolate", f"n{old + 1}"))
        self.assertRegex(c.ctl("status"), rf"n{old + 1}\s+\d+\s+running\s+ISOLATED")
        others = [i for i in range(3) if i != old]
        new = c.leader(others)
        c.set(new, f"{KS}:x", "during")
        # Clients still reach the isolated node; it does not see the majority's write.
        self.assertTrue(c.pings(old))
        self.assertEqual(c.local_get(old, f"{KS}:x"), "before")
        received = peer_received(c, old)
        time.sleep(1.0)
        self.assertEqual(peer_received(c, old), received, "peer bytes reached the isolated node")
        with harness.RawClient(c.port(old), timeout=15) as cl:
            r = cl.call("SET", f"{KS}:x", "isolated")
        self.assertIsInstance(r, RespError, "an isolated node acknowledged a quorum write")

        c.ctl("heal", f"n{old + 1}")
        self.assertNotIn("ISOLATED", c.ctl("status"))
        c.wait_local(old, f"{KS}:x", "during")
        self.assertGreater(peer_received(c, old), received)

    def test_c_pause_resume_status(self):
        c = self.start()
        lead = c.leader(range(3))
        follower = (lead + 1) % 3
        c.ctl("pause", f"n{follower + 1}")
        self.assertRegex(c.ctl("status"), rf"n{follower + 1}\s+\d+\s+paused")
        c.set(lead, f"{KS}:p", "1")
        c.ctl("resume", f"n{follower + 1}")
        c.wait_local(follower, f"{KS}:p", "1")
        self.assertRegex(c.ctl("status"), rf"n{follower + 1}\s+\d+\s+running")
        # Errors are clear and leave the cluster alone.
        self.assertIn("no node n7", c.ctl("kill", "n7", check=False))

    def test_d_stop_cleans_up(self):
        c = self.start()
        pids = [n["pid"] for n in c.state()["nodes"]]
        if not iptables_usable():
            c.ctl("isolate", "n1")
        c.ctl("pause", "n2")  # a paused node must still stop
        self.assertEqual(c.stop(), 0)
        for pid in pids:
            self.assertFalse(os.path.exists(f"/proc/{pid}") and
                             b"serve" in open(f"/proc/{pid}/cmdline", "rb").read(),
                             f"node pid {pid} survived the supervisor")
        self.assertFalse(os.path.exists(c.state_path()))
        if not iptables_usable():
            rules = subprocess.run(["iptables", "-w", "-S", "OUTPUT"], capture_output=True,
                                   text=True).stdout
            self.assertNotIn(f"rkv-cluster:{c.base}:", rules)
        self.assertIn("no running cluster", c.ctl("status", check=False))

    def test_e_supervisor_killed(self):
        c = self.start()
        pids = [n["pid"] for n in c.state()["nodes"]]
        c.proc.kill()  # kill -9: no cleanup runs in the supervisor
        c.proc.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(os.path.exists(f"/proc/{p}") for p in pids):
            time.sleep(0.1)
        self.assertFalse(any(os.path.exists(f"/proc/{p}") for p in pids),
                         "nodes outlived a killed supervisor")
        self.assertIn("is not running", c.ctl("status", check=False))


if __name__ == "__main__":
    unittest.main(verbosity=2)
