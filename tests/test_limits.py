"""Every configurable limit, tested at its edge with a config file: max_clients,
client_output_buffer_limit, idle_timeout_ms, max_bulk_len, max_value_len, max_args."""

import os
import re
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import test_cluster  # noqa: E402
from harness import RespError  # noqa: E402


def info_field(conn, section, field):
    text = conn.call("INFO", section)
    m = re.search(rf"^{field}:(\d+)", text, re.M)
    return int(m.group(1)) if m else None


# Redis's text for a value past its size limit (replikv's max_value_len).
TOO_BIG = RespError("ERR string exceeds maximum allowed size (proto-max-bulk-len)")


class LimitsTest(harness.ServerTestCase):
    def server_with(self, limits):
        body = "[limits]\n" + "".join(f"{k} = {v}\n" for k, v in limits.items())
        return self.start_server(fsync="never", config=body)

    def test_max_clients(self):
        s = self.server_with({"max_clients": 3})
        time.sleep(0.2)  # the readiness probe's connection is gone by now
        conns = []
        for _ in range(3):
            c = s.raw()
            self.addCleanup(c.close)
            self.assertEqual(c.call("PING"), "PONG")
            conns.append(c)
        extra = s.raw()
        self.addCleanup(extra.close)
        reply = extra.read_reply()
        self.assertEqual(reply, RespError("ERR max number of clients reached"))
        self.assertTrue(extra.is_closed())
        # The admitted clients are unaffected; closing one frees a slot.
        self.assertEqual(conns[0].call("SET", "a", "1"), "OK")
        self.assertEqual(info_field(conns[0], "clients", "rejected_connections"), 1)
        conns.pop().close()
        deadline = time.monotonic() + 5
        while True:
            c = s.raw()
            self.addCleanup(c.close)
            if c.call("PING") == "PONG":
                break
            self.assertLess(time.monotonic(), deadline, "slot never freed")
            time.sleep(0.1)
        self.assertEqual(c.call("GET", "a"), "1")

    def test_client_output_buffer_limit(self):
        s = self.server_with({"client_output_buffer_limit": 1024 * 1024})
        good = s.raw()
        self.addCleanup(good.close)
        big = "x" * (100 * 1024)
        self.assertEqual(good.call("SET", "big", big), "OK")
        # A client asks for ~30 MB of replies and never reads them.
        greedy = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        self.addCleanup(greedy.close)
        greedy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        try:
            for _ in range(10):
                greedy.sendall(harness.encode_command("GET", "big") * 30)
                time.sleep(0.05)
        except OSError:
            pass  # already disconnected
        deadline = time.monotonic() + 10
        while info_field(good, "clients", "closed_output_limit") != 1:
            self.assertLess(time.monotonic(), deadline, "greedy client never disconnected")
            time.sleep(0.1)
        # The greedy connection ends (after draining what was already sent).
        greedy.settimeout(5)
        closed = False
        try:
            while greedy.recv(1 << 20):
                pass
            closed = True
        except (ConnectionResetError, BrokenPipeError):
            closed = True
        except socket.timeout:
            closed = False
        self.assertTrue(closed, "greedy connection still open")
        # Everyone else is fine, including big replies that are read.
        self.assertEqual(good.call("GET", "big"), big)
        self.assertEqual(good.call("SET", "k", "v"), "OK")
        self.assertAlive(s)

    def test_idle_timeout(self):
        s = self.server_with({"idle_timeout_ms": 1500})
        idle = s.raw()
        busy = s.raw()
        self.addCleanup(idle.close)
        self.addCleanup(busy.close)
        self.assertEqual(idle.call("PING"), "PONG")
        start = time.monotonic()
        # The busy client talks every 300 ms and must never be dropped.
        while time.monotonic() - start < 4.0:
            self.assertEqual(busy.call("PING"), "PONG")
            time.sleep(0.3)
        self.assertTrue(idle.is_closed(timeout=0.5), "idle client was not closed")
        self.assertEqual(busy.call("PING"), "PONG")
        self.assertGreaterEqual(info_field(busy, "clients", "closed_idle"), 1)

    def test_max_bulk_len(self):
        s = self.server_with({"max_bulk_len": 1024})
        with s.raw() as c:
            self.assertEqual(c.call("SET", "ok", "y" * 1024), "OK")
            self.assertEqual(c.call("GET", "ok"), "y" * 1024)
        with s.raw() as c:
            c.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1025\r\n")  # refused on the header alone
            reply = c.read_reply()
            self.assertEqual(reply, RespError("ERR Protocol error: invalid bulk length"))
            self.assertTrue(c.is_closed())
        with s.raw() as c:
            self.assertEqual(c.call("GET", "k"), None)
        self.assertAlive(s)

    def test_max_value_len(self):
        s = self.server_with({"max_value_len": 1000})
        with s.raw() as c:
            self.assertEqual(c.call("SET", "k", "a" * 1000), "OK")
            self.assertEqual(c.call("SET", "k2", "a" * 1001), TOO_BIG)
            self.assertEqual(c.call("APPEND", "k", "b"), TOO_BIG)
            self.assertEqual(c.call("MSET", "m1", "x", "m2", "a" * 1001), TOO_BIG)
            self.assertEqual(c.call("SETNX", "k3", "a" * 1001), TOO_BIG)
            # Refused writes changed nothing; the connection lives on.
            self.assertEqual(c.call("STRLEN", "k"), 1000)
            self.assertEqual(c.call("EXISTS", "k2", "m1", "k3"), 0)
            self.assertEqual(c.call("PING"), "PONG")

    def test_max_args(self):
        s = self.server_with({"max_args": 10})
        with s.raw() as c:
            self.assertEqual(c.call("MSET", *(["a", "b"] * 4)), "OK")  # 9 args
            c.send_command("MGET", *(["k"] * 10))  # 11 args
            reply = c.read_reply()
            self.assertIsInstance(reply, RespError)
            self.assertIn("Protocol error", reply.args[0])
            self.assertTrue(c.is_closed())
        self.assertAlive(s)

    def test_open_files_limit_bounds_clients(self):
        """A node whose open-files limit cannot be raised to what max_clients needs takes fewer
        clients, says so at start and in INFO, and answers the next client with Redis's error
        instead of running out of descriptors."""
        s = harness.Server(fsync="never", nofile=(160, 160))
        self.addCleanup(s.cleanup)
        s.start()
        with open(s.log_path, "rb") as f:
            log = f.read().decode(errors="replace")
        self.assertIn("max_clients reduced from 10000 to 64", log)
        self.assertIn("maxclients:64", harness.redis_cli(s.port, "INFO", "clients", check=True))
        socks = []
        self.addCleanup(lambda: [x.close() for x in socks])
        with s.raw() as first:
            for _ in range(63):
                socks.append(socket.create_connection(("127.0.0.1", s.port), timeout=2))
            with s.raw() as extra:
                reply = extra.read_reply()
                self.assertIsInstance(reply, RespError)
                self.assertIn("max number of clients reached", reply.args[0])
            self.assertEqual(first.call("SET", "k", "v"), "OK")
            self.assertEqual(first.call("GET", "k"), "v")
        self.assertAlive(s)

    def test_fd_exhaustion_does_not_spin(self):
        """The process runs out of descriptors while serving (its limit lowered under it): the
        server must not spin on accept() nor flood its log, connected clients keep being
        served, and new ones are accepted again once descriptors free up."""
        import resource
        s = harness.Server(fsync="never")
        self.addCleanup(s.cleanup)
        s.start()
        old = resource.prlimit(s.proc.pid, resource.RLIMIT_NOFILE)
        socks = []
        self.addCleanup(lambda: [x.close() for x in socks])
        with s.raw() as first:
            self.assertEqual(first.call("PING"), "PONG")
            used = len(os.listdir(f"/proc/{s.proc.pid}/fd"))
            resource.prlimit(s.proc.pid, resource.RLIMIT_NOFILE, (used + 8, old[1]))
            for _ in range(40):
                socks.append(socket.create_connection(("127.0.0.1", s.port), timeout=2))
            time.sleep(0.5)
            with open(s.log_path, "rb") as f:
                before = f.read().count(b"\n")
            time.sleep(2.0)
            with open(s.log_path, "rb") as f:
                log = f.read()
            grown = log.count(b"\n") - before
            self.assertLess(grown, 5, f"{grown} log lines in 2 s while out of descriptors:\n"
                            + s.log_tail(5))
            self.assertIn(b"accept failed", log)
            # The connected client is still served.
            self.assertEqual(first.call("SET", "k", "v"), "OK")
            self.assertEqual(first.call("GET", "k"), "v")
            resource.prlimit(s.proc.pid, resource.RLIMIT_NOFILE, old)
            for x in socks:
                x.close()
            socks.clear()
        self.assertAlive(s)
        deadline = time.monotonic() + 10
        while True:
            try:
                with s.raw(timeout=2) as c:
                    if c.call("PING") == "PONG":
                        break
            except OSError:
                pass
            self.assertLess(time.monotonic(), deadline, "server did not recover")
            time.sleep(0.2)
        with open(s.log_path, "rb") as f:
            self.assertIn(b"accepting connections again", f.read())


