// MultiLeaderEngine: the `multi-leader` model for one keyspace. Every node accepts writes: a
// command runs on this node's Store at once, is made durable with the node's next batch and
// acknowledged, with no cross-node wait. Each key a write changed is stamped (hybrid logical
// clock reading, then this node's actor) and appended to this node's *origin log*, which is
// shipped to every peer (full mesh) in order, batched, from a per-peer cursor: the peer's
// durable applied position, which it reports (messages.h, kStatus). After a partition, a
// restart or an outage the shipping resumes from that cursor; a peer behind the oldest entry
// kept (the log is bounded) gets a state transfer instead.
//
// Conflicts, conflict = "lww": a key's state is its whole value
// image; of two writes of a key, the one with the greater stamp wins everywhere, whatever the
// order they arrive in. A write that arrives after a greater-stamped one is discarded, and the
// discard is counted and kept in a bounded list (CONFLICTS): concurrent writes lost to LWW are
// visible, not silent. A peer whose stamps run ahead of this node's clock by more than
// max_clock_skew_ms is reported (its entries still apply; this clock does not follow it).
//
// conflict = "crdt": a key is a convergent object (versions/crdt.h); a log entry carries the
// delta a write made, which every node joins.
//
// conflict = "siblings": a key is a versions::Versioned (dotted version vectors), with the
// leaderless model's commands and replies (node/versioned_commands.h). A write issues the dot
// (this actor, its origin-log seq), so a dot counter is never below the seq of the entry that
// carries it; a write without CONTEXT supersedes every write this node has applied (the key's
// context joined with the applied vector, which also names writes of keys collected here),
// with CONTEXT exactly the versions it names. Concurrent writes stay siblings everywhere.
//
// Deleted keys keep their stamp (a tombstone) until no write they must beat can still arrive
// (two-step stability, multileader/stability.h); then it is collected.
//
// Sans-IO like every engine: time comes in as arguments, messages leave through the node,
// rows through the node's pending batch, durability through on_persisted.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/config.h"
#include "core/random.h"
#include "multileader/messages.h"
#include "multileader/stability.h"
#include "node/engine.h"
#include "node/versioned_commands.h"
#include "versions/crdt.h"
#include "versions/dvv.h"
#include "versions/hlc.h"

namespace rkv {

class Node;

// Deliberately broken variants (simulator and tests only), in RaftSettings::bugs' upper bits.
inline constexpr uint32_t kBugCursorSkips = 1u << 20;     // a gap in a peer's run is skipped
inline constexpr uint32_t kBugLwwKeepsLocal = 1u << 21;   // a remote write never replaces a local
inline constexpr uint32_t kBugTombstoneEarly = 1u << 22;  // tombstones collected at once
// conflict = "siblings": merging a peer's write keeps only the winner (the greatest by hlc,
// dot), dropping concurrent writes no write had seen; the simulator's no-silent-loss check for
// siblings must catch it.
inline constexpr uint32_t kBugSiblingsDropConcurrent = 1u << 23;
// conflict = "crdt": a peer's removal of an element (SREM, HDEL, DEL) also removes the adds it
// had not seen (remove-wins instead of add-wins).
inline constexpr uint32_t kBugCrdtRemoveWins = 1u << 24;
// conflict = "crdt": a peer's counter is merged by taking the larger of the two sums instead of
// each origin's own total, so increments made at different nodes are lost.
inline constexpr uint32_t kBugCrdtCounterMax = 1u << 25;

struct MultiLeaderStats {
  uint64_t local_writes = 0;     // keys written by clients of this node
  uint64_t entries_applied = 0;  // peers' log entries applied here
  uint64_t entries_sent = 0;     // log entries shipped (resends included)
  uint64_t resends = 0;          // times a peer's shipping restarted from its cursor
  uint64_t lww_discarded = 0;    // writes LWW discarded here (arrived after a newer one)
  uint64_t state_transfers_sent = 0, state_transfers_received = 0;
  uint64_t tombstones_collected = 0;
  uint64_t clock_skew_reports = 0;  // entries stamped too far ahead of this clock
  uint64_t siblings_created = 0;    // conflict = siblings: versions kept beside another here
  uint64_t bad_messages = 0;
};

// One write LWW discarded (CONFLICTS).
struct ConflictRecord {
  std::string key;
  int64_t at_ms = 0;       // this node's clock when it resolved the conflict
  uint64_t loser_hlc = 0;  // the discarded write: stamp, writer, origin-log seq, tombstone?
  uint64_t loser_actor = 0;
  uint64_t loser_seq = 0;
  bool loser_tomb = false;
  uint64_t winner_hlc = 0;  // the write that stands
  uint64_t winner_actor = 0;
  bool winner_tomb = false;
};

class MultiLeaderEngine final : public Engine {
 public:
  MultiLeaderEngine(Node* node, uint32_t keyspace, Random* random);
  ~MultiLeaderEngine() override;

