// Node: hosts a node's keyspaces and executes client data commands against them. Sans-IO and
// deterministic (DESIGN.md §2): it never touches a socket, thread or clock. Time comes in as
// now_ms; durable state goes out as persist requests that the driver (runtime or simulator)
// carries out and then acknowledges.
//
// Durability contract (single-node / local apply):
//  * execute() applies a write to memory at once and returns a wait token; its reply must not
//    be sent to the client before on_persisted(token') with token' >= token.
//  * take_persist() hands the driver every change made since the last call, as one atomic
//    batch, tagged with the highest token it covers and whether it must be synced (fsync
//    "always"/"batch" => sync; "never" => not). The driver writes batches in the order taken.
//  * Reads return token 0, but the driver keeps each connection's replies in request order,
//    so a read is never answered before an earlier write on the same connection.
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
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/config.h"
#include "core/random.h"
#include "core/status.h"
#include "node/engine.h"
#include "node/key_events.h"
#include "node/raft_group.h"
#include "node/store.h"
#include "node/wire.h"
#include "resp/commands.h"
#include "resp/writer.h"
#include "storage/storage.h"

namespace rkv {

struct PersistRequest {
  WriteBatch batch;
  bool sync = false;
  uint64_t token = 0;  // the highest wait token this batch makes durable
};

// Who asked: lets the node answer later, on the same connection, in the client's protocol.
struct ClientRequest {
  uint64_t client_id = 0;                  // unique per connection for the life of the process
  uint64_t seq = 0;                        // per-connection request number, increasing
  int proto = 2;                           // RESP version of the connection
  std::optional<ReadMode> read_mode;       // READMODE override; unset = the keyspace's setting
  std::optional<Consistency> consistency;  // CONSISTENCY override (leaderless keyspaces)
};

// A reply produced after execute() returned kDeferred, encoded in the request's protocol.
struct DeferredReply {
  uint64_t client_id = 0;
  uint64_t seq = 0;
  std::string bytes;
};

// A message for a peer, addressed by its index in Config::nodes. Safe to send at once: the
// node holds back every message whose promise depends on a write until that write is durable.
struct PeerSend {
  uint32_t to = 0;
  std::string payload;
  // May wait (up to raft.async_append_delay_us) to leave with later messages to the same peer:
  // nothing waits on its delivery. Messages to a peer still arrive in the order sent.
  bool lazy = false;
};

class Node {
 public:
  // `storage` must outlive the Node. `seed` seeds the node's PRNG (election timeouts). `clock`
  // (which must outlive the Node) measures protocol time: Raft ticks, leases, deadlines,
  // staleness (core/clock.h). Without one, the `now_ms` of the inputs serves as protocol time
  // too: only for tests whose `now_ms` never goes back.
  Node(const Config& config, Storage* storage, uint64_t seed = 1,
       const MonotonicClock* clock = nullptr);
  ~Node();

  // Loads every key from storage, verifying each record's checksum. A corrupt record is an
  // error naming the key: the node refuses to start rather than serve damaged data.
  Status open(int64_t now_ms);

  const Config& config() const { return config_; }
  const Store& store() const { return store_; }
  // Clients waiting for a change to keys, applied on this node by any path (WATCH, blocking
  // pops; see key_events.h): the driver registers them and drains take_fired().
  KeyEvents& watches() { return watches_; }
  KeyEvents& blocked() { return blocked_; }
  // Index of this node in config().nodes; 0 for a single node.
  uint32_t self_index() const { return self_index_; }

  // Executes one command from a client (arity already checked). For kReady/kAfterPersist the
  // reply is in `w`; for kDeferred it comes later from take_replies().
  Dispatch execute(const ClientRequest& req, const resp::CommandSpec& spec,
                   std::span<const std::string_view> args, int64_t now_ms, resp::Writer& w);
  // --- transactions (MULTI ... EXEC; docs/guarantees.md) ---
  // Admits a command queued in a transaction: *ks is the keyspace the transaction is bound to
  // so far (-1: none yet), updated. Returns the error text (empty: admitted) when the command
  // cannot join: its keys span keyspaces of which one is replicated, or it names another
  // keyspace than the transaction's when either is replicated, or a leaderless keyspace
  // (transactions are defined on single-node and primary keyspaces only), or it names no key
  // on a cluster (it would have no keyspace to run in).
  std::string admit_to_transaction(const resp::CommandSpec& spec,
                                   std::span<const std::string_view> args, int64_t* ks) const;
  // WATCH of keys by a client: registers them in watches(). Error text (nothing registered)
  // when one belongs to a leaderless keyspace.
  std::string watch(uint64_t client_id, std::span<const std::string_view> keys);
  // The key holds a value whose expiry time has passed at now_ms (not yet removed). A watched
  // key that expires after WATCH aborts EXEC, as in Redis.
  bool key_expired(std::string_view key, int64_t now_ms) const;
  // Runs a transaction whose client's WATCH did not fire: on this node's state (single node,
  // local keyspaces) or as one entry of its primary keyspace's log (relayed to the leader from
  // a follower). The reply is an array of the commands' replies, nil when the leader found a
  // watched key changed, or an error (keys of several keyspaces, no leader, ...).
  Dispatch execute_transaction(const ClientRequest& req, Transaction txn, int64_t now_ms,
                               resp::Writer& w);

