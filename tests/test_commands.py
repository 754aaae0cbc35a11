"""redis-cli drives every command, in RESP2 and RESP3, with exact expected outputs.

Outputs are redis-cli's formatted ("--no-raw") rendering, so they pin both the value and the
RESP type the server chose (a status vs a bulk string, a map vs a flat array, nil vs empty).
"""

import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


class CommandsTest(harness.SharedServerTestCase):
    def setUp(self):
        self.assertEqual(self.cli("FLUSHALL"), "OK\n")

    def cli(self, *args, resp3=False, stdin=None):
        return self.server.cli(*args, resp3=resp3, stdin=stdin)

    def check(self, args, out2, out3=None):
        """Runs `args` in RESP2 and RESP3 (separate connections); out3 defaults to out2."""
        for resp3, want in ((False, out2), (True, out2 if out3 is None else out3)):
            got = self.cli(*args, resp3=resp3)
            self.assertEqual(got, want, f"{'RESP3' if resp3 else 'RESP2'} {args}")

    # ---- connection ------------------------------------------------------------------------
    def test_ping_echo_quit_select(self):
        self.check(["PING"], "PONG\n")
        self.check(["PING", "hello world"], '"hello world"\n')
        self.check(["PING", "a", "b"], "(error) ERR wrong number of arguments for 'ping' command\n")
        self.check(["ECHO", "x\ty"], '"x\\ty"\n')
        self.check(["ECHO"], "(error) ERR wrong number of arguments for 'echo' command\n")
        self.check(["QUIT"], "OK\n")
        self.check(["SELECT", "0"], "OK\n")
        self.check(["SELECT", "1"], "(error) ERR DB index is out of range\n")
        self.check(["select", "0"], "OK\n")  # command names are case-insensitive

    def test_hello(self):
        out = self.cli("HELLO", "3", resp3=True)
        self.assertRegex(out, re.compile(
            r'^1# "server" => "redis"\n2# "version" => "7\.0\.0"\n3# "proto" => \(integer\) 3\n'
            r'4# "id" => \(integer\) \d+\n5# "mode" => "standalone"\n6# "role" => "master"\n'
            r'7# "modules" => \(empty array\)\n$'))
        out = self.cli("HELLO", "2")
        self.assertRegex(out, re.compile(
            r'^ 1\) "server"\n 2\) "redis"\n 3\) "version"\n 4\) "7\.0\.0"\n 5\) "proto"\n'
            r' 6\) \(integer\) 2\n 7\) "id"\n 8\) \(integer\) \d+\n 9\) "mode"\n'
            r'10\) "standalone"\n11\) "role"\n12\) "master"\n13\) "modules"\n14\) \(empty array\)\n$'))
        self.check(["HELLO", "4"], "(error) NOPROTO unsupported protocol version\n")
        # HELLO switches the protocol of the connection it runs on.
        out = self.cli(stdin=b"HELLO 3\nCLIENT INFO\nHELLO 2 SETNAME bob\nCLIENT INFO\n")
        resp = re.findall(r"resp=(\d)", out)
        self.assertEqual(resp, ["3", "2"], out)
        self.assertIn("name=bob", out)

    def test_client(self):
        out = self.cli(stdin=b"CLIENT GETNAME\nCLIENT SETNAME tester\nCLIENT GETNAME\nCLIENT ID\n"
                       b"CLIENT LIST\nCLIENT SETNAME \"a b\"\nCLIENT FOO\n")
        lines = out.split("\n")
        self.assertEqual(lines[0], "(nil)")
        self.assertEqual(lines[1], "OK")
        self.assertEqual(lines[2], '"tester"')
        m = re.fullmatch(r"\(integer\) (\d+)", lines[3])
        self.assertTrue(m, lines[3])
        my_id = m.group(1)
        self.assertRegex(lines[4], rf"^id={my_id} addr=127\.0\.0\.1:\d+ .*name=tester .*cmd=client")
        self.assertEqual(lines[5], "(error) ERR Client names cannot contain spaces, newlines or "
                                   "special characters.")
        self.assertRegex(lines[6], r"^\(error\) ERR unknown subcommand or wrong number of arguments "
                                   r"for 'FOO'")
        # CLIENT LIST shows every connection; hold a second one open while listing.
        with self.server.raw() as other:
            self.assertEqual(other.call("CLIENT", "SETNAME", "other"), "OK")
            out = self.cli("CLIENT", "LIST")
            self.assertIn("name=other", out)
            self.assertGreaterEqual(len(out.strip().split("\n")), 2)
            out3 = self.cli("CLIENT", "LIST", resp3=True)
            self.assertIn("name=other", out3)  # verbatim string in RESP3
        self.check(["CLIENT", "GETNAME"], "(nil)\n")
        self.check(["CLIENT"], "(error) ERR wrong number of arguments for 'client' command\n")

    def test_command(self):
        count = int(re.fullmatch(r"\(integer\) (\d+)\n", self.cli("COMMAND", "COUNT")).group(1))
        names = re.findall(r'^\s*\d+\) "([a-z_-]+)"$', self.cli("COMMAND", "LIST"), re.M)
        self.assertEqual(count, len(names))
        every = ["ping", "echo", "hello", "quit", "select", "command", "client", "info", "dbsize",
                 "get", "set", "setnx", "getdel", "mget", "mset", "del", "exists", "incr",
                 "incrby", "decr", "decrby", "append", "strlen", "expire", "pexpire", "ttl",
                 "pttl", "persist", "type", "scan", "keys", "flushall", "keyspaces"]
        for n in every:
            self.assertIn(n, names)
        self.check(["COMMAND", "DOCS", "get"],
                   '1) "get"\n2) 1) "summary"\n   2) "Reads the string value of a key."\n'
                   '   3) "since"\n   4) "1.0.0"\n   5) "group"\n   6) "string"\n',
                   '1# "get" => \n   1# "summary" => "Reads the string value of a key."\n'
                   '   2# "since" => "1.0.0"\n   3# "group" => "string"\n')
        self.check(["COMMAND", "DOCS", "nosuchcommand"], "(empty array)\n", "(empty hash)\n")
        info = self.cli("COMMAND", "INFO", "get", "nosuch")
        self.assertTrue(info.startswith('1)  1) "get"\n    2) (integer) 2\n    3) 1) readonly\n'
                                        '       2) fast\n    4) (integer) 1\n'), info)
        self.assertTrue(info.endswith("\n2) (nil)\n"), info)
        # Every COMMAND INFO entry has 10 fields (Redis 7 layout), arity matches the table.
        info3 = self.cli("COMMAND", "INFO", "set", resp3=True)
        self.assertIn('2) (integer) -3', info3)
        self.assertIn("10) (empty array)", info3)
        self.check(["COMMAND", "NOPE"], "(error) ERR unknown subcommand 'NOPE'. Try COMMAND HELP.\n")

    def test_info_sections(self):
        self.cli("SET", "k", "v")
        self.cli("SET", "t", "v", "EX", "100")
        sections = {
            "server": [r"^# Server\r?$", r"^redis_version:7\.0\.0\r?$", r"^process_id:%d\r?$"
                       % self.server.pid, r"^tcp_port:%d\r?$" % self.server.port],
            "clients": [r"^# Clients\r?$", r"^connected_clients:\d+\r?$",
                        r"^maxclients:\d+\r?$"],
            "memory": [r"^# Memory\r?$", r"^used_memory:\d+\r?$", r"^used_memory_rss:\d+\r?$"],
            "stats": [r"^# Stats\r?$", r"^total_commands_processed:\d+\r?$",
                      r"^expired_keys:\d+\r?$", r"^total_connections_received:\d+\r?$"],
            "keyspace": [r"^# Keyspace\r?$", r"^db0:keys=2,expires=1,avg_ttl=0\r?$"],
            "replication": [r"^# Replication\r?$", r"^role:master\r?$",
                            r"^connected_slaves:0\r?$", r"^master_replid:[0-9a-f]{40}\r?$",
                            r"^master_repl_offset:0\r?$"],
            "keyspace_replication": [r"^# Keyspace_replication\r?$",
                                     r"^cluster:single-node\r?$"],
        }
        for resp3 in (False, True):
            for name, patterns in sections.items():
                out = self.cli("INFO", name, resp3=resp3)
                for p in patterns:
                    self.assertRegex(out, re.compile(p, re.M), f"INFO {name} resp3={resp3}")
                # Exactly one section is returned.
                self.assertEqual(len(re.findall(r"^# ", out, re.M)), 1, out)
            everything = self.cli("INFO", resp3=resp3)
            for name in sections:
                self.assertIn("# " + name.capitalize(), everything)
        self.assertEqual(self.cli("INFO", "nosuchsection").strip(), "")

    # ---- strings ---------------------------------------------------------------------------
    def test_get_set(self):
        self.check(["GET", "missing"], "(nil)\n")
        self.check(["SET", "k", "v1"], "OK\n")
        self.check(["GET", "k"], '"v1"\n')
        self.check(["SET", "k", "v2", "GET"], '"v1"\n', '"v2"\n')  # RESP3 run sees RESP2's write
        self.check(["SET", "k", "x", "NX"], "(nil)\n")
        self.check(["SET", "new", "x", "XX"], "(nil)\n")
        self.check(["GET", "new"], "(nil)\n")
        self.check(["SET", "k", "v3", "XX"], "OK\n")
        self.check(["SET", "n1", "a", "NX", "GET"], "(nil)\n", '"a"\n')
        self.check(["SET", "k", "v", "NX", "XX"], "(error) ERR syntax error\n")
        self.check(["SET", "k", "v", "EX"], "(error) ERR syntax error\n")
        self.check(["SET", "k", "v", "BOGUS"], "(error) ERR syntax error\n")
        self.check(["SET", "k", "v", "EX", "0"],
                   "(error) ERR invalid expire time in 'set' command\n")
        self.check(["SET", "k", "v", "EX", "-5"],
                   "(error) ERR invalid expire time in 'set' command\n")
        self.check(["SET", "k", "v", "EX", "ten"],
                   "(error) ERR value is not an integer or out of range\n")
        self.check(["SET", "k"], "(error) ERR wrong number of arguments for 'set' command\n")
        # EX / PX / KEEPTTL
        self.assertEqual(self.cli("SET", "e", "v", "EX", "100"), "OK\n")
        self.assertEqual(self.cli("TTL", "e"), "(integer) 100\n")
        self.assertEqual(self.cli("SET", "e", "v2", "KEEPTTL"), "OK\n")
        self.assertEqual(self.cli("TTL", "e"), "(integer) 100\n")
        self.assertEqual(self.cli("SET", "e", "v3"), "OK\n")  # plain SET clears the TTL
        self.assertEqual(self.cli("TTL", "e"), "(integer) -1\n")
        self.assertEqual(self.cli("SET", "p", "v", "PX", "50000"), "OK\n")
        pttl = int(re.fullmatch(r"\(integer\) (\d+)\n", self.cli("PTTL", "p")).group(1))
        self.assertTrue(45000 < pttl <= 50000, pttl)
        self.check(["SET", "k", "v", "EX", "10", "KEEPTTL"], "(error) ERR syntax error\n")
        # Binary-safe values and empty strings.
        self.check(["SET", "empty", ""], "OK\n")
        self.check(["GET", "empty"], '""\n')
        self.check(["STRLEN", "empty"], "(integer) 0\n")

    def test_setnx_getdel_mget_mset(self):
        self.check(["SETNX", "a", "1"], "(integer) 1\n", "(integer) 0\n")
        self.check(["SETNX", "a", "2"], "(integer) 0\n")
        self.check(["GET", "a"], '"1"\n')
        self.check(["MSET", "a", "10", "b", "20"], "OK\n")
        self.check(["MGET", "a", "b", "zz"], '1) "10"\n2) "20"\n3) (nil)\n')
        self.check(["MSET", "a", "1", "b"],
                   "(error) ERR wrong number of arguments for 'mset' command\n")
        self.check(["MSET", "a"], "(error) ERR wrong number of arguments for 'mset' command\n")
        self.check(["MGET"], "(error) ERR wrong number of arguments for 'mget' command\n")
        self.assertEqual(self.cli("GETDEL", "a"), '"10"\n')
        self.assertEqual(self.cli("GETDEL", "a"), "(nil)\n")
        self.check(["EXISTS", "a"], "(integer) 0\n")

    def test_del_exists_type(self):
        self.cli("MSET", "a", "1", "b", "2", "c", "3")
        self.check(["EXISTS", "a", "a", "b", "nope"], "(integer) 3\n")
        self.check(["TYPE", "a"], "string\n")
        self.check(["TYPE", "nope"], "none\n")
        self.assertEqual(self.cli("DEL", "a", "b", "nope"), "(integer) 2\n")
        self.check(["DEL", "a"], "(integer) 0\n")
        self.check(["EXISTS", "a", "b", "c"], "(integer) 1\n")
        self.check(["DBSIZE"], "(integer) 1\n")

    def test_counters(self):
        self.assertEqual(self.cli("INCR", "n"), "(integer) 1\n")
        self.assertEqual(self.cli("INCRBY", "n", "10"), "(integer) 11\n")
        self.assertEqual(self.cli("DECR", "n"), "(integer) 10\n")
        self.assertEqual(self.cli("DECRBY", "n", "15"), "(integer) -5\n")
        self.assertEqual(self.cli("INCRBY", "n", "-5"), "(integer) -10\n")
        self.check(["GET", "n"], '"-10"\n')
        self.check(["INCRBY", "n", "abc"], "(error) ERR value is not an integer or out of range\n")
        self.check(["INCRBY", "n", "1.5"], "(error) ERR value is not an integer or out of range\n")
        self.cli("SET", "s", "hello")
        self.check(["INCR", "s"], "(error) ERR value is not an integer or out of range\n")
        self.cli("SET", "big", "9223372036854775807")
        self.check(["INCR", "big"], "(error) ERR increment or decrement would overflow\n")
        self.cli("SET", "small", "-9223372036854775808")
        self.check(["DECR", "small"], "(error) ERR increment or decrement would overflow\n")
        self.check(["DECRBY", "x", "-9223372036854775808"],
                   "(error) ERR decrement would overflow\n")
        self.cli("SET", "sp", " 1")
        self.check(["INCR", "sp"], "(error) ERR value is not an integer or out of range\n")
        # INCR keeps an existing TTL.
        self.cli("SET", "t", "5", "EX", "100")
        self.cli("INCR", "t")
        self.check(["TTL", "t"], "(integer) 100\n")

    def test_append_strlen(self):
        self.assertEqual(self.cli("APPEND", "s", "hello"), "(integer) 5\n")
        self.assertEqual(self.cli("APPEND", "s", " world"), "(integer) 11\n")
        self.check(["GET", "s"], '"hello world"\n')
        self.check(["STRLEN", "s"], "(integer) 11\n")
        self.check(["STRLEN", "nope"], "(integer) 0\n")
        self.check(["APPEND", "s"], "(error) ERR wrong number of arguments for 'append' command\n")

    def test_expire_ttl_persist(self):
        self.cli("SET", "k", "v")
        self.check(["TTL", "k"], "(integer) -1\n")
        self.check(["PTTL", "k"], "(integer) -1\n")
        self.check(["TTL", "nope"], "(integer) -2\n")
        self.check(["PTTL", "nope"], "(integer) -2\n")
        self.check(["EXPIRE", "nope", "10"], "(integer) 0\n")
        self.check(["EXPIRE", "k", "100"], "(integer) 1\n")
        self.check(["TTL", "k"], "(integer) 100\n")
        self.check(["EXPIRE", "k", "50", "NX"], "(integer) 0\n")
        self.check(["EXPIRE", "k", "50", "GT"], "(integer) 0\n")
        self.check(["EXPIRE", "k", "200", "GT"], "(integer) 1\n")
        self.check(["TTL", "k"], "(integer) 200\n")
        self.check(["EXPIRE", "k", "10", "FOO"], "(error) ERR Unsupported option FOO\n")
        self.check(["EXPIRE", "k", "x"], "(error) ERR value is not an integer or out of range\n")
        self.check(["PEXPIRE", "k", "100000"], "(integer) 1\n")
        pttl = int(re.fullmatch(r"\(integer\) (\d+)\n", self.cli("PTTL", "k")).group(1))
        self.assertTrue(95000 < pttl <= 100000, pttl)
        self.assertEqual(self.cli("PERSIST", "k"), "(integer) 1\n")
        self.check(["PERSIST", "k"], "(integer) 0\n")
        self.check(["PERSIST", "nope"], "(integer) 0\n")
        self.check(["TTL", "k"], "(integer) -1\n")
        # A non-positive TTL deletes the key at once.
        self.assertEqual(self.cli("EXPIRE", "k", "0"), "(integer) 1\n")
        self.check(["GET", "k"], "(nil)\n")
        self.check(["EXISTS", "k"], "(integer) 0\n")
        # Lazy expiry on access.
        self.cli("SET", "short", "v", "PX", "100")
        time.sleep(0.3)
        self.check(["GET", "short"], "(nil)\n")
        self.check(["TTL", "short"], "(integer) -2\n")

    def test_active_expiry_without_access(self):
        args = []
        for i in range(300):
            args += [f"exp:{i}", "v"]
        self.cli("MSET", *args)
        self.cli("SET", "keeper", "v")
        # One connection, many PEXPIREs (stdin script).
        script = "".join(f"PEXPIRE exp:{i} 200\n" for i in range(300)).encode()
        out = self.cli(stdin=script)
        self.assertEqual(out.count("(integer) 1"), 300)
        self.assertEqual(self.cli("DBSIZE"), "(integer) 301\n")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.cli("DBSIZE") == "(integer) 1\n":
                break
            time.sleep(0.1)
        self.assertEqual(self.cli("DBSIZE"), "(integer) 1\n",
                         "active expiry did not remove keys nobody touched")
        stats = self.cli("INFO", "stats")
        n = int(re.search(r"^expired_keys:(\d+)", stats, re.M).group(1))
        self.assertGreaterEqual(n, 300)
        self.assertEqual(self.cli("INFO", "keyspace").strip().split("\n")[-1].strip(),
                         "db0:keys=1,expires=0,avg_ttl=0")

    # ---- key space ---------------------------------------------------------------------------
    def test_scan_keys(self):
        keys = [f"user:{i}" for i in range(40)] + [f"other:{i}" for i in range(15)]
        args = []
        for k in keys:
            args += [k, "v"]
        self.cli("MSET", *args)
        # Full iteration with a small COUNT, via redis-cli so the cursor round-trips as text.
        seen, cursor, rounds = [], "0", 0
        while True:
            out = self.cli("SCAN", cursor, "COUNT", "7")
            m = re.match(r'^1\) "(\d+)"\n2\) ', out)
            self.assertTrue(m, out)
            cursor = m.group(1)
            seen += re.findall(r'"([^"]+)"$', out.split("\n", 1)[1], re.M)
            rounds += 1
            self.assertLess(rounds, 200)
            if cursor == "0":
                break
        self.assertEqual(sorted(set(seen)), sorted(keys))
        self.assertGreater(rounds, 2)  # COUNT bounded the work of each call
        # MATCH filters.
        seen, cursor = set(), "0"
        while True:
            out = self.cli("SCAN", cursor, "MATCH", "other:*", "COUNT", "1000")
            cursor = re.match(r'^1\) "(\d+)"', out).group(1)
            seen |= set(re.findall(r'"(other:\d+)"', out))
            self.assertNotIn("user:", out)
            if cursor == "0":
                break
        self.assertEqual(seen, {f"other:{i}" for i in range(15)})
        self.check(["SCAN", "notanumber"], "(error) ERR invalid cursor\n")
        self.check(["SCAN", "0", "COUNT", "0"], "(error) ERR syntax error\n")
        self.check(["SCAN", "0", "BOGUS"], "(error) ERR syntax error\n")
        # KEYS with glob patterns.
        out = self.cli("KEYS", "other:1?")
        self.assertEqual(sorted(re.findall(r'"([^"]+)"', out)),
                         sorted(f"other:{i}" for i in range(10, 15)))
        self.assertEqual(len(re.findall(r'"([^"]+)"', self.cli("KEYS", "*"))), len(keys))
        self.check(["KEYS", "nomatch*"], "(empty array)\n")

    def test_flushall_dbsize(self):
        self.cli("MSET", "a", "1", "b", "2", "accounts:x", "3")
        self.check(["DBSIZE"], "(integer) 3\n")
        self.check(["FLUSHALL", "BOGUS"], "(error) ERR syntax error\n")
        self.assertEqual(self.cli("FLUSHALL"), "OK\n")
        self.check(["DBSIZE"], "(integer) 0\n")
        self.check(["KEYS", "*"], "(empty array)\n")
        self.cli("SET", "a", "1")
        self.check(["FLUSHALL", "SYNC"], "OK\n")
        self.check(["DBSIZE"], "(integer) 0\n")

    def test_keyspaces(self):
        self.cli("MSET", "accounts:alice", "1", "plain", "2", "prefs:x", "3")
        out2 = self.cli("KEYSPACES")
        self.assertTrue(out2.startswith(
            '1)  1) "name"\n    2) "default"\n    3) "prefix"\n    4) ""\n    5) "model"\n'
            '    6) "primary"\n    7) "keys"\n    8) (integer) 1\n'), out2)
        out3 = self.cli("KEYSPACES", resp3=True)
        self.assertIn('1) 1# "name" => "default"\n   2# "prefix" => ""\n'
                      '   3# "model" => "primary"\n   4# "keys" => (integer) 1\n', out3)
        self.assertIn('2# "prefix" => "accounts:"\n   3# "model" => "primary"\n'
                      '   4# "keys" => (integer) 1\n', out3)
        self.assertIn('3# "model" => "multi-leader"', out3)
        self.assertIn('3# "model" => "leaderless"', out3)
        self.check(["KEYSPACES", "x"],
                   "(error) ERR wrong number of arguments for 'keyspaces' command\n")

    # ---- errors ------------------------------------------------------------------------------
    def test_error_conventions(self):
        self.check(["NOSUCHCMD", "a", "b"],
                   "(error) ERR unknown command 'NOSUCHCMD', with args beginning with: 'a' 'b' \n")
        self.check(["GET", "a", "b"], "(error) ERR wrong number of arguments for 'get' command\n")
        self.check(["INCR"], "(error) ERR wrong number of arguments for 'incr' command\n")
        # No command ever answers WRONGTYPE: only strings exist.
        self.cli("SET", "s", "text")
        for args in (["INCR", "s"], ["APPEND", "s", "x"], ["STRLEN", "s"], ["GET", "s"],
                     ["TYPE", "s"], ["EXPIRE", "s", "x"]):
            self.assertNotIn("WRONGTYPE", self.cli(*args))
        # The connection survives errors.
        out = self.cli(stdin=b"NOSUCH\nGET\nSET a b\nGET a\n")
        self.assertEqual(out.split("\n")[-3:], ["OK", '"b"', ""])

    def test_redis_py_classifies_errors(self):
        import redis
        r = self.server.redis()
        with self.assertRaises(redis.exceptions.ResponseError) as e:
            r.execute_command("NOSUCHCMD")
        self.assertIn("unknown command", str(e.exception))
        with self.assertRaises(redis.exceptions.ResponseError) as e:
            r.execute_command("GET", "a", "b")
        self.assertIn("wrong number of arguments", str(e.exception))
        r.set("s", "x")
        with self.assertRaises(redis.exceptions.ResponseError):
            r.incr("s")
        with self.assertRaises(redis.exceptions.ResponseError):
            r.execute_command("SELECT", "3")
        self.assertTrue(r.ping())  # the connection is still usable
        r.close()

    def test_differential_against_redis_server(self):
        """The same deterministic script gives byte-identical redis-cli output on replikv and
        on the real redis-server (skipped when redis-server is not installed)."""
        import shutil
        import subprocess
        import tempfile
        if not shutil.which("redis-server"):
            self.skipTest("redis-server not installed")
        script = [
            "SET a 1", "GET a", "INCR a", "INCRBY a 5", "DECR a", "DECRBY a 2", "GET a",
            "SET a x NX", "SET b y XX", "SET b y NX", "SET b z GET", "GETDEL b", "GETDEL b",
            "SETNX c 1", "SETNX c 2", "MSET d 1 e 2", "MGET a d e f", "DEL d e f", "EXISTS a a f",
            "APPEND g abc", "APPEND g def", "STRLEN g", "STRLEN nope", "TYPE g", "TYPE nope",
            "TTL g", "PTTL nope", "EXPIRE g 100", "TTL g", "PERSIST g", "PERSIST g", "TTL g",
            "SET h v EX 100", "SET h w KEEPTTL", "TTL h", "SET h v EX 0", "SET h v NX XX",
            "INCR g", "SET big 9223372036854775807", "INCR big", "MSET a", "GET", "PING",
            "PING x", "ECHO y", "SELECT 0", "DBSIZE", "FLUSHALL", "DBSIZE",
            "GET a", "SET k v", "KEYS *", "SCAN 0", "EXPIRE k 0", "EXISTS k",
            "SET e '' ", "GET e", "CLIENT GETNAME", "CLIENT SETNAME n1", "CLIENT GETNAME",
            "EXPIRE nope 5", "SET x 1 PX 100000", "PERSIST x", "INCRBY x abc",
        ]
        data = "\n".join(script).encode() + b"\n"
        port = harness.free_port()
        tmp = tempfile.mkdtemp(prefix="rkv-redis-")
        self.addCleanup(lambda: __import__("shutil").rmtree(tmp, ignore_errors=True))
        proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                                 "--save", "", "--appendonly", "no", "--dir", tmp],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: (proc.kill(), proc.wait(5)))
        deadline = time.monotonic() + 10
        while harness.redis_cli(port, "PING") != "PONG\n":
            self.assertLess(time.monotonic(), deadline, "redis-server did not start")
            time.sleep(0.05)
        for resp3 in (False, True):
            harness.redis_cli(port, "FLUSHALL")
            self.cli("FLUSHALL")
            want = harness.redis_cli(port, stdin=data, resp3=resp3)
            got = self.cli(stdin=data, resp3=resp3)
            self.maxDiff = None
            self.assertEqual(got, want, f"resp3={resp3}")


if __name__ == "__main__":
    unittest.main(verbosity=2)
