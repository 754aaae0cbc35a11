// LeaderlessEngine: the `leaderless` model for one keyspace (Dynamo-style). Any node accepts a
// client command: reads are coordinated where they arrive, writes by a home replica of the key
// (a node that is not one relays the command to one). The coordinator sends the request to the
// key's N home replicas on the consistent-hash ring and answers after W acknowledgements
// (writes) or R responses (reads); per connection, CONSISTENCY overrides R/W.
//
// Every stored value is a versions::Versioned (dotted version vectors): a write names the
// versions it replaces through the client's causal context, so concurrent writes become
// siblings (conflict = "siblings") or are resolved by hybrid-logical-clock order, counting what
// is discarded (conflict = "lww"). Deletes are tombstones; TTLs are absolute expiry times that
// travel with the value.
//
// Repair paths: read repair (blocking/async/off), hinted handoff (sloppy quorum: a down home
// replica's write goes to the next node on the ring with a hint naming it; hints are durable,
// bounded, and replayed with backpressure when it returns), and Merkle-tree anti-entropy per
// token range (only keys under differing leaves travel). Liveness comes from heartbeat gossip
// and a phi accrual failure detector.
//
// Durability: a replica acknowledges a write only once the node's batch holding it is durable
// (Node::on_persisted), so an acknowledgement means "on disk per fsync" everywhere.
//
// Sans-IO like every engine: time comes in as arguments, randomness from the node's PRNG,
// messages leave through Node::send_peer, rows through the node's pending batch.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
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
#include "leaderless/gossip.h"
#include "leaderless/merkle.h"
#include "leaderless/messages.h"
#include "leaderless/ring.h"
#include "node/engine.h"
#include "node/versioned_commands.h"
#include "versions/dvv.h"
#include "versions/hlc.h"

namespace rkv {

class Node;

// Deliberately broken variants (simulator and tests only), in RaftSettings::bugs' upper bits.
inline constexpr uint32_t kBugRepairWritesOlder = 1u << 16;   // read repair sends a stale copy
inline constexpr uint32_t kBugHintDropped = 1u << 17;         // a hint is acked but not kept
inline constexpr uint32_t kBugTimeoutCountsAsAck = 1u << 18;  // a timed-out replica counts
inline constexpr uint32_t kBugTombstoneForgotten = 1u << 19;  // replicas drop tombstones

struct LeaderlessStats {
  uint64_t writes = 0, reads = 0;  // coordinated here
  uint64_t relayed = 0;            // writes relayed to a home replica
  uint64_t write_timeouts = 0, read_timeouts = 0, unavailable = 0;
  uint64_t lww_discarded = 0;        // writes coordinated here that LWW discarded
  uint64_t max_siblings = 0;         // most siblings one object held here
  uint64_t read_repairs = 0;         // repair writes sent by reads coordinated here
  uint64_t repairs_refused = 0;      // reads failed as replicas refused their blocking repair
  uint64_t writes_refused = 0;       // writes failed as too many replicas refused to store them
  uint64_t refusals_redirected = 0;  // refused writes sent on to a stand-in (sloppy)
  uint64_t hints_stored = 0, hints_delivered = 0;
  uint64_t hints_dropped_window = 0, hints_dropped_bytes = 0;
  uint64_t sync_rounds = 0, sync_equal = 0;  // anti-entropy comparisons started / found equal
  uint64_t sync_keys = 0, sync_bytes = 0;    // objects and bytes sent by anti-entropy
  uint64_t tombstones_collected = 0;
  uint64_t bad_messages = 0;
};

class LeaderlessEngine final : public Engine {
 public:
  LeaderlessEngine(Node* node, uint32_t keyspace, Random* random);
  ~LeaderlessEngine() override;

  Status open(int64_t now_ms) override;
  Dispatch execute(const Origin& o, const resp::CommandSpec& spec,
                   std::span<const std::string_view> args, const RequestOptions& opts,
                   int64_t now_ms, resp::Writer& w) override;
  void on_peer_message(uint32_t from, std::string_view body, int64_t now_ms) override;
  void tick(int64_t now_ms) override;
  // Messages produced by the inputs since the last call leave, one payload per peer.
  void pump(int64_t) override { flush(); }
  void on_persisted(uint64_t token, int64_t now_ms) override;
  void describe(std::vector<std::pair<std::string, std::string>>* out,
                int64_t now_ms) const override;
  LeaderlessEngine* as_leaderless() override { return this; }
  const LeaderlessEngine* as_leaderless() const override { return this; }

