#include "check/check_cli.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <fstream>
#include <istream>
#include <nlohmann/json.hpp>
#include <ostream>

#include "check/counter_checker.h"
#include "check/history.h"

namespace rkv::check {
namespace {

using Json = nlohmann::json;

constexpr const char* kModels = "linearizable, set, counter or bounded-staleness";

bool known_model(const std::string& m) {
  return m == "linearizable" || m == "set" || m == "counter" || m == "bounded-staleness";
}

Result<LostElement> decode_lost(const std::string& text) {
  Json j;
  try {
    j = Json::parse(text);
  } catch (const Json::parse_error& e) {
    return Status::invalid_argument(fmt::format("malformed JSON at column {}", e.byte));
  } catch (const Json::exception& e) {  // e.g. a number too large to hold
    return Status::invalid_argument(fmt::format("malformed JSON: {}", e.what()));
  }
  if (!j.is_object()) return Status::invalid_argument("record must be a JSON object");
  for (const auto& [name, unused] : j.items()) {
    if (name != "key" && name != "element") {
      return Status::invalid_argument(fmt::format("unknown field \"{}\"", name));
    }
  }
  LostElement l;
  for (const char* field : {"key", "element"}) {
    if (!j.contains(field)) {
      return Status::invalid_argument(fmt::format("missing field \"{}\"", field));
    }
    if (!j[field].is_string()) {
      return Status::invalid_argument(fmt::format("field \"{}\" must be a string", field));
    }
  }
  l.key = j["key"].get<std::string>();
  l.element = j["element"].get<std::string>();
  return l;
}

CheckResult run_model(const std::string& model, const std::vector<Op>& history,
                      const CheckOptions& options, const std::set<LostElement>& lost) {
  if (model == "linearizable") return check_linearizable(history, options.linearizability);
  if (model == "set") return check_set(history, SetCheckOptions{lost});
  if (model == "counter") return check_counter(history);
  return check_bounded_staleness(history, options.staleness);
}

void print_notes(const CheckResult& result, std::ostream& out) {
  for (const std::string& note : result.notes)
    out << "note: " << note << "\n";
}

// Prints the verdict; returns the exit code.
int report(const std::string& model, const std::string& path, const CheckResult& result,
           double seconds, std::ostream& out, std::ostream& err) {
  switch (result.verdict) {
    case Verdict::kValid:
      out << fmt::format("valid ({}): {} ops, {} keys, checked in {:.3f} s\n", model, result.ops,
                         result.keys, seconds);
      print_notes(result, out);
      return kCheckValid;
    case Verdict::kViolation:
      out << fmt::format("INVALID ({}): {} ops, {} keys, checked in {:.3f} s\n", model, result.ops,
                         result.keys, seconds);
      out << result.explanation;
      if (!result.explanation.empty() && result.explanation.back() != '\n') out << "\n";
      print_notes(result, out);
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

class CheckCommandImpl final : public CheckCommand {
 public:
  explicit CheckCommandImpl(CLI::App& app) {
    cmd_ = app.add_subcommand("check", "Check a JSONL history file (see docs/history-format.md)");
    cmd_->add_option("--model", model_, "linearizable | set | counter | bounded-staleness");
    slack_ = cmd_->add_option("--slack-us", options_.staleness.slack_us,
                              "bounded-staleness: microseconds allowed beyond each reported "
                              "staleness (default 50000)");
    rate_ = cmd_->add_option("--rate-margin", options_.staleness.rate_margin,
                             "bounded-staleness: relative margin on reported staleness for clock "
                             "rates (default 0.01)");
    cmd_->add_option("--lost", options_.lost_path,
                     "set: JSONL file of elements listed as lost, {\"key\":..,\"element\":..}");
    cmd_->add_option("file", path_, "history file")->required();
  }

  bool selected() const override { return cmd_->parsed(); }

  int run(std::ostream& out, std::ostream& err) override {
    if (model_ != "bounded-staleness" && (slack_->count() > 0 || rate_->count() > 0)) {
      err << "replikv check: --slack-us and --rate-margin apply only to --model "
             "bounded-staleness\n";
      return kCheckBadInput;
    }
    return run_check(model_, path_, out, err, options_);
  }

 private:
  CLI::App* cmd_ = nullptr;
  CLI::Option* slack_ = nullptr;
  CLI::Option* rate_ = nullptr;
  std::string model_ = "linearizable", path_;
  CheckOptions options_;
};

}  // namespace

Result<std::set<LostElement>> parse_lost_elements(std::istream& in) {
  std::set<LostElement> lost;
  std::string text;
  int64_t line = 0;
  while (std::getline(in, text)) {
    ++line;
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto l = decode_lost(text);
    if (!l) {
      return Status::invalid_argument(fmt::format("line {}: {}", line, l.status().message()));
    }
    lost.insert(std::move(*l));
  }
  if (in.bad()) return Status::io_error(fmt::format("read failed after line {}", line));
  return lost;
}

Result<std::set<LostElement>> load_lost_elements(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::not_found(fmt::format("cannot open lost-element file {}", path));
  auto lost = parse_lost_elements(in);
  if (!lost && lost.status().code() == Code::kInvalidArgument) {
    return Status::invalid_argument(fmt::format("{}: {}", path, lost.status().message()));
  }
  return lost;
}

int run_check(const std::string& model, const std::string& path, std::ostream& out,
              std::ostream& err, const CheckOptions& options) {
  if (!known_model(model)) {
    err << fmt::format("replikv check: unknown model \"{}\" (expected {})\n", model, kModels);
    return kCheckBadInput;
  }
  if (!options.lost_path.empty() && model != "set") {
    err << "replikv check: --lost applies only to --model set\n";
    return kCheckBadInput;
  }
  const StalenessBounds& b = options.staleness;
  if (model == "bounded-staleness" &&
      (b.slack_us < 0 || !std::isfinite(b.rate_margin) || b.rate_margin < 0)) {
    err << "replikv check: --slack-us and --rate-margin must be >= 0\n";
    return kCheckBadInput;
  }
  std::set<LostElement> lost;
  if (!options.lost_path.empty()) {
    auto l = load_lost_elements(options.lost_path);
    if (!l) {
      err << "replikv check: " << l.status().to_string() << "\n";
      return kCheckBadInput;
    }
    lost = std::move(*l);
  }
  auto history = load_history(path);
  if (!history) {
    err << "replikv check: " << history.status().to_string() << "\n";
    return kCheckBadInput;
  }
  const auto start = std::chrono::steady_clock::now();
  const CheckResult result = run_model(model, *history, options, lost);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report(model, path, result, seconds, out, err);
}

int run_check(const std::string& model, const std::string& path, std::ostream& out,
              std::ostream& err, const LinearizabilityOptions& linearizability) {
  CheckOptions options;
  options.linearizability = linearizability;
  return run_check(model, path, out, err, options);
}

std::unique_ptr<CheckCommand> add_check_command(CLI::App& app) {
  return std::make_unique<CheckCommandImpl>(app);
}

}  // namespace rkv::check
