"""Client authentication and ACL users, as Redis clients know them: `requirepass` (the `default`
user's password), -NOAUTH before AUTH, AUTH password / AUTH user password, HELLO 3 AUTH,
WRONGPASS, failed attempts limited per connection and counted; [[user]] entries and ACL SETUSER
users with permissions on commands and key patterns (-NOPERM), ACL WHOAMI/LIST/GETUSER/DELUSER,
a deleted or disabled user's connections closed; passwords never shown (only SHA-256 hashes).

  AclUsersTest.test_matches_redis   the same users on a real redis-server: which commands and
                                    keys each may use (ACL DRYRUN), GETUSER's keys and passwords
"""

import hashlib
import os
import re
import shutil
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import RespError  # noqa: E402
from redis_diff import DiffTestCase  # noqa: E402

SECRET = "s3cret pass \"with\" quotes"
NOAUTH = RespError("NOAUTH Authentication required.")
WRONGPASS = RespError("WRONGPASS invalid username-password pair or user is disabled.")


def metric(server, name):
    m = re.search(rf"^{name} (\d+)", server.http("/metrics")[2], re.M)
    return int(m.group(1)) if m else None


class AuthTest(harness.ServerTestCase):
    def secured(self):
        toml_secret = SECRET.replace("\\", "\\\\").replace('"', '\\"')
        return self.start_server(fsync="never", config=f'[node]\nrequirepass = "{toml_secret}"\n')

    def test_commands_wait_for_auth(self):
        s = self.secured()
        with s.raw() as c:
            self.assertEqual(c.call("SET", "k", "v"), NOAUTH)
            self.assertEqual(c.call("GET", "k"), NOAUTH)
            self.assertEqual(c.call("PING"), NOAUTH)
            self.assertEqual(c.call("KEYS", "*"), NOAUTH)
            self.assertEqual(c.call("AUTH", "wrong"), WRONGPASS)
            self.assertEqual(c.call("AUTH", "someone", SECRET), WRONGPASS)
            self.assertEqual(c.call("GET", "k"), NOAUTH)
            self.assertEqual(c.call("AUTH", SECRET), "OK")
            self.assertEqual(c.call("SET", "k", "v"), "OK")
            self.assertEqual(c.call("GET", "k"), "v")
            # RESET forgets the authentication (the default user has a password).
            self.assertEqual(c.call("RESET"), "RESET")
            self.assertEqual(c.call("GET", "k"), NOAUTH)
            self.assertEqual(c.call("AUTH", "default", SECRET), "OK")
            self.assertEqual(c.call("GET", "k"), "v")
        # Nothing was written before authentication: a fresh connection finds only "k".
        with s.raw() as c:
            self.assertEqual(c.call("AUTH", SECRET), "OK")
            self.assertEqual(c.call("DBSIZE"), 1)

    def test_hello_auth_and_redis_py(self):
        s = self.secured()
        with s.raw() as c:
            err = c.call("HELLO", "3")
            self.assertIsInstance(err, RespError)
            self.assertTrue(str(err).startswith("NOAUTH HELLO must be called"), err)
            self.assertEqual(c.call("HELLO", "3", "AUTH", "default", "nope"), WRONGPASS)
            hello = c.call("HELLO", "3", "AUTH", "default", SECRET, "SETNAME", "me")
            self.assertEqual(dict(hello.as_dict())["proto"], 3)
            self.assertEqual(c.call("SET", "h", "1"), "OK")
        r = s.redis(password=SECRET)
        self.assertTrue(r.ping())
        r.set("py", "x")
        self.assertEqual(r.get("py"), b"x")
        r2 = s.redis(password=SECRET, username="default")  # AUTH default <password>
        self.assertEqual(r2.get("py"), b"x")
        import redis
        refused = (redis.exceptions.AuthenticationError, redis.exceptions.ResponseError)
        with self.assertRaises(refused):
            s.redis(password="bad").ping()
        with self.assertRaises(refused):
            s.redis().get("py")  # no password at all: NOAUTH

    def test_failed_attempts_are_limited_and_counted_and_the_secret_stays_hidden(self):
        s = self.secured()
        before = metric(s, "replikv_auth_failures_total")
        with s.raw() as c:
            for _ in range(5):
                self.assertEqual(c.call("AUTH", "guess"), WRONGPASS)
            # Further attempts within the second are refused unchecked, even the right one.
            err = c.call("AUTH", SECRET)
            self.assertIsInstance(err, RespError)
            self.assertIn("too many failed authentication attempts", str(err))
            time.sleep(1.1)
            self.assertEqual(c.call("AUTH", SECRET), "OK")
            config = c.call("CONFIG", "GET", "*")
            self.assertNotIn(SECRET, [str(x) for x in config])
            self.assertEqual(c.call("CONFIG", "GET", "requirepass"), [])
            self.assertNotIn(SECRET, c.call("INFO", "all"))
            self.assertNotIn(SECRET, str(c.call("CLIENT", "LIST")))
        self.assertEqual(metric(s, "replikv_auth_failures_total"), before + 5)
        self.assertEqual(metric(s, "replikv_auth_rate_limited_total"), 1)
        self.assertGreaterEqual(metric(s, "replikv_noauth_rejected_total"), 0)
        s.stop()
        with open(s.log_path, errors="replace") as f:
            self.assertNotIn(SECRET, f.read())

    def test_without_requirepass_auth_is_optional(self):
        s = self.start_server(fsync="never")
        with s.raw() as c:
            self.assertEqual(c.call("SET", "k", "v"), "OK")
            err = c.call("AUTH", "whatever")
            self.assertIsInstance(err, RespError)
            self.assertIn("without any password configured", str(err))
            self.assertEqual(c.call("AUTH", "default", "anything"), "OK")
            self.assertEqual(c.call("AUTH", "other", "anything"), WRONGPASS)
            self.assertEqual(dict(c.call("HELLO", "3", "AUTH", "default", "x").as_dict())["proto"], 3)


