#include "check/linearizability.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <map>
#include <string>
#include <unordered_map>

#include "core/random.h"

namespace rkv::check {
namespace {

using StateId = int32_t;
constexpr StateId kAbsent = 0;
constexpr StateId kImpossible = -1;
// Seed of the per-operation hash keys; any constant works, it only has to be fixed.
constexpr uint64_t kZobristSeed = 0x5eed'c0de'1234'5678ull;
// Most operations a printed witness lists before eliding the earliest ones.
constexpr size_t kMaxPrintedOps = 60;

// Register values seen during one key's search, interned to small ids (0 = absent).
class StateTable {
 public:
  StateTable() { values_.emplace_back(std::nullopt); }
  StateId intern(const std::string& v) {
    auto [it, inserted] = ids_.try_emplace(v, static_cast<StateId>(values_.size()));
    if (inserted) values_.emplace_back(v);
    return it->second;
  }
  StateId intern(const std::optional<std::string>& v) { return v ? intern(*v) : kAbsent; }
  const std::optional<std::string>& value(StateId id) const { return values_[id]; }

 private:
  std::vector<std::optional<std::string>> values_;
  std::unordered_map<std::string, StateId> ids_;  // lookup only, never iterated
};

// An operation prepared for the search: the register arguments interned once up front.
struct Prepared {
  OpType type;
  bool info;
  bool blind;                  // set or del: the result does not depend on the prior value
  int slot = 0;                // bit index among the ok or among the info operations
  int info_class = -1;         // info only: class of interchangeable info operations
  int class_rank = 0;          // info only: position in its class, in invoke order
  StateId arg = kAbsent;       // get: value read; set/cas: value written
  StateId expected = kAbsent;  // cas
  const Op* op;
};

// Remembered configurations. A configuration is (ok operations linearized, register value,
// info operations linearized). Configurations are grouped by the first two; within a group a
// new configuration is redundant when a remembered one used a subset of its info operations
// (it could do everything the new one can: unused info operations may simply never happen).
// Flat arenas with open addressing keep the memory use exact and bounded.
class Memo {
 public:
  Memo(size_t ok_words, size_t info_words)
      : ok_words_(ok_words), info_words_(info_words), group_stride_(ok_words + 1) {
    slots_.assign(1024, 0);
  }

  // Remembers the configuration; false if it is redundant. `work` counts word comparisons.
  bool insert(const std::vector<uint64_t>& ok_bits, const std::vector<uint64_t>& info_bits,
              StateId state, uint64_t hash, int64_t& work) {
    if ((groups_ + 1) * 2 > slots_.size()) grow();
    const size_t mask = slots_.size() - 1;
    size_t i = hash & mask;
    for (;; i = (i + 1) & mask) {
      const uint32_t slot = slots_[i];
      if (slot == 0) break;
      const size_t g = slot - 1;
      ++work;
      if (group_hash_[g] == hash &&
          group_arena_[g * group_stride_ + ok_words_] == static_cast<uint64_t>(state) &&
          std::memcmp(&group_arena_[g * group_stride_], ok_bits.data(), ok_words_ * 8) == 0) {
        return insert_into_group(g, info_bits, work);
      }
    }
    slots_[i] = static_cast<uint32_t>(++groups_);
    group_hash_.push_back(hash);
    group_arena_.insert(group_arena_.end(), ok_bits.begin(), ok_bits.end());
    group_arena_.push_back(static_cast<uint64_t>(state));
    group_head_.push_back(-1);
    add_set(groups_ - 1, info_bits);
    return true;
  }

  int64_t bytes() const {
    return static_cast<int64_t>(slots_.size() * 4 + group_hash_.size() * 8 +
                                group_arena_.size() * 8 + group_head_.size() * 4 +
                                set_arena_.size() * 8 + set_next_.size() * 4);
  }

