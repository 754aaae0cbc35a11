#include "check/leaderless_checker.h"

#include <fmt/format.h>

#include <algorithm>
#include <tuple>

#include "versions/hlc.h"

namespace rkv::check {

using versions::Dot;
using versions::Sibling;
using versions::Versioned;

namespace {

std::string sibling_text(const Sibling& s) {
  return fmt::format("{} {} (hlc {})", dot_name(s.dot),
                     s.tombstone ? std::string("tombstone") : json_quote(s.value), s.hlc);
}

// A write with where and when it was first stored and what it had seen.
std::string write_text(const LeaderlessWrite& w) {
  std::string kept;
  for (const Dot& d : w.kept)
    kept += " " + dot_name(d);
  return fmt::format("{} (first stored by node {} at t={:.6f}s, context {}{}{})",
                     sibling_text(w.sibling), w.node, static_cast<double>(w.first_us) / 1e6,
                     w.context.to_text(), kept.empty() ? "" : ", concurrent with", kept);
}

// LWW order: the sibling resolve_lww keeps.
auto lww_rank(const Sibling& s) {
  return std::make_tuple(s.hlc, s.dot.actor, s.dot.counter);
}

// Live at the end of a run: not a delete, and not a value that expires soon (those are judged
// by what they replaced instead; the workload's other expiries lie far beyond any run).
bool live(const Sibling& s) {
  return !s.tombstone &&
         (s.expire_at_ms == 0 || s.expire_at_ms - versions::hlc_wall_ms(s.hlc) >= 3600 * 1000);
}

CheckResult violation(std::string key, std::string explanation, std::vector<Op> witness = {}) {
  CheckResult r;
  r.ok = false;
  r.verdict = Verdict::kViolation;
  r.failing_key = std::move(key);
  r.explanation = std::move(explanation);
  r.witness = std::move(witness);
  return r;
}

// An acknowledged DEL's tombstone candidates replace `d` (every one of them: which candidate
// is the DEL's own is not known when DELs of one key overlap, so the rule is kept only when
// all agree).
bool deleted_by(const std::vector<const LeaderlessWrite*>& candidates, const Dot& d) {
  if (candidates.empty()) return false;
  for (const LeaderlessWrite* t : candidates) {
    if (!t->replaces(d)) return false;
  }
  return true;
}

}  // namespace

std::string dot_name(const Dot& d) {
  return fmt::format("n{}:{}", (d.actor >> 32) + 1, d.counter);
}

bool LeaderlessWrite::replaces(const Dot& d) const {
  return d != sibling.dot && context.covers(d) &&
         std::find(kept.begin(), kept.end(), d) == kept.end();
}

std::string LeaderlessLedger::observe(int node, std::string_view key, const Versioned& obj,
                                      int64_t now_us) {
  const auto& sibs = obj.siblings();
  max_siblings_ = std::max<uint64_t>(max_siblings_, sibs.size());
  for (const Sibling& s : sibs) {
    auto it = writes_.find(WriteId(key, s.dot));
    if (it == writes_.end()) {
      LeaderlessWrite w;
      w.key.assign(key);
      w.sibling = s;
      w.context = obj.context();
      for (const Sibling& o : sibs) {
        if (o.dot != s.dot) w.kept.push_back(o.dot);
      }
      w.first_us = now_us;
      w.node = node;
      if (!s.tombstone) {
        auto [v, fresh] = by_value_.emplace(s.value, WriteId(key, s.dot));
        if (!fresh) {
          const LeaderlessWrite& first = writes_.at(v->second);
          return fmt::format(
              "one SET ran twice: value {} of key \"{}\" was stored as {} by node {} at "
              "t={:.6f}s and again as {} by node {} (each SET writes a value of its own: a "
              "duplicated or replayed request was executed again, and its second version "
              "replaces whatever was written in between)",
              json_quote(s.value), key, dot_name(first.sibling.dot), first.node,
              static_cast<double>(first.first_us) / 1e6, dot_name(s.dot), node);
        }
      }
      it = writes_.emplace(WriteId(key, s.dot), std::move(w)).first;
    }
    LeaderlessWrite& w = it->second;
    if (s.tombstone && static_cast<uint64_t>(node) == (s.dot.actor >> 32) &&
        (w.issuer_stored_us.empty() || w.issuer_stored_us.back() != now_us)) {
      w.issuer_stored_us.push_back(now_us);
    }
    if (!(w.sibling == s)) {
      return fmt::format(
          "dot {} of key \"{}\" names two different writes: first {} stored by node {} at "
          "t={:.6f}s, now {} stored by node {} (a reused dot: one of the two writes is silently "
          "replaced wherever they meet)",
          dot_name(s.dot), key, sibling_text(w.sibling), w.node,
          static_cast<double>(w.first_us) / 1e6, sibling_text(s), node);
    }
  }
  if (conflict_ == ConflictMode::kLww && sibs.size() > 1) {
    return fmt::format("node {} stored {} siblings of key \"{}\" under conflict = lww", node,
                       sibs.size(), key);
  }
  for (const Sibling& a : sibs) {
    const LeaderlessWrite& wa = writes_.at(WriteId(key, a.dot));
    for (const Sibling& b : sibs) {
      if (wa.replaces(b.dot)) {
        return fmt::format(
            "node {} stored key \"{}\" with siblings {} and {}, but the first replaced the "
            "second when it was written: a superseded version came back (siblings must be "
            "concurrent writes)",
            node, key, sibling_text(a), sibling_text(b));
      }
    }
  }
  return {};
}

const LeaderlessWrite* LeaderlessLedger::by_dot(const std::string& key, const Dot& d) const {
  auto it = writes_.find(WriteId(key, d));
  return it == writes_.end() ? nullptr : &it->second;
}

const LeaderlessWrite* LeaderlessLedger::by_value(const std::string& value) const {
  auto it = by_value_.find(value);
  return it == by_value_.end() ? nullptr : by_dot(it->second.first, it->second.second);
}

bool LeaderlessWrite::expires_soon() const {
  return !sibling.tombstone && sibling.expire_at_ms != 0 &&
         sibling.expire_at_ms - versions::hlc_wall_ms(sibling.hlc) < 3600 * 1000;
}

std::vector<const LeaderlessWrite*> LeaderlessLedger::expiring(const std::string& key) const {
  std::vector<const LeaderlessWrite*> out;
  for (auto it = writes_.lower_bound(WriteId(key, Dot{}));
       it != writes_.end() && it->first.first == key; ++it) {
    if (it->second.expires_soon()) out.push_back(&it->second);
  }
  return out;
}

std::vector<const LeaderlessWrite*> LeaderlessLedger::tombstones(const std::string& key,
                                                                 int64_t from_us,
                                                                 int64_t to_us) const {
  std::vector<const LeaderlessWrite*> out;
  for (auto it = writes_.lower_bound(WriteId(key, Dot{}));
       it != writes_.end() && it->first.first == key; ++it) {
    const LeaderlessWrite& w = it->second;
    if (!w.sibling.tombstone) continue;
    for (int64_t t : w.issuer_stored_us) {
      if (t >= from_us && t <= to_us) {
        out.push_back(&w);
        break;
      }
    }
  }
  return out;
}

CheckResult check_leaderless_convergence(const HomeObjects& homes) {
  CheckResult r;
  for (const auto& [key, objs] : homes) {
    ++r.keys;
    for (size_t i = 1; i < objs.size(); ++i) {
      if (objs[i].second == objs[0].second) continue;
      auto text = [](const Versioned& o) {
        std::string s = fmt::format("context {} siblings [", o.context().to_text());
        for (const Sibling& x : o.siblings())
          s += sibling_text(x) + " ";
        return s + "]";
      };
      return violation(key, fmt::format("key \"{}\": home replica n{} holds {}\n  but n{} holds {}",
                                        key, objs[0].first + 1, text(objs[0].second),
                                        objs[i].first + 1, text(objs[i].second)));
    }
  }
  return r;
}

namespace {

// (a) and (e) on the healed cluster.
CheckResult check_final_state(const std::vector<LeaderlessOp>& history,
                              const LeaderlessLedger& ledger, const HomeObjects& homes,
                              const LeaderlessFacts& facts) {
  static const std::vector<std::pair<int, Versioned>> kNone;
  auto homes_of = [&](const std::string& key) -> const std::vector<std::pair<int, Versioned>>& {
    auto it = homes.find(key);
    return it == homes.end() ? kNone : it->second;
  };
  for (const LeaderlessOp& lop : history) {
    const Op& op = lop.op;
    if (!op.ok()) continue;
    if (op.type == OpType::kSet) {
      const LeaderlessWrite* w = op.value ? ledger.by_value(*op.value) : nullptr;
      if (!w) {
        return violation(op.key,
                         fmt::format("acknowledged write was never stored by any replica:\n  {}",
                                     describe_op(op)),
                         {op});
      }
      if (w->expires_soon()) {
        // Its value may be gone; what it replaced must not come back when it expires.
        for (const auto& [node, obj] : homes_of(op.key)) {
          for (const Sibling& s : obj.siblings()) {
            if (live(s) && w->replaces(s.dot)) {
              return violation(
                  op.key,
                  fmt::format("a value replaced by an expiring write came back: home replica n{} "
                              "of \"{}\" holds {}, which {} replaced\n  {}",
                              node + 1, op.key, sibling_text(s), sibling_text(w->sibling),
                              describe_op(op)),
                  {op});
            }
          }
        }
        continue;
      }
      // Replaced by a delete (or a value that expired since) which may have been collected.
      bool deleted_since = false;
      if (facts.tombstones_collected) {
        for (const LeaderlessWrite* t : ledger.tombstones(op.key, 0, INT64_MAX))
          deleted_since |= t->replaces(w->sibling.dot);
        for (const LeaderlessWrite* t : ledger.expiring(op.key))
          deleted_since |= t->replaces(w->sibling.dot);
      }
      for (const auto& [node, obj] : homes_of(op.key)) {
        if (deleted_since && !obj.context().covers(w->sibling.dot)) continue;
        if (!obj.context().covers(w->sibling.dot)) {
          return violation(
              op.key,
              fmt::format("acknowledged write {} is lost: home replica n{} of \"{}\" has context "
                          "{}, which does not cover it\n  {}",
                          sibling_text(w->sibling), node + 1, op.key, obj.context().to_text(),
                          describe_op(op)),
              {op});
        }
        bool present = false, justified = false;
        for (const Sibling& s : obj.siblings()) {
          present |= s.dot == w->sibling.dot;
          const LeaderlessWrite* ws = ledger.by_dot(op.key, s.dot);
          justified |= ws && ws->replaces(w->sibling.dot);
          justified |= facts.conflict == ConflictMode::kLww && lww_rank(s) > lww_rank(w->sibling);
        }
        if (!present && !justified) {
          std::string now;
          for (const Sibling& s : obj.siblings())
            now += " " + sibling_text(s);
          return violation(
              op.key,
              fmt::format(
                  "acknowledged write {} is gone from home replica n{} of \"{}\" though "
                  "no write that replaced it {}is there; it holds:{}\n  {}",
                  sibling_text(w->sibling), node + 1, op.key,
                  facts.conflict == ConflictMode::kLww ? "(nor a greater LWW version) " : "",
                  now.empty() ? " nothing" : now, describe_op(op)),
              {op});
        }
      }
    } else if (op.type == OpType::kDel) {
      const auto cands = ledger.tombstones(op.key, op.invoke, op.complete);
      if (cands.empty()) {
        return violation(op.key,
                         fmt::format("acknowledged DEL stored no tombstone on any replica:\n  {}",
                                     describe_op(op)),
                         {op});
      }
      for (const auto& [node, obj] : homes_of(op.key)) {
        bool covered = false;
        for (const LeaderlessWrite* t : cands)
          covered |= obj.context().covers(t->sibling.dot);
        // A collected tombstone is forgotten: what it deleted is judged by (e) instead.
        if (!covered && !facts.tombstones_collected) {
          return violation(op.key,
                           fmt::format("acknowledged DEL is lost: home replica n{} of \"{}\" has "
                                       "context {}, which covers none of its tombstones\n  {}",
                                       node + 1, op.key, obj.context().to_text(), describe_op(op)),
                           {op});
        }
        for (const Sibling& s : obj.siblings()) {
          if (live(s) && deleted_by(cands, s.dot)) {
            return violation(op.key,
                             fmt::format("deleted value came back: home replica n{} of \"{}\" "
                                         "holds {}, which this acknowledged DEL replaced\n  {}",
                                         node + 1, op.key, sibling_text(s), describe_op(op)),
                             {op});
          }
        }
      }
    }
  }
  return {};
}

// (c) and (e) on reads.
CheckResult check_reads(const std::vector<LeaderlessOp>& history, const LeaderlessLedger& ledger,
                        const LeaderlessFacts& facts, int64_t* checked) {
  if (facts.sloppy) return {};
  std::map<std::string, std::vector<const LeaderlessOp*>> writes, dels;
  for (const LeaderlessOp& lop : history) {
    if (lop.op.type == OpType::kSet || lop.op.type == OpType::kDel) {
      writes[lop.op.key].push_back(&lop);
      if (lop.op.type == OpType::kDel && !lop.op.fail()) dels[lop.op.key].push_back(&lop);
    }
  }
  std::map<std::string,
           std::vector<std::pair<const LeaderlessOp*, std::vector<const LeaderlessWrite*>>>>
      earlier_reads;
  for (const LeaderlessOp& rop : history) {
    const Op& r = rop.op;
    if (!r.ok() || (r.type != OpType::kGet && r.type != OpType::kSmembers)) continue;
    std::vector<std::string> values;
    if (r.type == OpType::kGet && r.value) values.push_back(*r.value);
    if (r.type == OpType::kSmembers) values = r.members;
    std::vector<const LeaderlessWrite*> read;
    for (const std::string& v : values) {
      const LeaderlessWrite* w = ledger.by_value(v);
      if (!w) {
        return violation(
            r.key, fmt::format("read a value no replica ever stored:\n  {}", describe_op(r)), {r});
      }
      read.push_back(w);
    }
    if (facts.blocking_repair) {
      auto e = earlier_reads.find(r.key);
      if (e != earlier_reads.end()) {
        for (const auto& [rd, seen] : e->second) {
          if (rd->op.complete >= r.invoke || rd->replicas + rop.replicas <= facts.n) continue;
          ++*checked;
          for (const LeaderlessWrite* x : read) {
            for (const LeaderlessWrite* y : seen) {
              if (y->replaces(x->sibling.dot)) {
                return violation(
                    r.key,
                    fmt::format("stale read after a read with blocking repair (R + R > N): it "
                                "returned {},\n  which the earlier read's {} had replaced\n  {}\n  "
                                "{}",
                                write_text(*x), write_text(*y), describe_op(rd->op),
                                describe_op(r)),
                    {rd->op, r});
              }
            }
          }
        }
      }
      if (!read.empty()) {
        earlier_reads[r.key].emplace_back(&rop, read);
      }
    }
    auto wit = writes.find(r.key);
    if (wit == writes.end()) continue;
    for (const LeaderlessOp* wop : wit->second) {
      const Op& w = wop->op;
      if (!w.ok() || w.complete >= r.invoke || wop->replicas + rop.replicas <= facts.n) continue;
      ++*checked;
      if (w.type == OpType::kSet) {
        const LeaderlessWrite* lw = w.value ? ledger.by_value(*w.value) : nullptr;
        if (!lw) continue;  // reported by the final-state check
        // Whether a short-expiring write's value may look expired to a node at true time t_us.
        auto expired_by = [&](const LeaderlessWrite& x, int64_t t_us) {
          return x.expires_soon() &&
                 t_us >=
                     (x.sibling.expire_at_ms - facts.epoch_ms - facts.max_clock_ahead_ms) * 1000;
        };
        if (values.empty() && !expired_by(*lw, r.complete)) {
          // A DEL, or a write whose value expired, may have replaced it before the read.
          bool del_may_have_run = false;
          for (const LeaderlessOp* d : dels[r.key])
            del_may_have_run |= d->op.invoke < r.complete;
          for (const LeaderlessOp* x : wit->second) {
            const LeaderlessWrite* xw =
                x->op.type == OpType::kSet && x->op.value ? ledger.by_value(*x->op.value) : nullptr;
            del_may_have_run |= xw && x->op.invoke < r.complete && expired_by(*xw, r.complete);
          }
          if (!del_may_have_run) {
            return violation(r.key,
                             fmt::format("read missed an acknowledged write (R + W > N, no DEL of "
                                         "the key): it returned nothing after\n  {}\n  {}",
                                         describe_op(w), describe_op(r)),
                             {w, r});
          }
        }
        for (const LeaderlessWrite* x : read) {
          if (lw->replaces(x->sibling.dot)) {
            return violation(
                r.key,
                fmt::format("stale read (R + W > N): it returned {},\n  which this "
                            "acknowledged write {} had replaced\n  {}\n  {}",
                            write_text(*x), write_text(*lw), describe_op(w), describe_op(r)),
                {w, r});
          }
        }
      } else {
        const auto cands = ledger.tombstones(w.key, w.invoke, w.complete);
        for (const LeaderlessWrite* x : read) {
          if (deleted_by(cands, x->sibling.dot)) {
            return violation(r.key,
                             fmt::format("deleted value returned (R + W > N): {} was replaced by "
                                         "this acknowledged DEL\n  {}\n  {}",
                                         sibling_text(x->sibling), describe_op(w), describe_op(r)),
                             {w, r});
          }
        }
      }
    }
  }
  return {};
}

}  // namespace

CheckResult check_leaderless(const std::vector<LeaderlessOp>& history,
                             const LeaderlessLedger& ledger, const HomeObjects& homes,
                             const LeaderlessFacts& facts) {
  CheckResult r = check_final_state(history, ledger, homes, facts);
  if (!r.ok) return r;
  int64_t checked = 0;
  r = check_reads(history, ledger, facts, &checked);
  if (!r.ok) return r;
  r.ops = static_cast<int64_t>(history.size());
  r.keys = static_cast<int64_t>(homes.size());
  r.notes.push_back(
      fmt::format("{} writes stored, {} (read, earlier acknowledged write) pairs "
                  "under R + W > N checked, at most {} siblings",
                  ledger.writes(), checked, ledger.max_siblings()));
  return r;
}

}  // namespace rkv::check
