// `replikv check --model M FILE`: load a JSONL history and run one checker on it. Options and
// the file formats are documented in docs/history-format.md. The CLI's main() wires it with
// two lines:
//
//   auto check = rkv::check::add_check_command(app);                   // before CLI11_PARSE
//   if (check->selected()) return check->run(std::cout, std::cerr);    // after it
#pragma once

#include <iosfwd>
#include <memory>
#include <set>
#include <string>

#include "check/linearizability.h"
#include "check/set_checker.h"
#include "check/staleness_checker.h"
#include "core/status.h"

namespace CLI {
class App;
}

namespace rkv::check {

// Exit codes of run_check.
inline constexpr int kCheckValid = 0;      // one-line summary on `out`, then any notes
inline constexpr int kCheckViolation = 1;  // explanation on `out`: failing key and its ops
inline constexpr int kCheckBadInput = 2;   // unreadable/malformed file, unknown model, bad option
inline constexpr int kCheckUnknown = 3;    // search budget exceeded: neither valid nor refuted

struct CheckOptions {
  LinearizabilityOptions linearizability;  // linearizable: the search budget
  StalenessBounds staleness;               // bounded-staleness: the allowance beyond reports
  // set: a file of elements the servers listed as lost (format: load_lost_elements); "" = none.
  // Any other model with a lost file is bad input.
  std::string lost_path;
};

// model: "linearizable" (registers), "set" (set-full, with listed losses when
// options.lost_path is set), "counter" or "bounded-staleness" (registers read with reported
// staleness). Writes the verdict to `out` and problems with the input to `err`; returns one of
// the exit codes above. Notes (CheckResult::notes) follow the summary, one "note: " line each.
int run_check(const std::string& model, const std::string& path, std::ostream& out,
              std::ostream& err, const CheckOptions& options);
// run_check with default options but `linearizability`.
int run_check(const std::string& model, const std::string& path, std::ostream& out,
              std::ostream& err, const LinearizabilityOptions& linearizability = {});

// Elements listed as lost, as JSONL: one object per line, exactly {"key": string, "element":
// string}; blank lines are skipped. The first bad line is InvalidArgument naming it
// ("line 3: missing field \"element\"").
Result<std::set<LostElement>> parse_lost_elements(std::istream& in);
// parse_lost_elements on a file; NotFound if it cannot be opened.
Result<std::set<LostElement>> load_lost_elements(const std::string& path);

// The `check` subcommand as parsed from the command line.
class CheckCommand {
 public:
  virtual ~CheckCommand() = default;
  // True when `check` was given on the command line (valid after parsing).
  virtual bool selected() const = 0;
  // run_check with the parsed options; also kCheckBadInput for options that do not apply to
  // the chosen model (--slack-us or --rate-margin without bounded-staleness).
  virtual int run(std::ostream& out, std::ostream& err) = 0;
};

// Adds `check` with --model, --slack-us, --rate-margin, --lost and the file argument to `app`.
// The returned object holds the parsed values and must outlive parsing.
std::unique_ptr<CheckCommand> add_check_command(CLI::App& app);

}  // namespace rkv::check
