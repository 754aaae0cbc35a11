// Raft: a sans-IO, deterministic Raft consensus core for one replication group (one keyspace).
//
// The core owns no socket, thread, clock, disk or entropy. The driver (runtime or simulator)
// feeds it inputs and carries out the effects it returns, in this loop:
//
//   inputs:  tick()                 one unit of logical time (the driver picks the period)
//            step(msg)              a message from a peer
//            propose(data)          a client command (leader only)
//            read_index(ctx)        a linearizable read request (leader only)
//            transfer_leadership(to), compact(index, image)
//            set_disk_full(full)    whether the driver can make writes durable now
//   effects: if (raft.has_ready()) { Ready rd = raft.ready(); ...carry it out...; raft.advance(rd);
//   }
//
// Threading: a Raft is used by one thread. It holds a reference to the Random it was given,
// which must outlive it. All behaviour is a pure function of the inputs and the Random.
//
// Membership is static (Config::voters). Messages from non-members are refused.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/random.h"
#include "core/status.h"
#include "raft/progress.h"
#include "raft/raft_log.h"
#include "raft/types.h"

namespace rkv::raft {

// Deliberately broken variants, compiled in so the simulator can prove its checkers catch
// them. Never set outside tests and the simulator.
enum Bug : uint32_t {
  kBugNone = 0,
  // The vote is left out of the HardState handed out for persistence: after a restart the node
  // has forgotten whom it voted for and may vote twice in one term (two leaders per term).
  kBugVoteNotPersisted = 1u << 0,
  // The leader counts entries as matched on a follower as soon as it sends them, before the
  // follower has persisted (or even received) them: entries commit without a durable quorum.
  kBugCommitCountsUnpersisted = 1u << 1,
  // Votes (and pre-votes) are granted without the §5.4.1 up-to-date check: a leader may lack
  // committed entries.
  kBugIgnoreLogUpToDate = 1u << 2,
  // read_index answers at once on a leader without confirming it is still the leader: a
  // deposed leader serves stale reads. Safety of the log is unaffected; only a linearizability
  // checker over client histories (node level) can catch it.
  kBugReadIndexNoQuorumCheck = 1u << 3,
  // skip_ticks() does not advance the clock a leader's lease is judged on: after a pause the
  // lease still looks fresh, and a deposed leader serves stale lease reads (caught by
  // linearizability of a lease-read keyspace). The runtime's behaviour before it was fixed.
  kBugLeaseIgnoresPause = 1u << 4,
  // skip_ticks() does not advance a follower's staleness: after a pause it reports being up to
  // date while it missed the writes of that time (caught by the bounded-staleness checker of a
  // follower-read keyspace).
  kBugStalenessIgnoresPause = 1u << 6,
  // A snapshot install drops the node's diverged entries without reporting them as truncated:
  // an async leader that catches up from a snapshot forgets the acknowledged writes it loses
  // (caught by the acknowledged-or-listed check of an async keyspace).
  kBugSnapshotForgetsLost = 1u << 5,
};

struct Config {
  NodeId id = kNoNode;
  std::vector<NodeId> voters;  // every member, including id; static

  int election_tick = 10;    // followers campaign after a random [election_tick, 2*election_tick)
  int heartbeat_tick = 1;    // a leader heartbeats every heartbeat_tick ticks
  bool pre_vote = true;      // §9.6: a pre-vote round must succeed before a term is bumped
  bool check_quorum = true;  // leader steps down without quorum contact; leader stickiness
  size_t max_inflight_msgs = 256;       // per follower, in replicate state
  size_t max_entries_per_msg = 256;     // per App
  size_t max_bytes_per_msg = 1u << 20;  // entry data bytes per App (at least one entry)
  size_t snapshot_chunk_bytes = 1u << 20;
  int lease_drift_ticks = 2;  // lease = election_tick - lease_drift_ticks ticks; needs check_quorum
  size_t max_uncommitted_entries = 10000;  // propose() refuses beyond this (ResourceExhausted)
  size_t max_pending_reads = 4096;         // read_index() refuses beyond this
  size_t max_apply_entries_per_ready = 1024;
  // compact() keeps this many entries below the snapshot in the log, so that a follower only
  // that far behind catches up from the log instead of receiving the whole image (etcd's
  // SnapshotCatchUpEntries). 0: the log starts right after the snapshot.
  uint64_t snapshot_catchup_entries = 0;
  // Index the application's state machine durably holds already (0: rebuilt from the snapshot
  // and re-applied from the log). Only the committed entries after it are handed out again.
  uint64_t applied = 0;
  uint32_t bugs = kBugNone;

