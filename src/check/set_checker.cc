#include "check/set_checker.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>

namespace rkv::check {
namespace {

// Most lost or phantom elements listed per explanation.
constexpr size_t kMaxListed = 20;

struct Lost {
  const Op* add;
  const Op* read;  // the first read (in invoke order) that missed it
};
struct Phantom {
  std::string element;
  const Op* read;
};

struct KeyReport {
  std::map<std::string, Lost> lost;  // element -> first miss
  std::vector<Phantom> phantoms;
  size_t reads_with_loss = 0;
  bool failed() const { return !lost.empty() || !phantoms.empty(); }
};

KeyReport check_key(const std::vector<const Op*>& ops) {
  std::vector<const Op*> acked;                  // ok sadds by completion time
  std::map<std::string, int64_t> first_attempt;  // element -> earliest ok/info sadd invoke
  std::vector<const Op*> reads;                  // ok smembers by invoke time
  for (const Op* op : ops) {
    if (op->type == OpType::kSadd && !op->fail()) {
      auto [it, inserted] = first_attempt.try_emplace(*op->value, op->invoke);
      if (!inserted) it->second = std::min(it->second, op->invoke);
      if (op->ok()) acked.push_back(op);
    } else if (op->type == OpType::kSmembers && op->ok()) {
      reads.push_back(op);
    }
  }
  std::stable_sort(acked.begin(), acked.end(),
                   [](const Op* a, const Op* b) { return a->complete < b->complete; });
  KeyReport report;
  for (const Op* r : reads) {
    const std::set<std::string> seen(r->members.begin(), r->members.end());
    bool lost_here = false;
    for (const Op* a : acked) {
      if (a->complete >= r->invoke) break;
      if (seen.count(*a->value) != 0) continue;
      lost_here = true;
      report.lost.try_emplace(*a->value, Lost{a, r});
    }
    if (lost_here) ++report.reads_with_loss;
    for (const std::string& e : seen) {
      auto it = first_attempt.find(e);
      if (it == first_attempt.end() || it->second > r->complete) {
        report.phantoms.push_back({e, r});
      }
    }
  }
  return report;
}

std::string explain(const std::string& key, const KeyReport& rep, size_t failing_keys) {
  std::string s = fmt::format("set violation on key {}: {} lost element(s), {} phantom(s)",
                              json_quote(key), rep.lost.size(), rep.phantoms.size());
  if (failing_keys > 1) {
    s += fmt::format(" ({} keys fail, this one has the fewest operations)", failing_keys);
  }
  s += "\n";
  size_t listed = 0;
  for (const auto& [element, l] : rep.lost) {
    if (listed++ == kMaxListed) {
      s += fmt::format("  ... {} more lost elements\n", rep.lost.size() - kMaxListed);
      break;
    }
    s += fmt::format("lost {}: acknowledged by {}\n  but missing from the later read {}\n",
                     json_quote(element), describe_op(*l.add), describe_op(*l.read));
  }
  listed = 0;
  for (const Phantom& p : rep.phantoms) {
    if (listed++ == kMaxListed) {
      s += fmt::format("  ... {} more phantoms\n", rep.phantoms.size() - kMaxListed);
      break;
    }
    s += fmt::format(
        "phantom {}: present in {}\n  but no ok or info sadd of it was invoked before that read "
        "completed\n",
        json_quote(p.element), describe_op(*p.read));
  }
  return s;
}

std::vector<Op> witness(const KeyReport& rep) {
  std::vector<const Op*> ops;
  for (const auto& [element, l] : rep.lost) {
    ops.push_back(l.add);
    ops.push_back(l.read);
  }
  for (const Phantom& p : rep.phantoms)
    ops.push_back(p.read);
  std::sort(ops.begin(), ops.end(), [](const Op* a, const Op* b) {
    return a->invoke != b->invoke ? a->invoke < b->invoke : a->line < b->line;
  });
  ops.erase(std::unique(ops.begin(), ops.end()), ops.end());
  std::vector<Op> out;
  for (const Op* op : ops)
    out.push_back(*op);
  return out;
}

}  // namespace

CheckResult check_set(const std::vector<Op>& history) {
  CheckResult result;
  result.ops = static_cast<int64_t>(history.size());
  std::map<std::string, std::vector<const Op*>> by_key;
  for (const Op& op : history) {
    if (op.type != OpType::kSadd && op.type != OpType::kSmembers) {
      result.ok = false;
      result.verdict = Verdict::kBadInput;
      result.explanation =
          fmt::format("the set model defines only sadd and smembers, not {}", describe_op(op));
      return result;
    }
    by_key[op.key].push_back(&op);
  }
  result.keys = static_cast<int64_t>(by_key.size());
  const std::string* worst = nullptr;
  KeyReport worst_report;
  size_t failing = 0;
  for (auto& [key, ops] : by_key) {
    std::stable_sort(ops.begin(), ops.end(),
                     [](const Op* a, const Op* b) { return a->invoke < b->invoke; });
    KeyReport rep = check_key(ops);
    if (!rep.failed()) continue;
    ++failing;
    if (worst == nullptr || ops.size() < by_key[*worst].size()) {
      worst = &key;
      worst_report = std::move(rep);
    }
  }
  if (worst == nullptr) {
    result.explanation = fmt::format(
        "set-full: no lost or phantom elements in {} operations on "
        "{} keys",
        history.size(), by_key.size());
    return result;
  }
  result.ok = false;
  result.verdict = Verdict::kViolation;
  result.failing_key = *worst;
  result.explanation = explain(*worst, worst_report, failing);
  result.witness = witness(worst_report);
  return result;
}

}  // namespace rkv::check
