"""Hostile input: malformed RESP on many connections at once, while a well-behaved client keeps
working and never sees an error; announced lengths never make the server allocate."""

import os
import random
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import RespError  # noqa: E402

FUZZ_SECONDS = 6.0
FUZZ_THREADS = 12

# Payloads that must each get an error reply and a closed connection.
PROTOCOL_ERRORS = [
    (b"*1\r\n$2147483648\r\n", "Protocol error: invalid bulk length"),
    (b"*1\r\n$-7\r\n", "Protocol error: invalid bulk length"),
    (b"*10000000\r\n", "Protocol error: invalid multibulk length"),
    (b"*99999999999999999999\r\n", "Protocol error"),
    (b"*2\r\n$3\r\nGET\r\n$99999999999999999999\r\n", "Protocol error"),
    (b"*1\r\n$4\r\nPINGxx", "Protocol error: expected CRLF after bulk data"),
    (b"*3\r\n%3\r\n", "Protocol error: expected '$', got '%'"),
    (b"*1\r\n:4\r\n", "Protocol error: expected '$', got ':'"),
    (b"*abc\r\n", "Protocol error: invalid multibulk length"),
    (b"*1\r\n$x\r\n", "Protocol error: invalid bulk length"),
    (b"x" * (70 * 1024), "Protocol error: too big inline request"),
    (b'SET "unbalanced\r\n', "Protocol error: unbalanced quotes"),
]


def garbage(rng):
    """One random hostile payload."""
    kind = rng.randrange(9)
    if kind == 0:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 512)))
    if kind == 1:  # truncated valid command, then the connection closes
        cmd = harness.encode_command("SET", "fuzz:%d" % rng.randrange(100), "v" * rng.randrange(50))
        return cmd[:rng.randrange(1, len(cmd))]
    if kind == 2:  # bad type byte inside a multibulk
        return b"*2\r\n" + bytes([rng.choice(b"+-:%~!#,(_=>")]) + b"3\r\nGET\r\n"
    if kind == 3:  # negative or huge lengths
        return rng.choice([b"*-1\r\n", b"*1\r\n$-2\r\n", b"*1\r\n$4294967296\r\n",
                           b"*4294967296\r\n", b"*1\r\n$9223372036854775807\r\n",
                           b"*9223372036854775808\r\n", b"*1\r\n$-9223372036854775808\r\n"])
    if kind == 4:  # missing CRLF
        return rng.choice([b"*1\r\n$4\r\nPING", b"*1\n$4\nPING\n", b"*1\r\n$4\r\nPINGPONG\r\n",
                           b"*1\r$4\rPING\r"])
    if kind == 5:  # over-long inline line
        return b"GET " + b"k" * rng.randrange(60 * 1024, 80 * 1024)
    if kind == 6:  # valid pipeline, unknown commands, wrong arity mixed with junk
        return (harness.encode_command("NOSUCH", "x") + harness.encode_command("GET")
                + harness.encode_command("SET", "fuzz:x", "1") + b"\x00\xff\r\n*")
    if kind == 7:  # many tiny args
        n = rng.randrange(1, 3000)
        return b"*%d\r\n" % (n + 1) + b"$4\r\nMGET\r\n" + b"$1\r\nk\r\n" * n
    return b"*1\r\n$" + str(rng.randrange(10, 40)).encode() + b"\r\n" + os.urandom(5)


