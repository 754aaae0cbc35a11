"""Command metadata against a real redis-server: what COMMAND INFO says of every command both
know (arity, key positions, the flags that decide routing and replication, subcommands), and
which keys COMMAND GETKEYS finds. Client libraries and cluster-aware proxies route by these.

  test_info_matches_redis     every replikv command that Redis also has: arity, first/last/step
                              key, write/readonly/movablekeys flags; each subcommand replikv
                              lists is one of Redis's with the same arity and keys
  test_getkeys_matches_redis  GETKEYS on the shortest valid form of every keyed command, and on
                              a few with options, names the same keys as Redis

Environment: REPLIKV_BIN (see harness.py).
"""

import os
import shutil
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import RespError  # noqa: E402
from redis_diff import DiffTestCase  # noqa: E402

ROUTING_FLAGS = {"write", "readonly", "movablekeys"}
# Added by Redis versions after the redis-server the test runs against (Debian's 7.0).
LATER = {"client|no-touch", "client|setinfo"}


def info_of(conn, name):
    r = conn.call("COMMAND", "INFO", name)[0]
    return None if r is None or isinstance(r, harness.Null) else r


@unittest.skipUnless(shutil.which("redis-server"), "redis-server not installed")
class CommandMetaTest(DiffTestCase):
    def setUp(self):
        super().setUp()
        self.red = self.start_redis()
        self.rkv = self.start_server()

    def test_info_matches_redis(self):
        compared = 0
        with harness.RawClient(self.rkv.port) as a, harness.RawClient(self.red.port) as b:
            for name in a.call("COMMAND", "LIST"):
                mine, theirs = info_of(a, name), info_of(b, name)
                if theirs is None:
                    continue  # replikv's own command
                self.assertEqual(mine[1], theirs[1], f"{name}: arity")
                self.assertEqual(mine[3:6], theirs[3:6], f"{name}: first/last/step key")
                self.assertEqual(set(mine[2]) & ROUTING_FLAGS, set(theirs[2]) & ROUTING_FLAGS,
                                 f"{name}: flags {mine[2]} vs {theirs[2]}")
                theirs_subs = {s[0]: s for s in theirs[9]}
                for sub in mine[9]:
                    if sub[0] in LATER and sub[0] not in theirs_subs:
                        continue
                    self.assertIn(sub[0], theirs_subs, f"{name}: subcommand {sub[0]}")
                    other = theirs_subs[sub[0]]
                    self.assertEqual((sub[1], sub[3:6]), (other[1], other[3:6]), sub[0])
                compared += 1
        self.assertGreater(compared, 100)
        print(f"\n  {compared} commands' metadata match Redis's", file=sys.stderr)

    def test_getkeys_matches_redis(self):
        compared = 0
        with harness.RawClient(self.rkv.port) as a, harness.RawClient(self.red.port) as b:
            cases = [
                ["MSET", "a", "1", "b", "2"], ["SINTERCARD", "2", "x", "y", "LIMIT", "1"],
                ["OBJECT", "ENCODING", "k"], ["SET", "k", "v", "EX", "10"],
                ["COPY", "s", "d", "REPLACE"], ["SMOVE", "s", "d", "m"], ["DEL", "a", "b", "c"],
                ["SINTERCARD", "3", "x", "y"], ["GET", "a", "b"], ["PING", "x"],
            ]
            for info in a.call("COMMAND"):
                name, arity, first = info[0], info[1], info[3]
                if info_of(b, name) is None or (first <= 0 and "movablekeys" not in info[2]):
                    continue
                argc = abs(arity)
                args = [name] + [f"k{i}" for i in range(1, argc)]
                if "movablekeys" in info[2]:
                    args = [name, "1"] + [f"k{i}" for i in range(2, max(argc, 3))]
                cases.append(args)
            for args in cases:
                got = a.call("COMMAND", "GETKEYS", *args)
                want = b.call("COMMAND", "GETKEYS", *args)
                if isinstance(want, RespError):
                    self.assertIsInstance(got, RespError, f"{args}: {got!r} vs {want!r}")
                else:
                    self.assertEqual(got, want, args)
                compared += 1
        print(f"\n  GETKEYS of {compared} command forms match Redis's", file=sys.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
