#include "sim/sim_cli.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <charconv>
#include <ostream>

#include "sim/staleness.h"
#include "sim/sweep.h"

namespace rkv::sim {
namespace {

bool parse_u64(std::string_view s, uint64_t* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

class SimCommandImpl final : public SimCommand {
 public:
  explicit SimCommandImpl(CLI::App& app) {
    cmd_ = app.add_subcommand("sim", "Run the deterministic cluster simulator (docs/simulator.md)");
    cmd_->add_option("--model", model_,
                     "replication model under test: primary | leaderless | multi-leader");
    cmd_->add_option("--seed", seed_, "run one seed");
    cmd_->add_option("--seeds", seeds_, "sweep a seed range A..B (inclusive)");
    cmd_->add_flag("--check-determinism", determinism_,
                   "run each seed twice and compare trace hashes");
    nodes_opt_ = cmd_->add_option("--nodes", o_.nodes,
                                  "cluster size (1..7; default 3, leaderless: drawn 3..7)")
                     ->check(CLI::Range(1, 7));
    cmd_->add_option("--clients", o_.clients, "simulated clients")->check(CLI::Range(1, 1000));
    cmd_->add_option("--ops", o_.ops, "client operations in the safety phase")
        ->check(CLI::Range(int64_t{0}, int64_t{100'000'000}));
    cmd_->add_option("--faults", faults_, "none | low | medium | high");
    cmd_->add_option("--workload", workload_, "registers | set | counter | all");
    cmd_->add_option("--bug", bug_,
                     "broken variant: vote-not-persisted | commit-unpersisted | "
                     "ignore-log-up-to-date | read-index-no-quorum | lease-ignores-pause | "
                     "staleness-ignores-pause | snapshot-forgets-lost (primary); "
                     "repair-writes-older | hint-dropped | timeout-counts-as-ack | "
                     "tombstone-forgotten (leaderless); cursor-skips | lww-keeps-local | "
                     "tombstone-early | siblings-drops-concurrent | crdt-remove-wins | "
                     "crdt-counter-max (multi-leader)");
    cmd_->add_option("--disable", disable_,
                     "fault families to switch off, comma-separated: loss,dup,reorder,tail,"
                     "partition,crash,torn,pause,clock,disk");
    cmd_->add_option("--history", sweep_.history_path, "write the JSONL history here");
    cmd_->add_option("--seconds", sweep_.max_wall_seconds,
                     "wall-clock bound for a sweep (no new seeds after it)");
    cmd_->add_option("--check-every", o_.check_every,
                     "check Raft invariants every N events (default 1: every event)")
        ->check(CLI::Range(int64_t{1}, int64_t{1'000'000}));
    cmd_->add_option("--op-timeout-ms", o_.op_timeout_ms,
                     "client per-op timeout (default: drawn per seed, 150..1000)");
    cmd_->add_option("--conflict", o_.conflict,
                     "multi-leader: the keyspace's conflict mode (default: drawn per seed)")
        ->check(CLI::IsMember({"lww", "crdt", "siblings"}));
    cmd_->add_option("--max-clock-skew-ms", o_.max_clock_skew_ms,
                     "multi-leader: the keyspace's max_clock_skew_ms (default: the config's, 500; "
                     "above any clock "
                     "difference a seed draws)")
        ->check(CLI::Range(int64_t{1}, int64_t{86'400'000}));
    cmd_->add_option("--regions", o_.regions,
                     "multi-leader: spread the nodes over K regions round-robin, WAN links "
                     "between them (default: each seed draws 1..3)")
        ->check(CLI::Range(1, 7));
    cmd_->add_option("--state-chunk-bytes", o_.state_chunk_bytes,
                     "multi-leader: the keyspace's state_chunk_bytes (default: the config's)")
        ->check(CLI::Range(int64_t{1}, int64_t{1} << 30));
    cmd_->add_flag("-v,--verbose", sweep_.verbose, "print parameters and faults of every run");
    // --measure staleness (leaderless): the probability that a read t ms after a write's
    // acknowledgement returns it, from message delay distributions (src/sim/staleness.h).
    cmd_->add_option("--measure", measure_, "staleness: measure read staleness (leaderless)");
    cmd_->add_option("--n", st_.n, "staleness: replicas")->check(CLI::Range(1, 64));
    cmd_->add_option("--r", st_.r, "staleness: read quorum")->check(CLI::Range(1, 64));
    cmd_->add_option("--w", st_.w, "staleness: write quorum")->check(CLI::Range(1, 64));
    cmd_->add_option("--trials", st_.trials, "staleness: trials (default 100000)");
    cmd_->add_option("--delay-write", delays_[0],
                     "staleness: write request delay, e.g. exp:1, uniform:0.5:3, pareto:1:1.5, "
                     "const:2, 0.9*exp:1 + 0.1*pareto:10:1.2 (ms)");
    cmd_->add_option("--delay-ack", delays_[1], "staleness: write acknowledgement delay");
    cmd_->add_option("--delay-read", delays_[2], "staleness: read request delay");
    cmd_->add_option("--delay-response", delays_[3], "staleness: read response delay");
  }

  bool selected() const override { return cmd_->parsed(); }

  int run(std::ostream& out) override {
    if (!measure_.empty()) return run_measure(out);
    if (model_ == "leaderless") {
      o_.model = Model::kLeaderless;
      if (nodes_opt_->count() == 0) o_.nodes = 0;  // each seed draws its cluster size
    } else if (model_ == "multi-leader") {
      o_.model = Model::kMultiLeader;
      if (o_.nodes < 2) {  // a single node runs its keyspaces locally, with no engine to judge
        out << "sim: --model multi-leader wants at least 2 nodes\n";
        return 2;
      }
    } else if (model_ != "primary") {
      out << "sim: --model wants primary, leaderless or multi-leader\n";
      return 2;
    }
    if (o_.regions > 0 && o_.model != Model::kMultiLeader) {
      out << "sim: --regions applies to --model multi-leader only\n";
      return 2;
    }
    if (o_.regions > o_.nodes) {
      out << fmt::format("sim: --regions {} wants at least as many nodes (--nodes {})\n",
                         o_.regions, o_.nodes);
      return 2;
    }
    auto f = parse_fault_level(faults_);
    auto w = parse_workload(workload_);
    auto b = parse_bug(bug_);
    auto d = parse_families(disable_);
    if (!f || !w || !b || !d) {
      out << fmt::format("sim: bad {}\n", !f   ? "--faults"
                                          : !w ? "--workload"
                                          : !b ? "--bug"
                                               : "--disable");
      return 2;
    }
    o_.disabled = *d;
    o_.faults = *f;
    o_.workload = *w;
    o_.raft_bugs = *b;
    sweep_.base = o_;
    sweep_.first = sweep_.last = seed_;
    sweep_.check_determinism = determinism_;
    if (!seeds_.empty()) {
      const size_t dots = seeds_.find("..");
      if (dots == std::string::npos || !parse_u64(seeds_.substr(0, dots), &sweep_.first) ||
          !parse_u64(seeds_.substr(dots + 2), &sweep_.last) || sweep_.first > sweep_.last) {
        out << "sim: --seeds wants A..B with A <= B\n";
        return 2;
      }
    }
    SweepResult r = run_sweep(sweep_, out);
    if (!r.raft_active && o_.nodes > 1) {
      out << "sim: warning: the nodes reported no Raft group (Node::raft_group); nothing was "
             "replicated through Raft\n";
    }
    return r.ok() ? 0 : 1;
  }

 private:
  int run_measure(std::ostream& out) {
    if (measure_ != "staleness" || model_ != "leaderless") {
      out << "sim: --measure takes staleness, with --model leaderless\n";
      return 2;
    }
    DelayDist* dists[] = {&st_.write_req, &st_.write_ack, &st_.read_req, &st_.read_resp};
    for (int i = 0; i < 4; ++i) {
      if (delays_[i].empty()) continue;
      std::string error;
      auto d = DelayDist::parse(delays_[i], &error);
      if (!d) {
        out << "sim: " << error << "\n";
        return 2;
      }
      *dists[i] = *d;
    }
    st_.seed = seed_;
    std::string error;
    if (!validate_staleness(st_, &error)) {
      out << "sim: " << error << "\n";
      return 2;
    }
    out << format_staleness(st_, measure_staleness(st_));
    return 0;
  }

  CLI::App* cmd_ = nullptr;
  std::string measure_;
  StalenessOptions st_;
  std::string delays_[4];
  CLI::Option* nodes_opt_ = nullptr;
  SimOptions o_;
  SweepOptions sweep_;
  std::string model_ = "primary", seeds_, faults_ = "medium", workload_ = "all", bug_ = "none",
              disable_;
  uint64_t seed_ = 1;
  bool determinism_ = false;
};

}  // namespace

std::unique_ptr<SimCommand> add_sim_command(CLI::App& app) {
  return std::make_unique<SimCommandImpl>(app);
}

}  // namespace rkv::sim
