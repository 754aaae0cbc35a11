// `replikv lab`: a real cluster of `replikv serve` processes under real faults, with a checked
// client history and a report (docs/lab.md).
//
// One run: write the node configs (the shape `cluster up` writes), start the nodes, run a
// workload from several clients against every node while a nemesis injects faults drawn from
// the seed (kill -9 and restart, SIGSTOP/SIGCONT, graceful restart, partitions of the shapes of
// sim/partition.h cut with iptables on loopback, wall clock skews and jumps), then heal, let the
// cluster settle, run the final reads and judge the history with the checkers the keyspace's mode
// promises (sim/judge.h, check/promises.h). It writes into the output directory:
//
//   history.jsonl   every client operation (docs/history-format.md; `replikv check` reads it)
//   summary.json    options, the repro line, faults, per-check verdicts, unavailability, counts
//   report.html     a self-contained page: fault timeline, ops and latency over time, verdicts
//
// Exit code: 0 every check passed, 1 a promise was broken (or an invariant seen on the spot),
// 2 bad options or the cluster could not run. Every process, rule and directory the lab made is
// removed on exit, on SIGINT/SIGTERM too (nodes also die with the lab through PDEATHSIG; rules of
// a lab that was killed carry its pid in their comment, "rkv-lab:<pid>:", and the next lab run
// removes those whose process is gone).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace CLI {
class App;
}

namespace rkv {

struct LabOptions {
  // The keyspace under test: "primary" (`accounts`, commit = quorum, read = linearizable) or
  // "primary-async" (a keyspace `async`, commit = async: acknowledged writes may be lost in a
  // failover, and every one lost must be listed by LOSTWRITES) or "primary-lease" (a keyspace
  // `leased`, commit = quorum, read = lease: linearizable, the leader reading under its lease;
  // pauses stop the leader, docs/lab.md "Catching a broken build") or "primary-all" (a keyspace
  // `allacks`, commit = all) or "multi-leader" (`carts`, crdt) or "leaderless" / "leaderless-lww"
  // (a keyspace `dyn`, strict quorums, conflict = siblings / lww; check/leaderless_blackbox.h).
  std::string model = "primary";
  int nodes = 3;        // 3..7
  uint64_t seed = 0;    // 0: drawn from the clock (printed in the repro line)
  int duration_s = 20;  // the fault phase
  int clients = 4;
  // Comma-separated families (kill, pause, restart, partition, clock), or "none".
  std::string faults = "kill,pause,restart,partition";
  std::string out_dir;     // "": ./lab-runs/seed-<seed>
  uint16_t base_port = 0;  // 0: the first free block from 21000 (ports as `cluster up`)
  bool keep_data = false;  // keep the nodes' data dirs (removed by default)
  // "primary": judge the keyspace by the quorum/linearizable promise whatever mode it runs in.
  // With model "primary-async" a run whose failovers lose acknowledged writes then fails: the
  // demonstration that a lab run catches a build that loses them. "": its own mode's promise.
  std::string judge_as;
  // A deliberately broken variant every node runs (`replikv serve --lab-unsafe-bug`, names as
  // `replikv sim --bug`): a lab run should catch it. "": none.
  std::string bug;
  // How peer links are cut: "iptables" (root: rules on loopback matched by the sender's group),
  // "proxy" (a lab-owned proxy on every peer link, cli/lab_proxy.h; also delays), "auto":
  // iptables as root, else the proxy.
  std::string links = "auto";
};

// The `lab` subcommand, parsed from the command line.
class LabCommand {
 public:
  virtual ~LabCommand() = default;
  virtual bool selected() const = 0;
  virtual int run(const std::string& self_exe) = 0;
};
std::unique_ptr<LabCommand> add_lab_command(CLI::App& app);

int run_lab(const LabOptions& options, const std::string& self_exe);

}  // namespace rkv