  Status open(int64_t now_ms) override;
  Dispatch execute(const Origin& o, const resp::CommandSpec& spec,
                   std::span<const std::string_view> args, const RequestOptions& opts,
                   int64_t now_ms, resp::Writer& w) override;
  void on_peer_message(uint32_t from, std::string_view body, int64_t now_ms) override;
  void tick(int64_t now_ms) override;
  void pump(int64_t now_ms) override;
  void on_persisted(uint64_t token, int64_t now_ms) override;
  void describe(std::vector<std::pair<std::string, std::string>>* out,
                int64_t now_ms) const override;
  MultiLeaderEngine* as_multileader() override { return this; }
  const MultiLeaderEngine* as_multileader() const override { return this; }

  const MultiLeaderStats& stats() const { return stats_; }
  uint64_t actor() const { return actor_; }
  // The most recent conflicts first, at most `count`.
  std::vector<ConflictRecord> conflicts(size_t count) const;
  // Per peer (node index): its replication lag as this node sees it — entries of this node's
  // log it has not acknowledged, and how long the oldest of them has waited (0: none).
  struct PeerLag {
    uint32_t node = 0;
    bool known = false;  // it has reported its position since this node started
    uint64_t entries = 0;
    int64_t oldest_ms = 0;
  };
  std::vector<PeerLag> lag(int64_t now_ms) const;
  // The stamp this node holds for a key (tests, the simulator's checkers): nullopt when none.
  struct Stamp {
    uint64_t hlc = 0, actor = 0;
    bool tomb = false;
  };
  std::optional<Stamp> stamp(std::string_view key) const;
  size_t tombstone_count() const { return tombstones_; }
  // conflict = "crdt": the convergent object of a key (nullptr when none).
  const versions::CrdtObject* object(std::string_view key) const;
  // conflict = "siblings": the versions of a key (nullptr when none), and how many keys hold
  // more than one.
  const versions::Versioned* versioned(std::string_view key) const;
  size_t keys_with_siblings() const { return multi_sibling_keys_; }
  // Replication lag of the peers' entries applied here: this node's clock when it applied one
  // minus the wall part of the entry's stamp (the writer's clock when it wrote it; the two
  // clocks agree on one machine, and differ by their skew across machines). Bucket i counts
  // entries with lag <= kLagBoundsMs[i]; the last bucket, longer ones.
  static constexpr int64_t kLagBoundsMs[] = {0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000};
  static constexpr size_t kLagBuckets = std::size(kLagBoundsMs) + 1;
  const std::array<uint64_t, kLagBuckets>& lag_histogram() const { return lag_hist_; }
  uint64_t own_seq() const { return own_seq_; }
  // Observation hook for the simulator's no-silent-loss checker (never set by the server):
  // called with every peer write this node takes, from an origin log or a state transfer, and
  // whether it stood (false: LWW discarded it, or it was malformed). Must not call back in.
  using ApplyObserver = std::function<void(const multileader::Item&, bool stood)>;
  void set_apply_observer(ApplyObserver o) { apply_observer_ = std::move(o); }

 private:
  struct Meta {
    uint64_t hlc = 0, actor = 0;
    uint64_t seq = 0;  // the writer's origin-log seq (0: from a state transfer)
    bool tomb = false;
  };
  struct LogEntry {
    uint64_t seq;
    std::string record;      // encode_log_record
    uint64_t token;          // the node batch that makes it durable
    int64_t mono_ms;         // when it was written (lag)
    uint64_t end_bytes = 0;  // log_appended_ once it was appended: bytes of a range in O(1)
  };
  struct Peer {
    uint64_t actor = 0;  // 0: not heard from since this node started
    // Receiving from it: the cursor at which this node last asked it to resend, and when (one
    // request per gap: every message already on the way past a gap shows the same gap).
    uint64_t gap_cursor = 0;
    int64_t gap_ms = 0;
    uint64_t acked = 0;       // its durable position in this node's log
    uint64_t sent = 0;        // highest seq sent to it
    int64_t progress_ms = 0;  // mono ms of the last send from `acked` or ack progress
    bool status_due = false;  // it should hear this node's applied vector soon
    int64_t last_status_ms = 0;
    // State transfer to it: keys still to send, and the applied vector it will end with.
    std::optional<std::deque<std::string>> transfer_keys;
    multileader::AppliedVector transfer_applied;
    uint64_t transfer_id = 0;
    uint64_t transfer_part = 0;  // the next part to send
    bool resend_asked = false;   // it saw a gap: go back to its cursor
    // Retransmissions since it last made progress: each waits twice as long as the one before
    // (up to kMaxRetransmitBackoffMs), so that a cut-off peer is not sent the same batch over
    // and over, to be read through once the cut heals.
    uint32_t retries = 0;
    // The last retransmission: the last seq it carried, and `sent` when it left.
    uint64_t probe_last = 0, probe_sent = 0;
  };
  // A deleted key (or one whose TTL ended) waiting for its stamp to be forgotten.
  struct Pending {
    std::string key;
    uint64_t hlc = 0, actor = 0, seq = 0;
    int64_t since_ms = 0;
    std::optional<multileader::AppliedVector> frontier;  // set once the deletion is stable
  };