  const leaderless::Ring& ring() const { return ring_; }
  const LeaderlessStats& stats() const { return stats_; }
  // up / suspect / down of a node as this node's failure detector sees it, and its phi.
  const char* node_state(uint32_t node) const;
  double node_phi(uint32_t node) const;
  // Reads judged for freshness, by time since the newest version was written: a read is fresh
  // when its reply showed everything every replica it asked held (judged once all answered).
  // Bucket i counts reads whose newest version was written at most kFreshnessBoundsMs[i] ms
  // before the read started (the last bucket: longer ago).
  static constexpr int64_t kFreshnessBoundsMs[] = {0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000};
  static constexpr size_t kFreshnessBuckets = std::size(kFreshnessBoundsMs) + 1;
  struct Freshness {
    std::array<uint64_t, kFreshnessBuckets> judged{}, fresh{};
  };
  const Freshness& freshness() const { return freshness_; }
  // Starts comparing every range this node replicates with each other replica (REPAIR).
  void start_repair();
  // Key listings (KEYS, SCAN, DBSIZE): the keys matching a glob pattern that have a live
  // version once the versions of the replicas that answered are merged, over every range
  // (range = leaderless::kAllRanges) or one. Each range needs R answering replicas (self
  // included), else the listing fails rather than be silently incomplete. Hints held for other
  // nodes are not listed. The answer goes to Node::listed(listing, ...), perhaps before this
  // returns.
  void list(uint64_t listing, std::string pattern, uint32_t range, int64_t now_ms);
  size_t range_count() const { return ring_.range_count(); }
  // The object this node stores for a key (tests and the simulator's convergence checker).
  const versions::Versioned* local_object(std::string_view key) const;
  size_t object_count() const { return object_count_; }
  size_t hint_count() const;
  // Visits every stored object (key, object).
  template <typename Fn>
  void for_each_object(Fn&& fn) const {
    for (const Objects& in_range : objects_)
      for (const auto& [slot, stored] : in_range)
        fn(std::string_view(slot.second), stored.obj);
  }

 private:
  using Slot = std::pair<uint64_t, std::string>;  // (ring position, key)
  struct SlotHash {
    size_t operator()(const Slot& s) const noexcept { return s.first; }  // already a hash
  };
  // One key's versions as this replica holds them, with its Merkle item hash (the key and the
  // versions' digest) kept so a change costs one digest, not two.
  struct Stored {
    versions::Versioned obj;
    uint64_t item = 0;
    uint64_t token = 0;  // the node's batch that holds this version (a read answers once durable)
  };
  // The objects of one token range: point lookups by hash, and a range's keys found together
  // (anti-entropy compares ranges) without ordering every key of the node in one tree.
  using Objects = std::unordered_map<Slot, Stored, SlotHash>;
  using Op = versioned::Command;

  // One client command, answered when all its parts (one per key) are done.
  struct Client {
    Origin origin;
    Op op;
    size_t parts_left = 0;
    std::vector<std::optional<versions::Versioned>> results;  // per key, merged read result
    int64_t existed = 0;                                      // DEL: keys live before
    std::string error;                                        // first failure
  };
  struct Target {
    uint32_t node;
    int32_t hint_for = -1;  // >= 0: a fallback holding the write for this home replica
    bool acked = false;     // answered, whether it stored the write or refused it
    bool refused = false;   // answered that it could not store it (a full disk, hint bounds)
  };
  struct WriteReq {
    uint64_t client;  // Client id, 0 when none (read repair)
    size_t part = 0;
    std::string key;
    versions::Versioned obj;
    size_t needed = 0, acks = 0;
    bool replied = false;
    bool self_acked = false;  // this node's own copy is durable (counted in acks)
    std::vector<Target> targets;
    std::vector<uint32_t> homes;
    size_t next_fallback = 0;  // sloppy: where on the key's ring walk the next stand-in is sought
    int64_t deadline = 0;
  };
  struct ReadReq {
    uint64_t client;
    size_t part = 0;
    std::string key;
    size_t needed = 0;
    std::vector<uint32_t> asked;
    std::vector<std::pair<uint32_t, versions::Versioned>> answers;
    bool replied = false;
    size_t repairs_left = 0;  // blocking read repair: acks still awaited before replying
    // Blocking read repair: replicas that refused their repair (they cannot write: a full
    // disk). Their answers do not count toward R.
    std::vector<uint32_t> refused_repair;
    versions::Versioned merged;
    int64_t deadline = 0;
    // Freshness: what the reply showed, and every answer merged (judged once all answered).
    int64_t start_wall = 0;
    versions::Versioned shown, all;
  };
  struct Relay {
    Origin origin;
    int64_t deadline;
    uint32_t to = 0;   // the coordinating replica it was sent to
    int64_t sent = 0;  // mono ms
  };
  // A home replica with a relay unanswered for longer than this is passed over for new relays
  // while another home is available: a paused or overloaded node stops taking the writes of
  // non-replica nodes well before the failure detector suspects it.
  bool slow_relay_target(uint32_t node, int64_t mono_now) const;
  struct Hint {
    versions::Versioned obj;
    int64_t stored_ms = 0;  // wall clock when first stored
    size_t bytes = 0;
    uint64_t token = 0;  // the node's batch that holds it
  };
  struct HintSet {
    std::map<std::string, Hint> keys;
    size_t bytes = 0;
    bool in_flight = false;  // a hand-off batch awaits its acknowledgements
    int64_t in_flight_deadline = 0;
  };
  struct Handoff {
    uint32_t target;
    std::string key;
    uint64_t digest;
  };
  // Something to do once the node's batch up to `token` is durable.
  struct AfterDurable {
    uint64_t token;
    int32_t peer;  // >= 0: send a kWriteAck for `id` to it; -1: local ack of write `id`
    uint64_t id;
    bool ok = true;
  };
  // A read's answer held until the versions it shows are durable: sent to `to`, or taken as
  // this node's own answer when `to` is this node.
  struct HeldAnswer {
    uint64_t token;
    uint32_t to;
    uint64_t id;  // the read
    std::string key;
    versions::Versioned obj;
  };

