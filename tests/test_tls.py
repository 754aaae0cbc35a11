"""TLS on the client port, between cluster peers and on the admin listener, with real processes.

A throwaway PKI is made with the `openssl` command in a temporary directory: a CA, a server
certificate (and a second one, for the reload test), a client certificate, an expired client
certificate, and a second CA with a client and a node certificate of its own.

  ClientTlsTest        redis-cli --tls and a Python ssl socket run commands on the TLS port
                       (large values too); the plain port works beside it; client certificates
                       are required: none, another CA's and an expired one are refused, each
                       with a log line; plain text and garbage on the TLS port close only that
                       connection; admin HTTP over https
  TlsOnlyTest          port = 0: only the TLS port listens; auth_clients = "optional"
  ReloadTest           SIGHUP: new connections get the new certificate (subject and serial
                       change), open ones carry on; a broken reload keeps the old files
  StartupErrorsTest    a missing cert, a key of another certificate: startup errors naming
                       the file
  PeerTlsTest          a 3-node cluster with peer TLS elects a leader and replicates a write; a
                       node whose certificate comes from another CA is refused and logged
"""

import os
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import test_cluster  # noqa: E402
from harness import RespError  # noqa: E402


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


class Pki:
    """Certificates in a temporary directory; path(name) names a file in it."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="rkv-tls-pki-")
        with open(self.path("san.ext"), "w") as f:
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        self.ca("ca")
        self.ca("otherca")
        self.issue("server", "ca", "replikv-server")
        self.issue("server2", "ca", "replikv-server-reloaded")
        self.issue("client", "ca", "client")
        self.issue("expired", "ca", "expired-client", days=-1)
        self.issue("stranger", "otherca", "stranger")
        self.issue("rogue-node", "otherca", "rogue-node")

    def path(self, name):
        return os.path.join(self.dir, name)

    def ca(self, name):
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", f"{name}.key", "-out", f"{name}.crt", "-subj", f"/CN={name}",
                "-days", "2", cwd=self.dir)

    def issue(self, name, ca, cn, days=2):
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}",
                cwd=self.dir)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
                "-CAcreateserial", "-days", str(days), "-extfile", "san.ext", "-out",
                f"{name}.crt", cwd=self.dir)

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def tls_toml(pki, cert="server", auth="yes", extra=""):
    return (f'[tls]\ncert_file = "{pki.path(cert + ".crt")}"\n'
            f'key_file = "{pki.path(cert + ".key")}"\n'
            f'ca_cert_file = "{pki.path("ca.crt")}"\nauth_clients = "{auth}"\n{extra}')


class TlsServer(harness.Server):
    """A harness server with a TLS port (and the plain one unless plain=False)."""

    def __init__(self, pki, plain=True, **kw):
        kw.setdefault("extra_args", ["--log-level", "info"])
        super().__init__(**kw)
        self.pki = pki
        self.plain = plain
        self.tls_port = harness.free_port()

    def args(self):
        a = super().args()
        if not self.plain:
            a[a.index("--port") + 1] = "0"
        return a + ["--tls-port", str(self.tls_port)]

    def start(self, timeout=15.0):
        if self.port is None:
            self.port, self.admin_port = harness.free_port(), harness.free_port()
        return super().start(timeout)

    def wait_ready(self, timeout=15.0):
        if self.plain:
            return super().wait_ready(timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("replikv exited while starting:\n" + self.log_tail())
            try:
                with TlsClient(self) as c:
                    if c.call("PING") == "PONG":
                        return
            except (OSError, harness.ConnectionClosed):
                time.sleep(0.05)
        raise RuntimeError("replikv not ready on its TLS port\n" + self.log_tail())

    def log(self):
        return read_text(self.log_path)


def client_context(pki, cert="client", ca="ca"):
    ctx = ssl.create_default_context(cafile=pki.path(ca + ".crt"))
    if cert:
        ctx.load_cert_chain(pki.path(cert + ".crt"), pki.path(cert + ".key"))
    return ctx


class TlsClient(harness.RawClient):
    """harness.RawClient over TLS (the certificate of `cert`, None for none)."""

    def __init__(self, server, cert="client", timeout=harness.DEFAULT_TIMEOUT, ctx=None):
        ctx = ctx or client_context(server.pki, cert)
        raw = socket.create_connection(("127.0.0.1", server.tls_port), timeout=timeout)
        self.sock = ctx.wrap_socket(raw, server_hostname="localhost")
        self.buf = b""
        self.raw_log = b""


def refused(server, cert, ca="ca"):
    """True when the TLS port refuses a client presenting `cert`: the handshake fails, or (TLS
    1.3, where the client finishes first) the first reply never comes."""
    try:
        with TlsClient(server, ctx=client_context(server.pki, cert, ca), timeout=5) as c:
            c.call("PING")
    except (ssl.SSLError, OSError, harness.ConnectionClosed):
        return True
    return False


def read_text(path):
    with open(path, "rb") as f:
        return f.read().decode(errors="replace")


def wait_log(server, needle, count=1, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.log().count(needle) >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"{needle!r} not logged {count} times:\n{server.log_tail()}")


class PkiTestCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pki = Pki()

    @classmethod
    def tearDownClass(cls):
        cls.pki.cleanup()

    def start_tls_server(self, toml, plain=True, **kw):
        s = TlsServer(self.pki, plain=plain, config=toml, **kw)
        self.addCleanup(s.cleanup)
        s.start()
        return s


class ClientTlsTest(PkiTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = TlsServer(cls.pki, config=tls_toml(cls.pki, extra="admin = true\n"))
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()
        super().tearDownClass()

    def test_redis_cli_over_tls(self):
        p = self.pki
        base = ["redis-cli", "--tls", "--cacert", p.path("ca.crt"), "--cert", p.path("client.crt"),
                "--key", p.path("client.key"), "-h", "127.0.0.1", "-p", str(self.server.tls_port)]
        r = subprocess.run(base + ["SET", "cli:k", "v1"], capture_output=True, timeout=20)
        self.assertEqual(r.stdout.decode().strip(), "OK", r.stderr)
        r = subprocess.run(base + ["GET", "cli:k"], capture_output=True, timeout=20)
        self.assertEqual(r.stdout.decode().strip(), "v1", r.stderr)
        # Clients that leave without close_notify (redis-cli does) have simply gone.
        time.sleep(0.2)
        self.assertNotIn("TLS error: unexpected eof", self.server.log())

    def test_python_ssl_socket_speaks_resp(self):
        with TlsClient(self.server) as c:
            self.assertEqual(c.call("PING"), "PONG")
            self.assertEqual(c.call("SET", "py:k", "hello"), "OK")
            self.assertEqual(c.call("GET", "py:k"), "hello")
            # Larger than a TLS record and than the read buffer: partial writes, bytes kept
            # inside the TLS session between reads.
            big = os.urandom(3 << 20).hex()
            self.assertEqual(c.call("SET", "py:big", big), "OK")
            self.assertEqual(c.call("GET", "py:big"), big)
            # A pipeline of many small commands in one write.
            c.send(b"".join(harness.encode_command("INCR", "py:n") for _ in range(2000)))
            self.assertEqual([c.read_reply() for _ in range(2000)][-1], 2000)
            self.assertEqual(c.call("CONFIG", "GET", "tls-port"),
                             ["tls-port", str(self.server.tls_port)])
        # The plain port beside it sees the same data.
        with self.server.raw() as c:
            self.assertEqual(c.call("GET", "py:k"), "hello")
            self.assertEqual(c.call("GET", "py:n"), "2000")

    def test_client_certificates_are_required(self):
        s = self.server
        before = s.log().count("TLS handshake refused")
        self.assertTrue(refused(s, None), "a client without a certificate was accepted")
        self.assertTrue(refused(s, "stranger"), "a certificate of another CA was accepted")
        self.assertTrue(refused(s, "expired"), "an expired certificate was accepted")
        self.assertFalse(refused(s, "client"))
        wait_log(s, "TLS handshake refused", before + 3)
        log = s.log()
        self.assertIn("certificate has expired", log)
        self.assertIn("unable to get local issuer certificate", log)
        self.assertTrue("did not return a certificate" in log or "peer did not return" in log
                        or "certificate required" in log, log[-2000:])
        self.assertTrue(s.alive())

    def test_plain_text_and_garbage_on_the_tls_port(self):
        s = self.server
        before = s.log().count("TLS handshake refused")
        with harness.RawClient(s.tls_port) as c:
            c.send_command("PING")
            self.assertTrue(c.is_closed())
        with harness.RawClient(s.tls_port) as c:
            c.send(os.urandom(4096))
            self.assertTrue(c.is_closed())
        with harness.RawClient(s.tls_port) as c:  # a ClientHello cut short, then silence
            c.send(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
            c.sock.shutdown(socket.SHUT_WR)
            self.assertTrue(c.is_closed())
        wait_log(s, "TLS handshake refused", before + 3)
        with TlsClient(s) as c:
            self.assertEqual(c.call("PING"), "PONG")
        with s.raw() as c:
            self.assertEqual(c.call("PING"), "PONG")

    def test_client_vanishing_mid_reply(self):
        """Replies written to a TLS client that reset its connection: only that connection
        ends (no SIGPIPE)."""
        with TlsClient(self.server) as c:
            self.assertEqual(c.call("SET", "vanish:big", "x" * (1 << 20)), "OK")
        for linger in (False, True, False, True):
            c = TlsClient(self.server)
            c.send(b"".join(harness.encode_command("GET", "vanish:big") for _ in range(64)))
            if linger:  # RST at once; else FIN, and RST for the next bytes that arrive
                c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.sock.close()
        time.sleep(0.5)
        self.assertTrue(self.server.alive(), self.server.log_tail())
        with TlsClient(self.server) as c:
            self.assertEqual(c.call("PING"), "PONG")

    def test_admin_https(self):
        ctx = client_context(self.pki)
        url = f"https://localhost:{self.server.admin_port}/health"
        with urllib.request.urlopen(url, context=ctx, timeout=10) as r:
            self.assertEqual(r.read(), b"ok\n")
        # The handshake failures are counted in /metrics.
        with urllib.request.urlopen(f"https://localhost:{self.server.admin_port}/metrics",
                                    context=ctx, timeout=10) as r:
            self.assertIn(b"replikv_tls_handshake_failures_total", r.read())
        # Plain http on the https port gets no answer.
        with self.assertRaises(Exception):
            urllib.request.urlopen(f"http://127.0.0.1:{self.server.admin_port}/health",
                                   timeout=5).read()
        # Client certificates are required there too.
        with self.assertRaises((ssl.SSLError, OSError)):
            urllib.request.urlopen(url, context=client_context(self.pki, None), timeout=10).read()


class TlsOnlyTest(PkiTestCase):
    def test_port_zero_serves_tls_only(self):
        s = self.start_tls_server(tls_toml(self.pki, auth="optional"), plain=False)
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", s.port), timeout=2).close()
        # Optional: no certificate is fine, a bad one is not.
        with TlsClient(s, cert=None) as c:
            self.assertEqual(c.call("SET", "k", "v"), "OK")
        with TlsClient(s) as c:
            self.assertEqual(c.call("GET", "k"), "v")
        self.assertTrue(refused(s, "stranger"))
        self.assertIn("(TLS)", s.log())


def served_cert(server):
    """(subject CN, serial) of the certificate the TLS port presents now."""
    ctx = ssl.create_default_context(cafile=server.pki.path("ca.crt"))
    ctx.load_cert_chain(server.pki.path("client.crt"), server.pki.path("client.key"))
    with socket.create_connection(("127.0.0.1", server.tls_port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            cert = s.getpeercert()
    cn = dict(x[0] for x in cert["subject"])["commonName"]
    return cn, cert["serialNumber"]


class ReloadTest(PkiTestCase):
    def test_sighup_reloads_the_certificate(self):
        p = self.pki
        live = os.path.join(p.dir, "live")
        os.makedirs(live, exist_ok=True)
        for ext in ("crt", "key"):
            shutil.copy(p.path(f"server.{ext}"), os.path.join(live, f"cert.{ext}"))
        toml = (f'[tls]\ncert_file = "{live}/cert.crt"\nkey_file = "{live}/cert.key"\n'
                f'ca_cert_file = "{p.path("ca.crt")}"\nadmin = true\n')
        s = self.start_tls_server(toml)
        cn, serial = served_cert(s)
        self.assertEqual(cn, "replikv-server")
        old = TlsClient(s)
        self.addCleanup(old.close)
        self.assertEqual(old.call("SET", "r", "1"), "OK")

        # A broken pair (the new certificate with the old key) is refused; the old one stays.
        shutil.copy(p.path("server2.crt"), os.path.join(live, "cert.crt"))
        os.kill(s.pid, signal.SIGHUP)
        wait_log(s, "TLS reload failed")
        self.assertIn("does not match the certificate", s.log())
        self.assertEqual(served_cert(s), (cn, serial))

        shutil.copy(p.path("server2.key"), os.path.join(live, "cert.key"))
        os.kill(s.pid, signal.SIGHUP)
        wait_log(s, "TLS files reloaded")
        cn2, serial2 = served_cert(s)
        self.assertEqual(cn2, "replikv-server-reloaded")
        self.assertNotEqual(serial2, serial)
        # The connection opened before the reload carries on.
        self.assertEqual(old.call("GET", "r"), "1")
        # The admin listener takes the new certificate too.
        ctx = client_context(p)
        with socket.create_connection(("127.0.0.1", s.admin_port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as t:
                subject = dict(x[0] for x in t.getpeercert()["subject"])
        self.assertEqual(subject["commonName"], "replikv-server-reloaded")
        self.assertTrue(s.alive())


class StartupErrorsTest(PkiTestCase):
    def serve(self, toml):
        tmp = tempfile.mkdtemp(prefix="rkv-tls-cfg-")
        self.addCleanup(shutil.rmtree, tmp, True)
        path = os.path.join(tmp, "tls.toml")
        with open(path, "w") as f:
            f.write(toml)
        cmd = [harness.replikv_bin(), "serve", "--port", str(harness.free_port()), "--tls-port",
               str(harness.free_port()), "--admin-port", "0", "--data-dir",
               os.path.join(tmp, "data"), "--config", path]
        r = subprocess.run(cmd, capture_output=True, timeout=20)
        return r.returncode, (r.stdout + r.stderr).decode(errors="replace")

    def test_bad_files_name_the_file(self):
        p = self.pki
        missing = p.path("nope.crt")
        code, out = self.serve(tls_toml(p).replace(p.path("server.crt"), missing))
        self.assertNotEqual(code, 0)
        self.assertIn(f"cert_file {missing}: cannot read", out)
        code, out = self.serve(tls_toml(p).replace(p.path("server.key"), p.path("client.key")))
        self.assertNotEqual(code, 0)
        self.assertIn(f"key_file {p.path('client.key')} does not match the certificate", out)
        code, out = self.serve(tls_toml(p).replace(p.path("server.crt"), p.path("san.ext")))
        self.assertNotEqual(code, 0)
        self.assertIn(f"cert_file {p.path('san.ext')}", out)
        code, out = self.serve('[tls]\nport = 1\ncert_file = "x"\n')
        self.assertNotEqual(code, 0)
        self.assertIn("needs cert_file and key_file", out)


def tls_cluster_config(pki, rogue=None):
    """A test_cluster config builder whose nodes speak TLS to each other; node `rogue` holds a
    certificate (and trusts a CA) of another authority."""
    def build(i, nodes, secret, raft, extra=""):
        text = test_cluster.cluster_config(i, nodes, secret, raft, extra)
        if i == rogue:
            return text + (f'\n[tls]\ncert_file = "{pki.path("rogue-node.crt")}"\n'
                           f'key_file = "{pki.path("rogue-node.key")}"\n'
                           f'ca_cert_file = "{pki.path("otherca.crt")}"\nreplication = true\n')
        return text + "\n" + tls_toml(pki, extra="replication = true\n")
    return build


class PeerTlsTest(PkiTestCase):
    def make_cluster(self, rogue=None):
        c = test_cluster.Cluster(3, config=tls_cluster_config(self.pki, rogue))
        for s in c.nodes:
            s.extra_args += ["--log-level", "info"]
        self.addCleanup(c.cleanup)
        c.start()
        return c

    def test_cluster_over_tls_replicates(self):
        c = self.make_cluster()
        li = c.leader()
        with c.nodes[li].raw() as r:
            self.assertEqual(r.call("SET", "accounts:tls", "v"), "OK")
        commit = c.wait_converged()
        self.assertGreater(commit, 0)
        self.assertEqual(c.local_values((li + 1) % 3, ["accounts:tls"]), {"accounts:tls": "v"})
        for s in c.nodes:
            self.assertNotIn("failed TLS handshake", read_text(s.log_path))

    def test_node_of_another_ca_is_refused(self):
        c = self.make_cluster(rogue=2)
        li = c.leader(exclude=(2,))
        self.assertNotEqual(li, 2)
        with c.nodes[li].raw() as r:
            self.assertEqual(r.call("SET", "accounts:x", "1"), "OK")
        # The leader refuses the rogue's certificate when it dials the rogue (and the rogue,
        # trusting another CA, refuses the leader's when the leader is dialed: "unknown ca").
        refusal = "(n3) failed TLS handshake: certificate refused: "
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and refusal not in read_text(c.nodes[li].log_path):
            time.sleep(0.1)
        self.assertIn(refusal, read_text(c.nodes[li].log_path))
        self.assertIn("failed TLS handshake", read_text(c.nodes[2].log_path))
        self.assertEqual(c.local_values(2, ["accounts:x"]), {"accounts:x": None})
        self.assertTrue(all(s.alive() for s in c.nodes))


if __name__ == "__main__":
    unittest.main(verbosity=2)