  const KeyspaceConfig& kc() const;
  const MultiLeaderSettings& settings() const;
  uint32_t self() const;
  int64_t mono() const;
  bool bug(uint32_t b) const;
  std::string row(char kind, std::string_view rest) const;
  std::string log_row(uint64_t seq) const;

  // A key this node's client changed: stamp it, log it, persist it.
  void log_local_write(std::string_view key, int64_t now_ms);
  // Appends an entry of this node's own origin log (it.seq == own_seq_ + 1), made durable with
  // the node's next batch.
  void append_own(const multileader::Item& it);
  // --- conflict = "siblings" ---
  Dispatch execute_siblings(const resp::CommandSpec& spec, std::span<const std::string_view> args,
                            int64_t now_ms, resp::Writer& w);
  // A client's write of one key, logged as the one-sibling object it adds (see the .cc).
  void write_versioned(std::string_view key, versioned::Write wr, int64_t now_ms);
  bool apply_remote_siblings(const multileader::Item& it, int64_t now_ms);
  // Merges `change` (a write's or a peer's versions) into the key's object, persists it and
  // shows its visible value in the Store. `local`: a write of this node (else a peer's, whose
  // versions this node took and no longer holds are kept out).
  void take_versioned(const multileader::Item& it, const versions::Versioned& change, bool local,
                      int64_t now_ms);
  void persist_versioned(std::string_view key, const versions::Versioned& obj);
  // The Store shows the key's visible sibling (or nothing).
  void show_versioned(std::string_view key, int64_t now_ms);
  // The batch token that makes entry `seq` of this node's own log durable; 0 when it is
  // durable already (or not in the log).
  uint64_t own_entry_token(uint64_t seq) const;
  // Every write this node has applied, as a causal context.
  versions::VersionVector applied_context() const;
  // The collector's step for a siblings key: false while its dead siblings must stay; else
  // drops them, and true when nothing is left of the key (the caller forgets it).
  bool collect_dead_siblings(Pending& p, int64_t now_ms, int64_t now, bool* changed);
  // The collector's step 2 for `p` (its frontier taken): the frontier is stable, the grace
  // passed, and this clock passed `newest`, the greatest stamp of what it forgets.
  bool deletion_ready(const Pending& p, uint64_t newest, int64_t now_ms, int64_t now) const;
  // --- conflict = "crdt" ---
  // Why the command cannot run in a crdt keyspace (empty: it can).
  std::string crdt_refusal(const resp::CommandSpec& spec,
                           std::span<const std::string_view> args) const;
  Dispatch execute_crdt(const resp::CommandSpec& spec, std::span<const std::string_view> args,
                        int64_t now_ms, resp::Writer& w);
  // Logs a delta of a key's object made here (already joined into it) under seq own_seq_+1;
  // the delta takes the object's type and expiry registers.
  void log_delta(std::string_view key, versions::CrdtObject& delta, uint64_t hlc);
  // The key's object, rendered into the Store (or removed from it when nothing is present).
  void materialize(std::string_view key, int64_t now_ms);
  bool apply_remote_crdt(const multileader::Item& it, int64_t now_ms);
  // kBugCrdtRemoveWins, kBugCrdtCounterMax: what they break, done to a peer's delta first.
  void broken_crdt_merge(versions::CrdtObject& obj, versions::CrdtObject& delta) const;
  // Stored form: a head row (type, expiry) and one row per cell; a delta rewrites the rows of
  // what it touched.
  std::string cell_row(std::string_view key, uint8_t t, std::string_view elem) const;
  // `head`: the type or expiry changed (or nothing is present), so the head row is rewritten.
  void persist_delta(std::string_view key, const versions::CrdtObject& obj,
                     const versions::CrdtObject& delta, bool head);
  // materialize(), element by element when the delta left the key's type and expiry alone.
  void materialize_delta(std::string_view key, const versions::CrdtObject& delta,
                         int64_t type_before, int64_t now_ms);
  // A key whose TTL passed: an observed-remove of everything this node holds of it.
  void expire_crdt(std::string_view key, int64_t now_ms);
  // Follows a peer's stamp with this node's clock, or reports it when it runs too far ahead.
  void observe_stamp(const multileader::Item& it, int64_t now_ms);
  // Counts and notes a peer's write whose payload (`what`) does not parse; returns false.
  bool malformed(const multileader::Item& it, std::string_view what);
  // Applies a peer's write (from its log or a state transfer): true when it stands.
  bool apply_remote(const multileader::Item& it, int64_t now_ms);
  void put_meta(std::string_view key, const Meta& m);
  void persist_applied();
  void queue_tombstone(std::string_view key, const Meta& m, int64_t now_ms);
  void collect_tombstones(int64_t now_ms);
  void sweep_expired(int64_t now_ms);
  void truncate_log();
  void ship(uint32_t peer, Peer& p, int64_t now_ms);
  void continue_transfer(uint32_t peer, Peer& p);
  void send_status(uint32_t peer, Peer& p);
  void on_status(uint32_t from, multileader::Msg& m, int64_t now_ms);
  void on_entries(uint32_t from, multileader::Msg& m, int64_t now_ms);
  void on_state(uint32_t from, multileader::Msg& m, int64_t now_ms);
  void send(uint32_t to, const multileader::Msg& m);
  uint64_t batch_token();

