"""commit = "async" on a real 3-node cluster: a forced failover loses acknowledged writes, and
exactly those are reported by LOSTWRITES on the old leader; nothing else is missing.

The leader's followers are frozen (SIGSTOP) so it keeps acknowledging async writes that no
follower reads; then all three are killed -9 (the frozen followers' unread socket buffers die
with them), the followers restart and elect a new leader, and the old leader restarts, rejoins,
and has its unreplicated tail truncated.
"""

import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import test_cluster  # noqa: E402
from harness import RespError  # noqa: E402

KS = test_cluster.KS


_quorum_config = test_cluster.cluster_config


def async_config(i, nodes, secret, raft):
    return _quorum_config(i, nodes, secret, raft).replace(
        'commit = "quorum"', 'commit = "async"')


class AsyncLostWritesTest(unittest.TestCase):
    def test_forced_failover_reports_lost_writes(self):
        orig = test_cluster.cluster_config
        test_cluster.cluster_config = async_config
        try:
            c = test_cluster.Cluster()
        finally:
            test_cluster.cluster_config = orig
        self.addCleanup(c.cleanup)
        c.start()
        leader = c.leader()
        followers = [i for i in range(3) if i != leader]
        lp = c.nodes[leader].port

        committed = {f"{KS}:before{i}": f"v{i}" for i in range(20)}
        for k, v in committed.items():
            self.assertEqual(harness.redis_cli(lp, "SET", k, v, check=True).strip(), "OK")
        c.wait_converged()

        # Freeze the followers: the leader still acknowledges async writes for a while.
        for i in followers:
            os.kill(c.nodes[i].pid, signal.SIGSTOP)
        acked = {}
        try:
            with c.nodes[leader].raw(timeout=5) as conn:
                for n in range(30):
                    k = f"{KS}:lost{n}"
                    try:
                        if conn.call("SET", k, f"x{n}") == "OK":
                            acked[k] = f"x{n}"
                    except RespError:
                        break  # stepped down (check-quorum): nothing more is acknowledged
        finally:
            # The appends the leader sent sit unread in the frozen followers' socket buffers:
            # kill everyone (SIGKILL ends a stopped process too) so those bytes die unread.
            c.nodes[leader].kill9()
            for i in followers:
                c.nodes[i].kill9()
        self.assertGreater(len(acked), 0, "the isolated leader acknowledged no async write")
        for i in followers:
            c.nodes[i].restart()

        new_leader = c.leader(exclude=(leader,))
        for n in range(5):  # new entries at the indexes the old leader used
            harness.redis_cli(c.nodes[new_leader].port, "SET", f"{KS}:after{n}", "y", check=True)
        c.nodes[leader].restart()
        commit = c.wait_converged()
        c.wait_applied(leader, commit)

        # LOSTWRITES on the old leader names exactly the acknowledged writes that are gone.
        deadline = time.monotonic() + 10
        lost = []
        while time.monotonic() < deadline:
            with c.nodes[leader].raw(timeout=5) as conn:
                lost = conn.call("LOSTWRITES")
            if lost:
                break
            time.sleep(0.1)
        lost_keys = set()
        for entry in lost:
            d = dict(zip(entry[0::2], entry[1::2])) if isinstance(entry, list) else entry.as_dict()
            self.assertEqual(d["keyspace"], KS)
            parts = d["command"].split()
            self.assertEqual(parts[0].upper(), "SET")
            lost_keys.add(parts[1])
        values = c.local_values(new_leader, list(acked) + list(committed))
        missing = {k for k in acked if values[k] != acked[k]}
        self.assertEqual(missing, lost_keys & set(acked),
                         f"lost={sorted(lost_keys)} missing={sorted(missing)}")
        self.assertTrue(missing, "the failover lost nothing: the test did not force a loss")
        for k, v in committed.items():  # nothing committed before the failover is missing
            self.assertEqual(values[k], v)


if __name__ == "__main__":
    unittest.main(verbosity=2)
