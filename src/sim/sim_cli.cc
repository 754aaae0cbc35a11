#include "sim/sim_cli.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <charconv>
#include <ostream>

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
    cmd_->add_option("--model", model_, "replication model under test: primary");
    cmd_->add_option("--seed", seed_, "run one seed");
    cmd_->add_option("--seeds", seeds_, "sweep a seed range A..B (inclusive)");
    cmd_->add_flag("--check-determinism", determinism_,
                   "run each seed twice and compare trace hashes");
    cmd_->add_option("--nodes", o_.nodes, "cluster size (1..7)")->check(CLI::Range(1, 7));
    cmd_->add_option("--clients", o_.clients, "simulated clients")->check(CLI::Range(1, 1000));
    cmd_->add_option("--ops", o_.ops, "client operations in the safety phase")
        ->check(CLI::Range(int64_t{0}, int64_t{100'000'000}));
    cmd_->add_option("--faults", faults_, "none | low | medium | high");
    cmd_->add_option("--workload", workload_, "registers | set | counter | all");
    cmd_->add_option("--bug", bug_,
                     "broken variant: vote-not-persisted | commit-unpersisted | "
                     "ignore-log-up-to-date | read-index-no-quorum");
    cmd_->add_option("--disable", disable_,
                     "fault families to switch off, comma-separated: loss,dup,reorder,tail,"
                     "partition,crash,torn,pause,clock");
    cmd_->add_option("--history", sweep_.history_path, "write the JSONL history here");
    cmd_->add_option("--seconds", sweep_.max_wall_seconds,
                     "wall-clock bound for a sweep (no new seeds after it)");
    cmd_->add_option("--check-every", o_.check_every,
                     "check Raft invariants every N events (default 1: every event)")
        ->check(CLI::Range(int64_t{1}, int64_t{1'000'000}));
    cmd_->add_option("--op-timeout-ms", o_.op_timeout_ms,
                     "client per-op timeout (default: drawn per seed, 150..1000)");
    cmd_->add_flag("-v,--verbose", sweep_.verbose, "print parameters and faults of every run");
  }

  bool selected() const override { return cmd_->parsed(); }

  int run(std::ostream& out) override {
    if (model_ != "primary") {
      out << "sim: only --model primary is simulated so far\n";
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
  CLI::App* cmd_ = nullptr;
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
