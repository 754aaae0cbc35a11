// Checkers of the `leaderless` model (Dynamo-style keyspaces with dotted version vectors),
// judged from three sources that the simulator (or any driver that sees the replicas' writes)
// provides:
//
//   - a LeaderlessLedger fed with every object a replica stores (the driver decodes the rows of
//     each persisted batch): the first sighting of each dot is the object its coordinator built
//     for it, so the ledger knows every write's causal past (the versions it replaced) and which
//     dot each value got (values are unique per SET);
//   - the client history (GET / SIBLINGS recorded as reads, SET, DEL), with the number of
//     replicas each operation waited for;
//   - the objects of every key's home replicas after the cluster healed and went quiet.
//
// Rules (docs/simulator.md, "The leaderless model"):
//   (a) acknowledged writes are kept: every home replica's context covers every acknowledged
//       write's dot, and an acknowledged SET whose value is gone was replaced by a causally
//       later write, or (conflict = lww) lost to a greater (hlc, dot);
//   (b) convergence: the home replicas of a key hold equal objects (check_leaderless_convergence);
//   (c) with sloppy = false and R + W > N (per operation, CONSISTENCY included), a read that
//       starts after a write was acknowledged returns neither a version that write replaced nor
//       nil unless a DEL of the key may have run; with read_repair = blocking, the same holds
//       after a read that returned (its replicas were repaired before it answered);
//   (d) siblings are concurrent: no object holds two siblings one of which replaced the other,
//       and with conflict = lww no object holds more than one (LeaderlessLedger::observe);
//   (e) deleted values stay deleted: no value an acknowledged DEL replaced is live in the healed
//       cluster, nor returned by a read covered by (c); the same for the values an acknowledged
//       SET with a short expiry replaced (its expiry is a delete that must not bring them back).
// A short-expiring SET's own value may be gone by a read (nil is then allowed by (c)) and at
// the end ((a) does not ask for it).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "check/check_result.h"
#include "check/history.h"
#include "core/config.h"
#include "versions/dvv.h"

namespace rkv::check {

// A write as its coordinator stored it (the first sighting of its dot).
struct LeaderlessWrite {
  std::string key;
  versions::Sibling sibling;        // dot, hlc, tombstone, value
  versions::VersionVector context;  // the context of the object it was created in
  std::vector<versions::Dot> kept;  // the object's other siblings then: concurrent with it
  int64_t first_us = 0;             // when it was first stored
  int node = -1;                    // by which node
  // Tombstones: every time the node that issued the dot stored an object holding it (a DEL
  // that finds the same tombstone again, e.g. after a crash, is matched by these).
  std::vector<int64_t> issuer_stored_us;

  // True when this write replaced the write with dot `d` (d is in its causal past).
  bool replaces(const versions::Dot& d) const;
  // Its value expires within an hour of being written (the workload's short PX expiries; its
  // far EX expiries lie beyond any run): it may be gone, or collected, by the end.
  bool expires_soon() const;
};

class LeaderlessLedger {
 public:
  explicit LeaderlessLedger(ConflictMode conflict) : conflict_(conflict) {}

  // An object `node` stores for `key` at `now_us`. Returns an empty string, or a description of
  // a broken rule: a dot naming two different writes, two siblings of which one replaced the
  // other (d), more than one sibling under LWW (d).
  std::string observe(int node, std::string_view key, const versions::Versioned& obj,
                      int64_t now_us);

  // Dots name writes of one key (each object counts its own versions).
  const LeaderlessWrite* by_dot(const std::string& key, const versions::Dot& d) const;
  // The write that stored `value` (SET values are unique), nullptr when none did.
  const LeaderlessWrite* by_value(const std::string& value) const;
  // Writes of `key` whose value expires soon after it was written (SET ... PX t, t short):
  // like a delete at their expiry, they may end what they replaced.
  std::vector<const LeaderlessWrite*> expiring(const std::string& key) const;
  // Tombstones of `key` their issuing node stored within [from_us, to_us]: the candidates for
  // one DEL.
  std::vector<const LeaderlessWrite*> tombstones(const std::string& key, int64_t from_us,
                                                 int64_t to_us) const;
  uint64_t max_siblings() const { return max_siblings_; }
  size_t writes() const { return writes_.size(); }

 private:
  ConflictMode conflict_;
  using WriteId = std::pair<std::string, versions::Dot>;  // (key, dot)
  std::map<WriteId, LeaderlessWrite> writes_;
  std::map<std::string, WriteId, std::less<>> by_value_;
  uint64_t max_siblings_ = 0;
};

// One client operation with the number of replicas it waited for (R or W after CONSISTENCY).
struct LeaderlessOp {
  Op op;  // kGet (value), kSmembers (SIBLINGS: live values as members), kSet, kDel
  int replicas = 0;
};

struct LeaderlessFacts {
  int n = 3;
  bool sloppy = true;
  ConflictMode conflict = ConflictMode::kLww;
  // read_repair = blocking: a read that succeeded had every replica counted toward its R
  // repaired (durably) first, so it acts as a write of what it returned.
  bool blocking_repair = false;
  // Replicas may collect tombstones (a short grace period): a write a collected tombstone
  // replaced may be gone, its dot forgotten, from a replica that forgot the key and saw it
  // written again since.
  bool tombstones_collected = false;
  // Wall clocks: true time t (history µs) reads as epoch_ms + t / 1000 on a perfect clock; no
  // node's clock ran more than max_clock_ahead_ms ahead of that (offsets, drift, jumps), so a
  // value expiring at E may look expired from true time E - epoch_ms - max_clock_ahead_ms on.
  int64_t epoch_ms = 0;
  int64_t max_clock_ahead_ms = 0;
};

// Per key, the object each home replica holds (an empty object when it holds none).
using HomeObjects = std::map<std::string, std::vector<std::pair<int, versions::Versioned>>>;

// (b): every key's home replicas hold equal objects.
CheckResult check_leaderless_convergence(const HomeObjects& homes);

// (a), (c), (e) over the history, the ledger and the healed cluster's objects.
CheckResult check_leaderless(const std::vector<LeaderlessOp>& history,
                             const LeaderlessLedger& ledger, const HomeObjects& homes,
                             const LeaderlessFacts& facts);

// "n2:3" style name of a dot for explanations (actor's node index and counter).
std::string dot_name(const versions::Dot& d);

}  // namespace rkv::check