class AdversarialTest(harness.ServerTestCase):
    def setUp(self):
        self.server = self.start_server(fsync="never")

    def test_each_protocol_error_is_answered_and_closed(self):
        for payload, msg in PROTOCOL_ERRORS:
            with self.server.raw(timeout=5) as c:
                c.send(payload)
                reply = c.read_reply()
                self.assertIsInstance(reply, RespError, payload[:40])
                self.assertTrue(reply.args[0].startswith("ERR "), reply)
                self.assertIn(msg, reply.args[0], payload[:40])
                self.assertTrue(c.is_closed(), f"connection left open after {payload[:40]!r}")
        # Commands pipelined before the bad bytes are all answered first.
        with self.server.raw(timeout=5) as c:
            c.send(harness.encode_command("SET", "a", "1") + harness.encode_command("GET", "a")
                   + b"*1\r\n$x\r\n")
            self.assertEqual(c.read_reply(), "OK")
            self.assertEqual(c.read_reply(), "1")
            self.assertIsInstance(c.read_reply(), RespError)
        self.assertAlive(self.server)

    def test_nothing_after_quit_runs(self):
        """Commands after QUIT, in the same packet or sent later, are never executed."""
        with self.server.raw(timeout=5) as c:
            c.send(harness.encode_command("SET", "before", "1") + harness.encode_command("QUIT")
                   + harness.encode_command("SET", "after", "1"))
            self.assertEqual(c.read_reply(), "OK")
            self.assertEqual(c.read_reply(), "OK")
            try:
                c.send(harness.encode_command("SET", "later", "1"))
            except OSError:
                pass  # already closed by the server
            self.assertTrue(c.is_closed())
        with self.server.raw(timeout=5) as c:
            self.assertEqual(c.call("EXISTS", "before", "after", "later"), 1)
        self.assertAlive(self.server)

    def test_announced_huge_lengths_do_not_allocate(self):
        base = harness.rss_kb(self.server.pid)
        conns = []
        for i in range(40):
            c = self.server.raw(timeout=5)
            self.addCleanup(c.close)
            c.send(b"*1\r\n$2147483648\r\n" if i % 2 else b"*10000000\r\n")
            conns.append(c)
        for c in conns:
            reply = c.read_reply()
            self.assertIsInstance(reply, RespError)
            self.assertIn("Protocol error", reply.args[0])
        grown_mb = (harness.rss_kb(self.server.pid) - base) / 1024
        self.assertLess(grown_mb, 8, f"RSS grew by {grown_mb:.1f} MB")
        self.assertAlive(self.server)

    def test_announced_bulk_within_limit_is_not_preallocated(self):
        """A client that announces a big (but allowed) bulk and then sends only a few bytes
        must not make the server commit memory for the announced size."""
        base = harness.rss_kb(self.server.pid)
        conns = []
        for _ in range(4):
            c = self.server.raw(timeout=5)
            self.addCleanup(c.close)
            c.send(b"*2\r\n$3\r\nGET\r\n$400000000\r\nabc")
            conns.append(c)
        time.sleep(1.0)
        with self.server.raw() as c:
            self.assertEqual(c.call("PING"), "PONG")
        grown_mb = (harness.rss_kb(self.server.pid) - base) / 1024
        self.assertLess(grown_mb, 64,
                        f"4 connections announcing 400 MB bulks (sending 3 bytes each) grew RSS by "
                        f"{grown_mb:.0f} MB")
        self.assertAlive(self.server)

    def test_fuzz_many_connections_while_good_client_works(self):
        stop = threading.Event()
        good = {"ops": 0, "errors": []}

        def good_client():
            rng = random.Random(1)
            try:
                with self.server.raw(timeout=10) as c:
                    i = 0
                    while not stop.is_set():
                        k, v = f"good:{i % 500}", "%x" % rng.getrandbits(64)
                        r1 = c.call("SET", k, v)
                        r2 = c.call("GET", k)
                        if r1 != "OK" or r2 != v:
                            good["errors"].append((k, v, r1, r2))
                        good["ops"] += 2
                        i += 1
            except Exception as e:  # noqa: BLE001 - any failure of the good client is a bug
                good["errors"].append(repr(e))

        def attacker(seed):
            rng = random.Random(seed)
            while not stop.is_set():
                try:
                    s = socket.create_connection(("127.0.0.1", self.server.port), timeout=2)
                except OSError:
                    continue
                try:
                    s.settimeout(0.2)
                    for _ in range(rng.randrange(1, 4)):
                        s.sendall(garbage(rng))
                    if rng.random() < 0.5:  # sometimes read what comes back, sometimes not
                        s.recv(65536)
                except OSError:
                    pass  # the server may close on us mid-send; that is its right
                finally:
                    s.close()

        threads = [threading.Thread(target=good_client)]
        threads += [threading.Thread(target=attacker, args=(seed,)) for seed in range(FUZZ_THREADS)]
        for t in threads:
            t.start()
        time.sleep(FUZZ_SECONDS)
        stop.set()
        for t in threads:
            t.join(30)
        self.assertFalse(any(t.is_alive() for t in threads), "a client thread hung")
        self.assertEqual(good["errors"], [])
        self.assertGreater(good["ops"], 100)
        self.assertAlive(self.server)
        with self.server.raw() as c:
            self.assertEqual(c.call("PING"), "PONG")
            info = c.call("INFO", "stats")
            self.assertIn("protocol_errors:", info)
        code, _, body = self.server.http("/health")
        self.assertEqual((code, body), (200, "ok\n"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