  const KeyspaceConfig& kc() const;
  const LeaderlessSettings& settings() const;
  uint32_t self() const;
  int64_t mono() const;
  bool up(uint32_t node, int64_t mono_now) const;
  size_t needed(std::optional<Consistency> c, bool write, std::string* error) const;
  uint64_t next_id() { return ++next_id_; }

  // --- client side ---
  Dispatch start_read(const Origin& o, Op op, std::span<const std::string_view> keys, size_t needed,
                      int64_t now_ms);
  // `stamp`: the HLC reading a relayed write was given when the client sent it (0: now).
  Dispatch start_write(const Origin& o, Op op, std::span<const std::string_view> args,
                       size_t needed, int64_t now_ms, resp::Writer& w, uint64_t stamp = 0);
  void relay_write(const Origin& o, std::span<const std::string_view> args, size_t needed,
                   uint32_t to);
  void coordinate_write(uint64_t client, size_t part, std::string_view key, versions::Sibling s,
                        const versions::VersionVector& ctx, size_t needed, int64_t now_ms);
  void part_done(uint64_t client, size_t part, std::optional<versions::Versioned> result,
                 std::string error);
  void finish_client(uint64_t id, Client& c, int64_t now_ms);
  void reply(const Origin& o, std::string bytes);
  void check_write(uint64_t id, WriteReq& r);
  void stand_in(uint64_t id, WriteReq& r, size_t refused);
  void hint_uncovered(const WriteReq& r, int64_t now_ms);
  void check_read(uint64_t id, ReadReq& r, int64_t now_ms);
  void repair(ReadReq& r, uint64_t read_id, bool blocking);

  // --- replica side ---
  // Merges `obj` into the stored object; returns true when it changed (and persisted it).
  bool merge_local(std::string_view key, const versions::Versioned& obj, uint64_t* token);
  void store_object(const Slot& slot, versions::Versioned obj, uint64_t* token);
  // What this replica holds of `key` (its object and any hints for it); `token`, when given,
  // is set to the node's batch that holds all of it: a read answers only once that is durable,
  // so no read returns a version a crash could still take back from this replica.
  versions::Versioned read_local(std::string_view key, uint64_t* token = nullptr) const;
  // Answers read `id` with `obj` (to `to`, or as this node's own answer) once `token` is durable.
  void answer_read(uint32_t to, uint64_t id, std::string_view key, versions::Versioned obj,
                   uint64_t token);
  bool store_hint(uint32_t target, std::string_view key, const versions::Versioned& obj,
                  int64_t now_ms, uint64_t* token);
  void erase_hint(uint32_t target, std::string_view key);
  void ack_after(uint64_t token, int32_t peer, uint64_t id, bool ok);
  void acknowledge(const AfterDurable& a);
  void send_answer(HeldAnswer a);
  void handle(uint32_t from, leaderless::Msg& m, int64_t now_ms);
  void on_write_ack(uint32_t from, uint64_t id, bool ok);
  void on_read_reply(uint32_t from, leaderless::Msg& m, int64_t now_ms);