 private:
  bool insert_into_group(size_t g, const std::vector<uint64_t>& info_bits, int64_t& work) {
    for (int32_t s = group_head_[g]; s >= 0; s = set_next_[s]) {
      const uint64_t* stored = set_arena_.data() + static_cast<size_t>(s) * info_words_;
      bool subset = true;
      for (size_t w = 0; w < info_words_ && subset; ++w)
        subset = (stored[w] & ~info_bits[w]) == 0;
      work += static_cast<int64_t>(info_words_) + 1;
      if (subset) return false;
    }
    add_set(g, info_bits);
    return true;
  }
  void add_set(size_t g, const std::vector<uint64_t>& info_bits) {
    if (info_words_ == 0 && group_head_[g] >= 0) return;
    set_arena_.insert(set_arena_.end(), info_bits.begin(), info_bits.end());
    set_next_.push_back(group_head_[g]);
    group_head_[g] = static_cast<int32_t>(set_next_.size() - 1);
  }
  void grow() {
    std::vector<uint32_t> old = std::move(slots_);
    slots_.assign(old.size() * 2, 0);
    const size_t mask = slots_.size() - 1;
    for (uint32_t slot : old) {
      if (slot == 0) continue;
      size_t i = group_hash_[slot - 1] & mask;
      while (slots_[i] != 0)
        i = (i + 1) & mask;
      slots_[i] = slot;
    }
  }

  size_t ok_words_, info_words_, group_stride_;
  size_t groups_ = 0;
  std::vector<uint32_t> slots_;  // 0 = empty, else group number + 1
  std::vector<uint64_t> group_hash_;
  std::vector<uint64_t> group_arena_;  // per group: ok bitset words, then the state
  std::vector<int32_t> group_head_;    // first info set of the group, -1 if none
  std::vector<uint64_t> set_arena_;    // info bitsets
  std::vector<int32_t> set_next_;      // next info set in the same group, -1 at the end
};

enum class Outcome { kLinearizable, kViolation, kBudgetExceeded };

// One call or return event. Entries are kept in a doubly linked list from which a linearized
// operation's call and return are lifted (and later restored, in reverse order).
struct Entry {
  int op;
  bool is_call;
  int match;  // the partner entry
  int64_t time;
};

// The search over one key's operations (already filtered: no fail ops, no info reads).
class RegisterSearch {
 public:
  RegisterSearch(const std::vector<const Op*>& ops, const LinearizabilityOptions& options)
      : options_(options) {
    prepare(ops);
  }

  // Info operations stay available forever and would multiply the configurations. A
  // configuration with a subset of the info operations linearized, the same ok operations and
  // the same register value can do everything the other can (the unused info operations may
  // simply never take effect). The memo prunes by that subsumption, ok candidates are tried
  // before info ones so that small info sets tend to be seen first, and:
  //  - an info operation that leaves the register unchanged is never linearized;
  //  - a blind write (set, del) is never linearized right after an info operation: the info
  //    operation's effect would be overwritten at once, and the ancestor configuration without
  //    it explores the same blind write with one more info operation still available.
  // Both only skip configurations dominated by one the search explores anyway, so a
  // linearization is found whenever one exists.
  Outcome run() {
    class_used_.assign(class_size_.size(), 0);
    std::vector<uint64_t> ok_bits((ok_count_ + 63) / 64, 0);
    std::vector<uint64_t> info_bits((prepared_.size() - ok_count_ + 63) / 64, 0);
    Memo memo(ok_bits.size(), info_bits.size());
    uint64_t hash = 0;  // Zobrist hash of ok_bits
    StateId state = kAbsent;
    size_t ok_linearized = 0;
    std::vector<Frame> stack;
    stack.push_back({-1, kAbsent, next_[0], false});
    if (ok_count_ == 0) return Outcome::kLinearizable;
    while (!stack.empty()) {
      Frame& f = stack.back();
      const int cand = next_candidate(f);
      if (cand < 0) {  // every way on from here failed: undo the step that led here
        if (f.entry >= 0) {
          const Prepared& p = prepared_[entries_[f.entry].op];
          flip(p.info ? info_bits : ok_bits, p.slot);
          if (p.info) {
            --class_used_[p.info_class];
          } else {
            hash ^= zobrist_[entries_[f.entry].op];
            --ok_linearized;
          }
          state = f.prev_state;
          unlift(f.entry);
        }
        stack.pop_back();
        continue;
      }
      if (++steps_ > options_.max_steps_per_key) return Outcome::kBudgetExceeded;
      const Prepared& p = prepared_[entries_[cand].op];
      const bool after_info = f.entry >= 0 && prepared_[entries_[f.entry].op].info;
      if (after_info && p.blind) continue;
      const StateId next_state = step(state, p);
      if (next_state == kImpossible || (p.info && next_state == state)) continue;
      const uint64_t next_hash = p.info ? hash : hash ^ zobrist_[entries_[cand].op];
      flip(p.info ? info_bits : ok_bits, p.slot);
      if (!memo.insert(ok_bits, info_bits, next_state, mix(next_hash, next_state), steps_)) {
        flip(p.info ? info_bits : ok_bits, p.slot);
        continue;
      }
      if (memo.bytes() > options_.max_memo_bytes_per_key) return Outcome::kBudgetExceeded;
      stack.push_back({cand, state, -1, false});  // invalidates f
      state = next_state;
      hash = next_hash;
      if (p.info) ++class_used_[p.info_class];
      if (!p.info && ++ok_linearized == ok_count_) return Outcome::kLinearizable;
      lift(cand);
      stack.back().cursor = next_[0];
    }
    return Outcome::kViolation;
  }

