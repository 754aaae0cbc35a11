#include "sim/sweep.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <chrono>
#include <fstream>
#include <ostream>

#include "check/history.h"

namespace rkv::sim {
namespace {

Status write_history(const std::string& path, const std::vector<check::Op>& history) {
  std::ofstream f(path, std::ios::trunc);
  if (!f) return Status::io_error("cannot open " + path);
  check::HistoryWriter w(f);
  for (const auto& op : history)
    RKV_RETURN_IF_ERROR(w.append(op));
  return Status::ok();
}

}  // namespace

std::string summary_line(const SimOptions& o, const SimResult& r) {
  const auto& s = r.stats;
  return fmt::format(
             "seed {} {}: {} ops ({} ok, {} fail, {} info), {:.1f} s simulated, {} events, max "
             "term {}, "
             "snapshot index {} ({} images read back, {} cut short), {} crashes ({} torn), {} "
             "partitions, {} "
             "pauses, {} clock jumps, {} disk fulls ({} batches refused, {} leaderships handed "
             "over), "
             "{} msgs "
             "({} dropped, {} dup), {} lost writes listed, {} stale follower reads, hash {:016x}, "
             "{:.2f} "
             "s "
             "wall",
             o.seed, r.ok ? "ok" : "FAILED", s.ops(), s.ops_ok, s.ops_fail, s.ops_info,
             static_cast<double>(s.sim_us) / 1e6, s.events, s.max_term, s.max_snapshot_index,
             s.images_read_back, s.images_cut_short, s.crashes, s.torn_crashes, s.partitions,
             s.pauses, s.clock_jumps, s.disk_fulls, s.refused_batches, s.disk_handoffs,
             s.messages_sent, s.messages_dropped, s.messages_duplicated, s.lost_writes_listed,
             s.stale_follower_reads, r.trace_hash, s.wall_seconds) +
         (o.model == Model::kLeaderless
              ? fmt::format("; converged {} ms after quiet, max {} siblings, {} lww discards, {} "
                            "read repairs, {} hints delivered ({} left), {} objects synced, {} "
                            "refused writes sent to a stand-in, {} failed as refused",
                            s.converge_ms, s.max_siblings, s.lww_discarded, s.read_repairs,
                            s.hints_delivered, s.hints_left, s.sync_keys, s.refusals_redirected,
                            s.writes_refused)
          : o.model == Model::kMultiLeader
              ? fmt::format("; converged {} ms after quiet, {} lww discards, {} siblings created, "
                            "{} keys with siblings, {} resends, {} state transfers, {} tombstones "
                            "collected, {} clock skew reports",
                            s.converge_ms, s.lww_discarded, s.siblings_created, s.max_siblings,
                            s.resends, s.state_transfers, s.tombstones_collected,
                            s.clock_skew_reports) +
                    (s.regions > 1
                         ? fmt::format(", {} regions, {} WAN msgs ({}..{} ms one way)", s.regions,
                                       s.wan_messages, s.wan_delay_min_us / 1000,
                                       s.wan_delay_max_us / 1000)
                         : std::string())
              : std::string());
}

SweepResult run_sweep(const SweepOptions& so, std::ostream& out) {
  SweepResult total;
  const auto start = std::chrono::steady_clock::now();
  const bool single = so.first == so.last;
  for (uint64_t seed = so.first; seed <= so.last; ++seed) {
    if (so.max_wall_seconds > 0 && total.runs > 0) {
      const double elapsed =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (elapsed >= so.max_wall_seconds) {
        out << fmt::format("time bound of {:.0f} s reached after {} seeds (last seed {})\n",
                           so.max_wall_seconds, total.runs, seed - 1);
        break;
      }
    }
    SimOptions o = so.base;
    o.seed = seed;
    SimResult r = run_simulation(o, so.verbose || single ? &out : nullptr);
    ++total.runs;
    total.events += r.stats.events;
    total.ops += r.stats.ops();
    total.sim_us += r.stats.sim_us;
    total.wall_seconds += r.stats.wall_seconds;
    total.raft_active |= r.stats.raft_active;
    bool failed = !r.ok;
    std::string why = r.failure;
    if (so.check_determinism) {
      SimResult again = run_simulation(o, nullptr);
      if (again.trace_hash != r.trace_hash || again.ok != r.ok) {
        failed = true;
        why = fmt::format("determinism: seed {} gave trace hash {:016x} then {:016x}\n  {}", seed,
                          r.trace_hash, again.trace_hash,
                          reproduce_command(o) + " --check-determinism");
      }
    }
    if (single || so.verbose || failed) out << summary_line(o, r) << "\n";
    if (!r.notes.empty() && (single || so.verbose)) out << r.notes;
    if (failed) {
      total.failing_seeds.push_back(seed);
      if (!single && !so.verbose) out << r.params << "\n";
      out << why << "\n";
    }
    if (!so.history_path.empty() && (single || failed)) {
      const std::string path =
          single ? so.history_path : fmt::format("{}.{}", so.history_path, seed);
      Status s = write_history(path, r.history);
      out << (s.is_ok() ? "history written to " + path : "history not written: " + s.to_string())
          << "\n";
    }
  }
  if (!single) {
    out << fmt::format(
        "{} seeds, {} failed{}{}; {} ops, {} events, {:.0f} s simulated in {:.1f} s wall "
        "({:.0f} ops/s, {:.0f} events/s)\n",
        total.runs, total.failing_seeds.size(), total.failing_seeds.empty() ? "" : ": ",
        fmt::join(total.failing_seeds, " "), total.ops, total.events,
        static_cast<double>(total.sim_us) / 1e6, total.wall_seconds,
        static_cast<double>(total.ops) / std::max(total.wall_seconds, 1e-9),
        static_cast<double>(total.events) / std::max(total.wall_seconds, 1e-9));
  }
  return total;
}

}  // namespace rkv::sim