  // Single-node convenience: execute() for an anonymous client; returns the wait token (0 when
  // the reply may be sent at once). Never defers.
  uint64_t execute(const resp::CommandSpec& spec, std::span<const std::string_view> args,
                   int64_t now_ms, resp::Writer& w);

  // A payload from peer `from` (index in Config::nodes). Garbage is logged-and-dropped by the
  // caller's transport; here a payload that fails to decode is counted and ignored.
  void on_peer_message(uint32_t from, std::string_view payload, int64_t now_ms);

  // Periodic work: expiry sweep, replication timers, request deadlines. Call at least every
  // 10 ms of the driver's clock; the node converts elapsed time into protocol ticks.
  void tick(int64_t now_ms);

  // The client went away: its pending deferred replies are dropped.
  void on_client_closed(uint64_t client_id);

  // Runs the replication groups' Ready loops. Client commands and peer messages only feed the
  // groups; their effects (log writes, peer messages, replies) are produced here, so that every
  // input handled since the last call shares one log write and one message per peer. Drivers
  // call it after a batch of inputs, before draining the effects below; tick() and
  // on_persisted() pump by themselves.
  void pump(int64_t now_ms);

  // While `error` is not empty, every command that writes (a transaction with one included),
  // from a client or relayed by a peer, is answered with it as a RESP error before it touches
  // any state: the driver cannot make more writes durable (a full disk; docs/operations.md).
  // Reads and peer traffic go on. `error` starts with the error code ("MISCONF ..."). Every
  // engine is told when refusal starts or ends (Engine::set_disk_full): a Raft leader hands
  // its leadership to a follower with room, and no keyspace campaigns meanwhile.
  void refuse_writes(std::string error);
  const std::string& write_refusal() const { return write_refusal_; }

  // --- memory limit (maxmemory; docs/configuration.md, [memory]) ---
  // Changes the limit, policy or samples in force (CONFIG SET).
  void set_memory_settings(const MemorySettings& m);
  const MemorySettings& memory_settings() const { return config_.memory; }
  // The driver's measurement of the memory the limit applies to (the allocator's bytes in use,
  // less what the storage engine bounds by its own settings), at least every tick while a
  // limit is set. Until the next one the node estimates: it adds what each write that may
  // grow memory brings and subtracts what it evicts.
  void set_used_memory(uint64_t bytes);
  uint64_t used_memory_estimate() const {
    const uint64_t up = mem_measured_ + mem_added_;
    return up > mem_freed_ ? up - mem_freed_ : 0;
  }
  // Keys this node evicted (local keyspaces) or, as a leader, had its log evict.
  uint64_t evicted_keys() const { return evicted_keys_; }

  // --- effects, drained by the driver after every input ---
  bool has_pending_persist() const { return !pending_.batch.empty(); }
  PersistRequest take_persist();
  // The driver reports that every batch up to `token` is durable.
  void on_persisted(uint64_t token);
  uint64_t durable_token() const { return durable_token_; }
  uint64_t last_token() const { return next_token_ - 1; }
  // Primary keyspaces write their snapshot images as blobs (BlobOp) instead of inside a batch,
  // where a write of the whole keyspace held up the group commit of every client write behind
  // it. Off by default (images go in the batch): for drivers that do not carry out BlobOps.
  // Set before open().
  void set_image_blobs(bool on) { image_blobs_ = on; }
  bool image_blobs() const { return image_blobs_; }
  bool has_blob_ops() const { return !blob_ops_.empty(); }
  std::vector<BlobOp> take_blob_ops();
  void on_blob_done(BlobOp op, const Status& st, int64_t now_ms);
  std::vector<PeerSend> take_sends();
  std::vector<DeferredReply> take_replies();

