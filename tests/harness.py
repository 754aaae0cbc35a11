"""Shared helpers for replikv integration tests that run real server processes.

Every server started here gets free loopback ports and a private temporary data directory.
Servers are stopped by pid (SIGTERM, then SIGKILL after a timeout) and their directories are
removed when the test ends, whether it passed or failed; an atexit hook catches anything a
test forgot. Every blocking operation has a timeout, so a hung server fails a test instead of
hanging ctest.

Environment:
  REPLIKV_BIN   path of the replikv binary (default: ../build/replikv next to this file)
  REPLIKV_KEEP  if set, temporary directories are kept for inspection
"""

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_TIMEOUT = 10.0  # seconds, for any single socket read or readiness wait


def replikv_bin():
    path = os.environ.get("REPLIKV_BIN") or os.path.join(HERE, "..", "build", "replikv")
    path = os.path.abspath(path)
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"replikv binary not found at {path}; build first or set REPLIKV_BIN")
    return path


# Ports handed out by free_port, one empty file each, shared by every test process on the
# machine: tests run in parallel, and a port free when one of them picks it may be picked by
# another before the first server binds it (a node then met another test's admin HTTP server on
# its own port).
_PORT_DIR = os.path.join(tempfile.gettempdir(), "rkv-test-ports")
_PORT_REUSE_S = 900  # a port handed out longer ago than this may be handed out again


def free_port():
    """A loopback port nobody listens on right now (the OS picks it) and that no other test
    process was handed in the last _PORT_REUSE_S seconds."""
    os.makedirs(_PORT_DIR, exist_ok=True)
    port = 0
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        path = os.path.join(_PORT_DIR, str(port))
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            return port
        except FileExistsError:
            try:
                if time.time() - os.path.getmtime(path) > _PORT_REUSE_S:
                    os.utime(path)
                    return port
            except OSError:
                pass
    return port  # every pick was recent: the OS's word alone


_live_servers = []


def _cleanup_all():
    for s in list(_live_servers):
        try:
            s.cleanup()
        except Exception:  # noqa: BLE001 - best effort at interpreter exit
            pass


atexit.register(_cleanup_all)


def _terminate(signum, frame):
    raise SystemExit(128 + signum)  # runs atexit (and unittest cleanups) on SIGTERM / timeout


signal.signal(signal.SIGTERM, _terminate)


def _die_with_parent():
    """In a forked child: ask Linux to SIGKILL us when the test process dies, so a test runner
    killed by a timeout (SIGKILL, no cleanup) leaves no server behind."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except Exception:  # noqa: BLE001 - best effort; cleanup paths still apply
        pass


def rss_kb(pid):
    """Resident set size of a process in kB (VmRSS from /proc)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS line")


