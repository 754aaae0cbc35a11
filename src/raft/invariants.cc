#include "raft/invariants.h"

#include <algorithm>
#include <string>

#include "core/checksum.h"

namespace rkv::raft {
namespace {
std::string n2s(uint64_t v) {
  return std::to_string(v);
}
}  // namespace

InvariantChecker::Fingerprint InvariantChecker::fingerprint(const Entry& e) {
  std::string b(1, static_cast<char>(e.type));
  b.append(e.data);
  return {e.term, checksum64(b)};
}

Status InvariantChecker::fail(Status s) {
  if (violation_.is_ok()) violation_ = std::move(s);
  return violation_;
}

void InvariantChecker::set_node(NodeId id, const Raft* raft) {
  NodeState& n = nodes_[id];
  n.raft = raft;
  // A restarted node resumes from its disk: its term may be lower than the one it had in
  // memory (a term bump not yet persisted is lost, and was never acted upon by anyone).
  n.max_term = 0;
  n.checked_index = 0;
  n.checked_term = 0;
  n.completeness_term = 0;
  n.applied_seen = 0;  // a restarted node re-applies from its snapshot
  n.commit_seen = 0;
}

Status InvariantChecker::record_applied(NodeId id, const Entry& e) {
  const Fingerprint f = fingerprint(e);
  auto [it, inserted] = applied_.emplace(e.index, f);
  if (!inserted && (it->second.term != f.term || it->second.hash != f.hash)) {
    return fail(Status::internal("state-machine safety: node " + n2s(id) + " applied index " +
                                 n2s(e.index) + " with term " + n2s(f.term) +
                                 " but another node applied term " + n2s(it->second.term) +
                                 (it->second.term == f.term ? " with different data" : "")));
  }
  return Status::ok();
}

Status InvariantChecker::check() {
  ++checks_;
  if (!violation_.is_ok()) return violation_;
  for (auto& [id, n] : nodes_) {
    if (n.raft == nullptr) continue;
    RKV_RETURN_IF_ERROR(check_node(id, n));
  }
  for (auto& [id, n] : nodes_) {
    if (n.raft == nullptr) continue;
    RKV_RETURN_IF_ERROR(check_log_matching(id, n));
  }
  for (auto& [id, n] : nodes_) {
    if (n.raft == nullptr || n.raft->role() != Role::kLeader) continue;
    Status s = check_leader_completeness(id, n);
    if (!s.is_ok()) return fail(std::move(s));
  }
  new_committed_.clear();
  return Status::ok();
}

Status InvariantChecker::check_node(NodeId id, NodeState& n) {
  const Raft& r = *n.raft;
  const RaftLog& log = r.log();
  if (r.term() < n.max_term) {
    return fail(Status::internal("node " + n2s(id) + " went back from term " + n2s(n.max_term) +
                                 " to " + n2s(r.term())));
  }
  n.max_term = r.term();
  if (!(r.applied() <= r.commit() && r.commit() <= r.last_index())) {
    return fail(Status::internal("node " + n2s(id) + ": need applied <= commit <= last, have " +
                                 n2s(r.applied()) + ", " + n2s(r.commit()) + ", " +
                                 n2s(r.last_index())));
  }
  if (r.role() == Role::kLeader) {
    auto [it, inserted] = leaders_.emplace(r.term(), id);
    if (!inserted && it->second != id) {
      return fail(Status::internal("election safety: term " + n2s(r.term()) + " has two leaders, " +
                                   n2s(it->second) + " and " + n2s(id)));
    }
  }
  // Entries newly committed on this node: all nodes must agree on them.
  for (uint64_t i = std::max(n.commit_seen, log.base_index()) + 1; i <= r.commit(); ++i) {
    const Fingerprint f = fingerprint(log.at(i));
    auto [it, inserted] = committed_.emplace(i, Committed{f, r.term()});
    if (inserted) new_committed_.push_back(i);
    if (!inserted && (it->second.entry.term != f.term || it->second.entry.hash != f.hash)) {
      return fail(Status::internal("committed entries differ: node " + n2s(id) + " has term " +
                                   n2s(f.term) + " at committed index " + n2s(i) +
                                   ", seen committed before with term " +
                                   n2s(it->second.entry.term)));
    }
  }
  n.commit_seen = std::max(n.commit_seen, r.commit());
  // Entries newly applied on this node (still in the log).
  for (uint64_t i = std::max(n.applied_seen, log.base_index()) + 1; i <= r.applied(); ++i) {
    RKV_RETURN_IF_ERROR(record_applied(id, log.at(i)));
  }
  n.applied_seen = std::max(n.applied_seen, r.applied());
  return Status::ok();
}

Status InvariantChecker::check_log_matching(NodeId id, NodeState& n) {
  const RaftLog& log = n.raft->log();
  uint64_t from = log.base_index() + 1;
  if (n.checked_index >= log.base_index() && log.match_term(n.checked_index, n.checked_term)) {
    from = n.checked_index + 1;
  }
  for (uint64_t i = from; i <= log.last_index(); ++i) {
    const Entry& e = log.at(i);
    const Fingerprint f = fingerprint(e);
    const uint64_t prev_term = *log.term(i - 1);
    auto [it, inserted] = seen_.emplace(std::make_pair(i, e.term), Seen{f.hash, prev_term, id});
    if (!inserted && (it->second.hash != f.hash || it->second.prev_term != prev_term)) {
      return fail(Status::internal(
          "log matching: nodes " + n2s(it->second.node) + " and " + n2s(id) + " both hold index " +
          n2s(i) + " term " + n2s(e.term) + " but " +
          (it->second.hash != f.hash ? "with different data"
                                     : "after different terms (" + n2s(it->second.prev_term) +
                                           " vs " + n2s(prev_term) + ")")));
    }
  }
  n.checked_index = log.last_index();
  n.checked_term = log.last_term();
  return Status::ok();
}

Status InvariantChecker::check_leader_completeness(NodeId id, NodeState& n) {
  const Raft& r = *n.raft;
  const RaftLog& log = r.log();
  auto check_one = [&](uint64_t index, const Committed& c) {
    if (c.seen_at_term >= r.term() || index <= log.base_index()) return Status::ok();
    if (log.match_term(index, c.entry.term)) return Status::ok();
    return Status::internal("leader completeness: leader " + n2s(id) + " of term " + n2s(r.term()) +
                            " lacks index " + n2s(index) + " (term " + n2s(c.entry.term) +
                            ") committed by term " + n2s(c.seen_at_term));
  };
  if (n.completeness_term != r.term()) {
    // New leadership: every committed entry once. The leader's log is append-only for the
    // rest of its term, so afterwards only newly committed entries need checking.
    for (auto it = committed_.upper_bound(log.base_index()); it != committed_.end(); ++it) {
      RKV_RETURN_IF_ERROR(check_one(it->first, it->second));
    }
    n.completeness_term = r.term();
    return Status::ok();
  }
  for (uint64_t index : new_committed_)
    RKV_RETURN_IF_ERROR(check_one(index, committed_.at(index)));
  return Status::ok();
}

}  // namespace rkv::raft