 private:
  static constexpr int kEnd = -1;

  // One configuration on the search path: the call linearized to reach it (-1 at the root),
  // the register value before that call, and where the scan for the next candidate resumes.
  struct Frame {
    int entry;
    StateId prev_state;
    int cursor;
    bool info_phase;  // candidates are tried ok operations first, then info operations
  };

  // The next call entry to try from configuration `f`, or -1 when all were tried. Candidates
  // are the calls before the first remaining return (a return of an operation not yet
  // linearized closes the window: that operation must come first).
  int next_candidate(Frame& f) const {
    while (true) {
      for (int c = f.cursor; c != kEnd && entries_[c].is_call; c = next_[c]) {
        const Prepared& p = prepared_[entries_[c].op];
        if (p.info == f.info_phase && (!p.info || class_used_[p.info_class] == p.class_rank)) {
          f.cursor = next_[c];
          return c;
        }
      }
      if (f.info_phase) return -1;
      f.info_phase = true;
      f.cursor = next_[0];
    }
  }

  static void flip(std::vector<uint64_t>& bits, int i) { bits[i / 64] ^= uint64_t{1} << (i % 64); }

  static uint64_t mix(uint64_t h, StateId s) {
    uint64_t x = h ^ (static_cast<uint64_t>(s) * 0x9e3779b97f4a7c15ull);
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ull;
    return x ^ (x >> 29);
  }

  // Info operations with the same effect (same type and arguments) are interchangeable once
  // invoked: both stay available forever. They form a class whose members are only ever
  // linearized in invoke order, so the search never tries the same effect twice.
  void assign_info_class(Prepared& p, std::map<std::string, int>& classes) {
    const Op& op = *p.op;
    const std::string key =
        fmt::format("{}|{}|{}|{}", static_cast<int>(op.type), json_quote(op.expected),
                    op.type == OpType::kIncr ? std::string() : json_quote(op.value), op.delta);
    auto [it, inserted] = classes.try_emplace(key, static_cast<int>(class_size_.size()));
    if (inserted) class_size_.push_back(0);
    p.info_class = it->second;
    p.class_rank = class_size_[it->second]++;
  }

