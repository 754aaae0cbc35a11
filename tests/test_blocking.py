"""Blocking list pops against real processes: BLPOP BRPOP BLMOVE BLMPOP wait for a push
without polling, time out with nil, serve waiting clients in the order they blocked, forget a
client that disconnects, and, in a 3-node primary cluster, wake a client blocked on a follower
when the push is applied there (sent to the leader or to another follower), handing each
element to exactly one client.

Environment: REPLIKV_BIN (see harness.py).
"""

import os
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import RawClient  # noqa: E402


def is_nil(v):
    return v is None or isinstance(v, harness.Null)


def cpu_seconds(pid):
    """utime + stime of a process, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Waiter:
    """A client that sends one blocking command and collects its reply in a thread."""

    def __init__(self, port, *args, timeout=30):
        self.c = RawClient(port, timeout=timeout)
        self.reply = None
        self.done_at = None
        self.id = self.c.call("CLIENT", "ID")
        self.c.send_command(*args)
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        try:
            self.reply = self.c.read_reply()
        except (OSError, harness.ConnectionClosed, socket.timeout) as e:
            self.reply = e
        self.done_at = time.monotonic()

    def wait(self, timeout):
        self.t.join(timeout)
        return not self.t.is_alive()

    def close(self):
        # shutdown first: the reader thread's recv keeps the socket open past a bare close().
        try:
            self.c.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.c.close()


class BlockingTest(harness.ServerTestCase):
    def setUp(self):
        self.s = self.start_server()
        self.c = RawClient(self.s.port)
        self.addCleanup(self.c.close)

    def waiter(self, *args, port=None):
        w = Waiter(port or self.s.port, *args)
        self.addCleanup(w.close)
        return w

    def test_push_wakes_a_blocked_client_at_once(self):
        w = self.waiter("BLPOP", "q", "nokey", "5")
        time.sleep(0.2)
        self.assertIsNone(w.done_at, "BLPOP answered before any push")
        pushed = time.monotonic()
        self.assertEqual(self.c.call("RPUSH", "q", "x"), 1)
        self.assertTrue(w.wait(5))
        self.assertEqual(w.reply, ["q", "x"])
        self.assertLess(w.done_at - pushed, 0.1, "wake-up latency")
        self.assertEqual(self.c.call("EXISTS", "q"), 0)

    def test_blocked_client_costs_no_cpu_and_times_out_with_nil(self):
        pid = self.s.pid
        before = cpu_seconds(pid)
        start = time.monotonic()
        w = self.waiter("BRPOP", "q", "2")
        self.assertTrue(w.wait(10))
        elapsed = w.done_at - start
        used = cpu_seconds(pid) - before
        self.assertIsNone(w.reply)
        self.assertGreaterEqual(elapsed, 1.95)
        self.assertLess(elapsed, 2.6)
        # The server's 10 ms timer runs anyway; a busy loop would use the whole core.
        self.assertLess(used, 0.2, f"server used {used:.3f} s of CPU while a client blocked 2 s")
        print(f"\n  blocked 2 s: answered nil after {elapsed:.3f} s, server CPU {used:.3f} s",
              file=sys.stderr)

    def test_timeout_reply_in_resp3_and_blmove(self):
        c3 = RawClient(self.s.port)
        self.addCleanup(c3.close)
        c3.call("HELLO", "3")
        start = time.monotonic()
        self.assertIsInstance(c3.call("BLMOVE", "src", "dst", "LEFT", "RIGHT", "0.3"), harness.Null)
        self.assertGreaterEqual(time.monotonic() - start, 0.28)
        w = self.waiter("BLMOVE", "src", "dst", "LEFT", "RIGHT", "5")
        time.sleep(0.1)
        self.c.call("RPUSH", "src", "a", "b")
        self.assertTrue(w.wait(5))
        self.assertEqual(w.reply, "a")
        self.assertEqual(self.c.call("LRANGE", "dst", "0", "-1"), ["a"])
        self.assertEqual(self.c.call("LRANGE", "src", "0", "-1"), ["b"])

    def test_waiting_clients_are_served_in_order(self):
        ws = []
        for _ in range(3):
            ws.append(self.waiter("BLPOP", "q", "10"))
            time.sleep(0.1)
        self.c.call("RPUSH", "q", "a", "b")
        for w, want in zip(ws[:2], ("a", "b")):
            self.assertTrue(w.wait(5))
            self.assertEqual(w.reply, ["q", want])
        time.sleep(0.2)
        self.assertIsNone(ws[2].done_at, "the third client got an element that was not there")
        self.c.call("LPUSH", "q", "c")
        self.assertTrue(ws[2].wait(5))
        self.assertEqual(ws[2].reply, ["q", "c"])
        # BLMPOP takes several elements at once.
        w = self.waiter("BLMPOP", "10", "2", "m1", "m2", "RIGHT", "COUNT", "2")
        time.sleep(0.1)
        self.c.call("RPUSH", "m2", "x", "y", "z")
        self.assertTrue(w.wait(5))
        self.assertEqual(w.reply, ["m2", ["z", "y"]])

    def test_pipelined_commands_wait_behind_a_blocked_one(self):
        c = RawClient(self.s.port)
        self.addCleanup(c.close)
        c.send(harness.encode_command("BLPOP", "q", "5") + harness.encode_command("PING"))
        time.sleep(0.2)
        self.c.call("RPUSH", "q", "v")
        self.assertEqual(c.read_reply(), ["q", "v"])
        self.assertEqual(c.read_reply(), "PONG")

    def test_key_of_another_type_keeps_the_client_waiting(self):
        # As Redis 7.0: only a list serves a blocked pop; a string at the key is not an error.
        w = self.waiter("BLPOP", "q", "5")
        time.sleep(0.2)
        self.c.call("SET", "q", "x")
        time.sleep(0.2)
        self.assertIsNone(w.done_at, f"answered {w.reply!r} when the key became a string")
        self.c.call("DEL", "q")
        self.c.call("RPUSH", "q", "v")
        self.assertTrue(w.wait(5))
        self.assertEqual(w.reply, ["q", "v"])

    def test_tiny_timeouts_back_to_back(self):
        # A wait may end while its own command is still being dispatched (a 1 ms deadline).
        c = RawClient(self.s.port)
        self.addCleanup(c.close)
        c.send(b"".join(harness.encode_command("BLPOP", "nokey", "0.001") for _ in range(50))
               + harness.encode_command("PING"))
        for _ in range(50):
            self.assertIsNone(c.read_reply())
        self.assertEqual(c.read_reply(), "PONG")
        for _ in range(30):
            self.assertIsNone(c.call("BRPOPLPUSH", "nokey", "d", "0.0001"))

    def test_client_unblock_and_info(self):
        w = self.waiter("BLPOP", "q", "0")
        e = self.waiter("BRPOP", "q", "0")
        time.sleep(0.2)
        self.assertIn("blocked_clients:2", self.c.call("INFO", "clients"))
        self.assertEqual(self.c.call("CLIENT", "UNBLOCK", str(w.id)), 1)
        self.assertTrue(w.wait(5))
        self.assertIsNone(w.reply)
        self.assertEqual(self.c.call("CLIENT", "UNBLOCK", str(e.id), "ERROR"), 1)
        self.assertTrue(e.wait(5))
        self.assertEqual(str(e.reply), "UNBLOCKED client unblocked via CLIENT UNBLOCK")
        self.assertEqual(self.c.call("CLIENT", "UNBLOCK", str(e.id)), 0)
        self.assertIn("blocked_clients:0", self.c.call("INFO", "clients"))

    def test_disconnect_while_blocked_forgets_the_client(self):
        w = self.waiter("BLPOP", "q", "0")
        time.sleep(0.2)
        w.close()
        time.sleep(0.2)
        self.assertEqual(self.c.call("RPUSH", "q", "v"), 1)
        time.sleep(0.1)
        self.assertEqual(self.c.call("LRANGE", "q", "0", "-1"), ["v"])
        w2 = self.waiter("BLPOP", "q", "0")
        self.assertTrue(w2.wait(5))
        self.assertEqual(w2.reply, ["q", "v"])
        self.assertAlive(self.s)


class BlockingClusterTest(unittest.TestCase):
    def test_follower_clients_woken_by_pushes_anywhere_exactly_once(self):
        import test_cluster  # noqa: E402 - the 3-node cluster helpers
        # Steady elections: a leader change on a loaded machine would turn a push into TRYAGAIN
        # (seen in CI), and the test places clients by role.
        cluster = test_cluster.Cluster(3, raft=test_cluster.STEADY_RAFT)
        self.addCleanup(cluster.cleanup)
        cluster.start()
        leader = cluster.leader()
        f1, f2 = [(leader + k) % 3 for k in (1, 2)]
        port = lambda i: cluster.nodes[i].port
        q = test_cluster.KS + ":q"
        ctl = RawClient(port(leader), timeout=20)
        self.addCleanup(ctl.close)
        waiters = []

        def waiter(i, *args):
            w = Waiter(port(i), *args)
            self.addCleanup(w.close)
            waiters.append(w)
            return w

        # A client blocked on a follower, woken by a push sent to the leader.
        w = waiter(f1, "BLPOP", q, "10")
        time.sleep(0.3)
        pushed = time.monotonic()
        self.assertEqual(ctl.call("RPUSH", q, "a"), 1)
        self.assertTrue(w.wait(10))
        self.assertEqual(w.reply, [q, "a"])
        print(f"\n  follower client woken {1000 * (w.done_at - pushed):.1f} ms after the push",
              file=sys.stderr)
        # ... and by a push sent to the other follower (forwarded to the leader).
        w = waiter(f1, "BRPOP", q, "10")
        time.sleep(0.3)
        with RawClient(port(f2), timeout=20) as c:
            self.assertEqual(c.call("LPUSH", q, "b"), 1)
        self.assertTrue(w.wait(10))
        self.assertEqual(w.reply, [q, "b"])
        # Two clients on different followers, one element: exactly one gets it, the other
        # stays blocked until its timeout.
        a = waiter(f1, "BLPOP", q, "3")
        b = waiter(f2, "BLPOP", q, "3")
        time.sleep(0.3)
        self.assertEqual(ctl.call("RPUSH", q, "c"), 1)
        self.assertTrue(a.wait(10) and b.wait(10))
        got = [x.reply for x in (a, b) if not is_nil(x.reply)]
        self.assertEqual(got, [[q, "c"]], f"replies {a.reply!r} {b.reply!r}")
        loser = a if is_nil(a.reply) else b
        self.assertGreater(loser.done_at - pushed, 2.5, "the other client timed out early")
        self.assertEqual(ctl.call("LLEN", q), 0)
        # A client on the leader, woken by a push sent to a follower.
        w = waiter(leader, "BLPOP", q, "10")
        time.sleep(0.3)
        with RawClient(port(f1), timeout=20) as c:
            self.assertEqual(c.call("RPUSH", q, "e"), 1)
        self.assertTrue(w.wait(10))
        self.assertEqual(w.reply, [q, "e"])
        # BLMOVE through a follower: the element moves once.
        m = waiter(f2, "BLMOVE", q, q + "2", "LEFT", "LEFT", "10")
        time.sleep(0.3)
        ctl.call("RPUSH", q, "d")
        self.assertTrue(m.wait(10))
        self.assertEqual(m.reply, "d")
        self.assertEqual(ctl.call("LRANGE", q + "2", "0", "-1"), ["d"])
        self.assertEqual(ctl.call("LLEN", q), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
