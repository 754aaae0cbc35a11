#include "check/leaderless_blackbox.h"

#include <fmt/format.h>

#include <algorithm>
#include <unordered_map>

namespace rkv::check {

namespace {

bool is_write(const BlackboxOp& b) {
  return b.op.type == OpType::kSet || b.op.type == OpType::kDel;
}

// The values a read returned: GET's value (none for nil), SIBLINGS' live values.
std::vector<std::string> returned(const Op& op) {
  if (op.type == OpType::kSmembers) return op.members;
  if (op.value) return {*op.value};
  return {};
}

struct Finding {
  std::string rule;
  std::string text;
  std::vector<Op> ops;
};

class Judge {
 public:
  Judge(const std::vector<BlackboxOp>& history, const FinalValues& finals, const BlackboxFacts& f)
      : finals_(finals), f_(f) {
    for (const BlackboxOp& b : history) {
      by_key_[b.op.key].push_back(&b);
      if (b.op.type == OpType::kSet && b.op.value && !b.op.fail()) sets_[*b.op.value] = &b;
    }
  }

  CheckResult run() {
    CheckResult r;
    r.keys = static_cast<int64_t>(by_key_.size());
    for (const auto& [key, ops] : by_key_) {
      r.ops += static_cast<int64_t>(ops.size());
      judge_key(key, ops);
    }
    for (const auto& [key, values] : finals_) {
      for (const std::string& v : values) {
        auto w = sets_.find(v);
        if (w == sets_.end() || w->second->op.key != key) {
          add(key, "4",
              fmt::format("the healed cluster holds {} = {}, which no SET wrote", json_quote(key),
                          json_quote(v)),
              {});
        }
      }
    }
    if (findings_.empty()) {
      r.explanation = fmt::format(
          "{} operations on {} keys: no acknowledged write lost, {}reads{} consistent with the "
          "acknowledged writes",
          r.ops, r.keys, f_.lww ? "" : "no replaced value back, ",
          f_.sloppy ? " (sloppy quorums: not checked for read-your-writes)" : "");
      return r;
    }
    r.ok = false;
    r.verdict = Verdict::kViolation;
    const auto& [key, first] = *findings_.begin();
    r.failing_key = key;
    r.witness = first.front().ops;
    size_t total = 0;
    for (const auto& [k, fs] : findings_)
      total += fs.size();
    r.explanation =
        fmt::format("{} finding(s) on {} key(s); first, on {} (rule {}): {}\n", total,
                    findings_.size(), json_quote(key), first.front().rule, first.front().text);
    for (const Op& op : first.front().ops)
      r.explanation += "  " + describe_op(op) + "\n";
    for (const auto& [k, fs] : findings_) {
      for (const Finding& x : fs)
        r.notes.push_back(fmt::format("rule {} on {}: {}", x.rule, k, x.text));
      if (r.notes.size() >= 20) break;
    }
    return r;
  }

 private:
  void add(const std::string& key, std::string rule, std::string text, std::vector<Op> ops) {
    findings_[key].push_back({std::move(rule), std::move(text), std::move(ops)});
  }

  const std::set<std::string>& live(const std::string& key) const {
    static const std::set<std::string> kNone;
    auto it = finals_.find(key);
    return it == finals_.end() ? kNone : it->second;
  }

