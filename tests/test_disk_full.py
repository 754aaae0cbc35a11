"""A node whose disk fills up stays up: reads are served, writes get -MISCONF, nothing that was
acknowledged is lost (also across kill -9 and a restart on the full disk), and writes resume
by themselves once space returns (docs/operations.md, "A full disk").

The data dir is a small tmpfs mounted for the test, with a filler file in it that the test
deletes to give space back. Mounting needs root (CI runs as root); elsewhere the tests skip.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import test_cluster  # noqa: E402

KS = test_cluster.KS

MIB = 1 << 20
VALUE_BYTES = 64 * 1024
MAX_WRITES = 4000  # far more than the tmpfs holds: the error must come before


def mount_tmpfs(test, size_mib):
    """A fresh tmpfs of `size_mib` MiB, unmounted when the test ends (after its servers stop:
    cleanups run last-registered first). Skips the test when it cannot be mounted."""
    if os.geteuid() != 0:
        test.skipTest("mounting a tmpfs needs root (CI runs as root)")
    mnt = tempfile.mkdtemp(prefix="rkv-disk-")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mib}m", "tmpfs", mnt],
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        os.rmdir(mnt)
        test.skipTest(f"cannot mount a tmpfs: {r.stderr.strip()}")

    def unmount():
        subprocess.run(["umount", "-l", mnt], capture_output=True, timeout=30)
        os.rmdir(mnt)
    test.addCleanup(unmount)
    return mnt


def make_filler(path, size):
    with open(path, "wb") as f:
        f.write(b"\0" * size)
        f.flush()
        os.fsync(f.fileno())


def value_of(i):
    # Incompressible, and different per key: a value lost or swapped shows.
    return (f"{i:08d}".encode() + os.urandom(VALUE_BYTES - 8)).hex()[:VALUE_BYTES]


def text(reply):
    return reply.decode() if isinstance(reply, bytes) else reply


def info_fields(server, section="persistence"):
    with server.raw() as c:
        lines = text(c.call("INFO", section)).splitlines()
    return dict(line.split(":", 1) for line in lines if ":" in line)


def metric(server, name):
    code, _, body = server.http("/metrics")
    assert code == 200, code
    for line in body.splitlines():
        if line.startswith(name + " "):
            return int(float(line.split()[1]))
    raise AssertionError(f"{name} not in /metrics")


def keyspace_fields(conn, ks):
    """The keyspace's fields from INFO keyspace_replication on an open connection."""
    for line in text(conn.call("INFO", "keyspace_replication")).splitlines():
        if line.startswith(f"keyspace_{ks}:"):
            return dict(kv.split("=", 1) for kv in line.split(":", 1)[1].split(","))
    raise AssertionError(f"no keyspace_{ks} in INFO keyspace_replication")


