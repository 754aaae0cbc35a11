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
  // Listed losses: acknowledged elements some read missed (excused), listed elements in the
  // final read, listed elements no ok or info sadd attempted.
  std::set<std::string> missing_as_listed;
  std::vector<std::string> listed_but_present;
  std::vector<std::string> listed_never_added;
  const Op* final_read = nullptr;  // the ok read invoked last
  bool failed() const { return !lost.empty() || !phantoms.empty(); }
};

// Fills the listed-loss notes of `report` for one key.
void check_listed(const std::set<std::string>& listed,
                  const std::map<std::string, int64_t>& first_attempt, KeyReport& report) {
  for (const std::string& e : listed) {
    if (first_attempt.count(e) == 0) report.listed_never_added.push_back(e);
  }
  if (report.final_read == nullptr) return;
  const std::set<std::string> last(report.final_read->members.begin(),
                                   report.final_read->members.end());
  for (const std::string& e : listed) {
    if (last.count(e) != 0) report.listed_but_present.push_back(e);
  }
}

// `ops` sorted by invoke; `listed` = the key's elements listed as lost.
KeyReport check_key(const std::vector<const Op*>& ops, const std::set<std::string>& listed) {
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
      if (listed.count(*a->value) != 0) {
        report.missing_as_listed.insert(*a->value);
        continue;
      }
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
  if (!reads.empty()) report.final_read = reads.back();
  check_listed(listed, first_attempt, report);
  return report;
}

// `listing`: the servers listed lost elements (then a lost element is one they did not list).
std::string explain(const std::string& key, const KeyReport& rep, size_t failing_keys,
                    bool listing) {
  std::string s = fmt::format("set violation on key {}: {} lost element(s), {} phantom(s)",
                              json_quote(key), rep.lost.size(), rep.phantoms.size());
  if (listing) {
    s += fmt::format(" ({} missing element(s) excused as listed lost)",
                     rep.missing_as_listed.size());
  }
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
    s += fmt::format("lost {}: acknowledged by {}\n  but missing from the later read {}{}\n",
                     json_quote(element), describe_op(*l.add), describe_op(*l.read),
                     listing ? "\n  and not listed as lost" : "");
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

// Appends the notes of one key's listed losses to `notes`, at most kMaxListed in all.
void add_notes(const std::string& key, const KeyReport& rep, std::vector<std::string>& notes,
               size_t& total) {
  for (const std::string& e : rep.listed_but_present) {
    if (total++ < kMaxListed) {
      notes.push_back(
          fmt::format("listed as lost but present in the final read: key {} element {} ({})",
                      json_quote(key), json_quote(e), describe_op(*rep.final_read)));
    }
  }
  for (const std::string& e : rep.listed_never_added) {
    if (total++ < kMaxListed) {
      notes.push_back(fmt::format("listed as lost but no ok or info sadd of it: key {} element {}",
                                  json_quote(key), json_quote(e)));
    }
  }
}

std::map<std::string, std::set<std::string>> listed_by_key(const std::set<LostElement>& lost) {
  std::map<std::string, std::set<std::string>> out;
  for (const LostElement& l : lost)
    out[l.key].insert(l.element);
  return out;
}

}  // namespace

CheckResult check_set(const std::vector<Op>& history, const SetCheckOptions& options) {
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
  const auto listed = listed_by_key(options.listed_lost);
  const std::set<std::string> none;
  const std::string* worst = nullptr;
  KeyReport worst_report;
  size_t failing = 0, excused = 0, present = 0, notes = 0;
  for (auto& [key, ops] : by_key) {
    std::stable_sort(ops.begin(), ops.end(),
                     [](const Op* a, const Op* b) { return a->invoke < b->invoke; });
    auto l = listed.find(key);
    KeyReport rep = check_key(ops, l == listed.end() ? none : l->second);
    excused += rep.missing_as_listed.size();
    present += rep.listed_but_present.size();
    add_notes(key, rep, result.notes, notes);
    if (!rep.failed()) continue;
    ++failing;
    if (worst == nullptr || ops.size() < by_key[*worst].size()) {
      worst = &key;
      worst_report = std::move(rep);
    }
  }
  for (const auto& [key, elements] : listed) {
    if (by_key.count(key) != 0) continue;
    KeyReport rep;
    rep.listed_never_added.assign(elements.begin(), elements.end());
    add_notes(key, rep, result.notes, notes);
  }
  if (notes > kMaxListed) {
    result.notes.push_back(fmt::format("... {} more notes", notes - kMaxListed));
  }
  if (worst == nullptr) {
    result.explanation =
        fmt::format("set-full: no lost or phantom elements in {} operations on {} keys",
                    history.size(), by_key.size());
    if (!options.listed_lost.empty()) {
      result.explanation += fmt::format(
          " ({} listed as lost: {} acknowledged element(s) missing as listed, {} listed but "
          "present in the final read)",
          options.listed_lost.size(), excused, present);
    }
    return result;
  }
  result.ok = false;
  result.verdict = Verdict::kViolation;
  result.failing_key = *worst;
  result.explanation = explain(*worst, worst_report, failing, !options.listed_lost.empty());
  result.witness = witness(worst_report);
  return result;
}

}  // namespace rkv::check
