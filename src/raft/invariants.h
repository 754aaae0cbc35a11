// InvariantChecker: Raft's safety properties (Figure 3 of the paper), checked over every node of
// a cluster after every event by tests and the simulator.
//
//   election safety     at most one leader per term, ever (a history term -> leader is kept)
//   log matching        two logs holding an entry with the same index and term are identical
//                       up to that index. Checked incrementally: every (index, term) ever seen
//                       on any node must always carry the same data and follow the same
//                       previous term (by induction, identical prefixes); a node's log is
//                       re-scanned only past the last position already checked that is still
//                       in its log, so the cost per event is the number of new entries.
//   leader completeness an entry seen committed while the cluster was at term t is in the log
//                       of every leader of a term > t
//   state-machine safety no two nodes apply different entries at one index (the checker keeps
//                       its own record of what was applied at each index)
// plus per-node sanity (applied <= commit <= last index; a running node's term never goes back).
//
// The checker only reads the Raft instances it is given; they must outlive their registration
// (re-register or set nullptr when a node crashes). Not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "core/status.h"
#include "raft/raft.h"

namespace rkv::raft {

class InvariantChecker {
 public:
  // Registers node `id`'s current instance; nullptr marks it down. A restarted node is
  // re-registered with its new instance.
  void set_node(NodeId id, const Raft* raft);

  // Checks every property against the current state of all live nodes and records what it
  // observed. Returns the first violation; once violated, keeps returning it.
  Status check();

  // For drivers: records an entry the node applied (catches entries compacted before check()
  // could see them in the log).
  Status record_applied(NodeId id, const Entry& e);

  const std::map<uint64_t, NodeId>& leader_history() const { return leaders_; }
  uint64_t checks() const { return checks_; }

 private:
  struct Fingerprint {
    uint64_t term;
    uint64_t hash;  // of type and data
  };
  struct Committed {
    Fingerprint entry;
    uint64_t seen_at_term;  // node term when first seen committed (>= the real commit term)
  };
  struct NodeState {
    const Raft* raft = nullptr;
    uint64_t max_term = 0;
    uint64_t applied_seen = 0;
    uint64_t commit_seen = 0;
    uint64_t checked_index = 0;  // log matching: entries <= this (with this term) were checked
    uint64_t checked_term = 0;
    uint64_t completeness_term = 0;  // leader term whose log was fully checked for completeness
  };
  struct Seen {
    uint64_t hash;
    uint64_t prev_term;
    NodeId node;
  };

  static Fingerprint fingerprint(const Entry& e);
  Status fail(Status s);
  Status check_node(NodeId id, NodeState& n);
  Status check_log_matching(NodeId id, NodeState& n);
  Status check_leader_completeness(NodeId id, NodeState& n);

  std::map<NodeId, NodeState> nodes_;
  std::map<uint64_t, NodeId> leaders_;
  std::map<uint64_t, Fingerprint> applied_;
  std::map<uint64_t, Committed> committed_;
  std::map<std::pair<uint64_t, uint64_t>, Seen> seen_;  // (index, term) -> entry
  std::vector<uint64_t> new_committed_;                 // committed_ keys added this check()
  Status violation_;
  uint64_t checks_ = 0;
};

}  // namespace rkv::raft