  Status validate() const;
};

// Appends, heartbeats and snapshots from a leader: they promise nothing about the leader's
// own disk (its copy counts toward commit only once persisted), so a leader may send them
// before the write of the Ready that carries them completes, in parallel with it, as etcd does.
// TimeoutNow too: it says only that the target's log, as the target acknowledged it durable,
// holds the leader's whole log. A leader whose disk is full can still hand over leadership.
bool is_leader_stream(MessageType t);

// One batch of effects. THE CONTRACT — the driver must, in this order:
//  1. Persist, in one atomic synced write (log_store.h does it): `snapshot` if set (replaces the
//     persisted log: delete every log record, store the snapshot), `compacted` if set (store
//     the snapshot record, delete log records <= `compacted_log_to`), delete log records >=
//     `truncate_from` if set, append `entries`, store `hard_state` if set.
//  2. Only then send `messages`. A vote grant or an AppendEntries ack must never reach a peer
//     before the state it promises is durable; sending everything after the write keeps that
//     true for every message.
//  3. Apply `snapshot` (if set) to the state machine, then `committed_entries` in order (they
//     are already persisted locally and never exceed what is persisted, so without a
//     `snapshot` they may be applied before step 1 completes), then serve each of
//     `read_states` once the state machine has applied its index.
//  4. Call advance(rd) with this very Ready.
// `soft_state` reports role/leader/term changes (a node that loses leadership should fail its
// pending client requests: pending reads are dropped with the leadership). `truncated` lists
// entries this node held that a newer leader overwrote (for the node layer's lost-write record
// in async-commit mode). Between ready() and advance() the driver may keep calling
// tick/step/propose; their effects go to the next Ready. Do not call ready() again before
// advance(); partial_ready() (below) is what may be taken in between.
struct Ready {
  std::optional<SoftState> soft_state;
  std::optional<HardState> hard_state;
  std::optional<uint64_t> truncate_from;
  std::vector<Entry> entries;
  std::shared_ptr<const Snapshot> snapshot;   // received from the leader: persist, then apply
  std::shared_ptr<const Snapshot> compacted;  // produced locally by compact(): persist only
  uint64_t compacted_log_to = 0;              // with `compacted`: the log records it lets go (<=)
  std::vector<Message> messages;
  std::vector<Entry> committed_entries;
  std::vector<ReadState> read_states;
  std::vector<Entry> truncated;

  // True when step 1 has anything to write (and therefore to sync).
  bool must_persist() const {
    return hard_state || truncate_from || !entries.empty() || snapshot || compacted;
  }
};

class Raft {
 public:
  // Restores from what the node found on disk (an empty PersistentState for a new node).
  // Aborts on an invalid config or inconsistent state (the driver validates and loads first).
  Raft(Config config, Random& random, PersistentState restored = {});

  Raft(const Raft&) = delete;
  Raft& operator=(const Raft&) = delete;

