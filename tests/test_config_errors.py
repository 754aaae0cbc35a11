"""Bad configuration and bad flags stop `replikv serve` with a non-zero status and a message
that says what is wrong (and, for config files, on which line)."""

import os
import socket
import subprocess
import sys
import tempfile
import shutil
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


class ConfigErrorsTest(harness.ServerTestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="rkv-cfg-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def serve(self, *args, config=None):
        """Runs serve expecting it to exit; returns (code, combined output)."""
        cmd = [harness.replikv_bin(), "serve", "--port", str(harness.free_port()),
               "--admin-port", "0", "--data-dir", os.path.join(self.tmp, "data")]
        if config is not None:
            path = os.path.join(self.tmp, "bad.toml")
            with open(path, "w") as f:
                f.write(config)
            cmd += ["--config", path]
        cmd += list(args)
        try:
            r = subprocess.run(cmd, capture_output=True, timeout=20)
        except subprocess.TimeoutExpired:
            self.fail(f"replikv kept running with {args} / {config!r}")
        return r.returncode, (r.stdout + r.stderr).decode(errors="replace")

    def assertRefused(self, code, out, *needles):
        self.assertNotEqual(code, 0, out)
        for n in needles:
            self.assertIn(n, out)

    def test_unknown_model_names_the_line(self):
        code, out = self.serve(config='[node]\nid = "n1"\n\n[[keyspace]]\nname = "x"\n'
                                      'model = "paxos"\n')
        self.assertRefused(code, out, "bad.toml:6", 'unknown model "paxos"')

    def test_bad_values_name_the_line(self):
        cases = [
            ("[limits]\nmax_clients = 0\n", "bad.toml:2", "max_clients"),
            ("[limits]\nmax_clients = \"many\"\n", "bad.toml:2", "must be an integer"),
            ('[node]\nfsync = "sometimes"\n', "bad.toml:2", 'unknown fsync "sometimes"'),
            ('[node]\nlog_level = "loud"\n', "bad.toml:2", "log_level"),
            ("[node]\nport = 70000\n", "bad.toml:2", "port"),
            ("[node]\nbogus_key = 1\n", "bad.toml:2", 'unknown key "bogus_key"'),
            ("[nodes]\nid = 1\n", "bad.toml:", 'unknown key "nodes"'),
            ('[[keyspace]]\nname = "k"\nmodel = "leaderless"\nn = 3\nr = 4\n', "bad.toml:",
             "must not exceed n"),
            ('[[keyspace]]\nname = "k"\nmodel = "primary"\nconflict = "lww"\n', "bad.toml:4",
             "applies only to model"),
            ("this is not toml = = =\n", "bad.toml:1", ""),
        ]
        for text, where, what in cases:
            with self.subTest(config=text):
                code, out = self.serve(config=text)
                self.assertRefused(code, out, where, what)

    def test_bad_user_rules_name_the_line_and_hide_passwords(self):
        cases = [
            ('[[user]]\nname = "a"\nrules = "on +nosuch"\n', "bad.toml:1",
             "Unknown command or category name in ACL"),
            ('[node]\nid = "n1"\n\n[[user]]\nname = "b"\nrules = ["on", "~x", "~*", "~y"]\n',
             "bad.toml:4", "Adding a pattern after the * pattern"),
            ('[[user]]\nname = "c"\nrules = "#abc"\n', "bad.toml:1", "password hash must be"),
            ('[[user]]\nname = "d d"\nrules = "on"\n', "bad.toml:1", "no spaces"),
            ('[[user]]\nname = "e"\nrules = "on <hidden-pass"\n', "bad.toml:1",
             "does not exist"),
        ]
        for text, where, what in cases:
            with self.subTest(config=text):
                code, out = self.serve(config=text)
                self.assertRefused(code, out, where, what)
                self.assertNotIn("hidden-pass", out)

    def test_bad_flags(self):
        code, out = self.serve("--bogus-flag")
        self.assertRefused(code, out, "--bogus-flag")
        code, out = self.serve("--fsync", "sometimes")
        self.assertRefused(code, out, "--fsync", "sometimes")
        r = subprocess.run([harness.replikv_bin(), "serve", "--port", "notaport",
                            "--data-dir", os.path.join(self.tmp, "data")],
                           capture_output=True, timeout=20)
        self.assertRefused(r.returncode, (r.stdout + r.stderr).decode(), "notaport")
        code, out = self.serve("--config", os.path.join(self.tmp, "does-not-exist.toml"))
        self.assertRefused(code, out, "does-not-exist.toml")
        r = subprocess.run([harness.replikv_bin(), "nosuchsubcommand"], capture_output=True,
                           timeout=20)
        self.assertNotEqual(r.returncode, 0)

    def test_port_in_use(self):
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen(1)
            port = busy.getsockname()[1]
            r = subprocess.run([harness.replikv_bin(), "serve", "--port", str(port),
                                "--admin-port", "0", "--data-dir", os.path.join(self.tmp, "d")],
                               capture_output=True, timeout=20)
        out = (r.stdout + r.stderr).decode(errors="replace")
        self.assertRefused(r.returncode, out, "cannot listen", str(port))

    def test_data_dir_of_another_node(self):
        s = harness.Server(fsync="never", extra_args=["--node-id", "alpha"])
        self.addCleanup(s.cleanup)
        s.start()
        s.stop()
        s.extra_args = ["--node-id", "beta"]
        proc = subprocess.run(s.args(), capture_output=True, timeout=20)
        out = (proc.stdout + proc.stderr).decode(errors="replace")
        self.assertRefused(proc.returncode, out, "alpha", "beta")

    def test_good_config_file_is_used(self):
        s = self.start_server(fsync=None, config='[node]\nid = "n7"\nfsync = "always"\n'
                                                 "[limits]\nmax_clients = 77\n")
        st = s.status()
        self.assertEqual(st["node_id"], "n7")
        self.assertEqual(st["fsync"], "always")
        with s.raw() as c:
            self.assertIn("maxclients:77", c.call("INFO", "clients"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