  Node* node_;
  uint32_t ks_;
  std::string name_;
  Random* random_;
  versions::HlcClock hlc_;
  uint64_t actor_ = 0;
  struct KeyHash {
    using is_transparent = void;
    // Not noexcept on purpose: libstdc++ then stores each node's hash code, so a lookup walks
    // a bucket comparing stored codes instead of hashing every key it passes again (most of the
    // time spent applying a peer's entries went there with 100k keys).
    size_t operator()(std::string_view k) const {
      return std::hash<std::string_view>()(k);
    }
  };
  std::unordered_map<std::string, Meta, KeyHash, std::equal_to<>> meta_;
  bool crdt_ = false;
  std::unordered_map<std::string, versions::CrdtObject, KeyHash, std::equal_to<>> objects_;
  bool siblings_ = false;
  std::unordered_map<std::string, versions::Versioned, KeyHash, std::equal_to<>> versioned_;
  size_t multi_sibling_keys_ = 0;
  size_t tombstones_ = 0;
  // This node's origin log from the oldest entry some peer may still need: entries
  // [log_first_, own_seq_]. Also on disk, one row per entry.
  std::deque<LogEntry> log_;
  uint64_t log_first_ = 1;
  size_t log_bytes_ = 0;
  uint64_t log_appended_ = 0;  // record bytes ever appended to log_ since start
  void append_log(uint64_t seq, std::string record, uint64_t token);
  const LogEntry& entry(uint64_t seq) const { return log_[seq - log_first_]; }
  // One kEntries message to `peer` of the durable entries from `first` (at most `last`), at
  // least one and within max_bytes; returns how many.
  uint64_t send_entries(uint32_t peer, uint64_t first, uint64_t last, uint64_t max_bytes);
  uint64_t own_seq_ = 0;
  // What this node holds of every origin's log (its own included): in memory, and as of the
  // latest durable batch (what it reports).
  std::map<uint64_t, uint64_t> applied_;
  multileader::AppliedVector durable_applied_;
  std::deque<std::pair<uint64_t, multileader::AppliedVector>> applied_at_token_;
  bool applied_dirty_ = false;
  std::vector<Peer> peers_;  // by node index (self unused)
  multileader::Stability stability_;
  std::deque<Pending> pending_gc_;
  // Incoming state transfers, by sender: the transfer in progress, the part expected next,
  // and whether every part so far came in order (else its last part changes no cursor).
  struct Incoming {
    uint64_t id = 0, next_part = 0;
    bool whole = false;
  };
  std::map<uint32_t, Incoming> incoming_transfer_;
  std::deque<ConflictRecord> conflicts_;  // newest at the back
  struct SkewedPeer {
    int64_t ahead_ms = 0;  // the most recent excess seen
    int64_t seen_ms = 0;   // mono ms when it was seen
  };
  std::map<uint64_t, SkewedPeer> skew_;  // by actor
  int64_t last_sweep_ = 0, last_gc_ = 0;
  MultiLeaderStats stats_;
  std::array<uint64_t, kLagBuckets> lag_hist_{};
  ApplyObserver apply_observer_;
};

}  // namespace rkv