  void prepare(const std::vector<const Op*>& ops) {
    std::map<std::string, int> info_classes;
    Random rng(kZobristSeed);
    for (const Op* op : ops) {
      const bool blind = op->type == OpType::kSet || op->type == OpType::kDel;
      Prepared p{op->type, op->info(), blind, 0, -1, 0, kAbsent, kAbsent, op};
      p.slot = static_cast<int>(op->info() ? prepared_.size() - ok_count_ : ok_count_++);
      if (op->type == OpType::kGet || op->type == OpType::kSet || op->type == OpType::kCas) {
        p.arg = states_.intern(op->value);
      }
      if (op->type == OpType::kCas) p.expected = states_.intern(op->expected);
      if (op->info()) assign_info_class(p, info_classes);
      prepared_.push_back(p);
      zobrist_.push_back(rng.next());
    }
    // Entry 0 is the list head; entries are sorted by time, calls before returns at equal
    // times (so touching intervals count as concurrent), info returns at +infinity.
    std::vector<Entry> events;
    for (int i = 0; i < static_cast<int>(ops.size()); ++i) {
      const int64_t ret = ops[i]->info() ? kNoComplete : ops[i]->complete;
      events.push_back({i, true, -1, ops[i]->invoke});
      events.push_back({i, false, -1, ret});
    }
    std::stable_sort(events.begin(), events.end(), [](const Entry& a, const Entry& b) {
      if (a.time != b.time) return a.time < b.time;
      return a.is_call && !b.is_call;
    });
    entries_.assign(1, Entry{-1, false, -1, 0});
    std::vector<int> call_of(ops.size(), -1);
    for (const Entry& e : events) {
      const int idx = static_cast<int>(entries_.size());
      entries_.push_back(e);
      if (e.is_call) {
        call_of[e.op] = idx;
      } else {
        entries_[idx].match = call_of[e.op];
        entries_[call_of[e.op]].match = idx;
      }
    }
    const int n = static_cast<int>(entries_.size());
    next_.resize(n);
    prev_.resize(n);
    for (int i = 0; i < n; ++i) {
      next_[i] = i + 1 < n ? i + 1 : kEnd;
      prev_[i] = i - 1;
    }
  }

  void remove(int i) {
    next_[prev_[i]] = next_[i];
    if (next_[i] != kEnd) prev_[next_[i]] = prev_[i];
  }
  void restore(int i) {
    next_[prev_[i]] = i;
    if (next_[i] != kEnd) prev_[next_[i]] = i;
  }
  void lift(int call) {
    remove(call);
    remove(entries_[call].match);
  }
  void unlift(int call) {
    restore(entries_[call].match);
    restore(call);
  }

  // The register after applying p in state s, or kImpossible.
  StateId step(StateId s, const Prepared& p) {
    switch (p.type) {
      case OpType::kGet:
        return s == p.arg ? s : kImpossible;
      case OpType::kSet:
        return p.arg;
      case OpType::kDel:
        return kAbsent;
      case OpType::kCas:
        return s == p.expected ? p.arg : kImpossible;
      case OpType::kAppend:
      case OpType::kIncr:
        return cached_step(s, p);
      case OpType::kSadd:
      case OpType::kSmembers:
        break;
    }
    RKV_UNREACHABLE();
  }

  // append and incr build new values; their transitions are computed once and remembered.
  StateId cached_step(StateId s, const Prepared& p) {
    const auto index = static_cast<uint64_t>(&p - prepared_.data());
    const uint64_t key = (static_cast<uint64_t>(s) << 32) | index;
    auto it = transitions_.find(key);
    if (it != transitions_.end()) return it->second;
    const StateId result = compute_step(s, *p.op);
    transitions_.emplace(key, result);
    return result;
  }

  StateId compute_step(StateId s, const Op& op) {
    const std::optional<std::string>& cur = states_.value(s);
    if (op.type == OpType::kAppend) return states_.intern(cur.value_or("") + *op.value);
    int64_t base = 0;
    if (cur) {
      auto parsed = value_as_int(*cur);
      if (!parsed) return kImpossible;
      base = *parsed;
    }
    int64_t sum = 0;
    if (__builtin_add_overflow(base, op.delta, &sum)) return kImpossible;
    if (op.ok() && op.value) {
      auto recorded = value_as_int(*op.value);
      if (!recorded || *recorded != sum) return kImpossible;
    }
    return states_.intern(std::to_string(sum));
  }

