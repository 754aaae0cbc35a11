#include "check/staleness_checker.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <string>

namespace rkv::check {
namespace {

// Most missed writes, and most further failing reads, listed per explanation.
constexpr size_t kMaxListed = 20;

// Counts of points inserted at positions 0..n-1, with prefix sums in O(log n).
class Fenwick {
 public:
  explicit Fenwick(size_t n) : tree_(n + 1, 0) {}
  void add(size_t pos) {
    for (size_t i = pos + 1; i < tree_.size(); i += i & (0 - i))
      ++tree_[i];
  }
  // Points at positions < n.
  int64_t prefix(size_t n) const {
    int64_t sum = 0;
    for (size_t i = n; i > 0; i -= i & (0 - i))
      sum += tree_[i];
    return sum;
  }

 private:
  std::vector<int64_t> tree_;
};

// The sets of one key, indexed for its reads.
struct KeyWrites {
  std::map<std::string, const Op*> by_value;  // ok and info sets
  std::vector<const Op*> acked;               // ok sets, by completion time
};

struct ReadVerdict {
  const Op* read = nullptr;
  const Op* source = nullptr;  // the set whose value was read; nullptr = the initial absent state
  bool phantom = false;
  int64_t cutoff = 0;
  int64_t missed = 0;  // acknowledged writes before the cutoff that the read definitely missed

