"""Client authentication with `requirepass` (the `default` user's password), as Redis clients
know it: -NOAUTH before AUTH, AUTH password / AUTH default password, HELLO 3 AUTH, WRONGPASS,
failed attempts limited per connection and counted, the password never shown."""

import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import RespError  # noqa: E402

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


if __name__ == "__main__":
    unittest.main()
