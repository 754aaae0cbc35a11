"""redis-benchmark runs to completion against replikv without errors, plain and pipelined.
No throughput assertions here: numbers belong to bench/redis_compare.sh."""

import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

N = int(os.environ.get("REPLIKV_TEST_BENCH_N", "50000"))
TESTS = {"PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "MSET (10 keys)"}


class RedisBenchmarkTest(harness.ServerTestCase):
    def run_benchmark(self, server, pipeline):
        cmd = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(server.port),
               "-t", "ping,set,get,incr,mset", "-c", "50", "-n", str(N), "-r", "100000", "-q"]
        if pipeline > 1:
            cmd += ["-P", str(pipeline)]
        r = subprocess.run(cmd, capture_output=True, timeout=150)
        out = r.stdout.decode(errors="replace")
        err = r.stderr.decode(errors="replace")
        self.assertEqual(r.returncode, 0, out + err)
        # -q prints progress with \r and one final "NAME: X requests per second" line per test.
        done = {}
        for line in re.split(r"[\r\n]+", out):
            m = re.match(r"^(.+?): ([\d.]+) requests per second", line.strip())
            if m:
                done[m.group(1)] = float(m.group(2))
        self.assertEqual(set(done), TESTS, out)
        self.assertTrue(all(v > 0 for v in done.values()), done)
        for bad in ("Error", "ERR", "error", "Connection reset", "Writing to socket"):
            self.assertNotIn(bad, out + err)
        return done

    def test_plain_and_pipelined(self):
        s = self.start_server(fsync="batch")
        for pipeline in (1, 16):
            self.run_benchmark(s, pipeline)
            self.assertAlive(s)
        with s.raw() as c:
            self.assertEqual(c.call("PING"), "PONG")
            self.assertGreater(c.call("DBSIZE"), 1000)
            self.assertEqual(c.call("SET", "after", "bench"), "OK")
            self.assertEqual(c.call("GET", "after"), "bench")
            stats = c.call("INFO", "stats")
            self.assertRegex(stats, r"protocol_errors:0\b")
            self.assertRegex(stats, r"unknown_commands:0\b")
        self.assertEqual(s.http("/health")[0], 200)
        # All 50 benchmark connections were closed and forgotten.
        self.assertLessEqual(s.status()["clients"], 2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
