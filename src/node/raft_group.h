// RaftGroup: the `primary` model for one keyspace. Wraps the sans-IO Raft core and connects it
// to the Node: proposals from clients, the Ready loop with asynchronous persistence, applying
// committed commands to the Store, commit modes (quorum / all) and read modes (ReadIndex,
// lease, follower), log compaction with keyspace images.
//
// State: the keyspace lives in memory; what is durable is the Raft log and, every so many
// entries, a snapshot image of the keyspace that replaces the log prefix. Opening loads the
// image and re-applies the committed entries after it.
//
// Ready loop and durability: at most one Ready is in flight. Its durable part goes into the
// node's pending batch under a fresh wait token; only when the driver reports that token
// durable are its messages sent, its committed entries applied and advance() called. A Ready
// whose only change to durable state is the commit index is neither waited for nor written:
// Raft does not require the commit index to be durable, so it is stored along with the next
// write that is (entries, term, vote, snapshot).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/random.h"
#include "node/engine.h"
#include "node/index_queue.h"
#include "node/key_table.h"
#include "node/store.h"
#include "node/wire.h"
#include "raft/raft.h"
#include "storage/storage.h"

namespace rkv {

class Node;

struct GroupStatus {
  raft::Role role = raft::Role::kFollower;
  uint64_t term = 0;
  int32_t leader = -1;  // node index, -1 unknown
  uint64_t commit = 0, applied = 0, last_index = 0;
  uint64_t leader_commit = 0;
  uint64_t ms_since_leader = 0;
  uint64_t snapshot_index = 0;  // the latest local snapshot (0: none yet)
  uint64_t snapshots_sent = 0, snapshots_installed = 0;
  uint64_t disk_full_handoffs = 0;  // leadership transfers started for a full disk
  struct Follower {
    uint32_t node;
    uint64_t match;
    uint64_t lag;
    bool active;
  };
  std::vector<Follower> followers;
};

// A follower read's staleness: the read may miss writes that a leader acknowledged up to
// `ms_since_leader` ms (plus the network delay of one message) before it was served, and at
// most `entries_behind` of those acknowledged earlier. ms_since_leader = -1: this node has not
// known itself up to date since it started (no heartbeat sent under a leader's lease yet).
struct ReadStaleness {
  uint64_t entries_behind = 0;
  int64_t ms_since_leader = 0;
  std::string keyspace;
};

class RaftGroup final : public Engine {
 public:
  RaftGroup(Node* node, uint32_t keyspace, Random* random);
  ~RaftGroup() override;

  // --- Engine ---
  // Loads the group's log from storage and builds the Raft core.
  Status open(int64_t now_ms) override;
  // Follower reads are served here; other commands go to the leader (relayed by the Node when
  // this node is not it) and are answered once committed and applied.
  Dispatch execute(const Origin& o, const resp::CommandSpec& spec,
                   std::span<const std::string_view> args, const RequestOptions& opts,
                   int64_t now_ms, resp::Writer& w) override;
  void on_peer_message(uint32_t from, std::string_view body, int64_t now_ms) override;
  void tick(int64_t now_ms) override;
  // Drives the Ready loop as far as it can go without waiting for the disk.
  void pump(int64_t now_ms) override;
  void on_persisted(uint64_t token, int64_t now_ms) override;
  // The image blob written (Node::set_image_blobs): the log is compacted to it.
  void on_blob_done(BlobOp op, const Status& st, int64_t now_ms) override;
  // Raft::set_disk_full: a leader hands leadership to its most up-to-date acknowledging
  // follower (logged), and this node stays out of elections while the disk is full.
  void set_disk_full(bool full) override;
  void describe(std::vector<std::pair<std::string, std::string>>* out,
                int64_t now_ms) const override;
  RaftGroup* as_primary() override { return this; }
  const RaftGroup* as_primary() const override { return this; }

  const raft::Raft& raft() const { return *raft_; }
  bool is_leader() const;
  int32_t leader_index() const;  // -1 when unknown
  // The term this incarnation started in (as persisted): it may have led that term or earlier
  // ones in a previous incarnation, never a later one.
  uint64_t start_term() const { return start_term_; }
  GroupStatus status(uint64_t tick_ms) const;