class DiskFullTest(unittest.TestCase):
    def fill(self, server, pace_s):
        """SETs distinct keys until one is refused. Returns (acked {key: value}, error text, key
        of a write left waiting for the disk or None)."""
        acked = {}
        c = server.raw(timeout=5)
        try:
            for i in range(MAX_WRITES):
                k, v = f"k{i}", value_of(i)
                try:
                    r = c.call("SET", k, v)
                except socket.timeout:
                    # The write is in the batch the disk refused: held, not acknowledged.
                    return acked, None, k
                if r != "OK":
                    return acked, str(r), None
                acked[k] = v
                time.sleep(pace_s)
        finally:
            c.close()
        self.fail(f"{MAX_WRITES} writes of {VALUE_BYTES} bytes fit on a small tmpfs")

    def check_acked(self, server, acked):
        with server.raw(timeout=10) as c:
            for k, v in acked.items():
                self.assertEqual(text(c.call("GET", k)), v, f"acknowledged key {k} lost or changed")

    def refused(self, server):
        with server.raw() as c:
            r = c.call("SET", "probe", "x")
        if r == "OK":
            return False
        self.assertTrue(str(r).startswith("MISCONF"), r)
        return True

    def wait_writable(self, server, timeout=15.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.refused(server):
                return
            time.sleep(0.2)
        self.fail("writes did not resume after space was freed\n" + server.log_tail())

    def node_on_tmpfs(self, size_mib, filler_mib, config, fsync="batch"):
        """A started node whose data dir is on a fresh tmpfs of `size_mib` MiB, `filler_mib` of
        it taken by a filler file. Returns (server, filler path)."""
        mnt = mount_tmpfs(self, size_mib)
        filler = os.path.join(mnt, "filler")
        make_filler(filler, filler_mib * MIB)
        s = harness.Server(fsync=fsync, config=config, data_dir=os.path.join(mnt, "data"))
        self.addCleanup(s.cleanup)
        s.start()
        return s, filler

    def test_reserve_refuses_writes_and_restart_on_the_full_disk_serves_them(self):
        s, filler = self.node_on_tmpfs(64, 24, "[node]\ndisk_reserve_bytes = 8388608\n")
        # Paced so that the reserve, checked every 100 ms, is reached well before the last byte.
        acked, err, waiting = self.fill(s, pace_s=0.005)
        self.assertIsNone(waiting, "a write waited for the disk although the reserve was kept")
        self.assertTrue(err.startswith("MISCONF"), err)
        self.assertGreater(len(acked), 10)
        self.assertTrue(s.alive())
        with s.raw() as c:
            self.assertEqual(c.call("PING"), "PONG")
        self.assertTrue(self.refused(s))
        self.check_acked(s, acked)
        info = info_fields(s)
        self.assertEqual(info["disk_full"], "1")
        self.assertIn("disk_reserve_bytes", info["disk_error"])
        self.assertEqual(metric(s, "replikv_disk_full"), 1)

        # kill -9 and a restart on the still full disk: it starts, and serves every acked write.
        s.kill9()
        s.start()
        self.check_acked(s, acked)
        self.assertTrue(self.refused(s))
        self.assertEqual(info_fields(s)["disk_full"], "1")

        # Space returns: writes resume without a restart, and survive the next kill -9.
        os.unlink(filler)
        self.wait_writable(s)
        self.assertEqual(info_fields(s)["disk_full"], "0")
        self.assertEqual(metric(s, "replikv_disk_full"), 0)
        with s.raw() as c:
            self.assertEqual(c.call("SET", "after", "space"), "OK")
        s.kill9()
        s.start()
        self.check_acked(s, acked)
        with s.raw() as c:
            self.assertEqual(text(c.call("GET", "after")), "space")

    def test_a_write_the_disk_refuses_is_retried_and_the_node_stays_up(self):
        self.check_refused_write("batch")

    def test_a_write_the_disk_refuses_is_retried_with_fsync_always(self):
        self.check_refused_write("always")

    def test_a_write_the_disk_refuses_is_retried_with_fsync_never(self):
        self.check_refused_write("never")

    def check_refused_write(self, fsync):
        # No reserve: writes go on until the disk itself refuses one. The filler frees enough
        # for RocksDB to flush what the log holds when the node restarts.
        s, filler = self.node_on_tmpfs(48, 24, "[node]\ndisk_reserve_bytes = 0\n", fsync=fsync)
        acked, err, waiting = self.fill(s, pace_s=0)
        if err is not None:
            self.assertTrue(err.startswith("MISCONF"), err)
        self.assertTrue(s.alive(), s.log_tail())
        with s.raw() as c:
            self.assertEqual(c.call("PING"), "PONG")
        self.check_acked(s, acked)
        info = info_fields(s)
        self.assertEqual(info["disk_full"], "1")
        self.assertIn("write to disk failed", info["disk_error"])
        self.assertGreater(int(info["persist_failures"]), 0)
        self.assertTrue(self.refused(s))
        if waiting is not None:
            # The waiting write is not visible as acknowledged, but it is applied: it becomes
            # durable with the retry rather than being dropped.
            self.assertGreater(int(info["unpersisted_writes"]), 0)

        # An orderly stop on the still full disk exits cleanly; the writes it could not make
        # durable were never acknowledged (the waiting one, if any, may be lost).
        self.assertEqual(s.stop(), 0, s.log_tail())
        os.unlink(filler)
        s.start()
        self.check_acked(s, acked)
        self.wait_writable(s)
        with s.raw() as c:
            self.assertEqual(c.call("SET", "after", "space"), "OK")
        s.kill9()
        s.start()
        self.check_acked(s, dict(acked, after="space"))

    def test_rocksdb_flushes_meeting_a_full_disk_do_not_stop_the_node(self):
        # maxmemory sizes RocksDB's memtables small (4 MiB), so RocksDB flushes while the disk
        # fills and its flushes, compactions and info log meet the full disk themselves. The
        # node stays up through that, and loses nothing acknowledged.
        # Half the file system is filler: once it goes, there is room to replay the log into
        # RocksDB (in small memtables, flushed as they fill) beside the log itself.
        s, filler = self.node_on_tmpfs(
            64, 32, "[node]\ndisk_reserve_bytes = 0\n\n[memory]\nmaxmemory = \"32mb\"\n")
        acked, _, _ = self.fill(s, pace_s=0)  # until the disk refuses a write
        self.assertGreater(len(acked), 10)
        # The refused batch keeps meeting the full disk for a while (retried every 200 ms,
        # each time with a flush); reads go on.
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            self.assertTrue(s.alive(), s.log_tail())
            with s.raw() as c:
                self.assertEqual(text(c.call("GET", "k0")), acked["k0"])
            time.sleep(0.1)
        self.assertTrue(s.alive(), s.log_tail())
        self.check_acked(s, acked)
        s.kill9()
        os.unlink(filler)
        s.start()
        self.check_acked(s, acked)
        self.wait_writable(s)

    def killed_node_on_a_disk_filled_by(self, name):
        """A node on a 16 MiB tmpfs that acknowledged k=v and was killed -9, and the tmpfs then
        filled to the last byte by the file `name` (relative to its data dir). Returns (server,
        path of that file)."""
        mnt = mount_tmpfs(self, 16)
        data = os.path.join(mnt, "data")
        s = harness.Server(fsync="batch", config="[node]\ndisk_reserve_bytes = 0\n",
                           data_dir=data)
        self.addCleanup(s.cleanup)
        s.start()
        with s.raw() as c:
            self.assertEqual(c.call("SET", "k", "v"), "OK")
        s.kill9()
        path = os.path.join(data, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT)
        try:
            while True:
                os.write(fd, b"\1" * 4096)
        except OSError:
            pass  # the tmpfs is full
        finally:
            os.close(fd)
        return s, path

    def test_a_disk_full_to_the_last_byte_refuses_the_start_with_a_clear_error(self):
        s, filler = self.killed_node_on_a_disk_filled_by("../filler")
        with self.assertRaises(RuntimeError) as e:
            s.start()
        self.assertIn("bytes free on its file system", str(e.exception))
        self.assertIn("replikv exited with 1", str(e.exception))  # an error, not an abort
        s.kill9()  # reaps the exited process and closes its log
        os.unlink(filler)
        s.start()
        with s.raw() as c:
            self.assertEqual(text(c.call("GET", "k")), "v")

    def test_an_unfinished_table_file_is_removed_to_start_on_a_full_disk(self):
        # A compaction that ran out of space, or was cut short by kill -9, leaves its output
        # table behind; here that table is what fills the disk. Opening removes it (RocksDB's
        # current version does not name it) and starts, where it would otherwise refuse.
        s, leftover = self.killed_node_on_a_disk_filled_by("999999.sst")
        s.start()
        self.assertFalse(os.path.exists(leftover))
        with s.raw() as c:
            self.assertEqual(text(c.call("GET", "k")), "v")
            self.assertEqual(c.call("SET", "k2", "v2"), "OK")
        with open(s.log_path, errors="replace") as f:
            self.assertIn("unfinished table files", f.read())


class ClusterDiskFullTest(unittest.TestCase):
    def cluster_with_a_full_node(self, reserve=None, extra=""):
        """A 3-node cluster (test_cluster, with `extra` TOML) in which one follower's data dir
        moved onto a small tmpfs, most of it taken by a filler file. Returns (cluster, that
        node's index, filler path)."""
        c = test_cluster.Cluster(extra=extra)
        self.addCleanup(c.cleanup)
        c.start()
        leader = c.leader()
        f = next(i for i in range(3) if i != leader)
        # The node fills its disk with about 20 MiB of data; once the filler goes it has room for
        # what it missed and for RocksDB's flushes and compactions of it, which rewrite the data
        # (with 16 MiB of filler on 40 MiB a full catch-up could fill the disk again, for good).
        mnt = mount_tmpfs(self, 64)
        filler = os.path.join(mnt, "filler")
        s = c.nodes[f]
        s.stop()
        shutil.copytree(s.data_dir, os.path.join(mnt, "data"))
        s.data_dir = os.path.join(mnt, "data")
        if reserve is not None:
            with open(s.config_path) as fh:
                cfg = fh.read()
            cfg = cfg.replace("[node]\n", f"[node]\ndisk_reserve_bytes = {reserve}\n", 1)
            with open(s.config_path, "w") as fh:
                fh.write(cfg)
        make_filler(filler, 40 * MIB)
        s.start()
        return c, f, filler

    def check_converged(self, c, acked):
        c.wait_converged()
        for i in range(3):
            got = c.local_values(i, list(acked))
            for k, v in acked.items():
                self.assertEqual(text(got[k]), v, f"{k} on n{i + 1}")

    def test_a_follower_whose_disk_fills_stops_acknowledging_and_catches_up(self):
        c, f, filler = self.cluster_with_a_full_node()
        leader = c.leader()
        self.assertNotEqual(leader, f)

        # Writes through the leader go on (the third node makes the quorum) until the
        # follower's disk refuses a batch.
        acked = {}
        with c.nodes[leader].raw(timeout=20) as conn:
            for i in range(MAX_WRITES):
                k, v = f"{KS}:k{i}", value_of(i)
                self.assertEqual(conn.call("SET", k, v), "OK")
                acked[k] = v
                if i % 20 == 0 and int(info_fields(c.nodes[f])["persist_failures"]) > 0:
                    break
            else:
                self.fail("the follower's disk never filled")
            # Still writable with the follower stuck.
            for j in range(20):
                k = f"{KS}:more{j}"
                self.assertEqual(conn.call("SET", k, "x"), "OK")
                acked[k] = "x"
        self.assertTrue(c.nodes[f].alive(), c.nodes[f].log_tail())
        self.assertEqual(info_fields(c.nodes[f])["disk_full"], "1")
        # The leader counts only what the follower made durable: its match index stays behind.
        time.sleep(0.5)
        g = c.group(leader)
        match = next(x["match_index"] for x in g["followers"] if x["node"] == f"n{f + 1}")
        self.assertLess(match, g["commit_index"])
        with c.nodes[f].raw() as conn:
            self.assertTrue(str(conn.call("SET", f"{KS}:refused", "x")).startswith("MISCONF"))

        os.unlink(filler)
        self.check_converged(c, acked)

    def test_leaderless_and_multi_leader_replicas_on_a_full_disk(self):
        """A node whose disk fills holds leaderless and multi-leader replicas: it refuses its
        clients' writes with MISCONF and keeps serving reads; the others keep taking writes
        (a leaderless quorum without it, multi-leader writes kept in their origin's log); once
        space returns it holds every acknowledged write without a restart."""
        extra = (
            '[[keyspace]]\nname = "lk"\nprefix = "lk:"\nmodel = "leaderless"\nn = 3\nr = 2\n'
            'w = 2\nsloppy = true\nconflict = "lww"\n\n'
            '[[keyspace]]\nname = "carts"\nprefix = "carts:"\nmodel = "multi-leader"\n'
            'conflict = "lww"\n')
        c, f, filler = self.cluster_with_a_full_node(reserve=4 * MIB, extra=extra)
        ok = next(i for i in range(3) if i != f)
        acked = {}
        with c.nodes[ok].raw(timeout=20) as conn:
            for i in range(MAX_WRITES):
                k, v = f"{('lk', 'carts')[i % 2]}:k{i}", value_of(i)
                self.assertEqual(conn.call("SET", k, v), "OK", k)
                acked[k] = v
                if i % 20 == 0 and int(info_fields(c.nodes[f])["persist_failures"]) > 0:
                    break
            else:
                self.fail("the node's disk never filled")
            for j in range(20):  # both models still take writes elsewhere
                for ks in ("lk", "carts"):
                    k = f"{ks}:more{j}"
                    self.assertEqual(conn.call("SET", k, "x"), "OK", k)
                    acked[k] = "x"
        full = c.nodes[f]
        self.assertTrue(full.alive(), full.log_tail())
        self.assertEqual(info_fields(full)["disk_full"], "1")
        with full.raw() as conn:
            for ks in ("lk", "carts"):
                r = conn.call("SET", f"{ks}:refused", "x")
                self.assertTrue(str(r).startswith("MISCONF"), r)
            self.assertEqual(text(conn.call("GET", "carts:k1")), acked["carts:k1"])
            self.assertEqual(text(conn.call("GET", "lk:k0")), acked["lk:k0"])
        # A leaderless write that needs every replica fails at once when the full one refuses
        # (no other node can stand in: N is the cluster), saying it may be stored in part; its
        # hint for the full replica is delivered with the rest once space returns.
        with c.nodes[ok].raw(timeout=20) as conn:
            self.assertEqual(conn.call("CONSISTENCY", "ALL"), "OK")
            r = str(conn.call("SET", "lk:all", "x"))  # not -TIMEOUT at request_timeout_ms
            self.assertTrue(r.startswith("REFUSED the write of key 'lk:all' cannot reach the 3 "
                                         "replicas it needs"), r)
            self.assertGreaterEqual(int(keyspace_fields(conn, "lk")["writes_refused"]), 1)

        os.unlink(filler)
        deadline = time.monotonic() + 60
        while True:
            with full.raw(timeout=20) as conn:
                missing = [k for k, v in acked.items()
                           if k.startswith("carts:") and text(conn.call("GET", k)) != v]
                lk_objects = int(keyspace_fields(conn, "lk")["objects"])
            lk_acked = sum(1 for k in acked if k.startswith("lk:")) + 1  # and lk:all
            if not missing and lk_objects >= lk_acked and info_fields(full)["disk_full"] == "0":
                break
            self.assertLess(time.monotonic(), deadline,
                            f"after space returned: {len(missing)} multi-leader writes missing, "
                            f"{lk_objects} of {lk_acked} leaderless keys held, disk_full "
                            f"{info_fields(full)['disk_full']}\n" + full.log_tail())
            time.sleep(0.5)
        with full.raw(timeout=20) as conn:
            self.assertEqual(conn.call("CONSISTENCY", "ONE"), "OK")
            for k, v in acked.items():
                if k.startswith("lk:"):
                    self.assertEqual(text(conn.call("GET", k)), v, k)
            self.assertEqual(text(conn.call("GET", "lk:all")), "x")

    def set_through_leader(self, c, k, v, attempts=5):
        """SET through the current leader, again (it is idempotent) when leadership changed
        under it: a loaded machine stalls a process past an election timeout now and then."""
        for _ in range(attempts):
            with c.nodes[c.leader()].raw(timeout=10) as conn:
                r = conn.call("SET", k, v)
            if r == "OK":
                return
            self.assertTrue(str(r).startswith(("TRYAGAIN", "TIMEOUT")), r)
            time.sleep(0.5)
        self.fail(f"SET {k} kept failing: {r}\n" + "\n".join(
            f"n{i + 1}:\n" + s.log_tail() for i, s in enumerate(c.nodes)))

    def test_a_leader_whose_disk_fills_hands_leadership_over_and_catches_up(self):
        """Every node's data dir on its own tmpfs, no reserve (the leader's disk refuses a write
        for real, so its own log write is stuck while it hands over). The leader's tmpfs is
        then filled but for a few MiB, and writes go through it until it refuses them."""
        def no_reserve(*args):
            return test_cluster.cluster_config(*args).replace(
                "[node]\n", "[node]\ndisk_reserve_bytes = 0\n", 1)
        # Election timeouts of 500 ms rather than 200: a loaded machine stalls a process for
        # longer than the fast timeout now and then, and the leader changes again.
        c = test_cluster.Cluster(config=no_reserve, raft={"election_ticks": 25})
        self.addCleanup(c.cleanup)
        mnts = [mount_tmpfs(self, 64) for _ in c.nodes]
        for s, mnt in zip(c.nodes, mnts):
            s.data_dir = os.path.join(mnt, "data")
        c.start()
        full = c.leader()
        pid = c.nodes[full].pid
        st = os.statvfs(mnts[full])
        filler = os.path.join(mnts[full], "filler")
        make_filler(filler, st.f_bavail * st.f_frsize - 12 * MIB)

        # Writes through the leader until its disk refuses one: that write waits for the disk
        # (no reply: the client gives up after a second, its outcome unknown), or, when the
        # refused batch held only Raft's own records, the next one gets MISCONF.
        acked, error = {}, None
        conn = c.nodes[full].raw(timeout=1)
        try:
            for i in range(MAX_WRITES):
                k, v = f"{KS}:k{i}", value_of(i)
                refused_at = time.monotonic()
                try:
                    r = conn.call("SET", k, v)
                except socket.timeout:
                    if info_fields(c.nodes[full])["disk_full"] == "1":
                        break
                    conn.close()  # only slow (a loaded machine): go on, that key unacked
                    conn = c.nodes[full].raw(timeout=1)
                    continue
                if r != "OK":
                    error = str(r)
                    break
                acked[k] = v
            else:
                self.fail("the leader's disk never filled")
        finally:
            conn.close()
        self.assertTrue(error is None or error.startswith("MISCONF"), error)
        self.assertGreater(len(acked), 10)

        # Leadership moves to a node with room within a few election timeouts of that write,
        # and writes go on through it.
        new = c.leader(timeout=10)
        while new == full:
            self.assertLess(time.monotonic() - refused_at, 5,
                            "leadership stayed on the full node\n" + c.nodes[full].log_tail())
            time.sleep(0.05)
            new = c.leader(timeout=10)
        if os.environ.get("RKV_TEST_VERBOSE"):
            print(f"leadership moved {time.monotonic() - refused_at:.2f}s after the refusal")
        for j in range(50):
            k = f"{KS}:after{j}"
            self.set_through_leader(c, k, f"v{j}")
            acked[k] = f"v{j}"
        info = info_fields(c.nodes[full])
        self.assertEqual(info["disk_full"], "1")
        self.assertGreater(int(info["persist_failures"]), 0)  # its own log write was stuck
        self.assertGreaterEqual(int(info["disk_full_handoffs"]), 1)
        self.assertGreaterEqual(metric(c.nodes[full], "replikv_disk_full_handoffs_total"), 1)
        with open(c.nodes[full].log_path, errors="replace") as f:
            self.assertIn("the disk is full: handing leadership to", f.read())

        # The full node keeps serving reads (a linearizable one through the new leader, a local
        # one from its own state), refuses writes, and does not take leadership back.
        with c.nodes[full].raw() as conn:
            r = conn.call("GET", f"{KS}:after0")
            if str(r).startswith("TRYAGAIN"):  # the leader changed again meanwhile (load)
                time.sleep(1)
                r = conn.call("GET", f"{KS}:after0")
            self.assertEqual(text(r), "v0")
            self.assertEqual(conn.call("READMODE", "follower"), "OK")
            first = next(iter(acked))
            self.assertEqual(text(conn.call("GET", first)), acked[first])
            self.assertTrue(str(conn.call("SET", f"{KS}:refused", "x")).startswith("MISCONF"))
        time.sleep(1.0)
        self.assertNotEqual(c.leader(), full)
        self.assertEqual(c.group(full)["role"], "follower")

        # Space returns: it catches up with the others, without a restart.
        os.unlink(filler)
        self.check_converged(c, acked)
        self.assertEqual(c.nodes[full].pid, pid)
        self.assertTrue(c.nodes[full].alive())
        self.assertEqual(info_fields(c.nodes[full])["disk_full"], "0")
        with c.nodes[full].raw() as conn:
            # TRYAGAIN: leadership moved while the write was forwarded (a loaded machine, ASan);
            # the write did not run, so it is sent again.
            deadline = time.monotonic() + 10
            r = conn.call("SET", f"{KS}:back", "1")
            while str(r).startswith("TRYAGAIN") and time.monotonic() < deadline:
                time.sleep(0.2)
                r = conn.call("SET", f"{KS}:back", "1")
            self.assertEqual(r, "OK")


if __name__ == "__main__":
    unittest.main(verbosity=2)