ALICE_PW = "alice pw 1"
BOB_PW = "bob-secret-2"
ADMIN_PW = "admin-pw-3"
USERS_CONFIG = f"""[node]
requirepass = "{ADMIN_PW}"

[[user]]
name = "alice"
rules = ["on", ">{ALICE_PW}", "~prefs:*", "%R~accounts:*", "+@all", "-@dangerous"]

[[user]]
name = "bob"
rules = "on #{hashlib.sha256(BOB_PW.encode()).hexdigest()} ~carts:* -@all +@read +set +acl|whoami"

[[user]]
name = "idle"
rules = "off >whatever +@all ~*"
"""


def noperm_cmd(user, cmd):
    return RespError(f"NOPERM User {user} has no permissions to run the '{cmd}' command")


NOPERM_KEY = RespError("NOPERM No permissions to access a key")


class AclUsersTest(DiffTestCase):
    def users_server(self, **kw):
        return self.start_server(fsync="never", config=USERS_CONFIG, **kw)

    def test_key_patterns_and_commands(self):
        s = self.users_server()
        with s.raw() as c:
            self.assertEqual(c.call("GET", "prefs:a"), NOAUTH)
            self.assertEqual(c.call("AUTH", "alice", "wrong"), WRONGPASS)
            self.assertEqual(c.call("AUTH", "nosuch", ALICE_PW), WRONGPASS)
            self.assertEqual(c.call("AUTH", "idle", "whatever"), WRONGPASS)  # off
            self.assertEqual(c.call("AUTH", "alice", ALICE_PW), "OK")
            self.assertEqual(c.call("ACL", "WHOAMI"), "alice")
            self.assertEqual(c.call("SET", "prefs:a", "1"), "OK")
            self.assertEqual(c.call("GET", "prefs:a"), "1")
            # accounts:* is read-only for alice; other keys are out of reach.
            self.assertEqual(c.call("SET", "accounts:x", "1"), NOPERM_KEY)
            self.assertEqual(c.call("INCR", "accounts:x"), NOPERM_KEY)
            self.assertIsNone(c.call("GET", "accounts:x"))
            self.assertEqual(c.call("GET", "other"), NOPERM_KEY)
            self.assertEqual(c.call("MGET", "prefs:a", "other"), NOPERM_KEY)
            self.assertEqual(c.call("SUNIONSTORE", "prefs:u", "accounts:x"), 0)
            self.assertEqual(c.call("SUNIONSTORE", "accounts:u", "prefs:a"), NOPERM_KEY)
            self.assertEqual(c.call("CONFIG", "GET", "port"), noperm_cmd("alice", "config|get"))
            self.assertEqual(c.call("FLUSHALL"), noperm_cmd("alice", "flushall"))
            self.assertEqual(c.call("ACL", "LIST"), noperm_cmd("alice", "acl|list"))
            # A refused command in MULTI makes EXEC fail, as in Redis.
            self.assertEqual(c.call("MULTI"), "OK")
            self.assertEqual(c.call("SET", "prefs:b", "1"), "QUEUED")
            self.assertEqual(c.call("SET", "other", "1"), NOPERM_KEY)
            err = c.call("EXEC")
            self.assertIsInstance(err, RespError)
            self.assertTrue(str(err).startswith("EXECABORT"), err)
            self.assertIsNone(c.call("GET", "prefs:b"))
        with s.raw() as c:
            hello = c.call("HELLO", "3", "AUTH", "bob", BOB_PW)
            self.assertEqual(dict(hello.as_dict())["proto"], 3)
            self.assertEqual(c.call("ACL", "WHOAMI"), "bob")
            self.assertEqual(c.call("SET", "carts:1", "x"), "OK")
            self.assertEqual(c.call("GET", "carts:1"), "x")
            self.assertEqual(c.call("DEL", "carts:1"), noperm_cmd("bob", "del"))
            self.assertEqual(c.call("SET", "prefs:a", "x"), NOPERM_KEY)
            self.assertEqual(c.call("PING"), noperm_cmd("bob", "ping"))
            self.assertEqual(c.call("HELLO", "3", "AUTH", "bob", "bad"), WRONGPASS)
            self.assertEqual(c.call("ACL", "WHOAMI"), "bob")  # a failed AUTH changes nothing
            # RESET returns to the default user, who needs a password here.
            self.assertEqual(c.call("RESET"), "RESET")
            self.assertEqual(c.call("GET", "carts:1"), NOAUTH)
        # The admin (the default user) sees the refusals counted.
        with s.raw() as c:
            self.assertEqual(c.call("AUTH", ADMIN_PW), "OK")
            self.assertEqual(c.call("ACL", "WHOAMI"), "default")
            info = c.call("INFO", "stats")
            self.assertRegex(info, r"acl_access_denied_cmd:[1-9]")
            self.assertRegex(info, r"acl_access_denied_key:[1-9]")
        self.assertEqual(metric(s, "replikv_acl_denied_keys_total"), 7)
        self.assertEqual(metric(s, "replikv_acl_denied_commands_total"), 5)

    def test_redis_py_and_redis_cli(self):
        s = self.users_server()
        import redis
        r = s.redis(username="alice", password=ALICE_PW)
        r.set("prefs:py", "1")
        self.assertEqual(r.get("prefs:py"), b"1")
        with self.assertRaises(redis.exceptions.NoPermissionError):
            r.set("other", "1")
        with self.assertRaises(redis.exceptions.NoPermissionError):
            r.config_get("port")
        with self.assertRaises((redis.exceptions.AuthenticationError,
                                redis.exceptions.ResponseError)):
            s.redis(username="alice", password="nope").ping()
        out = s.cli("--user", "bob", "--pass", BOB_PW, "--no-auth-warning", "SET", "carts:c",
                    "v").strip()
        self.assertEqual(out, "OK")
        out = s.cli("--user", "bob", "--pass", BOB_PW, "--no-auth-warning", "DEL",
                    "carts:c")
        self.assertIn("NOPERM", out)

    def test_setuser_getuser_deluser_and_sessions(self):
        s = self.users_server()
        admin = s.raw()
        self.addCleanup(admin.close)
        self.assertEqual(admin.call("AUTH", "default", ADMIN_PW), "OK")
        users = admin.call("ACL", "USERS")
        self.assertEqual(users, ["alice", "bob", "default", "idle"])
        self.assertEqual(admin.call("ACL", "SETUSER", "carol", "on", ">carol-pw", "~x:*", "+get",
                                    "+set"), "OK")
        carol_hash = hashlib.sha256(b"carol-pw").hexdigest()
        got = admin.call("ACL", "GETUSER", "carol")
        got = dict(zip(got[::2], got[1::2]))
        self.assertEqual(got["flags"], ["on"])
        self.assertEqual(got["passwords"], [carol_hash])
        self.assertEqual(got["keys"], "~x:*")
        self.assertEqual(got["commands"], "-@all +get +set")
        self.assertIn(f"user carol on #{carol_hash} ~x:* resetchannels -@all +get +set",
                      admin.call("ACL", "LIST"))
        self.assertIsNone(admin.call("ACL", "GETUSER", "nosuch"))
        # A bad rule changes nothing, and says which rule.
        err = admin.call("ACL", "SETUSER", "carol", "+del", "+nosuch")
        self.assertEqual(str(err), "ERR Error in ACL SETUSER modifier '+nosuch': Unknown command "
                                   "or category name in ACL")
        carol = s.raw()
        self.addCleanup(carol.close)
        self.assertEqual(carol.call("AUTH", "carol", "carol-pw"), "OK")
        self.assertEqual(carol.call("DEL", "x:1"), noperm_cmd("carol", "del"))
        # Changes apply to authenticated connections at once.
        self.assertEqual(admin.call("ACL", "SETUSER", "carol", "+del"), "OK")
        self.assertEqual(carol.call("DEL", "x:1"), 0)
        self.assertEqual(admin.call("ACL", "DRYRUN", "carol", "get", "y:1"),
                         "User carol has no permissions to access the 'y:1' key")
        self.assertEqual(admin.call("ACL", "DRYRUN", "carol", "get", "x:1"), "OK")
        # Turning a user off closes its connections (stricter than Redis 7.0, which lets them
        # run on); deleting one closes them too, as Redis does.
        self.assertEqual(admin.call("ACL", "SETUSER", "carol", "off"), "OK")
        self.assertTrue(carol.is_closed())
        dave = s.raw()
        self.addCleanup(dave.close)
        self.assertEqual(admin.call("ACL", "SETUSER", "dave", "on", "nopass", "+@all", "~*"),
                         "OK")
        self.assertEqual(dave.call("AUTH", "dave", "anything"), "OK")
        self.assertEqual(dave.call("SET", "k", "v"), "OK")
        self.assertEqual(admin.call("ACL", "DELUSER", "dave", "nosuch"), 1)
        self.assertTrue(dave.is_closed())
        self.assertEqual(str(admin.call("ACL", "DELUSER", "default")),
                         "ERR The 'default' user cannot be removed")
        with s.raw() as c:
            self.assertEqual(c.call("AUTH", "dave", "anything"), WRONGPASS)
        self.assertEqual(admin.call("PING"), "PONG")
        self.assertNotIn("carol", admin.call("ACL", "WHOAMI"))
        # A user deleting itself is answered, then closed.
        self.assertEqual(admin.call("ACL", "SETUSER", "eve", "on", ">e", "+@all", "~*"), "OK")
        with s.raw() as eve:
            self.assertEqual(eve.call("AUTH", "eve", "e"), "OK")
            self.assertEqual(eve.call("ACL", "DELUSER", "eve"), 1)
            self.assertTrue(eve.is_closed())

    def test_secrets_stay_hidden(self):
        s = self.users_server(extra_args=["--log-level", "debug"])
        with s.raw() as c:
            self.assertEqual(c.call("AUTH", "alice", "wrong-guess"), WRONGPASS)
            self.assertEqual(c.call("AUTH", ADMIN_PW), "OK")
            self.assertEqual(c.call("ACL", "SETUSER", "frank", "on", ">frank-secret", "+@all"),
                             "OK")
            err = c.call("ACL", "SETUSER", "frank", "<not-his-secret")
            self.assertIsInstance(err, RespError)
            self.assertNotIn("not-his-secret", str(err))
            shown = [str(c.call("CONFIG", "GET", "*")), c.call("INFO", "all"),
                     str(c.call("CLIENT", "LIST")), str(c.call("ACL", "LIST")),
                     str(c.call("ACL", "GETUSER", "alice")), str(c.call("ACL", "GETUSER", "bob")),
                     str(c.call("ACL", "GETUSER", "frank")), s.http("/metrics")[2]]
        self.assertIn(hashlib.sha256(ALICE_PW.encode()).hexdigest(), shown[3])
        self.assertIn("user=default", shown[2])
        s.stop()
        with open(s.log_path, errors="replace") as f:
            shown.append(f.read())
        self.assertIn("ACL SETUSER frank", shown[-1])
        for secret in (ALICE_PW, BOB_PW, ADMIN_PW, "frank-secret", "wrong-guess",
                       "not-his-secret"):
            for text in shown:
                self.assertNotIn(secret, text)

    @unittest.skipUnless(shutil.which("redis-server"), "redis-server not installed")
    def test_matches_redis(self):
        """The same rules on a real redis-server allow and refuse the same commands and keys
        (ACL DRYRUN; Redis 7.0 words its refusals differently, so only the verdict is compared)
        and describe the same keys, passwords and flags."""
        s = self.start_server(fsync="never")
        red = self.start_redis()
        users = {
            "ro": ["on", ">pw", "%R~acc:*", "~prefs:*", "%W~log:*", "+@all", "-@dangerous"],
            "rd": ["on", "nopass", "allkeys", "-@all", "+@read", "+@connection", "-get",
                   "+config|get"],
            "wr": ["on", "#" + hashlib.sha256(b"x").hexdigest(), "~k*", "+@write", "-del"],
        }
        probes = [
            ["get", "acc:1"], ["set", "acc:1", "v"], ["incr", "acc:1"], ["del", "acc:1"],
            ["get", "prefs:1"], ["set", "prefs:1", "v"], ["get", "other"], ["exists", "log:1"],
            ["set", "log:1", "v"], ["set", "log:1", "v", "get"], ["get", "log:1"],
            ["rpush", "log:l", "a"], ["lpop", "log:l"], ["llen", "log:l"], ["append", "log:1", "x"],
            ["sunionstore", "log:s", "acc:a", "acc:b"], ["sunionstore", "acc:s", "acc:a"],
            ["copy", "acc:a", "log:c"], ["rename", "acc:a", "log:b"], ["rename", "log:a", "log:b"],
            ["lmove", "prefs:a", "log:b", "left", "right"], ["hset", "log:h", "f", "v"],
            ["hget", "log:h", "f"], ["hgetall", "acc:h"], ["zadd", "log:z", "1", "m"],
            ["zunionstore", "log:d", "2", "acc:a", "prefs:b"], ["mget", "acc:1", "other"],
            ["mset", "log:1", "a", "log:2", "b"], ["expire", "log:1", "10"], ["ttl", "log:1"],
            ["type", "log:1"], ["strlen", "log:1"], ["getdel", "log:1"], ["ping"],
            ["config", "get", "port"], ["config", "resetstat"], ["keys", "*"], ["flushall"],
            ["client", "id"], ["client", "kill", "id", "1"], ["acl", "whoami"],
            ["acl", "setuser", "x"], ["multi"], ["exec"], ["info"], ["dbsize"],
            ["get", "k1"], ["set", "k1", "v"], ["del", "k1"], ["smove", "k1", "k2", "m"],
        ]
        compared = 0
        with s.raw() as a, harness.RawClient(red.port) as b:
            for name, rules in users.items():
                self.assertEqual(a.call("ACL", "SETUSER", name, *rules), "OK")
                self.assertEqual(b.call("ACL", "SETUSER", name, *rules), "OK")
                mine = a.call("ACL", "GETUSER", name)
                theirs = b.call("ACL", "GETUSER", name)
                mine, theirs = dict(zip(mine[::2], mine[1::2])), dict(zip(theirs[::2], theirs[1::2]))
                for field in ("flags", "passwords", "keys"):
                    self.assertEqual(mine[field], theirs[field], f"{name}: {field}")
                for probe in probes:
                    x = a.call("ACL", "DRYRUN", name, *probe)
                    y = b.call("ACL", "DRYRUN", name, *probe)
                    if isinstance(y, RespError):
                        self.assertIsInstance(x, RespError, f"{name} {probe}: {x!r} vs {y!r}")
                        continue
                    self.assertEqual(x == "OK", y == "OK", f"{name} {probe}: {x!r} vs {y!r}")
                    compared += 1
        self.assertGreater(compared, 120)


if __name__ == "__main__":
    unittest.main()