  // Turns the protocol time elapsed since the last call into Raft ticks (Node's monotonic
  // clock). A gap longer than half an election timeout is a pause of this node: its ticks go
  // to Raft::skip_ticks, which ends leases but does not fire the election timers. Called by
  // tick() and before anything is judged on time (a lease read, a staleness figure).
  void sync_clock();
  // The staleness a follower read served now would have (keyspace left empty).
  ReadStaleness staleness();
  void step(const raft::Message& m);
  // Leader only. The reply reaches `origin` once the command is committed and applied (and,
  // with commit = "all", held by every replica).
  void submit_write(const Origin& origin, std::span<const std::string_view> args, int64_t now_ms);
  // A transaction (Node::execute_transaction). Not on the leader: relayed to it as a whole. On
  // the leader: if an entry after txn.checked_through (set here when kNotChecked: the client's
  // WATCH covered what this node applied) may change a watched key, the reply is
  // nil at once; otherwise the commands are proposed as one kMulti entry, answered like a
  // write with the array of their replies. Commands that only read go through the log too:
  // the transaction is linearizable whatever the read mode.
  Dispatch execute_transaction(const Origin& o, Transaction& txn, int64_t now_ms, resp::Writer& w);
  // The log index up to which this node's keyspace reflects the log: applied, or executed
  // ahead of the commit (commit = "async" leader).
  uint64_t state_index() const {
    return speculative_.empty() ? applied_ : speculative_.back().first;
  }
  // Leader only: a linearizable read (ReadIndex), or a lease read when mode is kLease and the
  // lease holds. Returns true when the read was executed at once into `now_reply`.
  bool submit_read(const Origin& origin, std::span<const std::string_view> args, ReadMode mode,
                   int64_t now_ms, std::string* now_reply);
  // Leader only: proposes the eviction of `keys` (one kEvict entry; node_memory.cc), applied
  // by every replica in log order. False when the core refused the proposal.
  bool propose_evictions(std::span<const std::string_view> keys, int64_t now_ms);
  // An eviction entry is proposed and not yet applied here: the next waits for it.
  bool evicting() const { return evict_inflight_index_ != 0; }
  // Executes a read on local state without any check (follower reads, lease reads).
  void read_local(std::span<const std::string_view> args, int proto, int64_t now_ms,
                  std::string* reply);

 private:
  struct PendingWrite {
    Origin origin;
    uint64_t term;
    int64_t deadline_ms;
  };
  struct PendingRead {
    Origin origin;
    std::vector<std::string> args;
    int64_t deadline_ms;
    uint64_t index = 0;  // read index once known
  };

  // The rest of a Ready once its durable part is written; `applied` when apply_ready already ran.
  void finish(raft::Ready& rd, int64_t now_ms, bool applied);
  // Applies the committed entries and releases the reads they make servable.
  void apply_ready(const raft::Ready& rd, int64_t now_ms);
  void apply_entry(const raft::Entry& e);
  void serve_ready_reads(int64_t now_ms);
  void release_all_mode();
  void fail_pending_reads(std::string_view why);
  void propose_expiries(int64_t now_ms);
  // Starts a snapshot image when the log has grown enough (see the definition).
  void maybe_compact();
  // Builds the image under way one step further; hands it to Raft once complete.
  void build_image();
  // The log's memory at which an image begins whatever the entry count: snapshot_log_bytes,
  // and an eighth of maxmemory when a limit is set (the log counts against it).
  uint64_t log_byte_budget() const;
  // Sets compact_every_ from the keyspace's size now, stretched by a random quarter or less.
  void plan_next_image();
  // Every change to a key of the keyspace is announced first: an image being built keeps the
  // key's value from before.
  void note_change(std::string_view key);
  void reply(const Origin& o, std::string bytes);
  void send(const raft::Message& m);
  // Logs (a node event note) when this node gains or loses the leadership of the group.
  void note_role(const raft::SoftState& ss);
  // Logs a leadership transfer the core started for a full disk, or (once per spell) that a
  // leader with a full disk has no follower to hand to.
  void note_disk_handoff();
  std::string error(const Origin& o, std::string_view msg) const;

