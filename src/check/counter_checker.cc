#include "check/counter_checker.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <string>

namespace rkv::check {
namespace {

using Wide = __int128;  // sums of many int64 deltas cannot overflow this

// Most out-of-range reads listed per explanation.
constexpr size_t kMaxListed = 10;

std::string wide_to_string(Wide v) {
  if (v == 0) return "0";
  const bool negative = v < 0;
  std::string digits;
  while (v != 0) {
    const int d = static_cast<int>(v % 10);
    digits.push_back(static_cast<char>('0' + (negative ? -d : d)));
    v /= 10;
  }
  if (negative) digits.push_back('-');
  return {digits.rbegin(), digits.rend()};
}

// Prefix sums of positive and negative deltas over incrs sorted by one time field.
class DeltaIndex {
 public:
  DeltaIndex(std::vector<const Op*> incrs, bool by_complete) : by_complete_(by_complete) {
    std::stable_sort(incrs.begin(), incrs.end(),
                     [this](const Op* a, const Op* b) { return time(a) < time(b); });
    pos_.push_back(0);
    neg_.push_back(0);
    for (const Op* op : incrs) {
      times_.push_back(time(op));
      pos_.push_back(pos_.back() + (op->delta > 0 ? op->delta : 0));
      neg_.push_back(neg_.back() + (op->delta < 0 ? op->delta : 0));
    }
  }
  // Number of incrs whose time is < t (strict) or <= t.
  size_t count_before(int64_t t, bool inclusive) const {
    auto it = inclusive ? std::upper_bound(times_.begin(), times_.end(), t)
                        : std::lower_bound(times_.begin(), times_.end(), t);
    return static_cast<size_t>(it - times_.begin());
  }
  Wide pos(size_t n) const { return pos_[n]; }
  Wide neg(size_t n) const { return neg_[n]; }

 private:
  int64_t time(const Op* op) const { return by_complete_ ? op->complete : op->invoke; }
  bool by_complete_;
  std::vector<int64_t> times_;
  std::vector<Wide> pos_, neg_;
};

struct Bad {
  const Op* read;
  std::string why;
};

std::vector<Bad> check_key(const std::vector<const Op*>& ops) {
  std::vector<const Op*> definite_candidates, possible_candidates, reads;
  for (const Op* op : ops) {
    if (op->fail()) continue;
    if (op->type == OpType::kIncr) {
      possible_candidates.push_back(op);
      if (op->ok()) definite_candidates.push_back(op);
      if (op->ok() && op->value) reads.push_back(op);
    } else if (op->ok()) {
      reads.push_back(op);
    }
  }
  const DeltaIndex definite(definite_candidates, /*by_complete=*/true);
  const DeltaIndex possible(possible_candidates, /*by_complete=*/false);
  std::vector<Bad> bad;
  for (const Op* r : reads) {
    int64_t observed = 0;
    if (r->value) {
      auto v = value_as_int(*r->value);
      if (!v) {
        bad.push_back({r, fmt::format("read a non-integer {}", json_quote(r->value))});
        continue;
      }
      observed = *v;
    }
    const size_t d = definite.count_before(r->invoke, /*inclusive=*/false);
    const size_t p = possible.count_before(r->complete, /*inclusive=*/true);
    Wide lower = definite.pos(d) + possible.neg(p);
    Wide upper = definite.neg(d) + possible.pos(p);
    if (r->type == OpType::kIncr) {  // the incr itself certainly applied
      lower += r->delta > 0 ? r->delta : 0;
      upper += r->delta < 0 ? r->delta : 0;
    }
    if (observed < lower || observed > upper) {
      bad.push_back({r, fmt::format("value {} outside the possible range [{}, {}] ({} incrs "
                                    "certainly applied before it, {} possibly)",
                                    observed, wide_to_string(lower), wide_to_string(upper), d, p)});
    }
  }
  return bad;
}

}  // namespace

CheckResult check_counter(const std::vector<Op>& history) {
  CheckResult result;
  result.ops = static_cast<int64_t>(history.size());
  std::map<std::string, std::vector<const Op*>> by_key;
  for (const Op& op : history) {
    if (op.type != OpType::kIncr && op.type != OpType::kGet) {
      result.ok = false;
      result.verdict = Verdict::kBadInput;
      result.explanation =
          fmt::format("the counter model defines only incr and get, not {}", describe_op(op));
      return result;
    }
    by_key[op.key].push_back(&op);
  }
  result.keys = static_cast<int64_t>(by_key.size());
  const std::string* worst = nullptr;
  std::vector<Bad> worst_bad;
  size_t failing = 0;
  for (auto& [key, ops] : by_key) {
    std::stable_sort(ops.begin(), ops.end(),
                     [](const Op* a, const Op* b) { return a->invoke < b->invoke; });
    std::vector<Bad> bad = check_key(ops);
    if (bad.empty()) continue;
    ++failing;
    if (worst == nullptr || ops.size() < by_key[*worst].size()) {
      worst = &key;
      worst_bad = std::move(bad);
    }
  }
  if (worst == nullptr) {
    result.explanation = fmt::format(
        "counter: every read within bounds in {} operations on {} "
        "keys",
        history.size(), by_key.size());
    return result;
  }
  result.ok = false;
  result.verdict = Verdict::kViolation;
  result.failing_key = *worst;
  std::string& s = result.explanation;
  s = fmt::format("counter violation on key {}: {} read(s) out of bounds", json_quote(*worst),
                  worst_bad.size());
  if (failing > 1) s += fmt::format(" ({} keys fail, this one has the fewest operations)", failing);
  s += "\n";
  for (size_t i = 0; i < worst_bad.size() && i < kMaxListed; ++i) {
    s += fmt::format("{}\n  {}\n", describe_op(*worst_bad[i].read), worst_bad[i].why);
  }
  if (worst_bad.size() > kMaxListed) {
    s += fmt::format("... {} more\n", worst_bad.size() - kMaxListed);
  }
  // Witness: the key's operations invoked before the first bad read completed.
  const Op* first = worst_bad.front().read;
  for (const Op* op : by_key[*worst]) {
    if (op->invoke <= first->complete) result.witness.push_back(*op);
  }
  return result;
}

}  // namespace rkv::check