  // --- background ---
  void gossip(int64_t now_ms);
  void handoff(int64_t now_ms);
  void expire_hints(int64_t now_ms);
  void anti_entropy(int64_t now_ms);
  void sync_with(size_t range, uint32_t peer);
  void on_sync_request(uint32_t from, const leaderless::Msg& m);
  void on_sync_objects(uint32_t from, leaderless::Msg& m, bool push);
  void collect_leaves(size_t range, const std::vector<uint32_t>& leaves,
                      std::vector<leaderless::KeyedObject>* out) const;
  void expire_requests(int64_t now_ms);
  void note_in_sync(size_t range, uint32_t peer);
  void collect_tombstones(int64_t now_ms);
  // Keeps gc_candidates_ current: objects holding a tombstone or an expiring value.
  void note_mortality(const Slot& slot, const versions::Versioned& obj);
  leaderless::MerkleTree* tree(size_t range);
  uint64_t item_hash(const Slot& slot, const versions::Versioned& obj) const;
  Objects& objects_of(uint64_t hash) { return objects_[ring_.range_of(hash)]; }
  const Objects& objects_of(uint64_t hash) const { return objects_[ring_.range_of(hash)]; }

  void send(uint32_t to, const leaderless::Msg& m);
  void flush();
  std::string row_key(std::string_view key) const;
  std::string hint_key(uint32_t target, std::string_view key) const;
  void keep_lww(versions::Versioned* obj);
  bool bug(uint32_t b) const;

  Node* node_;
  uint32_t ks_;
  std::string name_;
  Random* random_;
  leaderless::Ring ring_;
  leaderless::Gossip gossip_;
  versions::HlcClock hlc_;
  versions::ActorId actor_ = 0;
  // The highest counter of this incarnation's dots in the context of any object it collected
  // (a later incarnation is another actor, so memory suffices).
  uint64_t dot_floor_ = 0;
  std::vector<Objects> objects_;  // by ring range
  size_t object_count_ = 0;
  std::vector<std::unique_ptr<leaderless::MerkleTree>> trees_;  // by range; null: not a replica
  std::map<uint32_t, HintSet> hints_;                           // by target node
  std::map<uint64_t, Handoff> handoffs_;                        // by message id
  std::map<uint64_t, Client> clients_;
  std::map<uint64_t, WriteReq> writes_;
  std::map<uint64_t, ReadReq> reads_;
  std::map<uint64_t, Relay> relays_;
  std::map<uint64_t, uint64_t> repair_acks_;
  struct ListReq {
    uint64_t listing = 0;  // Node's id
    std::string pattern;
    uint32_t range = 0;
    std::set<uint32_t> waiting;   // asked; their last part not in yet
    std::set<uint32_t> answered;  // every part in (this node included)
    std::unordered_map<std::string, versions::Versioned> merged;
    int64_t deadline = 0;  // mono ms
  };
  std::map<uint64_t, ListReq> lists_;
  void collect_listing(uint32_t range, std::string_view pattern,
                       std::vector<leaderless::KeyedObject>* out) const;
  void take_listing(ListReq& l, std::vector<leaderless::KeyedObject>& objects);
  void finish_list(uint64_t id, int64_t now_ms);
  struct SeenRelays {  // relayed writes already run, per peer (FIFO-bounded)
    std::set<uint64_t> ids;
    std::deque<uint64_t> order;
  };
  std::map<uint32_t, SeenRelays> seen_relays_;  // blocking read repair: write id -> read id
  std::deque<AfterDurable> after_durable_;
  std::deque<HeldAnswer> held_answers_;
  struct Outbox {
    std::string payload;  // 'L', engine header, kBatch, messages
    size_t count = 0;
  };
  std::map<uint32_t, Outbox> outbox_;  // by peer, until flush()
  // Anti-entropy: ranges this node replicates, the next one to compare, when each range was
  // last found in sync with each other replica (mono ms), and comparisons in flight.
  std::vector<size_t> my_ranges_;
  size_t next_range_ = 0;
  std::map<std::pair<size_t, uint32_t>, int64_t> last_sync_;
  std::map<uint64_t, int64_t> sync_deadlines_;  // by id (mono ms)
  Slot gc_cursor_;                              // where the tombstone collector goes on
  // What the collector looks at (objects that can die), with when it first saw each dead.
  std::map<Slot, int64_t> gc_candidates_;
  // Objects collected lately, until (mono ms): what they covered is not taken back from peers.
  std::map<Slot, std::pair<versions::Versioned, int64_t>> forgotten_;
  std::map<uint64_t, std::pair<size_t, uint32_t>> syncs_;  // by id: (range, peer)
  std::deque<std::pair<size_t, uint32_t>> repair_queue_;   // REPAIR: comparisons to start now
  int64_t last_gossip_ = 0, last_sync_start_ = 0, last_expire_ = 0, started_ms_ = 0;
  uint64_t next_id_ = 0;
  LeaderlessStats stats_;
  Freshness freshness_;
  void judge_freshness(const ReadReq& r);
};

}  // namespace rkv