  void tick();
  // `n` ticks passed while this node could not run (its process was stopped or descheduled,
  // so nothing it was sent in that time has been read yet). They count toward everything that
  // promises something about real time: a leader's lease expires by them, a follower's
  // staleness grows by them, the restart vote guard runs out by them. They do not count toward
  // the election and heartbeat timers, so a node does not campaign, or fail its check-quorum,
  // before reading the messages its peers sent during the pause.
  void skip_ticks(uint64_t n);
  // InvalidArgument for a message not addressed to this node or from a non-member; stale and
  // duplicated messages are absorbed silently (OK).
  Status step(const Message& m);
  // Appends a command; returns its index. Unavailable when not leader or while a leadership
  // transfer is in progress; ResourceExhausted beyond max_uncommitted_entries. The index
  // commits only if this node stays leader long enough; watch committed_entries and terms.
  Result<uint64_t> propose(std::string data);
  // ReadIndex (Raft thesis §6.4). On the leader: the read is released as ReadState{index, ctx}
  // after a heartbeat round confirms leadership with a quorum, and only once an entry of the
  // current term has committed (until then it waits). Unavailable on any other node (the node
  // layer forwards to leader()). Pending reads are dropped if leadership is lost.
  Status read_index(uint64_t ctx);
  // Leader lease: true when this leader may serve reads locally without a round trip, because
  // a quorum acknowledged a heartbeat sent less than election_tick - lease_drift_ticks ticks
  // ago (those followers refuse to elect anyone else until election_tick has passed), it has
  // committed an entry of its term, and no leadership transfer was started in this term.
  // Needs check_quorum; assumes tick rates drift by less than lease_drift_ticks per lease.
  bool lease_read_ok() const;
  // Starts handing leadership to `to`: catch it up, then send TimeoutNow. Proposals are
  // refused while it runs; it is abandoned after election_tick ticks.
  Status transfer_leadership(NodeId to);
  // The driver reports whether it can make writes durable (false: its disk is full). While it
  // cannot, this node stays out of elections: it does not campaign when its election timer
  // fires, ignores TimeoutNow, and a campaign under way is given up; a leader could persist
  // nothing, and a candidate could not even persist its own vote. Votes for others are still
  // granted (persisting them is up to the driver, and sending waits for that). A leader with a
  // full disk hands leadership to disk_handoff_target() (transfer_leadership), at once and on
  // every tick while no transfer runs, so a transfer abandoned after an election timeout is
  // tried again, possibly to another follower. With no follower to take it, it stays leader.
  void set_disk_full(bool full);
  bool disk_full() const { return disk_full_; }
  // Leader: the follower a full disk hands leadership to: among those acknowledging (heard from
  // in this check-quorum round, in replicate state) other than `avoid`, the one with the
  // highest match index; ties go to the lowest id. kNoNode when none qualifies, or not the
  // leader. A retry avoids the follower tried last, unless it is the only one.
  NodeId disk_handoff_target(NodeId avoid = kNoNode) const;
  // Leadership transfers this node started because its disk was full (retries count).
  uint64_t disk_full_handoffs() const { return disk_full_handoffs_; }
  // The application captured its state machine at applied index `index` as `image`: the image
  // is what lagging followers receive, and the log up to `index` minus
  // snapshot_catchup_entries is dropped (the next Ready's `compacted` persists both).
  // InvalidArgument if index > applied; no-op if the snapshot is that recent already.
  Status compact(uint64_t index, std::string image);
  // As compact, for an image the application wrote (a blob) without handing it to Raft: Raft
  // holds none of its `image_bytes` bytes (as after drop_image) and asks for them when a
  // follower needs them (image_wanted, restore_image).
  Status compact_stored(uint64_t index, uint64_t image_bytes);
  // The current snapshot's image is durable where the application can read it back (a blob):
  // Raft lets go of its bytes until a follower needs them. A transfer that then starts (or
  // goes on) waits, and image_wanted() names the snapshot; the application reads the image
  // and hands it back with restore_image. Returns false, keeping the bytes, while a transfer
  // is under way or when there is no snapshot.
  bool drop_image();
  bool image_held() const { return image_held_; }
  // The index of the snapshot whose dropped image a transfer waits for (0: none).
  uint64_t image_wanted() const { return image_wanted_; }
  // The image of snapshot `index`, read back. Ignored unless it is the current snapshot's and
  // that image is dropped (a newer snapshot, or an image restored already, make it stale);
  // the transfers waiting for it resume.
  void restore_image(uint64_t index, std::string image);

