"""The admin HTTP listener: /health, /metrics (Prometheus text format), /status (JSON)."""

import json
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"]*"'
                    r'(,[a-zA-Z_][a-zA-Z0-9_]*="[^"]*")*\})? (-?[0-9.e+-]+|\+Inf|NaN)$')


class AdminHttpTest(harness.SharedServerTestCase):
    server_fsync = "batch"

    def test_health(self):
        self.assertEqual(self.server.http("/health"), (200, "text/plain", "ok\n"))

    def test_unknown_path_is_404(self):
        self.assertEqual(self.server.http("/nope")[0], 404)

    def metrics(self):
        code, ctype, body = self.server.http("/metrics")
        self.assertEqual(code, 200)
        self.assertTrue(ctype.startswith("text/plain"), ctype)
        samples = {}
        for line in body.splitlines():
            if not line or line.startswith("#"):
                self.assertRegex(line, r"^(# (HELP|TYPE) [a-z_]+ .+)?$")
                continue
            m = SAMPLE.match(line)
            self.assertTrue(m, f"not a Prometheus sample: {line!r}")
            samples[line.rsplit(" ", 1)[0]] = float(line.rsplit(" ", 1)[1])
        return body, samples

    def test_metrics_count_commands(self):
        _, before = self.metrics()
        with self.server.raw() as c:
            for i in range(7):
                c.call("SET", f"m{i}", "v")
            for i in range(3):
                c.call("GET", f"m{i}")
            c.call("GET", "a", "b")  # arity error
            c.call("NOSUCH")
        body, after = self.metrics()

        def delta(name):
            return after.get(name, 0) - before.get(name, 0)

        self.assertEqual(delta('replikv_commands_total{cmd="set"}'), 7)
        self.assertEqual(delta('replikv_commands_total{cmd="get"}'), 3)
        self.assertEqual(delta('replikv_command_errors_total{cmd="get"}'), 1)
        self.assertEqual(delta("replikv_unknown_commands_total"), 1)
        self.assertIn("# TYPE replikv_commands_total counter", body)
        self.assertIn("# TYPE replikv_command_latency_seconds histogram", body)
        self.assertGreaterEqual(after["replikv_keys"], 7)
        self.assertGreaterEqual(after["replikv_connected_clients"], 0)
        self.assertGreater(after["replikv_resident_bytes"], 1 << 20)
        # Histogram buckets are cumulative and end at +Inf == _count.
        buckets = [(k, v) for k, v in after.items()
                   if k.startswith("replikv_command_latency_seconds_bucket")]
        self.assertGreater(len(buckets), 3)
        values = [v for _, v in buckets]
        self.assertEqual(values, sorted(values))
        self.assertEqual(after['replikv_command_latency_seconds_bucket{le="+Inf"}'],
                         after["replikv_command_latency_seconds_count"])
        # Each keyspace is reported with its model.
        self.assertIn('replikv_keyspace_keys{keyspace="default",model="primary"}', after)

    def test_status_json(self):
        with self.server.raw() as c:
            c.call("SET", "accounts:s1", "1")
            code, ctype, body = self.server.http("/status")
            self.assertEqual(code, 200)
            self.assertIn("application/json", ctype)
            st = json.loads(body)
            for key in ("node_id", "version", "port", "uptime_ms", "fsync", "data_dir", "clients",
                        "keys", "commands", "keyspaces", "role"):
                self.assertIn(key, st)
            self.assertEqual(st["port"], self.server.port)
            self.assertEqual(st["fsync"], "batch")
            self.assertEqual(st["data_dir"], self.server.data_dir)
            self.assertGreaterEqual(st["clients"], 1)
            self.assertEqual(st["keys"], c.call("DBSIZE"))
            names = {k["name"]: k for k in st["keyspaces"]}
            self.assertIn("default", names)
            self.assertGreaterEqual(names["accounts"]["keys"], 1)
            for k in st["keyspaces"]:
                self.assertEqual(set(k), {"name", "prefix", "model", "keys"} | set(k))


class AdminDisabledTest(harness.ServerTestCase):
    def test_admin_port_zero_disables_listener(self):
        s = harness.Server(fsync="never")
        self.addCleanup(s.cleanup)
        s.port, s.admin_port = harness.free_port(), 0
        s.start()
        with s.raw() as c:
            self.assertEqual(c.call("PING"), "PONG")


if __name__ == "__main__":
    unittest.main(verbosity=2)