class Server:
    """One replikv process. The data dir survives restarts; cleanup() removes it.

    fsync: always | batch | never (None leaves it to the config/defaults).
    config: TOML text written to a file and passed with --config (ports, data dir and fsync are
    still given on the command line, which overrides the file).
    """

    def __init__(self, fsync="never", config=None, extra_args=(), data_dir=None, nofile=None):
        self.fsync = fsync
        self.nofile = nofile  # RLIMIT_NOFILE for the server: soft, or (soft, hard); None: inherit
        self.extra_args = list(extra_args)
        self.tmp = tempfile.mkdtemp(prefix="rkv-test-")
        self.data_dir = data_dir or os.path.join(self.tmp, "data")
        self.config_path = None
        if config is not None:
            self.config_path = os.path.join(self.tmp, "replikv.toml")
            with open(self.config_path, "w") as f:
                f.write(config)
        self.port = None
        self.admin_port = None
        self.proc = None
        self.log_path = os.path.join(self.tmp, "server.log")
        self._log = None
        self.starts = 0
        _live_servers.append(self)

    # ---- lifecycle -------------------------------------------------------------------------
    def args(self):
        a = [replikv_bin(), "serve", "--port", str(self.port), "--admin-port",
             str(self.admin_port), "--data-dir", self.data_dir]
        if "--log-level" not in self.extra_args:
            a += ["--log-level", "warn"]
        if self.fsync:
            a += ["--fsync", self.fsync]
        if self.config_path:
            a += ["--config", self.config_path]
        return a + self.extra_args

    def start(self, timeout=15.0):
        """Starts (or restarts, same ports when free) and waits until PING answers PONG."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        if self.port is None:
            self.port, self.admin_port = free_port(), free_port()
        self._log = open(self.log_path, "ab")
        self._log.write(f"---- start #{self.starts} ----\n".encode())
        self._log.flush()
        # PDEATHSIG fires when the *thread* that forked exits, so only tie the server to the
        # main thread; servers started from helper threads rely on the cleanup paths alone.
        tie = threading.current_thread() is threading.main_thread()

        def preexec(n=self.nofile, tie=tie):
            if tie:
                _die_with_parent()
            if n:
                import resource
                soft, hard = n if isinstance(n, tuple) else (n, None)
                if hard is None:
                    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
                resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        self.proc = subprocess.Popen(self.args(), stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, preexec_fn=preexec)
        self.starts += 1
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=15.0):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"replikv exited with {self.proc.returncode} while starting:\n"
                                   + self.log_tail())
            try:
                with RawClient(self.port, timeout=2.0) as c:
                    r = c.call("PING")
                    # A server with requirepass answers NOAUTH: it is up all the same.
                    if r == "PONG" or (isinstance(r, RespError) and str(r).startswith("NOAUTH")):
                        return
            except (OSError, ConnectionClosed, ValueError) as e:
                # Closed without a reply, or a reply that is not RESP: not this server's answer
                # (it may still be binding, or another process holds the port); the exit check
                # above tells which.
                last = e
            time.sleep(0.05)
        raise RuntimeError(f"replikv not ready on port {self.port} after {timeout}s ({last})\n"
                           + self.log_tail())

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=10.0):
        """SIGTERM, then SIGKILL if it does not exit in `timeout`. Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        self._close_log()
        return self.proc.returncode

    def kill9(self):
        """SIGKILL: the process gets no chance to flush anything."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(DEFAULT_TIMEOUT)
        self._close_log()

    def restart(self, timeout=15.0):
        self.stop()
        return self.start(timeout)

    def _close_log(self):
        if self._log:
            self._log.close()
            self._log = None

    def cleanup(self):
        try:
            if self.proc is not None and self.proc.poll() is None:
                self.stop(timeout=5.0)
        finally:
            self._close_log()
            if not os.environ.get("REPLIKV_KEEP"):
                shutil.rmtree(self.tmp, ignore_errors=True)
            if self in _live_servers:
                _live_servers.remove(self)

    def log_tail(self, n=40):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode(errors="replace").splitlines()
            return "\n".join(lines[-n:])
        except OSError:
            return "(no log)"

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()

    # ---- clients ---------------------------------------------------------------------------
    def raw(self, timeout=DEFAULT_TIMEOUT):
        return RawClient(self.port, timeout=timeout)

    def redis(self, **kw):
        import redis  # python3-redis (Debian), imported lazily so harness works without it

        kw.setdefault("socket_timeout", DEFAULT_TIMEOUT)
        kw.setdefault("socket_connect_timeout", DEFAULT_TIMEOUT)
        return redis.Redis(host="127.0.0.1", port=self.port, **kw)

    def cli(self, *args, resp3=False, stdin=None, timeout=30.0, check=False):
        """Runs redis-cli against this server (formatted output, as on a terminal)."""
        return redis_cli(self.port, *args, resp3=resp3, stdin=stdin, timeout=timeout,
                         check=check)

    def http(self, path, timeout=DEFAULT_TIMEOUT):
        """GET on the admin port: (status, content_type, body text)."""
        url = f"http://127.0.0.1:{self.admin_port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as r:
                return r.status, r.headers.get("Content-Type", ""), r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("Content-Type", ""), e.read().decode()

    def metrics(self):
        """{(metric name, labels text): value} of the labelled series of /metrics."""
        code, _, body = self.http("/metrics")
        assert code == 200, code
        out = {}
        for line in body.splitlines():
            if line.startswith("#") or "{" not in line:
                continue
            name, rest = line.split("{", 1)
            labels, value = rest.rsplit("} ", 1)
            v = float(value)  # counters and most gauges are whole; a gauge may be +Inf (phi)
            out[(name, labels)] = int(v) if v.is_integer() else v
        return out

    def status(self):
        code, _, body = self.http("/status")
        if code != 200:
            raise RuntimeError(f"/status answered {code}")
        return json.loads(body)


def shutdown_sockets(*socks):
    """Shuts both directions of each socket down, ignoring sockets already closed (a relay's
    two ends, once either side is done)."""
    for s in socks:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def redis_cli(port, *args, resp3=False, stdin=None, timeout=30.0, check=False):
    cmd = ["redis-cli", "-h", "127.0.0.1", "-p", str(port), "--no-raw"]
    if resp3:
        cmd.append("-3")
    cmd += [str(a) for a in args]
    r = subprocess.run(cmd, input=stdin, capture_output=True, timeout=timeout)
    out = r.stdout.decode(errors="replace")
    if check and r.returncode != 0:
        raise RuntimeError(f"redis-cli {args} exited {r.returncode}: {r.stderr!r}")
    return out


# ---- raw RESP client ----------------------------------------------------------------------

class RespError(Exception):
    """An error reply (-ERR ... or RESP3 !<len> blob error)."""

    def __eq__(self, other):
        return isinstance(other, RespError) and self.args == other.args

    def __hash__(self):
        return hash(self.args)


class Null:
    """RESP3 `_` null, distinct from RESP2's $-1 / *-1 which decode as None."""

    def __repr__(self):
        return "Null"

    def __eq__(self, other):
        return isinstance(other, Null)

    def __hash__(self):
        return 0