  bool has_ready() const;
  Ready ready();
  void advance(const Ready& rd);
  // While a Ready is being persisted, the effects that need nothing of it on disk: committed
  // entries (persisted already), read states and, on a leader, its appends and heartbeats
  // (the leader counts its own copy only once persisted, so followers may hold entries first,
  // as in etcd). Such a Ready has no durable part and no other messages; carry out steps 2-4
  // for it. Nothing is offered while a role change is pending (it needs a full Ready first).
  // This keeps commit latency at one disk sync: an acknowledgement arriving during the
  // leader's write is applied and answered at once, and new proposals reach the followers
  // without waiting for that write.
  //
  // `durable_term`: the term the driver has persisted (the hard state of the last Ready it
  // wrote). A follower's heartbeat responses of that term promise nothing that is not durable
  // (a heartbeat response carries no log position, only "I follow you in this term"), so they
  // are handed out too: a follower whose disk is slow (a large write ahead of its
  // acknowledgements) keeps answering heartbeats, and its leader keeps its quorum (check-quorum)
  // and confirms reads, instead of stepping down because of a slow disk, not a dead node.
  // 0: none are.
  bool has_partial_ready(uint64_t durable_term = 0) const;
  Ready partial_ready(uint64_t durable_term = 0);
  // True for a message that may leave before the Ready that holds it is persisted, given the
  // term the driver has persisted: a follower's heartbeat response of that term.
  static bool needs_nothing_durable(const Message& m, uint64_t durable_term) {
    return m.type == MessageType::kHeartbeatResp && durable_term != 0 && m.term == durable_term;
  }

  // --- status ---
  NodeId id() const { return id_; }
  Role role() const { return role_; }
  uint64_t term() const { return term_; }
  NodeId vote() const { return vote_; }
  NodeId leader() const { return leader_; }
  uint64_t commit() const { return log_.committed(); }
  uint64_t applied() const { return log_.applied(); }
  uint64_t last_index() const { return log_.last_index(); }
  uint64_t last_term() const { return log_.last_term(); }
  HardState hard_state() const { return {term_, vote_, log_.committed()}; }
  SoftState soft_state() const { return {role_, leader_, term_}; }
  const RaftLog& log() const { return log_; }
  const Config& config() const { return cfg_; }
  // Leader only: per-follower progress (self excluded).
  const std::map<NodeId, Progress>& progress() const { return progress_; }
  NodeId transferee() const { return transferee_; }
  // Follower reads: the highest commit index learned from a leader and the ticks since this
  // node last heard from its leader (0 on the leader itself).
  uint64_t leader_commit() const { return leader_commit_; }
  uint64_t ticks_since_leader() const { return ticks_since_leader_; }
  // Follower reads' staleness: `ticks` since this node last knew that `commit` covered every
  // write any leader had acknowledged, and that commit index. On a leader holding its lease:
  // now and its own commit. On a leader without it: since the send of the last heartbeat round
  // a quorum acknowledged. On a follower: since it received a heartbeat that its leader sent
  // while holding its lease (the network delay of that heartbeat is not included), and the
  // highest leader commit index it learned. Assumes the lease's clock drift bound.
  struct Freshness {
    uint64_t ticks = 0;
    uint64_t commit = 0;
  };
  Freshness freshness() const;
  const Snapshot& snapshot() const { return *snapshot_; }
  // Snapshot transfers this node started as leader, and snapshots it installed as follower.
  uint64_t snapshots_sent() const { return snapshots_sent_; }
  uint64_t snapshots_installed() const { return snapshots_installed_; }

 private:
  enum class CampaignKind { kPreElection, kElection, kTransfer };
  struct PendingRead {
    uint64_t index;
    uint64_t ctx;
    uint64_t round;
  };

  bool is_voter(NodeId id) const;
  size_t quorum() const { return voters_.size() / 2 + 1; }
  bool in_lease() const;
  bool committed_in_current_term() const;

  void reset(uint64_t term);
  void become_follower(uint64_t term, NodeId leader);
  void become_pre_candidate();
  void become_candidate();
  void become_leader();
  void campaign(CampaignKind kind);
  void tally_and_advance();

  void tick_election();
  void tick_heartbeat();

  void send(Message m);
  void handle_vote_request(const Message& m);
  void step_leader(const Message& m);
  void step_candidate(const Message& m);
  void step_follower(const Message& m);
  void handle_append(const Message& m);
  void handle_heartbeat(const Message& m);
  void handle_snapshot_chunk(const Message& m);
  void install_snapshot(Snapshot snap);
  void handle_append_resp(const Message& m);
  void handle_heartbeat_resp(const Message& m);
  void handle_snapshot_resp(const Message& m);