  int64_t allowed() const { return read->entries_behind.value_or(0); }
  bool failed() const { return phantom || missed > allowed(); }
  // Every acked w with w.invoke > after() comes after the state read (when counts() holds).
  int64_t after() const { return source ? source->complete : std::numeric_limits<int64_t>::min(); }
  // False when the state read precedes nothing: an info set may take effect at any time.
  bool counts() const { return !phantom && (source == nullptr || source->ok()); }
};

// Fills `out`; returns the reason the key is bad input ("" if it is not).
std::string index_writes(const std::vector<const Op*>& ops, KeyWrites& out) {
  for (const Op* op : ops) {
    if (op->type != OpType::kSet || op->fail()) continue;
    auto [it, inserted] = out.by_value.try_emplace(*op->value, op);
    if (!inserted) {
      return fmt::format(
          "values written to a key must be unique, but {}\n  and {} write the same value",
          describe_op(*it->second), describe_op(*op));
    }
    if (op->ok()) out.acked.push_back(op);
  }
  std::stable_sort(out.acked.begin(), out.acked.end(),
                   [](const Op* a, const Op* b) { return a->complete < b->complete; });
  return "";
}

// Sets `missed` of every read that counts: the acked writes w with w.complete < cutoff and
// w.invoke > after(). Offline: reads by cutoff, writes inserted by completion time into a
// Fenwick tree over their invoke ranks.
void count_missed(const std::vector<const Op*>& acked, std::vector<ReadVerdict>& reads) {
  std::vector<int64_t> invokes;
  invokes.reserve(acked.size());
  for (const Op* w : acked)
    invokes.push_back(w->invoke);
  std::sort(invokes.begin(), invokes.end());
  std::vector<ReadVerdict*> order;
  for (ReadVerdict& r : reads) {
    if (r.counts()) order.push_back(&r);
  }
  std::stable_sort(order.begin(), order.end(), [](const ReadVerdict* a, const ReadVerdict* b) {
    return a->cutoff < b->cutoff;
  });
  Fenwick tree(invokes.size());
  size_t inserted = 0;
  for (ReadVerdict* r : order) {
    for (; inserted < acked.size() && acked[inserted]->complete < r->cutoff; ++inserted) {
      tree.add(static_cast<size_t>(
          std::lower_bound(invokes.begin(), invokes.end(), acked[inserted]->invoke) -
          invokes.begin()));
    }
    const auto not_after = std::upper_bound(invokes.begin(), invokes.end(), r->after());
    r->missed = static_cast<int64_t>(inserted) -
                tree.prefix(static_cast<size_t>(not_after - invokes.begin()));
  }
}

// The verdict of every ok get of one key (ops sorted by invoke), in invoke order.
std::vector<ReadVerdict> judge_reads(const std::vector<const Op*>& ops, const KeyWrites& writes,
                                     const StalenessBounds& bounds) {
  std::vector<ReadVerdict> reads;
  for (const Op* op : ops) {
    if (op->type != OpType::kGet || !op->ok()) continue;
    ReadVerdict r;
    r.read = op;
    r.cutoff = staleness_cutoff(*op, bounds);
    if (op->value) {
      auto it = writes.by_value.find(*op->value);
      r.phantom = it == writes.by_value.end() || it->second->invoke > op->complete;
      if (!r.phantom) r.source = it->second;
    }
    reads.push_back(r);
  }
  count_missed(writes.acked, reads);
  return reads;
}

std::vector<const Op*> missed_writes(const std::vector<const Op*>& acked, const ReadVerdict& r) {
  std::vector<const Op*> out;
  if (!r.counts()) return out;
  for (const Op* w : acked) {
    if (w->complete >= r.cutoff) break;
    if (w->invoke > r.after()) out.push_back(w);
  }
  return out;
}

std::string explain_read(const ReadVerdict& r, const KeyWrites& writes,
                         const StalenessBounds& bounds) {
  const Op& read = *r.read;
  std::string s = fmt::format("read {}\n", describe_op(read));
  if (r.phantom) {
    return s + fmt::format(
                   "  returns {}, but no ok or info set of this key invoked before the read "
                   "completed wrote that value (phantom)\n",
                   json_quote(read.value));
  }
  s += fmt::format(
      "  reported staleness {} ms{} and {} entries behind{}: cutoff = {} - {} ms * (1 + {}) - "
      "{} us slack = {}\n",
      read.staleness_ms.value_or(0), read.staleness_ms ? "" : " (not reported: held to 0)",
      r.allowed(), read.entries_behind ? "" : " (not reported: held to 0)", read.invoke,
      read.staleness_ms.value_or(0), bounds.rate_margin, bounds.slack_us, r.cutoff);
  s += r.source ? fmt::format("  it observed the state written by {}\n", describe_op(*r.source))
                : std::string("  it observed the initial absent state\n");
  const auto missed = missed_writes(writes.acked, r);
  s += fmt::format(
      "  which precedes {} acknowledged write(s) that completed before the cutoff, more than the "
      "{} allowed:\n",
      missed.size(), r.allowed());
  for (size_t i = 0; i < missed.size(); ++i) {
    if (i == kMaxListed) {
      s += fmt::format("    ... {} more\n", missed.size() - kMaxListed);
      break;
    }
    s += fmt::format("    {}\n", describe_op(*missed[i]));
  }
  return s;
}

std::string explain(const std::string& key, const std::vector<ReadVerdict>& failing,
                    const KeyWrites& writes, const StalenessBounds& bounds, size_t failing_keys) {
  const auto phantoms =
      std::count_if(failing.begin(), failing.end(), [](const ReadVerdict& r) { return r.phantom; });
  std::string s = fmt::format(
      "bounded staleness violation on key {}: {} read(s) fail ({} phantom, {} missed more "
      "acknowledged writes than they reported)",
      json_quote(key), failing.size(), phantoms, failing.size() - static_cast<size_t>(phantoms));
  if (failing_keys > 1) {
    s += fmt::format(" ({} keys fail, this one has the fewest operations)", failing_keys);
  }
  s += "\n" + explain_read(failing.front(), writes, bounds);
  if (failing.size() > 1) s += "other failing reads of this key:\n";
  for (size_t i = 1; i < failing.size(); ++i) {
    if (i > kMaxListed) {
      s += fmt::format("  ... {} more\n", failing.size() - 1 - kMaxListed);
      break;
    }
    s += fmt::format(
        "  {} ({})\n", describe_op(*failing[i].read),
        failing[i].phantom ? std::string("phantom") : fmt::format("missed {}", failing[i].missed));
  }
  return s;
}

std::vector<Op> witness(const ReadVerdict& r, const KeyWrites& writes) {
  std::vector<const Op*> ops = missed_writes(writes.acked, r);
  if (r.source) ops.push_back(r.source);
  ops.push_back(r.read);
  std::sort(ops.begin(), ops.end(), [](const Op* a, const Op* b) {
    return a->invoke != b->invoke ? a->invoke < b->invoke : a->line < b->line;
  });
  std::vector<Op> out;
  out.reserve(ops.size());
  for (const Op* op : ops)
    out.push_back(*op);
  return out;
}

CheckResult bad_input(CheckResult result, std::string why) {
  result.ok = false;
  result.verdict = Verdict::kBadInput;
  result.explanation = std::move(why);
  return result;
}

}  // namespace

int64_t staleness_cutoff(const Op& read, const StalenessBounds& bounds) {
  // long double holds every int64 exactly, so only the allowance's fraction is rounded (down,
  // which shrinks the set of writes the read is held to).
  const long double allowance = static_cast<long double>(read.staleness_ms.value_or(0)) * 1000.0L *
                                    (1.0L + static_cast<long double>(bounds.rate_margin)) +
                                static_cast<long double>(bounds.slack_us);
  const long double cutoff = std::floor(static_cast<long double>(read.invoke) - allowance);
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  if (cutoff <= static_cast<long double>(kMin)) return kMin;
  return static_cast<int64_t>(cutoff);
}

CheckResult check_bounded_staleness(const std::vector<Op>& history, const StalenessBounds& bounds) {
  CheckResult result;
  result.ops = static_cast<int64_t>(history.size());
  if (bounds.slack_us < 0 || !(bounds.rate_margin >= 0) || !std::isfinite(bounds.rate_margin)) {
    return bad_input(result, fmt::format("staleness bounds must be >= 0 (slack {} us, rate "
                                         "margin {})",
                                         bounds.slack_us, bounds.rate_margin));
  }
  std::map<std::string, std::vector<const Op*>> by_key;
  for (const Op& op : history) {
    if (op.type != OpType::kGet && op.type != OpType::kSet) {
      return bad_input(result, fmt::format("the bounded-staleness model defines only get and "
                                           "set, not {}",
                                           describe_op(op)));
    }
    by_key[op.key].push_back(&op);
  }
  result.keys = static_cast<int64_t>(by_key.size());
  const std::string* worst = nullptr;
  KeyWrites worst_writes;
  std::vector<ReadVerdict> worst_failing;
  size_t failing_keys = 0, reads = 0;
  for (auto& [key, ops] : by_key) {
    std::stable_sort(ops.begin(), ops.end(),
                     [](const Op* a, const Op* b) { return a->invoke < b->invoke; });
    KeyWrites writes;
    std::string bad = index_writes(ops, writes);
    if (!bad.empty()) return bad_input(result, std::move(bad));
    std::vector<ReadVerdict> failing;
    for (const ReadVerdict& r : judge_reads(ops, writes, bounds)) {
      ++reads;
      if (r.failed()) failing.push_back(r);
    }
    if (failing.empty()) continue;
    ++failing_keys;
    if (worst == nullptr || ops.size() < by_key[*worst].size()) {
      worst = &key;
      worst_writes = std::move(writes);
      worst_failing = std::move(failing);
    }
  }
  if (worst == nullptr) {
    result.explanation = fmt::format(
        "bounded staleness: none of {} ok reads on {} keys missed more acknowledged writes than "
        "it reported (slack {} us, rate margin {})",
        reads, by_key.size(), bounds.slack_us, bounds.rate_margin);
    return result;
  }
  result.ok = false;
  result.verdict = Verdict::kViolation;
  result.failing_key = *worst;
  result.explanation = explain(*worst, worst_failing, worst_writes, bounds, failing_keys);
  result.witness = witness(worst_failing.front(), worst_writes);
  return result;
}

}  // namespace rkv::check
