"""Real client libraries work unchanged: python3-redis (RESP2) and hiredis (C)."""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


class RedisPyTest(harness.SharedServerTestCase):
    server_fsync = "batch"

    def setUp(self):
        self.r = self.server.redis(decode_responses=True)
        self.addCleanup(self.r.close)
        self.r.flushall()

    def test_basic_api(self):
        r = self.r
        self.assertTrue(r.set("a", "1"))
        self.assertEqual(r.get("a"), "1")
        self.assertIsNone(r.get("missing"))
        self.assertIsNone(r.set("a", "2", nx=True))
        self.assertTrue(r.set("a", "3", xx=True, ex=100))
        self.assertEqual(r.ttl("a"), 100)
        self.assertEqual(r.incr("n"), 1)
        self.assertEqual(r.incrby("n", 41), 42)
        self.assertEqual(r.decrby("n", 2), 40)
        self.assertEqual(r.append("s", "ab"), 2)
        self.assertEqual(r.strlen("s"), 2)
        self.assertEqual(r.type("s"), "string")
        self.assertEqual(r.exists("a", "s", "zz"), 2)
        self.assertEqual(r.getdel("s"), "ab")
        self.assertEqual(r.delete("a", "n", "zz"), 2)
        self.assertEqual(r.dbsize(), 0)
        self.assertTrue(r.client_setname("py"))
        self.assertEqual(r.client_getname(), "py")
        self.assertIsInstance(r.client_id(), int)
        self.assertIn("redis_version", r.info("server"))
        self.assertEqual(r.info("replication")["role"], "master")

    def test_binary_values(self):
        r = self.server.redis()
        self.addCleanup(r.close)
        blob = bytes(range(256)) * 40 + b"\r\n\x00$*-+:"
        r.set(b"bin\x00key\r\n", blob)
        self.assertEqual(r.get(b"bin\x00key\r\n"), blob)
        self.assertEqual(r.strlen(b"bin\x00key\r\n"), len(blob))

    def test_big_value(self):
        r = self.server.redis()
        self.addCleanup(r.close)
        blob = os.urandom(8 << 20)
        self.assertTrue(r.set("big", blob))
        self.assertEqual(r.get("big"), blob)
        self.assertEqual(r.append("big", b"tail"), len(blob) + 4)
        self.assertEqual(r.getdel("big")[-4:], b"tail")

    def test_mget_mset(self):
        data = {f"k{i}": f"v{i}" for i in range(1000)}
        self.assertTrue(self.r.mset(data))
        keys = list(data) + ["absent"]
        self.assertEqual(self.r.mget(keys), list(data.values()) + [None])

    def test_pipeline(self):
        p = self.r.pipeline(transaction=False)
        for i in range(2000):
            p.set(f"p{i}", i)
            p.incr(f"c{i % 10}")
        p.get("p1999")
        p.execute_command("NOSUCH")
        p.get("p0")
        res = p.execute(raise_on_error=False)
        self.assertEqual(len(res), 4003)
        self.assertTrue(all(x is True for x in res[0:4000:2]))
        self.assertEqual(sorted(res[1:4000:2])[-1], 200)
        self.assertEqual(res[4000], "1999")
        self.assertIsInstance(res[4001], Exception)
        self.assertEqual(res[4002], "0")
        self.assertEqual(self.r.dbsize(), 2010)

    def test_scan_iter_10k(self):
        n = 10000
        p = self.r.pipeline(transaction=False)
        for i in range(n):
            p.set(f"scan:{i}", "x")
            if i % 1000 == 999:
                p.execute()
        p.execute()
        self.r.set("other", "y")
        seen = list(self.r.scan_iter(match="scan:*", count=250))
        self.assertEqual(set(seen), {f"scan:{i}" for i in range(n)})  # all, at least once
        self.assertLessEqual(len(seen), 2 * n)  # and not wildly duplicated
        all_keys = list(self.r.scan_iter(count=1000))
        self.assertEqual(len(set(all_keys)), n + 1)
        # Keys added or deleted during the iteration do not disturb the ones present throughout.
        stable = set()
        cursor = 0
        i = 0
        while True:
            cursor, batch = self.r.scan(cursor, count=100)
            stable |= set(batch)
            if i % 3 == 0:
                self.r.set(f"churn:{i}", "z")
                self.r.delete(f"churn:{i - 3}")
            i += 1
            if cursor == 0:
                break
        self.assertTrue({f"scan:{k}" for k in range(n)} <= stable)


class HiredisTest(harness.ServerTestCase):
    def test_hiredis_pipelined_set_get(self):
        cc = shutil.which("cc") or shutil.which("gcc")
        if not cc:
            self.skipTest("no C compiler")
        flags = subprocess.run(["pkg-config", "--cflags", "--libs", "hiredis"],
                               capture_output=True, text=True)
        if flags.returncode != 0:
            self.skipTest("hiredis development files not installed")
        tmp = tempfile.mkdtemp(prefix="rkv-hiredis-")
        self.addCleanup(shutil.rmtree, tmp, True)
        exe = os.path.join(tmp, "hiredis_pipeline")
        subprocess.run([cc, "-O1", "-o", exe, os.path.join(HERE, "clients", "hiredis_pipeline.c")]
                       + flags.stdout.split(), check=True, timeout=120)
        s = self.start_server(fsync="batch")
        r = subprocess.run([exe, str(s.port), "20000"], capture_output=True, text=True,
                           timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("0 bad", r.stdout)
        self.assertAlive(s)


if __name__ == "__main__":
    unittest.main(verbosity=2)