class Map(list):
    """RESP3 map (%): kept as an ordered list of (key, value) pairs; as_dict() for lookups."""

    def as_dict(self):
        return dict(self)


class Set(list):
    """RESP3 set (~)."""


class Verbatim(str):
    """RESP3 verbatim string (=); `fmt` is the 3-letter format."""

    fmt = "txt"


class Push(list):
    """RESP3 push (>)."""


class ConnectionClosed(Exception):
    pass


def encode_command(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class RawClient:
    """A socket speaking RESP by hand, for exact byte-level checks and hostile input.

    read_reply() decodes one reply: simple strings and bulk strings as str (bytes when not
    UTF-8), integers as int, RESP2 nulls as None, RESP3 types as Null/Map/Set/Verbatim/Push,
    doubles as float, booleans as bool, errors as RespError instances (returned, not raised).
    """

    def __init__(self, port, host="127.0.0.1", timeout=DEFAULT_TIMEOUT):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.raw_log = b""  # every byte received, for shape assertions

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def send_command(self, *args):
        self.send(encode_command(*args))

    def call(self, *args):
        self.send_command(*args)
        return self.read_reply()

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionClosed("server closed the connection")
        self.buf += chunk
        self.raw_log += chunk

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 2:]
                return line
            self._fill()

    def _exact(self, n):
        if len(self.buf) < n + 2:
            # Gather chunks in a list: appending to one bytes object is quadratic for big bulks.
            parts, have = [self.buf], len(self.buf)
            while have < n + 2:
                chunk = self.sock.recv(max(65536, min(n + 2 - have, 1 << 22)))
                if not chunk:
                    raise ConnectionClosed("server closed the connection")
                self.raw_log += chunk if len(self.raw_log) < (1 << 20) else b""
                parts.append(chunk)
                have += len(chunk)
            self.buf = b"".join(parts)
        data, tail, self.buf = self.buf[:n], self.buf[n:n + 2], self.buf[n + 2:]
        if tail != b"\r\n":
            raise ValueError(f"bulk not followed by CRLF: {tail!r}")
        return data

    @staticmethod
    def _text(b):
        try:
            return b.decode()
        except UnicodeDecodeError:
            return b

    def read_reply(self):
        line = self._line()
        if not line:
            raise ValueError("empty reply line")
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            return RespError(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self._text(self._exact(n))
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self.read_reply() for _ in range(n)]
        if t == b"_":
            return Null()
        if t == b"%":
            n = int(rest)
            return Map((self.read_reply(), self.read_reply()) for _ in range(n))
        if t == b"~":
            return Set(self.read_reply() for _ in range(int(rest)))
        if t == b">":
            return Push(self.read_reply() for _ in range(int(rest)))
        if t == b",":
            return float(rest)
        if t == b"#":
            return rest == b"t"
        if t == b"(":
            return int(rest)
        if t == b"=":
            data = self._exact(int(rest)).decode()
            v = Verbatim(data[4:])
            v.fmt = data[:3]
            return v
        if t == b"!":
            return RespError(self._exact(int(rest)).decode())
        raise ValueError(f"unknown reply type {line!r}")

    def is_closed(self, timeout=3.0):
        """True when the server closes the connection within `timeout` (data is drained)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False


class ServerTestCase(unittest.TestCase):
    """A TestCase whose servers are always cleaned up; helper to start one."""

    def start_server(self, **kw):
        s = Server(**kw)
        self.addCleanup(s.cleanup)
        s.start()
        return s

    def assertAlive(self, server):
        self.assertTrue(server.alive(), "replikv died:\n" + server.log_tail())


class SharedServerTestCase(ServerTestCase):
    """One server for all tests of the class, started with `server_fsync`, as `cls.server`."""

    server_fsync = "never"

    @classmethod
    def setUpClass(cls):
        cls.server = Server(fsync=cls.server_fsync)
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()