  void judge_key(const std::string& key, const std::vector<const BlackboxOp*>& ops) {
    const std::set<std::string>& final_live = live(key);
    for (const BlackboxOp* b : ops) {
      const Op& op = b->op;
      if (op.type != OpType::kSet || !op.ok() || !op.value) continue;
      // (1) an acknowledged value gone from the healed cluster had a write that could end it.
      if (!b->expires_soon && !final_live.contains(*op.value)) {
        const bool replaceable = std::any_of(ops.begin(), ops.end(), [&](const BlackboxOp* w) {
          if (w == b || !is_write(*w) || w->op.fail()) return false;
          return f_.lww || w->op.complete > op.invoke;
        });
        if (!replaceable) {
          add(key, "1",
              fmt::format("the acknowledged SET of {} is not live in the healed cluster, and no "
                          "{}write of the key could have replaced it",
                          json_quote(*op.value), f_.lww ? "other " : "later or concurrent "),
              {op});
        }
      }
      // (2) siblings: what a CONTEXT write replaced stays replaced.
      if (!f_.lww) {
        for (const std::string& v : b->covered) {
          if (!final_live.contains(v)) continue;
          add(key, "2",
              fmt::format("{} is live in the healed cluster, but an acknowledged SET with a "
                          "context that named it replaced it",
                          json_quote(v)),
              {op});
        }
      }
    }
    for (const BlackboxOp* rd : ops) {
      const Op& r = rd->op;
      if (!r.ok() || (r.type != OpType::kGet && r.type != OpType::kSmembers)) continue;
      const std::vector<std::string> got = returned(r);
      // (4) nothing invented.
      for (const std::string& v : got) {
        auto w = sets_.find(v);
        if (w == sets_.end() || w->second->op.key != key || w->second->op.invoke > r.complete) {
          add(key, "4",
              fmt::format("a read returned {}, which no SET of the key had written", json_quote(v)),
              {r});
        }
      }
      if (f_.sloppy) continue;
      // (3) read-your-writes where the quorums overlap.
      bool may_be_nil = false;
      for (const BlackboxOp* w : ops) {
        if (w->op.invoke > r.complete || w->op.fail()) continue;
        if (w->op.type == OpType::kDel || (w->op.type == OpType::kSet && w->expires_soon)) {
          may_be_nil = true;
          break;
        }
      }
      for (const BlackboxOp* w : ops) {
        const Op& wo = w->op;
        if (wo.type != OpType::kSet || !wo.ok() || wo.complete >= r.invoke) continue;
        if (rd->replicas + w->replicas <= f_.n) continue;
        if (got.empty() && !may_be_nil && !w->expires_soon) {
          add(key, "3a",
              fmt::format("a read ({} replicas) returned no value after a SET ({} replicas, n = "
                          "{}) was acknowledged, and no DEL or expiring SET of the key ran",
                          rd->replicas, w->replicas, f_.n),
              {wo, r});
          break;
        }
        // (c) the write's own value, unless another write could have replaced it before the
        // read finished. Under siblings GET returns one sibling (the greatest clock reading),
        // so only SIBLINGS is held to this.
        if ((f_.lww || r.type == OpType::kSmembers) && !w->expires_soon &&
            std::find(got.begin(), got.end(), *wo.value) == got.end()) {
          const bool replaceable = std::any_of(ops.begin(), ops.end(), [&](const BlackboxOp* x) {
            if (x == w || !is_write(*x) || x->op.fail() || x->op.invoke > r.complete) return false;
            return f_.lww || x->op.complete > wo.invoke;
          });
          if (!replaceable) {
            add(key, "3c",
                fmt::format("a read ({} replicas) did not return {}, written by a SET ({} "
                            "replicas, n = {}) acknowledged before the read started, and no "
                            "other write of the key could have replaced it by then",
                            rd->replicas, json_quote(*wo.value), w->replicas, f_.n),
                {wo, r});
            break;
          }
        }
        if (f_.lww) continue;
        for (const std::string& v : got) {
          if (std::find(w->covered.begin(), w->covered.end(), v) == w->covered.end()) continue;
          add(key, "3b",
              fmt::format("a read ({} replicas) returned {}, which an acknowledged SET ({} "
                          "replicas, n = {}) had replaced before the read started",
                          rd->replicas, json_quote(v), w->replicas, f_.n),
              {wo, r});
        }
      }
    }
  }

  const FinalValues& finals_;
  BlackboxFacts f_;
  std::map<std::string, std::vector<const BlackboxOp*>> by_key_;
  std::unordered_map<std::string, const BlackboxOp*> sets_;  // value -> the SET that wrote it
  std::map<std::string, std::vector<Finding>> findings_;
};

}  // namespace

CheckResult check_leaderless_blackbox(const std::vector<BlackboxOp>& history,
                                      const FinalValues& final_values, const BlackboxFacts& facts) {
  return Judge(history, final_values, facts).run();
}

}  // namespace rkv::check