  // --- replication introspection (ROLE, ROLES, INFO, STALENESS, LOSTWRITES) ---
  bool clustered() const { return !engines_.empty(); }
  // The engine of a keyspace, nullptr when the keyspace applies locally (single node).
  const Engine* engine(uint32_t keyspace) const {
    return keyspace < engines_.size() ? engines_[keyspace].get() : nullptr;
  }
  Engine* engine(uint32_t keyspace) {
    return keyspace < engines_.size() ? engines_[keyspace].get() : nullptr;
  }
  // (keyspace name, field, value) describing every engine (INFO keyspace_replication, /metrics).
  struct EngineField {
    std::string keyspace, field, value;
  };
  std::vector<EngineField> describe_engines() const;
  // The Raft group of a keyspace, nullptr when the keyspace is not replicated through Raft.
  const raft::Raft* raft_group(uint32_t keyspace) const;
  // (keyspace name, status) of every Raft group, in keyspace order.
  std::vector<std::pair<std::string, GroupStatus>> replication_status() const;
  // Leadership transfers the primary keyspaces started because the disk was full (INFO).
  uint64_t disk_full_handoffs() const;
  using Staleness = ReadStaleness;
  // Staleness of the last follower read this client made (nullopt: none yet).
  std::optional<Staleness> staleness(uint64_t client_id) const;
  struct LostWrite {
    std::string keyspace;
    uint64_t term = 0, index = 0;
    int64_t proposed_ms = 0;
    std::string command;  // the command, space-separated
  };
  const std::vector<LostWrite>& lost_writes() const { return lost_writes_; }
  // LOSTWRITES RESET: forgets every record (in memory now, on disk with the pending batch).
  // Returns how many there were.
  size_t clear_lost_writes();
  // Operational notes for the driver to log, drained: warnings (torn records dropped, lost
  // writes, ...) and events (leadership gained or lost).
  struct Note {
    bool warning;
    std::string text;
  };
  std::vector<Note> take_notes() { return std::exchange(notes_, {}); }

  // Keys for the stored form of user data (also used by tests and tools).
  static std::string data_key(std::string_view keyspace, std::string_view key);
  static std::string encode_value(const Value& v);
  static bool decode_value(std::string_view record, Value* v);

 private:
  friend class RaftGroup;
  friend class LeaderlessEngine;
  friend class MultiLeaderEngine;
  class PendingSink;
  struct Forward {
    Origin origin;
    uint32_t keyspace;
    bool write;
    int64_t deadline_ms;
    std::vector<std::string> args;  // kept only while no leader is known
    uint8_t read_mode;
    int32_t target = -1;  // the leader it was sent to
  };

  ChangeSink& change_sink();
  uint64_t new_token() {
    pending_.token = next_token_++;
    return pending_.token;
  }
  void deliver(const Origin& o, std::string bytes);
  void send_peer(uint32_t to, char tag, std::string body);
  void send_peer(PeerSend s) { sends_.push_back(std::move(s)); }
  void note(std::string s) { notes_.push_back({true, std::move(s)}); }
  void note_event(std::string s) { notes_.push_back({false, std::move(s)}); }
  void note_truncated(uint32_t keyspace, const raft::Entry& e);
  // Which keyspace a command's keys belong to (-1: it names none); `mixed` when they span
  // several, `replicated` when one of those is replicated.
  struct KeyRoute {
    int64_t ks = -1;
    bool mixed = false, replicated = false;
  };
  KeyRoute route_keys(const resp::CommandSpec& spec, std::span<const std::string_view> args) const;
  Dispatch execute_transaction(const Origin& o, Transaction& txn, int64_t now_ms, resp::Writer& w);
  // Why keyspace ks takes no transaction (empty: it does).
  std::string transaction_refusal(uint32_t ks) const;
  // A request a peer relayed (or one held until a leader was known): a command, or a
  // transaction (wire.h, encode_relayed_transaction).
  Dispatch run_relayed(const Origin& o, std::span<const std::string_view> args,
                       const RequestOptions& opts, int64_t now_ms, resp::Writer& w);
  Dispatch route(const Origin& o, const resp::CommandSpec& spec,
                 std::span<const std::string_view> args, const RequestOptions& opts, int64_t now_ms,
                 resp::Writer& w);
  // Runs a command on this node's own state (single node, local keyspaces); the wait token
  // decides when the reply may go.
  Dispatch execute_local(const resp::CommandSpec& spec, std::span<const std::string_view> args,
                         int64_t now_ms, resp::Writer& w);
  RaftGroup* primary(uint32_t ks) const {
    return engines_[ks] ? engines_[ks]->as_primary() : nullptr;
  }
  void forward(const Origin& o, uint32_t ks, bool write, std::span<const std::string_view> args,
               uint8_t read_mode, int64_t now_ms);
  void send_forward(uint64_t id, Forward& f);
  void handle_forward(uint32_t from, std::string_view body, int64_t now_ms);
  void handle_forward_reply(std::string_view body);
  void expire_forwards(int64_t now_ms);
  // KEYS, DBSIZE and SCAN when leaderless keyspaces exist: this node's own keys of the other
  // keyspaces plus every leaderless keyspace's keys listed across its replicas.
  struct Listing {
    Origin origin;
    resp::CommandId command;
    size_t parts_left = 0;
    std::vector<std::string> keys;
    std::string error;
    uint64_t next_cursor = 0;  // SCAN
    bool strings_only = true;  // SCAN TYPE: leaderless keys are strings
  };
  Dispatch list_keys(const Origin& o, const resp::CommandSpec& spec,
                     std::span<const std::string_view> args, int64_t now_ms, resp::Writer& w);
  // A leaderless engine's part of a listing (error: the listing fails with it).
  void listed(uint64_t listing, std::vector<std::string> keys, std::string error);
  // The SCAN cursor of the first range of the first leaderless keyspace at or after `ks`; 0
  // when there is none (the iteration ends).
  uint64_t leaderless_cursor(size_t ks) const;

