"""A man in the middle of the peer links: payload frames altered, injected, replayed and
reordered between real nodes are refused by their MAC and counted, and the cluster stays correct.

Three nodes form a cluster; every other node reaches n2's peer port through a proxy in this test
(their configs name the proxy's port for n2, n2 listens on its own). The proxy forwards the
dialer's bytes frame by frame ([u32 length][u64 tag][payload]) and, on a connection,
attacks one payload frame well after the handshake: it flips a byte of the payload (alter),
sends a frame of its own (inject), sends a frame a second time (replay), or swaps two frames
(reorder). Once each attack has been made on some connection, it only forwards. Meanwhile a
client writes through the leader; every acknowledged write must end up on every node, and n2
must have refused at least one frame per attack (replikv_peer_bad_frames_total) without
delivering it.

Environment: REPLIKV_BIN (see harness.py).
"""

import os
import secrets
import socket
import struct
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import test_cluster  # noqa: E402
from test_cluster import KS  # noqa: E402

ATTACKS = ["alter", "inject", "replay", "reorder"]
HANDSHAKE_FRAMES = 2  # HELLO and RESPONSE: the dialer's frames before its payload frames
ATTACK_AT = 15        # the payload frame (counted from the first) an attack touches


class Proxy:
    """Forwards connections from a local port to `target_port`, attacking dialer frames."""

    def __init__(self, target_port):
        self.target = target_port
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.pending = list(ATTACKS)  # attacks not yet made
        self.made = []
        self.lock = threading.Lock()
        self.stopped = False
        self.socks = []
        threading.Thread(target=self.accept_loop, daemon=True).start()

    def stop(self):
        self.stopped = True
        for s in [self.listener] + self.socks:
            try:
                s.close()
            except OSError:
                pass

    def accept_loop(self):
        while not self.stopped:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            self.socks += [client, server]
            threading.Thread(target=self.pump_frames, args=(client, server),
                             daemon=True).start()
            threading.Thread(target=self.pump_bytes, args=(server, client), daemon=True).start()

    @staticmethod
    def read_exact(s, n):
        buf = b""
        while len(buf) < n:
            chunk = s.recv(n - len(buf))
            if not chunk:
                raise OSError("closed")
            buf += chunk
        return buf

    def pump_bytes(self, src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        harness.shutdown_sockets(src, dst)

    def pump_frames(self, src, dst):
        n = 0
        held = None
        attack, done = None, False  # at most one attack per connection (the node closes it)
        try:
            while True:
                head = self.read_exact(src, 12)
                (length,) = struct.unpack("<I", head[:4])
                frame = head + self.read_exact(src, length)
                payload_index = n - HANDSHAKE_FRAMES
                n += 1
                if attack is None and not done and payload_index >= ATTACK_AT:
                    with self.lock:  # the next attack not made yet, on whichever link is busy
                        attack = self.pending.pop(0) if self.pending else None
                    done = True
                if attack is None:
                    dst.sendall(frame)
                    continue
                if attack == "alter" and length > 0:
                    b = bytearray(frame)
                    b[12 + length // 2] ^= 0x40
                    dst.sendall(bytes(b))
                elif attack == "inject":
                    fake = b"\x07" * 24
                    dst.sendall(struct.pack("<IQ", len(fake), int.from_bytes(
                        secrets.token_bytes(8), "little")) + fake + frame)
                elif attack == "replay":
                    dst.sendall(frame + frame)
                elif attack == "reorder":
                    if held is None:
                        held = frame
                        continue
                    dst.sendall(frame + held)
                else:
                    dst.sendall(frame)
                    continue
                with self.lock:
                    self.made.append(attack)
                attack = None
        except OSError:
            pass
        harness.shutdown_sockets(src, dst)


class PeerMitmTest(unittest.TestCase):
    def test_tampered_frames_are_refused_and_counted(self):
        c = test_cluster.Cluster(3)
        self.addCleanup(c.cleanup)
        real_n2 = c.peer_ports[1]
        proxy = Proxy(real_n2)
        self.addCleanup(proxy.stop)
        # Everyone but n2 reaches n2 through the proxy.
        for i in (0, 2):
            with open(c.nodes[i].config_path) as f:
                text = f.read()
            with open(c.nodes[i].config_path, "w") as f:
                f.write(text.replace(f"peer_port = {real_n2}\n", f"peer_port = {proxy.port}\n"))
        c.start()
        acked = {}
        deadline = time.monotonic() + 60
        i = 0
        while time.monotonic() < deadline and (len(proxy.made) < len(ATTACKS) or i < 300):
            lead = c.leader(timeout=20)
            try:
                with c.nodes[lead].raw(timeout=5) as r:
                    for _ in range(20):
                        k, v = f"{KS}:k{i % 50}", f"v{i}"
                        if r.call("SET", k, v) == "OK":
                            acked[k] = v
                        i += 1
            except OSError:
                pass
        self.assertEqual(sorted(proxy.made), sorted(ATTACKS),
                         f"attacks made: {proxy.made} after {i} writes")
        # Every acknowledged write reached every replica, through the reconnected links.
        c.wait_converged()
        for n in range(3):
            self.assertEqual(c.local_values(n, list(acked)), acked, f"node n{n + 1}")
        metrics = c.nodes[1].metrics()
        bad = sum(v for (name, _), v in metrics.items()
                  if name == "replikv_peer_bad_frames_total")
        self.assertGreaterEqual(bad, len(ATTACKS), metrics)
        with c.nodes[1].raw() as r:
            info = r.call("INFO", "keyspace_replication")
        self.assertIn("bad_frames=", info)
        self.assertIn("failed authentication", c.nodes[1].log_tail(400))
        print(f"\n  {i} writes, attacks {proxy.made}: n2 refused {bad} frames; "
              f"{len(acked)} keys converged on 3 nodes", file=sys.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