  Node* node_;
  uint32_t ks_;
  std::string group_;  // the keyspace name: Raft group id in storage and on the wire
  Random* random_;
  std::unique_ptr<raft::Raft> raft_;
  std::optional<raft::Ready> inflight_;
  uint64_t inflight_token_ = 0;
  bool led_ = false;                               // leader as of the last soft state handed out
  uint64_t noted_handoffs_ = 0;                    // raft_->disk_full_handoffs() already logged
  bool noted_no_handoff_ = false;                  // "no follower to hand to" logged in this spell
  raft::NodeId noted_handoff_to_ = raft::kNoNode;  // the last handoff logged in this spell
  bool inflight_applied_ = false;  // inflight_'s committed entries were applied when handed out
  raft::HardState last_hs_;        // the newest hard state the core reported
  raft::HardState durable_hs_;     // the newest hard state persisted (term and vote count)
  bool commit_unwritten_ = false;  // last_hs_'s commit index is newer than the stored one
  uint64_t applied_ = 0;
  uint64_t last_compact_ = 0;
  uint64_t compact_every_ = 0;  // entries after last_compact_ at which the next image begins
  // Bytes the log took in memory for the entries applied since the last image began: an image
  // also begins once they reach log_byte_budget(), however few the entries.
  uint64_t applied_bytes_ = 0;
  std::unique_ptr<Store::ImageBuild> image_;  // a snapshot image under way, of image_index_
  uint64_t image_index_ = 0;
  // Node::image_blobs(): the image is written as it is built, a part at a time, so that no
  // copy of the whole keyspace is ever held; image_parts_ counts the parts handed out.
  uint64_t image_parts_ = 0;
  // Node::image_blobs(): an image's last part is being written (no other image begins).
  bool blob_writing_ = false;
  // The first error of a part of the image being written (reported with the last part's).
  std::string image_part_error_;
  // The image of the compaction handed to Raft last is in blob image_blob_name(blob_index_).
  uint64_t blob_index_ = 0;
  uint64_t blob_bytes_ = 0;  // its length
  // Indexes of this group's image blobs written (not the one being written), less those whose
  // removal was handed out.
  std::set<uint64_t> blobs_;
  // After a failed blob write (a full disk): no image begins before applied_ reaches this.
  uint64_t image_retry_at_ = 0;
  // Removes every image blob of the group but the one of `keep` (0: all).
  void remove_blobs_except(uint64_t keep);
  // Raft's copy of an image that is in blob_index_ is let go of while no follower needs it,
  // and read back from the blob when one does (raft::Raft::drop_image): the image would
  // otherwise stay in memory, as large as the keyspace, until the next one.
  void manage_image();
  bool image_reading_ = false;       // a read of the blob for Raft is under way
  int64_t image_read_retry_at_ = 0;  // monotonic ms: after a failed read, the next try
  uint64_t start_term_ = 0;          // the term persisted when this incarnation opened the group
  int64_t last_tick_ms_ = 0;         // protocol time up to which ticks were handed to Raft
  bool clock_started_ = false;       // last_tick_ms_ is set
  bool skipped_pause_ = false;       // the last tick() call skipped a pause (see tick())
  int64_t last_pause_note_ms_ = INT64_MIN / 2;  // when the last pause was reported
  uint64_t next_ctx_ = 0;
  uint64_t expire_inflight_index_ = 0;                   // an expiry proposal not yet applied
  uint64_t evict_inflight_index_ = 0;                    // an eviction proposal not yet applied
  std::map<uint64_t, PendingWrite> writes_;              // by log index
  std::map<uint64_t, PendingRead> reads_;                // by read ctx, awaiting ReadIndex
  std::multimap<uint64_t, PendingRead> reads_at_index_;  // by read index, awaiting apply
  struct HeldReply {
    Origin origin;
    std::string bytes;
    int64_t deadline_ms;
  };
  std::map<uint64_t, HeldReply> all_waiting_;  // commit = all: applied, awaiting every replica

  // commit = async: the leader executes a write when it proposes it and answers once the
  // entry is durable in its own log. What the execution changed is kept so it can be undone if
  // the entry never commits (leadership lost), and so a snapshot taken meanwhile shows the
  // keyspace as of the applied index, without the speculative effects.
  struct Speculative {
    uint64_t term;
    std::vector<std::pair<std::string, std::optional<Value>>> undo;  // before-images
  };
  IndexQueue<Speculative> speculative_;                       // by log index
  IndexQueue<std::pair<Origin, std::string>> async_replies_;  // sent once durable
  // `origin` null: no client waits (an eviction entry).
  void speculate_write(const Origin* origin, const LoggedCommand& cmd, uint64_t index);
  // Proposes a client command or transaction (leader only); see submit_write.
  void submit(const Origin& origin, const LoggedCommand& cmd);
  // Not the leader (or a relayed request of another term): relays a client's request to the
  // leader, or refuses a relayed one.
  Dispatch relay(const Origin& o, bool write, std::span<const std::string_view> args,
                 uint8_t read_mode, int64_t now_ms, resp::Writer& w);
  // An entry of the log after t.checked_through changes a key t watches (or that part of the
  // log is compacted away, or longer than kMaxWatchScan: then it is assumed to).
  bool watched_changed(const Transaction& t) const;
  // Runs a logged client command (its reply into w) or transaction (an array of its replies)
  // on the keyspace, reporting changes to the node's key events. before_key(key) is called for
  // each key a command names, before that command runs.
  template <typename Fn>
  void run_logged(const LoggedCommand& cmd, resp::Writer& w, Fn&& before_key);
  void rollback_speculative();
};

}  // namespace rkv
