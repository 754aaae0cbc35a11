"""RESP3 on the wire, checked byte by byte through raw sockets."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Map, Null, RespError, Verbatim  # noqa: E402


class Resp3RawTest(harness.SharedServerTestCase):
    def conn(self):
        c = self.server.raw()
        self.addCleanup(c.close)
        return c

    def test_default_is_resp2(self):
        c = self.conn()
        c.raw_log = b""
        self.assertIsNone(c.call("GET", "resp3:none"))
        self.assertEqual(c.raw_log, b"$-1\r\n")
        c.raw_log = b""
        self.assertIsNone(c.call("COMMAND", "INFO", "nosuchcommand")[0])
        self.assertEqual(c.raw_log, b"*1\r\n*-1\r\n")

    def test_hello3_map(self):
        c = self.conn()
        c.raw_log = b""
        reply = c.call("HELLO", "3")
        self.assertIsInstance(reply, Map)
        self.assertTrue(c.raw_log.startswith(b"%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n"), c.raw_log)
        d = reply.as_dict()
        self.assertEqual([k for k, _ in reply],
                         ["server", "version", "proto", "id", "mode", "role", "modules"])
        self.assertEqual(d["proto"], 3)
        self.assertEqual(d["modules"], [])
        self.assertEqual(d["id"], c.call("CLIENT", "ID"))
        # Subsequent nulls are RESP3 nulls.
        c.raw_log = b""
        self.assertEqual(c.call("GET", "resp3:none"), Null())
        self.assertEqual(c.raw_log, b"_\r\n")
        c.raw_log = b""
        self.assertEqual(c.call("MGET", "resp3:none", "resp3:none2"), [Null(), Null()])
        self.assertEqual(c.raw_log, b"*2\r\n_\r\n_\r\n")
        c.raw_log = b""
        self.assertEqual(c.call("CLIENT", "GETNAME"), Null())
        self.assertEqual(c.raw_log, b"_\r\n")
        # Back to RESP2 on the same connection.
        self.assertIsInstance(c.call("HELLO", "2"), list)
        c.raw_log = b""
        self.assertIsNone(c.call("GET", "resp3:none"))
        self.assertEqual(c.raw_log, b"$-1\r\n")

    def test_hello_errors_keep_protocol(self):
        c = self.conn()
        err = c.call("HELLO", "9")
        self.assertIsInstance(err, RespError)
        self.assertTrue(str(err.args[0]).startswith("NOPROTO"))
        c.raw_log = b""
        self.assertIsNone(c.call("GET", "x"))  # still RESP2
        self.assertEqual(c.raw_log, b"$-1\r\n")

    def test_keyspaces_map_shape(self):
        c = self.conn()
        c.call("HELLO", "3")
        c.call("SET", "accounts:bob", "1")
        reply = c.call("KEYSPACES")
        self.assertIsInstance(reply, list)
        self.assertGreaterEqual(len(reply), 1)
        by_name = {}
        for ks in reply:
            self.assertIsInstance(ks, Map)
            d = ks.as_dict()
            self.assertEqual([k for k, _ in ks][:5], ["name", "prefix", "model", "keys", "expiring"])
            self.assertIsInstance(d["keys"], int)
            self.assertIn(d["model"], ("primary", "multi-leader", "leaderless"))
            if d["model"] == "primary":
                self.assertIn(d["commit"], ("quorum", "all", "async"))
                self.assertIn(d["read"], ("linearizable", "lease", "follower"))
            elif d["model"] == "multi-leader":
                self.assertIn(d["conflict"], ("lww", "siblings", "crdt"))
            else:
                self.assertTrue(1 <= d["r"] <= d["n"] and 1 <= d["w"] <= d["n"])
            by_name[d["name"]] = d
        self.assertEqual(by_name["default"]["prefix"], "")
        self.assertEqual(by_name["accounts"]["prefix"], "accounts:")
        self.assertGreaterEqual(by_name["accounts"]["keys"], 1)
        # RESP2 flattens each map into an array of alternating names and values.
        c.call("HELLO", "2")
        flat = c.call("KEYSPACES")
        self.assertEqual(flat[0][0:2], ["name", "default"])
        self.assertEqual(len(flat[0]) % 2, 0)

    def test_resp3_types(self):
        c = self.conn()
        c.call("HELLO", "3")
        info = c.call("INFO", "server")
        self.assertIsInstance(info, Verbatim)
        self.assertEqual(info.fmt, "txt")
        self.assertIn("redis_version:", info)
        cl = c.call("CLIENT", "INFO")
        self.assertIsInstance(cl, Verbatim)
        self.assertIn("resp=3", cl)
        docs = c.call("COMMAND", "DOCS", "set")
        self.assertIsInstance(docs, Map)
        self.assertIsInstance(docs.as_dict()["set"], Map)
        cmd = c.call("COMMAND", "INFO", "get")[0]
        self.assertIsInstance(cmd[2], harness.Set)  # flags are a set in RESP3
        self.assertEqual(c.call("SET", "t", "v", "NX"), "OK")
        self.assertEqual(c.call("SET", "t", "v", "NX"), Null())
        self.assertEqual(c.call("TTL", "t"), -1)
        c.raw_log = b""
        err = c.call("NOSUCH")
        self.assertIsInstance(err, RespError)
        self.assertTrue(c.raw_log.startswith(b"-ERR unknown command"), c.raw_log)

    def test_client_kill(self):
        victim = self.conn()
        vid = victim.call("CLIENT", "ID")
        c = self.conn()
        self.assertEqual(c.call("CLIENT", "KILL", "ID", str(vid)), 1)
        self.assertTrue(victim.is_closed())
        self.assertEqual(c.call("CLIENT", "KILL", "ID", str(vid)), 0)
        # As in Redis, the new-style form skips the caller (SKIPME yes is the default): the
        # caller gets :0 and keeps its connection.
        self.assertEqual(c.call("CLIENT", "KILL", "ID", str(c.call("CLIENT", "ID"))), 0)
        self.assertEqual(c.call("PING"), "PONG")

    def test_inline_commands(self):
        c = self.conn()
        c.send(b"PING\r\n")
        self.assertEqual(c.read_reply(), "PONG")
        c.send(b'SET "inline key" "a b\\r\\n"\r\nGET "inline key"\n')
        self.assertEqual(c.read_reply(), "OK")
        self.assertEqual(c.read_reply(), "a b\r\n")
        c.send(b"\r\n\r\nPING\r\n")  # empty lines are ignored
        self.assertEqual(c.read_reply(), "PONG")

    def test_pipelined_raw(self):
        c = self.conn()
        c.call("HELLO", "3")
        c.send(b"".join(harness.encode_command("SET", f"pr{i}", str(i)) for i in range(500))
               + b"".join(harness.encode_command("GET", f"pr{i}") for i in range(500)))
        for _ in range(500):
            self.assertEqual(c.read_reply(), "OK")
        for i in range(500):
            self.assertEqual(c.read_reply(), str(i))


if __name__ == "__main__":
    unittest.main(verbosity=2)