  const LinearizabilityOptions& options_;
  StateTable states_;
  std::vector<Prepared> prepared_;
  std::vector<uint64_t> zobrist_;
  std::vector<Entry> entries_;
  std::vector<int> next_, prev_;
  std::unordered_map<uint64_t, StateId> transitions_;  // lookup only, never iterated
  size_t ok_count_ = 0;
  std::vector<int> class_size_;  // members per info class
  std::vector<int> class_used_;  // members of each info class linearized on the current path
  int64_t steps_ = 0;
};

// The ops of one key the search needs: fail ops and info reads impose nothing.
std::vector<const Op*> relevant_ops(const std::vector<const Op*>& ops) {
  std::vector<const Op*> out;
  for (const Op* op : ops) {
    if (op->fail()) continue;
    if (op->info() && op->type == OpType::kGet) continue;
    out.push_back(op);
  }
  return out;
}

// Whether some operation of the key could ever have produced the value `read` returned: a
// set or cas writing it, an append whose argument ends it, or an incr if it is an integer.
// A read of an unproducible value is a violation however the operations are ordered, which
// settles the common "read of a never-written value" at once, whatever the search would cost.
bool producible(const Op& read, const std::vector<const Op*>& ops) {
  if (!read.value) return true;  // absent: initially, or after a del
  const std::string& v = *read.value;
  const bool integer = value_as_int(v).has_value();
  for (const Op* op : ops) {
    switch (op->type) {
      case OpType::kSet:
      case OpType::kCas:
        if (op->value == v) return true;
        break;
      case OpType::kAppend:
        if (v.size() >= op->value->size() &&
            v.compare(v.size() - op->value->size(), op->value->size(), *op->value) == 0) {
          return true;
        }
        break;
      case OpType::kIncr:
        if (integer) return true;
        break;
      default:
        break;
    }
  }
  return false;
}

const Op* unproducible_read(const std::vector<const Op*>& ops) {
  for (const Op* op : ops) {
    if (op->type == OpType::kGet && op->ok() && !producible(*op, ops)) return op;
  }
  return nullptr;
}

Outcome check_key(const std::vector<const Op*>& ops, const LinearizabilityOptions& options) {
  const std::vector<const Op*> relevant = relevant_ops(ops);
  if (unproducible_read(relevant) != nullptr) return Outcome::kViolation;
  RegisterSearch search(relevant, options);
  return search.run();
}

// The history of one key cut at time t: operations invoked after t are gone, operations still
// running at t become info (they may or may not have taken effect), reads among them vanish.
// Returns owned copies in `storage`.
std::vector<const Op*> prefix_at(const std::vector<const Op*>& ops, int64_t t,
                                 std::vector<Op>& storage) {
  storage.clear();
  storage.reserve(ops.size());
  for (const Op* op : ops) {
    if (op->invoke > t) continue;
    Op copy = *op;
    if (op->complete > t && op->ok()) copy.status = OpStatus::kInfo;
    storage.push_back(std::move(copy));
  }
  std::vector<const Op*> out;
  for (const Op& op : storage)
    out.push_back(&op);
  return out;
}

struct Minimized {
  int64_t cut = kNoComplete;           // the completion time the failure shows up at
  std::vector<const Op*> prefix;       // original ops invoked by `cut`
  std::vector<const Op*> unexplained;  // ok ops completing exactly at `cut`
};

// Finds the earliest completion time t at which the key's history cut at t is already not
// linearizable (cuts are monotone: a failing prefix fails in every longer history).
Minimized minimize(const std::vector<const Op*>& ops, const LinearizabilityOptions& options) {
  std::vector<int64_t> cuts;
  for (const Op* op : ops) {
    if (op->ok()) cuts.push_back(op->complete);
  }
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  Minimized m;
  if (cuts.empty()) return m;
  size_t lo = 0, hi = cuts.size() - 1;  // cuts[hi] is known (or assumed) to fail
  if (options.minimize_witness) {
    std::vector<Op> storage;
    while (lo < hi) {
      const size_t mid = lo + (hi - lo) / 2;
      if (check_key(prefix_at(ops, cuts[mid], storage), options) == Outcome::kViolation) {
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
  }
  m.cut = cuts[hi];
  for (const Op* op : ops) {
    if (op->invoke <= m.cut) m.prefix.push_back(op);
    if (op->ok() && op->complete == m.cut) m.unexplained.push_back(op);
  }
  return m;
}

bool is_write(OpType t) {
  return t != OpType::kGet;
}

std::string explain_violation(const std::string& key, size_t key_ops, const Minimized& m,
                              size_t failing_keys) {
  std::string s = fmt::format("not linearizable: key {} ({} operations", json_quote(key), key_ops);
  if (failing_keys > 1) {
    s += fmt::format("; {} keys fail, this one has the fewest operations", failing_keys);
  }
  s += ")\n";
  for (const Op* x : m.unexplained) {
    s += fmt::format("cannot explain {}\n", describe_op(*x));
    if (x->type == OpType::kGet) {
      s += fmt::format(
          "  no order of the operations below that respects real time lets this read "
          "return {}\n",
          json_quote(x->value));
      if (!producible(*x, relevant_ops(m.prefix))) {
        s += fmt::format("  no operation on this key ever wrote {}\n", json_quote(x->value));
      }
      int64_t latest = -1;  // completion of the last write acknowledged before the read
      for (const Op* op : m.prefix) {
        if (op->ok() && is_write(op->type) && op->complete < x->invoke) {
          latest = std::max(latest, op->complete);
        }
      }
      for (const Op* op : m.prefix) {
        if (op->ok() && is_write(op->type) && op->complete == latest) {
          s += fmt::format("  latest write acknowledged before the read began: {}\n",
                           describe_op(*op));
        }
      }
    } else {
      s += "  no order of the operations below that respects real time lets it take effect as "
           "recorded\n";
    }
  }
  s += fmt::format("operations of key {} invoked by t={} ({}), in invoke order:\n", json_quote(key),
                   m.cut, m.prefix.size());
  size_t first = 0;
  if (m.prefix.size() > kMaxPrintedOps) {
    first = m.prefix.size() - kMaxPrintedOps;
    s += fmt::format("  ... {} earlier operations not shown\n", first);
  }
  for (size_t i = first; i < m.prefix.size(); ++i) {
    s += fmt::format("  {}\n", describe_op(*m.prefix[i]));
  }
  return s;
}

bool register_op(OpType t) {
  return t != OpType::kSadd && t != OpType::kSmembers;
}

}  // namespace

CheckResult check_linearizable(const std::vector<Op>& history,
                               const LinearizabilityOptions& options) {
  CheckResult result;
  result.ops = static_cast<int64_t>(history.size());
  std::map<std::string, std::vector<const Op*>> by_key;
  for (const Op& op : history) {
    if (!register_op(op.type)) {
      result.ok = false;
      result.verdict = Verdict::kBadInput;
      result.explanation = fmt::format(
          "the linearizable (register) model does not define {}: {} (use the set model)",
          op_type_name(op.type), describe_op(op));
      return result;
    }
    by_key[op.key].push_back(&op);
  }
  result.keys = static_cast<int64_t>(by_key.size());
  for (auto& [key, ops] : by_key) {
    std::stable_sort(ops.begin(), ops.end(),
                     [](const Op* a, const Op* b) { return a->invoke < b->invoke; });
  }
  std::vector<const std::string*> failing, unknown;
  for (const auto& [key, ops] : by_key) {
    const Outcome outcome = check_key(ops, options);
    if (outcome == Outcome::kViolation) failing.push_back(&key);
    if (outcome == Outcome::kBudgetExceeded) unknown.push_back(&key);
  }
  if (!failing.empty()) {
    const std::string* smallest = failing.front();
    for (const std::string* k : failing) {
      if (by_key[*k].size() < by_key[*smallest].size()) smallest = k;
    }
    const auto& ops = by_key[*smallest];
    const Minimized m = minimize(ops, options);
    result.ok = false;
    result.verdict = Verdict::kViolation;
    result.failing_key = *smallest;
    result.explanation = explain_violation(*smallest, ops.size(), m, failing.size());
    if (!unknown.empty()) {
      result.explanation +=
          fmt::format("({} other keys exceeded the search budget)\n", unknown.size());
    }
    for (const Op* op : m.prefix)
      result.witness.push_back(*op);
    return result;
  }
  if (!unknown.empty()) {
    result.ok = false;
    result.verdict = Verdict::kUnknown;
    result.failing_key = *unknown.front();
    result.explanation = fmt::format(
        "unknown: search budget exceeded on {} of {} keys (first: {}, {} operations); no "
        "violation found in the others",
        unknown.size(), by_key.size(), json_quote(*unknown.front()),
        by_key[*unknown.front()].size());
    return result;
  }
  result.explanation =
      fmt::format("linearizable: {} operations on {} keys", history.size(), by_key.size());
  return result;
}

}  // namespace rkv::check
