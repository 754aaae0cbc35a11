#include "check/check_cli.h"

#include <fmt/format.h>

#include <chrono>
#include <ostream>

#include "check/counter_checker.h"
#include "check/history.h"
#include "check/linearizability.h"
#include "check/set_checker.h"

namespace rkv::check {

int run_check(const std::string& model, const std::string& path, std::ostream& out,
              std::ostream& err, const LinearizabilityOptions& options) {
  if (model != "linearizable" && model != "set" && model != "counter") {
    err << fmt::format(
        "replikv check: unknown model \"{}\" (expected linearizable, set or "
        "counter)\n",
        model);
    return kCheckBadInput;
  }
  auto history = load_history(path);
  if (!history) {
    err << "replikv check: " << history.status().to_string() << "\n";
    return kCheckBadInput;
  }
  const auto start = std::chrono::steady_clock::now();
  CheckResult result;
  if (model == "linearizable") {
    result = check_linearizable(*history, options);
  } else if (model == "set") {
    result = check_set(*history);
  } else {
    result = check_counter(*history);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  switch (result.verdict) {
    case Verdict::kValid:
      out << fmt::format("valid ({}): {} ops, {} keys, checked in {:.3f} s\n", model, result.ops,
                         result.keys, seconds);
      return kCheckValid;
    case Verdict::kViolation:
      out << fmt::format("INVALID ({}): {} ops, {} keys, checked in {:.3f} s\n", model, result.ops,
                         result.keys, seconds);
      out << result.explanation;
      if (!result.explanation.empty() && result.explanation.back() != '\n') out << "\n";
      return kCheckViolation;
    case Verdict::kUnknown:
      out << fmt::format("UNKNOWN ({}): {} ops, {} keys, {:.3f} s\n{}\n", model, result.ops,
                         result.keys, seconds, result.explanation);
      return kCheckUnknown;
    case Verdict::kBadInput:
      err << fmt::format("replikv check: {}: {}\n", path, result.explanation);
      return kCheckBadInput;
  }
  RKV_UNREACHABLE();
}

}  // namespace rkv::check