  bool send_append(NodeId to, bool send_if_empty);
  void send_snapshot_chunk(NodeId to);
  void bcast_append();
  // Proposals and commit advances mark a broadcast as pending instead of sending at once, so a
  // batch of inputs handled between two Readies costs one App per follower, not one per input
  // (acks arriving together advance the commit index once). ready() and partial_ready() flush.
  bool broadcast_pending() const;
  void flush_broadcast();
  // What a leader owes its followers before a Ready is taken: the heartbeat round a ReadIndex
  // asked for, and the pending broadcast. Shared by ready() and partial_ready().
  void flush_leader_sends();
  // Adjacent acceptances to the same leader in one term collapse into the last one when it
  // acknowledges at least as much: acks are cumulative, and dropping one is like losing it.
  static void coalesce_acks(std::vector<Message>* msgs);
  void bcast_heartbeat();
  // Moves into `rd` what the driver may apply now: the next committed entries (marked as handed
  // out) and the released read states. Shared by ready() and partial_ready().
  void take_applicable(Ready* rd);
  void send_timeout_now(NodeId to);
  // Leader with a full disk and no transfer running: starts one (see set_disk_full).
  void maybe_hand_off();
  bool maybe_commit();
  void release_reads();
  uint64_t round_sent_tick(uint64_t round, bool* found) const;

  Config cfg_;
  Random& random_;
  NodeId id_;
  std::vector<NodeId> voters_;  // sorted

  uint64_t term_ = 0;
  NodeId vote_ = kNoNode;
  NodeId leader_ = kNoNode;
  Role role_ = Role::kFollower;
  RaftLog log_;
  // Latest local snapshot (sent to lagging followers); shared with the Ready persisting it.
  // Its data is empty while the image is dropped (drop_image); image_size_ is its size always.
  std::shared_ptr<const Snapshot> snapshot_ = std::make_shared<const Snapshot>();
  bool image_held_ = true;
  uint64_t image_size_ = 0;
  uint64_t image_wanted_ = 0;
  // Sets snapshot_ to `snap`, its image held.
  void set_snapshot(Snapshot snap);

  std::map<NodeId, Progress> progress_;
  std::map<NodeId, bool> votes_;
  NodeId transferee_ = kNoNode;
  bool lease_disabled_ = false;  // TimeoutNow was sent in this term
  bool disk_full_ = false;       // see set_disk_full
  uint64_t disk_full_handoffs_ = 0;
  NodeId last_handoff_to_ = kNoNode;  // the last target in this spell of a full disk

  uint64_t ticks_ = 0;  // ticks since construction
  int election_elapsed_ = 0;
  int heartbeat_elapsed_ = 0;
  int randomized_election_timeout_ = 0;
  uint64_t vote_guard_ticks_ = 0;  // restarted: refuse votes until ticks_ reaches it
  uint64_t ticks_since_leader_ = 0;
  uint64_t ticks_since_fresh_ = 0;  // since a heartbeat sent under its leader's lease
  bool heard_fresh_ = false;        // such a heartbeat arrived in this incarnation
  uint64_t leader_commit_ = 0;

  // ReadIndex and lease bookkeeping (leader).
  uint64_t round_ = 0;                                     // last heartbeat round sent
  std::deque<std::pair<uint64_t, uint64_t>> round_ticks_;  // (round, tick sent), bounded
  std::deque<PendingRead> pending_reads_;
  std::vector<uint64_t> reads_awaiting_commit_;  // ctx of reads before a current-term commit
  bool read_round_needed_ = false;

  // Snapshot reassembly (follower).
  std::optional<Snapshot> incoming_;

  // Effects awaiting ready().
  bool append_pending_ = false;  // leader: proposals not yet offered to the followers
  bool commit_pending_ = false;  // leader: the commit index advanced since the last flush
  std::vector<Message> msgs_;
  std::vector<ReadState> read_states_;
  std::shared_ptr<const Snapshot> pending_snapshot_;
  std::shared_ptr<const Snapshot> pending_compaction_;
  uint64_t snapshots_sent_ = 0;
  uint64_t snapshots_installed_ = 0;
  HardState prev_hs_;
  SoftState prev_ss_;
};

}  // namespace rkv::raft
