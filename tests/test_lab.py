"""`replikv lab`: real processes under real faults, a checked history, a report, a clean exit.

  test_a_primary_every_fault    3 nodes, kill -9 / pause / graceful restart / partitions drawn from
                                a seed: every check valid, exit 0, the outputs written, nothing
                                left behind (processes, iptables rules, node data)
  test_b_five_nodes_partitions  5 nodes, partitions only (ring and bridge become possible); the
                                lab verifies from the nodes' peer counters that no message
                                crossed a cut link (a leak is an anomaly and fails the run)
  (in test_a) the report        the HTML report opened in headless Chromium (when installed,
                                scripts/install-deps.sh): the DOM holds the verdict, timeline,
                                charts and check table; a screenshot is rendered
  test_c_async_losses_listed    commit = async under kill -9 and partitions: losses listed by LOSTWRITES pass; the
                                same mode judged by the quorum promise fails once a write is lost
  test_c2_multileader_converges multi-leader (crdt): convergence and no lost acknowledged write
  test_c2b_multileader_lww_...  multi-leader lww and siblings: convergence, the black-box rules on
                                the string keys, LWW discards measured
  test_c3_leaderless_...        leaderless (strict quorums, siblings) under every fault family and
                                clock faults: convergence and check_leaderless_blackbox
  test_c4_leaderless_lww_...    leaderless-lww (LWW discards measured) and primary-all (with
                                slow fsyncs) pass
  test_c5_leaderless_bug_caught --bug timeout-counts-as-ack fails with a read-your-writes
                                violation; the same run without --bug passes
  test_c6_follower_reads        read = follower: bounded staleness holds, the expected
                                linearizability violations are reported as measured
  test_c7_disk_full             --faults disk: a node's own tmpfs filled; it stays up, refuses
                                writes, resumes; every check passes; the mounts are removed
  test_c8_proxy_links           --links proxy: partitions of every shape and delay/jitter/loss
                                on a lab-owned proxy, no root needed
  test_d_interrupt_cleans_up    SIGINT in the middle of a run: exit 2, no node, rule or data left
  test_d2_killed_lab_...        kill -9 of the lab: its nodes die with it, the next run removes its
                                leftover rules
  test_e_bad_options            unknown fault family, model, node count or bug: refused before
                                anything starts; `serve --lab-unsafe-bug` refused outside the lab
  test_f_broken_variant_...     --bug runs every node as a broken variant (raft.h enum Bug)
  test_g_lease_bug_caught       --model primary-lease: --bug lease-ignores-pause fails with a
                                linearizability violation; the same run without --bug passes

Partitions with iptables need root; without it the runs that use `auto` links go through the
lab's proxy, and the tests that need iptables or mounts are skipped.
"""

import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

ROOT = os.geteuid() == 0 and shutil.which("iptables") is not None
FAULTS = "kill,pause,restart,partition" if ROOT else "kill,pause,restart"


def serve_pids(out_dir):
    """Pids of `replikv serve` processes whose config lies under out_dir."""
    pids = []
    for d in glob.glob("/proc/[0-9]*"):
        try:
            with open(os.path.join(d, "cmdline"), "rb") as f:
                cmd = f.read().split(b"\0")
        except OSError:
            continue
        if b"serve" in cmd and any(out_dir.encode() in a for a in cmd):
            pids.append(int(os.path.basename(d)))
    return pids


def node_logs(lab):
    """Every node's log of a lab run, concatenated."""
    logs = ""
    for log in glob.glob(os.path.join(lab.out, "n*.log")):
        with open(log) as f:
            logs += f.read()
    return logs


def lab_rules(pid):
    if not ROOT:
        return []
    out = subprocess.run(["iptables", "-w", "-S", "OUTPUT"], capture_output=True,
                         text=True).stdout
    return [r for r in out.splitlines() if f"rkv-lab:{pid}:" in r]