  Config config_;
  Storage* storage_;
  Store store_;
  KeyEvents watches_, blocked_;
  // Every change reaches it: PendingSink reports to it, and a primary keyspace, which stores no
  // rows (its state is the snapshot image plus the log), writes through it alone.
  KeyEventSink key_events_{{&watches_, &blocked_}};
  std::unique_ptr<PendingSink> sink_;
  PersistRequest pending_;
  bool image_blobs_ = false;
  // The pending batch must be synced whatever the fsync mode: it holds a record after whose
  // durability blobs are removed (fsync = "never" would otherwise leave, after a machine crash,
  // a record naming a blob already gone).
  bool force_sync_ = false;
  std::vector<BlobOp> blob_ops_;
  uint64_t next_token_ = 1;
  uint64_t durable_token_ = 0;
  uint32_t self_index_ = 0;
  std::vector<PeerSend> sends_;
  std::vector<DeferredReply> replies_;
  std::unique_ptr<Random> random_;
  std::vector<std::unique_ptr<Engine>> engines_;  // by keyspace index; null = applies locally
  std::map<uint64_t, Forward> forwards_;          // relayed requests by forward id
  std::map<uint64_t, Listing> listings_;
  uint64_t next_listing_ = 1;
  // Relayed requests already executed, per peer (FIFO-bounded): a duplicated delivery of a
  // relayed write must not execute it twice.
  struct SeenForwards {
    std::set<uint64_t> ids;
    std::deque<uint64_t> order;
  };
  std::map<uint32_t, SeenForwards> seen_forwards_;
  uint64_t next_forward_id_ = 0;
  std::map<uint64_t, Staleness> staleness_;  // by client id
  std::vector<LostWrite> lost_writes_;       // also stored, under lost_write_key(seq)
  uint64_t next_lost_seq_ = 1;
  static std::string lost_write_key(uint64_t seq);
  Status load_lost_writes();
  // Loads the element rows of the collections whose heads open() restored.
  Status load_elements(WriteBatch* fixups);
  std::vector<Note> notes_;
  const MonotonicClock* clock_;
  // Protocol time (see the constructor).
  int64_t mono_ms() const { return clock_ ? clock_->now_ms() : last_now_ms_; }
  // A request deadline `ms` from now, in protocol time.
  int64_t deadline_in(uint64_t ms) const { return mono_ms() + static_cast<int64_t>(ms); }
  int64_t last_now_ms_ = 0;
  int64_t last_sweep_ms_ = 0;
  std::string write_refusal_;  // see refuse_writes
  // --- memory limit (node_memory.cc) ---
  bool over_memory_limit() const {
    return config_.memory.maxmemory != 0 && used_memory_estimate() > config_.memory.maxmemory;
  }
  // Whether a command that may grow memory (denyoom) may run: false, with Redis's -OOM error
  // in w, when the node is over the limit and cannot evict for the command's keyspace.
  bool admit_memory(const resp::CommandSpec& spec, std::span<const std::string_view> args,
                    int64_t now_ms, resp::Writer& w);
  // One bounded eviction step: evicts keys of local keyspaces at once and proposes the
  // evictions of primary keyspaces this node leads (one log entry in flight per keyspace),
  // until the estimate is under the limit or `max_keys` keys were chosen. False when no key
  // could be chosen and none is being evicted (nothing the policy may evict).
  bool evict(int64_t now_ms, size_t max_keys);
  eviction::Evictor evictor_{0x6576696374ull};
  uint64_t mem_measured_ = 0, mem_added_ = 0, mem_freed_ = 0;
  uint64_t evicted_keys_ = 0;
  uint64_t bad_peer_messages_ = 0;
};

}  // namespace rkv