class ClientBackpressureTest(test_cluster.ClusterTestCase):
    def test_fast_pipelining_client_is_slowed_not_refused(self):
        """A client pipelines writes to a primary keyspace far faster than they commit. The
        leader stops reading it while 1024 of its writes wait (TCP slows the client down)
        instead of taking in all it sends: every write is acknowledged, none is refused with
        TRYAGAIN (the leader refuses proposals past 10000 uncommitted entries)."""
        import threading
        c = self.make_cluster()
        leader = c.leader()
        n = 60000
        payload = b"".join(harness.encode_command("SET", f"{test_cluster.KS}:bp{j}", "x" * 100)
                           for j in range(n))
        with c.nodes[leader].raw(timeout=60) as conn:
            sender = threading.Thread(target=conn.send, args=(payload,))
            sender.start()
            replies = [conn.read_reply() for _ in range(n)]
            sender.join()
        bad = [r for r in replies if r != "OK"]
        self.assertEqual(bad[:5], [], f"{len(bad)} of {n} writes not acknowledged")
        info = harness.redis_cli(c.nodes[leader].port, "INFO", "clients", check=True)
        paused = int(re.search(r"input_paused:(\d+)", info).group(1))
        self.assertGreater(paused, 0, info)


if __name__ == "__main__":
    unittest.main(verbosity=2)