class Lab:
    """One `replikv lab` process writing into a temporary directory."""

    def __init__(self, *args):
        self.tmp = tempfile.mkdtemp(prefix="rkv-lab-")
        self.out = os.path.join(self.tmp, "run")
        self.log_path = os.path.join(self.tmp, "lab.out")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([harness.replikv_bin(), "lab", "-o", self.out, *args],
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)

    def wait(self, timeout=150):
        try:
            return self.proc.wait(timeout)
        finally:
            self.log.close()

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def summary(self):
        with open(os.path.join(self.out, "summary.json")) as f:
            return json.load(f)

    def cleanup(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        for pid in serve_pids(self.out):
            os.kill(pid, signal.SIGKILL)
        if ROOT:
            for rule in lab_rules(self.proc.pid):
                subprocess.run(["iptables", "-w", "-D"] + rule.replace('"', "").split()[1:])
        if not os.environ.get("REPLIKV_KEEP"):
            shutil.rmtree(self.tmp, ignore_errors=True)


class LabTest(unittest.TestCase):
    report_dir = None  # test_a keeps its run for test_c

    def start(self, *args):
        lab = Lab(*args)
        self.addCleanup(lab.cleanup)
        return lab

    def assert_left_nothing(self, lab):
        self.assertEqual(serve_pids(lab.out), [], "nodes outlived the lab")
        with open("/proc/mounts") as f:
            mounts = [m for m in f if m.startswith(f"rkv-lab:{lab.proc.pid} ")]
        self.assertEqual(mounts, [], "the lab's tmpfs data dirs outlived it")
        self.assertEqual(lab_rules(lab.proc.pid), [], "iptables rules outlived the lab")
        self.assertFalse(os.path.exists(os.path.join(lab.out, "cluster")), "node data kept")

    def catch_bug(self, args, bug, seeds, check_failed):
        """Runs `args --bug bug` with each seed until one fails (exit 1), checks that failure
        with check_failed(lab, summary), then runs that seed without --bug, which must pass.
        Real timing decides whether a seed catches it, hence several."""
        for seed in seeds:
            lab = self.start(*args, "--seed", seed, "--bug", bug)
            rc = lab.wait()
            self.assertIn(rc, (0, 1), lab.output())
            if rc == 0:
                print(f"{bug} not caught with seed {seed}", file=sys.stderr)
                continue
            s = lab.summary()
            self.assertFalse(s["passed"])
            check_failed(lab, s)
            self.assert_left_nothing(lab)
            lab = self.start(*args, "--seed", seed)
            s = self.assert_passed(lab, lab.wait())
            self.assert_left_nothing(lab)
            return s
        self.fail(f"{bug} was not caught in {len(seeds)} runs")

    def assert_passed(self, lab, rc):
        out = lab.output()
        self.assertEqual(rc, 0, out)
        s = lab.summary()
        self.assertTrue(s["passed"], out)
        self.assertEqual(s["anomalies"], [], out)
        self.assertGreaterEqual(len(s["checks"]), 1)
        for c in s["checks"]:
            self.assertEqual(c["verdict"], "valid", c)
        self.assertGreater(s["ops"].get("ok", 0), 100, s["ops"])
        self.assertIn("lab: repro: replikv lab --model ", out)
        return s

    def test_a_primary_every_fault(self):
        lab = self.start("--seed", "11", "--duration", "20", "--faults", FAULTS)
        rc = lab.wait()
        s = self.assert_passed(lab, rc)
        self.assertGreaterEqual(len(s["timeline"]), 3, s["timeline"])
        kinds = {f["kind"] for f in s["timeline"]}
        self.assertGreaterEqual(len(kinds), 2, kinds)
        self.assertTrue(os.path.getsize(os.path.join(lab.out, "history.jsonl")) > 0)
        self.assert_left_nothing(lab)
        # The repro line names everything the run drew from.
        self.assertIn(f"--seed 11 --duration 20 --clients 4 --faults {FAULTS}", s["repro"])
        LabTest.report_dir = tempfile.mkdtemp(prefix="rkv-lab-report-")
        self.addCleanup(shutil.rmtree, LabTest.report_dir, True)
        shutil.copy(os.path.join(lab.out, "report.html"), LabTest.report_dir)
        self.check_report(os.path.join(LabTest.report_dir, "report.html"))

    def test_b_five_nodes_partitions(self):
        if not ROOT:
            self.skipTest("partitions need root and iptables")
        lab = self.start("--seed", "5", "--nodes", "5", "--duration", "15", "--faults",
                         "partition")
        s = self.assert_passed(lab, lab.wait())
        parts = [f for f in s["timeline"] if f["kind"] == "partition"]
        self.assertGreaterEqual(len(parts), 2, s["timeline"])
        for f in parts:
            self.assertIn("no message crossed them", f["description"])
            self.assertIn("every node answered PING", f["description"])
        self.assert_left_nothing(lab)

    def check_report(self, path):
        with open(path) as f:
            html = f.read()
        for el in ("verdict", "timeline", "ops-per-node", "latency", "unavailability",
                   "anomalies", "checks", "repro"):
            self.assertIn(f'id="{el}"', html)
        self.assertNotIn("<script", html)
        self.assertNotIn("http://", html.replace("http://www.w3.org", ""))
        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        if not chromium:
            return
        profile = tempfile.mkdtemp(prefix="rkv-chromium-")
        self.addCleanup(shutil.rmtree, profile, True)
        flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu",
                 f"--user-data-dir={profile}"]
        dom = subprocess.run(flags + ["--dump-dom", "file://" + path], capture_output=True,
                             text=True, timeout=120).stdout
        self.assertIn('id="verdict" class="pass">PASS', dom)
        self.assertRegex(dom, r'<rect class="fault (kill|pause|restart|partition)"')
        self.assertIn('<circle class="ok"', dom)
        self.assertGreaterEqual(dom.count('<tr class="check">'), 1)
        shot = os.path.join(profile, "report.png")
        subprocess.run(flags + [f"--screenshot={shot}", "--window-size=1100,1400",
                                "file://" + path], capture_output=True, timeout=120)
        self.assertTrue(os.path.exists(shot) and os.path.getsize(shot) > 20000,
                        "chromium rendered no screenshot")

    def test_c_async_losses_listed(self):
        """commit = async: a kill -9 of the leader may lose acknowledged writes; the run passes
        only if every one missing is listed by LOSTWRITES (acked-or-listed). Judged instead by
        the quorum promise (--judge-as primary), a run in which an acknowledged write was lost
        must fail: the lab catches a build that loses acknowledged writes. Whether a failover
        loses one is up to timing (seed 23 isolates the leader), so up to three seeds are
        tried."""
        if not ROOT:
            self.skipTest("the leader's isolation (a partition) needs root and iptables")
        lab = self.start("--model", "primary-async", "--seed", "23", "--duration", "8",
                         "--clients", "8", "--faults", "kill,partition")
        s = self.assert_passed(lab, lab.wait())
        self.assertIn("acknowledged-or-listed", s["checks"][0]["check"])
        self.assert_left_nothing(lab)
        # An isolated leader of an async keyspace acknowledges writes until it notices it lost
        # its quorum: the likeliest loss.
        for seed in (23, 9, 31):
            lab = self.start("--model", "primary-async", "--judge-as", "primary", "--seed",
                             str(seed), "--duration", "8", "--clients", "8", "--faults",
                             "partition")
            rc = lab.wait()
            s = lab.summary()
            listed = {tuple(x.split(" ", 1)) for x in s["lost_listed"]}
            acked_lost = []
            with open(os.path.join(lab.out, "history.jsonl")) as f:
                for line in f:
                    op = json.loads(line)
                    if (op["op"] == "sadd" and op["status"] == "ok"
                            and (op["key"], op["value"]) in listed):
                        acked_lost.append(op)
            if not acked_lost:
                self.assertEqual(rc, 0, lab.output())
                continue
            self.assertEqual(rc, 1, lab.output())
            self.assertFalse(s["passed"])
            self.assertIn("violation", [c["verdict"] for c in s["checks"]], s["checks"])
            self.assert_left_nothing(lab)
            return
        self.skipTest("no failover lost an acknowledged write in three runs")

    def test_c2_multileader_converges(self):
        """multi-leader (conflict = crdt): every node's copy converges after healing, and no
        acknowledged SADD or INCR is lost."""
        lab = self.start("--model", "multi-leader", "--seed", "3", "--duration", "12",
                         "--faults", FAULTS)
        s = self.assert_passed(lab, lab.wait())
        names = " ".join(c["check"] for c in s["checks"])
        for what in ("convergence", "no acknowledged SADD lost", "no acknowledged INCR lost"):
            self.assertIn(what, names)
        self.assert_left_nothing(lab)

    def test_c2b_multileader_lww_and_siblings(self):
        """multi-leader with conflict = lww and = siblings under kills, partitions (root) and
        clock faults: every node's copy converges, and the string keys pass the black-box
        rules (no acknowledged write silently lost, nothing invented); LWW's discards are
        reported as measured."""
        for model in ("multi-leader-siblings", "multi-leader-lww"):
            lab = self.start("--model", model, "--seed", "4", "--duration", "10", "--faults",
                             "kill,clock" + (",partition" if ROOT else ""))
            s = self.assert_passed(lab, lab.wait())
            names = " ".join(c["check"] for c in s["checks"])
            self.assertIn("convergence of every node's copy", names)
            self.assertIn("no acknowledged write silently lost (strings)", names)
            if model.endswith("lww"):
                self.assertTrue(any("last-write-wins" in m for m in s["measured"]),
                                s["measured"])
            self.assert_left_nothing(lab)

    def test_c3_leaderless_every_fault(self):
        """leaderless (strict quorums, conflict = siblings) under every fault family, clock
        skews and jumps included: every node's copy converges, no acknowledged write is lost,
        reads see the acknowledged writes their quorums overlap (check_leaderless_blackbox);
        the clock faults reached the nodes (each logs its offset)."""
        lab = self.start("--model", "leaderless", "--seed", "8", "--duration", "15",
                         "--faults", FAULTS + ",clock")
        s = self.assert_passed(lab, lab.wait())
        names = " ".join(c["check"] for c in s["checks"])
        for what in ("convergence of every node's copy", "no acknowledged write lost"):
            self.assertIn(what, names)
        clocks = [f for f in s["timeline"] if f["kind"] == "clock"]
        self.assertGreaterEqual(len(clocks), 1, s["timeline"])
        self.assertIn("lab clock: wall clock offset", node_logs(lab))
        self.assert_left_nothing(lab)

    def test_c4_leaderless_lww_and_primary_all(self):
        """leaderless with conflict = lww under kills and clock faults: the same checks by the
        LWW rules pass, and the discarded concurrent versions are reported as measured; a
        primary keyspace with commit = all stays linearizable under kills and pauses."""
        lab = self.start("--model", "leaderless-lww", "--seed", "4", "--duration", "10",
                         "--faults", "kill,clock")
        s = self.assert_passed(lab, lab.wait())
        self.assertTrue(any("last-write-wins" in m for m in s["measured"]), s["measured"])
        self.assert_left_nothing(lab)
        # commit = all with slow fsyncs (serve --lab-control-file): each write waits for the
        # slowest disk.
        lab = self.start("--model", "primary-all", "--seed", "4", "--duration", "10",
                         "--faults", "kill,pause,slow-disk")
        s = self.assert_passed(lab, lab.wait())
        self.assertIn("commit=all", " ".join(c["check"] for c in s["checks"]))
        self.assertIn("slow-disk", [f["kind"] for f in s["timeline"]])
        self.assertIn("lab disk: every synced batch held", node_logs(lab))
        self.assert_left_nothing(lab)

    def test_c6_follower_reads(self):
        """read = follower: every follower read is fetched with its STALENESS and must miss no
        write acknowledged before its reported bound (bounded staleness, the promise); the
        writes and final linearizable reads are linearizable; the same history judged as if
        follower reads were linearizable is reported as measured (a violation is expected
        when a partition leaves a follower behind, not a failure)."""
        lab = self.start("--model", "primary-follower", "--seed", "1", "--duration", "12",
                         "--clients", "6", "--faults", "partition,pause" if ROOT else "pause")
        s = self.assert_passed(lab, lab.wait())
        names = " ".join(c["check"] for c in s["checks"])
        self.assertIn("bounded staleness (registers)", names)
        self.assertIn("linearizability of writes and final reads", names)
        self.assertTrue(any("follower reads" in m and "judged as if linearizable" in m
                            for m in s["measured"]), s["measured"])
        self.assert_left_nothing(lab)

    def test_c5_leaderless_bug_caught(self):
        """timeout-counts-as-ack: a coordinator cut off from the other replicas acknowledges a
        write it alone stores; a quorum read on the other side misses it, which rule 3c catches
        on a single-writer key. The same run without --bug passes. Real timing: up to three
        seeds are tried for the broken run."""
        if not ROOT:
            self.skipTest("the partition that strands a coordinator needs root and iptables")
        args = ["--model", "leaderless", "--duration", "12", "--clients", "12", "--faults",
                "partition"]

        def failed(lab, s):
            bad = [c for c in s["checks"] if c["verdict"] == "violation"]
            self.assertEqual(len(bad), 1, s["checks"])
            self.assertIn("read-your-writes", bad[0]["check"])
            self.assertRegex(bad[0]["explanation"], r"\(rule 3[abc]\)")

        self.catch_bug(args, "timeout-counts-as-ack", ("1", "4", "6"), failed)

    def test_c7_disk_full(self):
        """--faults disk (root): each node's data dir is a tmpfs of its own; a fault fills it
        below the node's disk reserve for a while. The node stays up and answers (checked 1.5 s
        in), refuses writes with MISCONF and hands its leadership over, and takes writes again
        once the space is back; every promise holds; the mounts go with the lab."""
        if not ROOT:
            self.skipTest("disk faults mount a tmpfs per node: root")
        lab = self.start("--seed", "5", "--duration", "15", "--faults", "disk,kill")
        s = self.assert_passed(lab, lab.wait())
        disks = [f for f in s["timeline"] if f["kind"] == "disk"]
        self.assertGreaterEqual(len(disks), 1, s["timeline"])
        for f in disks:
            self.assertIn("the node was up 1.5 s in", f["description"])
        logs = node_logs(lab)
        self.assertIn("disk full:", logs)
        self.assertIn("disk has room again", logs)
        self.assert_left_nothing(lab)

    def test_c8_proxy_links(self):
        """--links proxy (no root needed): every peer link runs through a lab-owned proxy.
        Partitions of every shape cut it (the peer frame counters show nothing crossed), delay
        faults slow it (delay, jitter, retransmission stalls), kills go on; every check passes
        and nothing is left behind."""
        lab = self.start("--links", "proxy", "--nodes", "5", "--seed", "7", "--duration", "15",
                         "--faults", "partition,delay,kill")
        s = self.assert_passed(lab, lab.wait())
        self.assertIn("--links proxy", s["repro"])
        kinds = [f["kind"] for f in s["timeline"]]
        self.assertIn("partition", kinds, s["timeline"])
        self.assertIn("delay", kinds, s["timeline"])
        for f in s["timeline"]:
            if f["kind"] == "partition":
                self.assertIn("no message crossed them", f["description"])
        self.assert_left_nothing(lab)
        # Without the proxy there is nothing to delay.
        lab = self.start("--links", "iptables", "--faults", "delay")
        self.assertEqual(lab.wait(20), 2, lab.output())
        self.assertIn("delay faults need --links proxy", lab.output())

    def test_d_interrupt_cleans_up(self):
        lab = self.start("--seed", "3", "--duration", "60", "--faults", FAULTS)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "t=" not in lab.output():
            time.sleep(0.2)
        self.assertGreater(len(serve_pids(lab.out)), 0, lab.output())
        lab.proc.send_signal(signal.SIGINT)
        self.assertEqual(lab.wait(60), 2, lab.output())
        self.assert_left_nothing(lab)

    def test_d2_killed_lab_leaves_nothing_for_long(self):
        """kill -9 of the lab: its nodes die with it (PDEATHSIG), and the next lab run removes
        the rules and tmpfs mounts it left (tagged with its pid)."""
        lab = self.start("--seed", "3", "--duration", "60", "--faults",
                         FAULTS + (",disk" if ROOT else ""))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "t=" not in lab.output():
            time.sleep(0.2)
        pids = serve_pids(lab.out)
        self.assertGreater(len(pids), 0, lab.output())
        lab.proc.kill()
        lab.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and serve_pids(lab.out):
            time.sleep(0.1)
        self.assertEqual(serve_pids(lab.out), [], "nodes outlived a killed lab")
        if ROOT:
            subprocess.run(["iptables", "-w", "-I", "OUTPUT", "-o", "lo", "-p", "tcp", "--dport",
                            "9", "-m", "comment", "--comment", f"rkv-lab:{lab.proc.pid}:", "-j",
                            "DROP"], check=True)  # as a partition in force would have left
            with open("/proc/mounts") as f:
                self.assertIn(f"rkv-lab:{lab.proc.pid} ", f.read(), "no mount to leave behind")
            nxt = self.start("--duration", "1", "--faults", "none")
            self.assertEqual(nxt.wait(60), 0, nxt.output())
            self.assertEqual(lab_rules(lab.proc.pid), [])
            with open("/proc/mounts") as f:
                self.assertNotIn(f"rkv-lab:{lab.proc.pid} ", f.read())

    def test_e_bad_options(self):
        for args in (["--faults", "kill,meteor"], ["--model", "nonesuch"], ["--nodes", "9"],
                     ["--bug", "nonesuch"]):
            lab = self.start(*args)
            self.assertNotEqual(lab.wait(20), 0, lab.output())
            self.assertEqual(serve_pids(lab.out), [])
        # A broken variant runs only under the lab: a normal start refuses it.
        tmp = tempfile.mkdtemp(prefix="rkv-lab-")
        self.addCleanup(shutil.rmtree, tmp, True)
        r = subprocess.run([harness.replikv_bin(), "serve", "--lab-unsafe-bug",
                            "read-index-no-quorum", "--port", str(harness.free_port()),
                            "--admin-port", "0", "--data-dir", tmp],
                           capture_output=True, text=True, timeout=30,
                           env=dict(os.environ, REPLIKV_LAB_PARENT=str(os.getpid())))
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("only `replikv lab` may start one", r.stderr)
        # Nor does it take a clock offset file.
        clock = os.path.join(tmp, "clock")
        with open(clock, "w") as f:
            f.write("clock_offset_ms 60000\n")
        r = subprocess.run([harness.replikv_bin(), "serve", "--lab-control-file", clock,
                            "--port", str(harness.free_port()), "--admin-port", "0",
                            "--data-dir", tmp],
                           capture_output=True, text=True, timeout=30,
                           env=dict(os.environ, REPLIKV_LAB_PARENT=str(os.getpid())))
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("--lab-control-file", r.stderr)
        self.assertIn("only `replikv lab` may start one", r.stderr)

    def test_f_broken_variant_runs_under_the_lab(self):
        """--bug starts every node as the broken variant (each logs it); whether a short run
        catches it depends on the variant and the faults' timing (docs/lab.md), so only that
        it ran and was judged is asserted here."""
        lab = self.start("--bug", "read-index-no-quorum", "--seed", "2", "--duration", "3",
                         "--faults", "kill")
        rc = lab.wait()
        self.assertIn(rc, (0, 1), lab.output())
        self.assertIn("--bug read-index-no-quorum", lab.summary()["repro"])
        with open(os.path.join(lab.out, "n1.log")) as f:
            self.assertIn("deliberately broken variant read-index-no-quorum", f.read())
        self.assert_left_nothing(lab)

    def test_g_lease_bug_caught(self):
        """read = lease: a leader stopped for longer than a client's timeout, its peer links
        cut until shortly after SIGCONT (docs/lab.md), must not answer from its lease once
        resumed. The broken variant lease-ignores-pause (the pause does not count against the
        lease) does, and the run fails with a linearizability violation; the same run without
        --bug passes. Real timing: up to three seeds are tried for the broken run."""
        if not ROOT:
            self.skipTest("the paused leader's link cut needs root and iptables")
        args = ["--model", "primary-lease", "--duration", "8", "--clients", "6", "--faults",
                "pause"]

        def failed(lab, s):
            self.assertIn(("linearizability (registers)", "violation"),
                          [(c["check"].rsplit(": ", 1)[-1], c["verdict"]) for c in s["checks"]],
                          s["checks"])
            self.assertIn("not linearizable", lab.output())

        s = self.catch_bug(args, "lease-ignores-pause", ("3", "4", "1"), failed)
        self.assertIn("linearizability (registers)", s["checks"][0]["check"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
