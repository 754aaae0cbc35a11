#include "sim/simulator.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#define XXH_STATIC_LINKING_ONLY  // XXH3_state_t by value: no allocation per run
#include <xxhash.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <ranges>
#include <set>
#include <tuple>
#include <type_traits>
#include <utility>

#include "check/convergence.h"
#include "check/counter_checker.h"
#include "check/leaderless_checker.h"
#include "check/linearizability.h"
#include "check/promises.h"
#include "check/set_checker.h"
#include "check/staleness_checker.h"
#include "core/checksum.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/varint.h"
#include "leaderless/messages.h"
#include "leaderless/ring.h"
#include "multileader/messages.h"
#include "node/engine.h"
#include "node/key_table.h"
#include "node/leaderless_engine.h"
#include "node/multileader_engine.h"
#include "node/node.h"
#include "node/versioned_commands.h"
#include "node/wire.h"
#include "raft/invariants.h"
#include "raft/raft.h"
#include "resp/commands.h"
#include "resp/writer.h"
#include "sim/event_queue.h"
#include "sim/judge.h"
#include "sim/partition.h"
#include "sim/regions.h"
#include "sim/reply.h"
#include "sim/workload.h"
#include "storage/storage.h"
#include "versions/dvv.h"

namespace rkv::sim {
namespace {

constexpr int64_t kUsPerMs = 1000;
constexpr int64_t kTickUs = 10 * kUsPerMs;       // node-clock period of Node::tick
constexpr int64_t kEpochMs = 1'700'000'000'000;  // node clocks start near a real epoch
constexpr int64_t kClientLinkMinUs = 20, kClientLinkMaxUs = 300;  // client <-> node one way
constexpr int64_t kQuiesceMs = 1'000;       // idle time before comparing replicas
constexpr int64_t kConvergeMaxMs = 10'000;  // replicas must agree within this after quiescing
// Multi-leader: the share of partitions that leave every node alone, and with regions, the
// share that cut a whole region off.
constexpr double kAllAloneP = 0.25;
constexpr double kRegionCutP = 0.3;
// Multi-leader with regions: WAN round trips the convergence bound allows on top of its LAN
// terms (each catch-up step -- a status, a resend, a state-transfer part -- waits for one).
constexpr int64_t kConvergeWanRoundTrips = 10;
constexpr int64_t kRetryBackoffMaxUs = 50 * kUsPerMs;  // liveness chains: wait before a retry
constexpr int64_t kLongThinkMaxUs = 1'500 * kUsPerMs;  // a client's longest idle spell
constexpr size_t kMaxArgs = 8;                         // most arguments a workload command has
// A follower read whose node could not bound its staleness is recorded with this one.
constexpr int64_t kUnknownStalenessMs = 1'000'000'000'000;
// Inputs a node resumes reading after a pause, in an order drawn per pause (defer_if_paused).
constexpr int64_t kResumeSpreadUs = 500;
// A batch a full disk refused is tried again after this (the server's kPersistRetryMs).
constexpr int64_t kPersistRetryUs = 200 * kUsPerMs;
constexpr int kSourceTimer = 0, kSourceDisk = 1, kSourcePeer = 2, kSourceClient = 2 + kMaxNodes;

// Compile-time probes for the Raft wiring of Node (landing in parallel): the simulator builds
// with or without it and tests skip when no replication group is reported.
template <typename N>
const raft::Raft* raft_group_of(const N& node, uint32_t ks) {
  if constexpr (requires { node.raft_group(ks); }) {
    return node.raft_group(ks);
  } else {
    return nullptr;
  }
}
template <typename C>
void set_raft_bugs(C& config, uint32_t bugs) {
  if constexpr (requires { config.raft.bugs; }) {
    config.raft.bugs = bugs;
  } else if constexpr (requires { config.raft_bugs; }) {
    config.raft_bugs = bugs;
  }
}

enum class Phase : unsigned char { kSafety, kLiveness, kFinal, kQuiesce };

struct HeldReply {
  uint64_t token;
  int client;
  uint64_t serial;
  std::string bytes;
};

// A node's monotonic clock (core/clock.h): simulated time at the node's own rate, from an
// arbitrary origin. It survives the node's crashes, as CLOCK_BOOTTIME survives a process.
class SimClock final : public MonotonicClock {
 public:
  SimClock(const EventQueue* q, int64_t drift_ppm) : q_(q), drift_ppm_(drift_ppm) {}
  int64_t now_ms() const override { return us() / kUsPerMs; }
  int64_t us() const { return kMonoOriginUs + q_->now() + q_->now() * drift_ppm_ / 1'000'000; }
  static constexpr int64_t kMonoOriginUs = 86'400'000'000;  // like a machine up for a day

 private:
  const EventQueue* q_;
  int64_t drift_ppm_;
};

struct SimNode {
  Config config;
  std::unique_ptr<MemStorage> storage;
  std::unique_ptr<SimClock> clock;  // protocol time; wall time adds offset and jumps
  std::unique_ptr<Node> node;       // null while crashed
  uint32_t incarnation = 0;
  int64_t offset_us = 0;  // wall clock: now = epoch + offset + monotonic + jumps
  int64_t drift_ppm = 0;
  int64_t jumps_us = 0;
  int64_t tick_period_us = kTickUs;  // simulated time per 10 ms of this node's clock
  int64_t paused_until = 0;
  // When the node resumes from a pause, the order in which it reads its inputs is part of the
  // seed: each source (timer, disk, each peer link, each client connection) resumes at its own
  // offset after paused_until, drawn on first use; a source's inputs keep their order.
  std::map<int, int64_t> resume_offsets_us;
  int64_t disk_free_at = 0;  // the disk completes batches in order
  // Blob ops (images) the node handed out, by number, carried out in order on their own "disk
  // thread" beside the batches; a crash drops those not yet done.
  std::map<uint64_t, BlobOp> blob_ops;
  std::set<std::string> refused_streams;  // images written in parts, a part of which was refused
  uint64_t next_blob_op = 0;
  int64_t blob_free_at = 0;
  // Full disk (the disk fault): until this time batch and image writes are refused. A refused
  // batch is kept and tried again (as the server does) before any later one; the node refuses
  // client writes meanwhile (Node::refuse_writes) and its Raft leaders hand leadership over.
  int64_t disk_full_until = 0;
  std::optional<PersistRequest> refused;
  bool refusing = false;  // refuse_writes is set on the node
  std::vector<HeldReply> held;
  std::vector<const raft::Raft*> groups;  // per keyspace, as registered with the checkers
  std::vector<std::pair<uint64_t, uint64_t>> votes;  // per keyspace: last (term, vote) seen
};

struct SimClient {
  int index = 0;
  int process = 0;  // history process id; a new one after an info op (Jepsen convention)
  int node = -1;    // bound node, -1 when not connected
  int home = -1;    // >= 0: reconnects to this node only (a client configured with one address)
  uint64_t conn_id = 0;
  uint32_t conn_incarnation = 0;
  uint64_t seq = 0;
  uint64_t serial = 0;  // op number, to match events to the op they belong to
  bool busy = false;
  bool stopped = false;
  ClientOp op;
  // Liveness chains: an op started after healing is retried until it gets a definite answer.
  bool chain = false;
  int64_t chain_start = 0;
  int chain_attempts = 0;
  std::string last_error;
  std::vector<ClientOp> queue;  // ops to run before drawing new ones (final reads)
};

class Simulator {
 public:
  Simulator(const SimOptions& o, std::ostream* log)
      : o_(o), log_(log), rng_(o.seed), net_(Partition::healed(o.nodes)) {
    XXH3_64bits_reset(&hash_);
  }

  SimResult run();

 private:
  // --- setup and phases ---
  void setup();
  bool run_until(int64_t deadline, const std::function<bool()>& done);
  void heal_everything();
  void check_liveness_deadlines();
  void start_final_reads();
  void check_convergence_after_quiesce();
  void check_histories();
  // --- leaderless model ---
  std::vector<SimKeyspace> setup_leaderless(Config& base, std::string* params);
  void observe_leaderless(int node, const WriteBatch& batch);
  void observe_hint_row(int node, std::string_view rest, std::string_view value);
  void watch_leaderless_message(int from, int to, std::string_view payload);
  void watch_hint(int from, int to, leaderless::Msg& m);
  // W: when a client learns that its write succeeded, at least as many nodes as it asked for
  // hold it (as their own copy or as a hint).
  void check_write_quorum(const ClientOp& c);
  bool storage_covers(int node, const std::string& key, const versions::Dot& d) const;
  const LeaderlessEngine* leaderless_engine(int node) const;
  check::HomeObjects leaderless_homes() const;
  void check_leaderless_convergence();
  void check_leaderless_history();
  // --- multi-leader model ---
  std::vector<SimKeyspace> setup_multileader(Config& base, std::string* params);
  // Spreads the nodes over regions (o_.regions, or drawn) and names them in their configs.
  void place_regions(Config& base);
  MultiLeaderEngine* multileader_engine(int node) const;
  void watch_multileader_engine(int node);
  void observe_multileader(int node, const WriteBatch& batch);
  void watch_multileader_send(int from, std::string_view payload);
  void watch_multileader_delivery(int to, std::string_view payload);
  void note_multileader_op(int node, const SimClient& cl, uint64_t seq_before);
  void finish_multileader_op(const SimClient& cl);
  // What still differs between the nodes (empty once they agree), for the convergence check.
  std::string multileader_difference() const;
  std::string siblings_difference(const std::set<std::string>& keys,
                                  const std::vector<const MultiLeaderEngine*>& engines) const;
  void check_multileader_convergence();
  void check_multileader();
  void check_multileader_crdt();
  void check_multileader_siblings();
  int64_t ml_incr_ok_ = 0, ml_incr_info_ = 0;  // conflict = crdt: INCRs of the counter
  std::set<std::string> ml_sadd_ok_;           // and members acknowledged into the set
  // The set elements that the nodes' LOSTWRITES list for `keyspace` (SADD commands).
  std::set<check::LostElement> listed_lost_elements(const std::string& keyspace) const;
  void fail(std::string what);
  void note(std::string what) { result_.notes += what + "\n"; }
  void say(const std::string& s) {
    if (log_) *log_ << s << "\n";
  }

  // --- events ---
  void schedule(EventKind kind, int64_t at, int node = 0, uint64_t a = 0, uint64_t b = 0,
                uint32_t generation = 0, std::string data = {}, int from = 0);
  void dispatch(Event& e);
  void hash_event(const Event& e);
  // Inputs of a paused node wait until it resumes (see SimNode::resume_offsets_us); `source`
  // names where the input comes from.
  bool defer_if_paused(Event& e, int source);

  // --- nodes ---
  int64_t clock_ms(int i) const;
  void start_node(int i);
  void crash_node(int i, int64_t down_ms);
  void watch_votes();
  void on_tick(const Event& e);
  void on_deliver(const Event& e);
  void on_disk_done(const Event& e);
  void on_blob_done(const Event& e);
  void on_persist_retry(const Event& e);
  bool disk_full(const SimNode& n) const { return q_.now() < n.disk_full_until; }
  // Writes a batch the node handed out: to the store, acknowledged after the disk's latency; or,
  // on a full disk, kept for a retry.
  void write_batch(int i, PersistRequest req);
  void drain(int i);
  void send(int from, int to, std::string payload);
  void note_wan_delay(int64_t us) {
    SimStats& st = result_.stats;
    st.wan_delay_min_us = st.wan_delay_max_us == 0 ? us : std::min(st.wan_delay_min_us, us);
    st.wan_delay_max_us = std::max(st.wan_delay_max_us, us);
  }
  void register_groups(int i);
  void check_invariants();

  // --- clients ---
  void client_start(int c);
  void client_send(SimClient& cl);
  void on_request(const Event& e);
  void on_reply(const Event& e);
  void on_client_timeout(const Event& e);
  void client_finish(SimClient& cl, const Reply* reply, check::OpStatus status_if_no_reply,
                     std::string_view why);
  void client_disconnect(SimClient& cl);
  // Hands a client operation to the node: one command, or a transaction.
  static Dispatch execute(Node& node, const ClientRequest& req, const ClientOp& op, int64_t now_ms,
                          resp::Writer& w);
  void route_reply(int node, int client, uint64_t serial, std::string bytes);
  int64_t client_link_delay() {
    return static_cast<int64_t>(rng_.range(kClientLinkMinUs, kClientLinkMaxUs));
  }
  bool all_clients_idle() const;

  // --- nemesis ---
  void on_nemesis();
  void on_disk_full();
  int64_t exp_delay_us(int64_t mean_ms);
  int down_count() const;
  // The live node leading keyspace `ks` in the highest term, or -1.
  int leader_of(uint32_t ks) const;

  const SimOptions o_;
  std::ostream* log_;
  Random rng_;
  FaultMix mix_;
  EventQueue q_;
  std::vector<SimNode> nodes_;
  std::vector<SimClient> clients_;
  std::unique_ptr<Workload> workload_;
  std::vector<raft::InvariantChecker> checkers_;  // one per keyspace
  std::vector<uint64_t> checked_state_;           // per keyspace: fingerprint at the last check
  Partition net_;
  RegionLayout regions_;  // one region unless a multi-leader run draws or is given more
  uint64_t partition_serial_ = 0;
  std::vector<int64_t> link_last_;  // per (from, to): last delivery time, for FIFO links
  Phase phase_ = Phase::kSafety;
  bool faults_on_ = true;
  // The disk-full fault (drawn from a stream of its own, so that the other draws of a seed are
  // unchanged; off in most seeds): every ~disk_full_every_ms_ a node's disk is full for up to
  // disk_full_max_ms_.
  Random disk_rng_{0};
  int64_t disk_full_every_ms_ = 0, disk_full_max_ms_ = 0;
  int64_t issued_ = 0;
  int64_t heal_time_ = 0;
  int64_t op_timeout_ms_ = 0;                         // o_.op_timeout_ms, or drawn for the seed
  int64_t liveness_issue_ms_ = o_.liveness_issue_ms;  // multi-leader seeds may draw 0
  double leader_pause_p_ = 0;  // chance that a pause targets a keyspace's leader (on_nemesis)
  double long_think_p_ = 0;    // chance that a client idles up to kLongThinkMaxUs between ops
  uint32_t focus_group_ = 0;   // keyspace index taking most operations, 0 when none
  int64_t final_reads_us_ = std::numeric_limits<int64_t>::max();  // when final reads started
  uint64_t next_conn_ = 1;
  uint64_t events_since_check_ = 0;
  XXH3_state_t hash_;
  // Leaderless model: the keyspace (its config and row prefix in storage), every object the
  // replicas stored, and the replicas each recorded op waited for (parallel to the history).
  std::optional<KeyspaceConfig> lks_;
  std::string lrow_prefix_;
  std::unique_ptr<check::LeaderlessLedger> ledger_;
  std::vector<int> op_replicas_;
  std::string lhint_prefix_;
  int64_t leaderless_op_timeout_ms_ = 0;  // drawn in setup_leaderless; 0: keep the usual draw
  // Hint ownership: hinted writes in flight (coordinator, fallback, id) -> (home, key, object),
  // and the last hint row each node wrote per (home, key).
  struct HintSent {
    uint32_t home;
    std::string key;
    versions::Versioned obj;
  };
  std::map<std::tuple<int, int, uint64_t>, HintSent> hints_sent_;
  std::map<std::tuple<int, uint32_t, std::string>, versions::Versioned> hint_rows_;
  check::HomeObjects final_homes_;
  // Multi-leader model: the keyspace and the prefix of its origin-log rows in storage, and what
  // the checkers learn as the run goes. Every origin-log entry a node wrote to its disk, by
  // (actor, seq): the ledger of every write and its stamp (a crash that lost an unsynced entry
  // lets a later write reuse its seq; the ledger then holds the later one).
  struct MlEntry {
    int node = 0;
    multileader::Item item;
    bool acked = false;  // a client was told the write succeeded
  };
  struct MlDiscard {
    uint64_t actor, seq;
    std::string key;
  };
  using MlId = std::pair<uint64_t, uint64_t>;  // (actor, seq)
  std::optional<KeyspaceConfig> mks_;
  std::string mlog_prefix_;
  std::map<MlId, MlEntry> ml_entries_;
  std::map<std::pair<int, uint64_t>, std::vector<MlId>> ml_op_entries_;  // (client, serial)
  // Per node: every peer entry its engine took, over all its incarnations (the apply
  // observer); the discards of its current incarnation (CONFLICTS must list each); its latest
  // reported (kStatus) applied vector; per actor, the highest seq a state transfer it completed
  // covered (those entries arrive as key images, not one by one).
  std::vector<std::set<MlId>> ml_taken_;
  std::vector<std::vector<MlDiscard>> ml_discards_;
  std::vector<multileader::AppliedVector> ml_reported_;
  std::vector<std::map<uint64_t, uint64_t>> ml_transferred_;
  int64_t converge_bound_ms_ = kConvergeMaxMs;
  SimResult result_;
  Event cur_;  // the event being dispatched (reused: no per-event allocation)
};

// ---------------------------------------------------------------------------------------------
// setup and phases

void Simulator::setup() {
  RKV_ASSERT(o_.nodes >= 1 && o_.nodes <= kMaxNodes);
  mix_ = FaultMix::draw(o_.faults, o_.nodes, rng_);
  mix_.disable(o_.disabled);
  link_last_.assign(static_cast<size_t>(o_.nodes * o_.nodes), 0);
  std::string params = fmt::format(
      "seed {}: model {}, {} nodes, {} clients, {} ops, faults {}, workload {}, bug {}\n", o_.seed,
      to_string(o_.model), o_.nodes, o_.clients, o_.ops, to_string(o_.faults),
      to_string(o_.workload), o_.raft_bugs ? bug_name(o_.raft_bugs) : "none");

  Config base = Config::defaults();
  base.fsync = FsyncMode::kAlways;
  // One primary keyspace per (commit, read) mode, side by side: each is checked against what
  // its mode promises (check/promises.h). quorum + linearizable keeps the name "accounts".
  std::vector<SimKeyspace> sim_keyspaces;
  base.keyspaces.resize(1);  // "default"
  for (const check::ModePromise& m : check::every_mode()) {
    if (o_.model != Model::kPrimary) break;
    KeyspaceConfig k;
    k.name = m.commit == CommitMode::kQuorum && m.read == ReadMode::kLinearizable
                 ? "accounts"
                 : fmt::format("{}-{}", to_string(m.commit), to_string(m.read));
    k.prefix = k.name + ":";
    k.commit = m.commit;
    k.read = m.read;
    base.keyspaces.push_back(k);
    sim_keyspaces.push_back({k.name, m, 1, std::nullopt});
  }
  // Leases (and follower staleness) assume clock rates differ by less than their margin: a
  // lease of (E - d) leader ticks must end before E - 1 ticks of any follower. Drift is drawn
  // within it, so that every mode's promise holds and is checked.
  const double margin = static_cast<double>(base.raft.election_ticks - 1) /
                        static_cast<double>(base.raft.election_ticks - base.raft.lease_drift_ticks);
  const auto lease_drift_ppm = static_cast<int64_t>(0.9e6 * (margin - 1) / (margin + 1));
  mix_.drift_ppm_max = std::min(mix_.drift_ppm_max, lease_drift_ppm);
  for (int i = 0; i < o_.nodes; ++i) {
    PeerConfig p;
    p.id = fmt::format("n{}", i + 1);
    p.port = static_cast<uint16_t>(7001 + i);
    p.peer_port = static_cast<uint16_t>(17001 + i);
    base.nodes.push_back(p);
  }
  set_raft_bugs(base, o_.raft_bugs);
  // Log compaction interval: short ones make compaction, snapshot installs and restarts from a
  // snapshot plus the log happen under faults. Drawn from a stream of its own, so the fault
  // draws of a seed stay what they were.
  Random snap_rng(o_.seed ^ 0x5eed'5a95'0000'0001ull);
  constexpr std::array<uint64_t, 5> kSnapshotEvery = {3, 10, 40, 200, 20000};
  base.raft.snapshot_min_entries = kSnapshotEvery[snap_rng.uniform(kSnapshotEvery.size())];
  constexpr std::array<uint64_t, 3> kCatchup = {0, 5, 100};
  base.raft.snapshot_catchup_entries = kCatchup[snap_rng.uniform(kCatchup.size())];
  // In half the seeds whose count never compacts, the log's bytes do (snapshot_log_bytes, the
  // trigger of large values and small maxmemory limits). A stream of its own again.
  Random log_rng(o_.seed ^ 0x10a6'b7e5'0000'0004ull);
  if (base.raft.snapshot_min_entries == kSnapshotEvery.back() && log_rng.chance(0.5)) {
    base.raft.snapshot_log_bytes = log_rng.range(4096, 65536);
  }
  // Images are written a part at a time as they are built: small parts in most seeds, so that
  // the simulator's small images go in several (and crashes and full disks come between them).
  if (log_rng.chance(0.7)) base.raft.image_part_bytes = log_rng.range(64, 2048);
  params += mix_.describe();
  disk_rng_ = Random(o_.seed ^ 0xd15c'f011'0000'0003ull);
  if (o_.faults != FaultLevel::kNone && (o_.disabled & kFamilyDisk) == 0 && disk_rng_.chance(0.3)) {
    disk_full_every_ms_ = static_cast<int64_t>(disk_rng_.range(500, 5'000));
    disk_full_max_ms_ = static_cast<int64_t>(disk_rng_.range(100, 3'000));
    params += fmt::format("\n  disk full: every ~{} ms a node's, for up to {} ms",
                          disk_full_every_ms_, disk_full_max_ms_);
  } else {
    params += "\n  disk full: never";
  }
  if (o_.model == Model::kLeaderless) sim_keyspaces = setup_leaderless(base, &params);
  if (o_.model == Model::kMultiLeader) sim_keyspaces = setup_multileader(base, &params);
  op_timeout_ms_ =
      o_.op_timeout_ms > 0 ? o_.op_timeout_ms : static_cast<int64_t>(snap_rng.range(150, 1000));
  if (o_.op_timeout_ms == 0 && leaderless_op_timeout_ms_ > 0) {
    op_timeout_ms_ = leaderless_op_timeout_ms_;
  }
  // In half the seeds some clients know one node's address only and reconnect to it after an
  // error or a timeout: while that node is paused they keep sending it new requests, which it
  // reads when it resumes (the scenario of a stale lease read).
  std::vector<int> homes(static_cast<size_t>(o_.clients), -1);
  if (snap_rng.chance(0.5)) {
    for (int& h : homes)
      h = snap_rng.chance(0.5) ? static_cast<int>(snap_rng.uniform(static_cast<uint64_t>(o_.nodes)))
                               : -1;
  }
  params += fmt::format(
      "\n  log: compaction every {} entries (at least) or {} bytes of entries, {} kept below "
      "the image, written in parts of {} bytes",
      base.raft.snapshot_min_entries, base.raft.snapshot_log_bytes,
      base.raft.snapshot_catchup_entries, base.raft.image_part_bytes);
  // Swarm testing of the keyspaces too: in half the seeds one keyspace takes most of the
  // operations, so that what its mode needs to go wrong (several clients on its few keys around
  // one fault) happens often enough.
  std::string focus = "none";
  if (snap_rng.chance(0.5)) {
    const size_t k = snap_rng.uniform(sim_keyspaces.size());
    sim_keyspaces[k].weight = 2.0 * static_cast<double>(sim_keyspaces.size());
    focus = sim_keyspaces[k].name;
    focus_group_ = static_cast<uint32_t>(k + 1);  // keyspace 0 is "default"
  }
  leader_pause_p_ = snap_rng.chance(0.5) ? snap_rng.unit() : 0;
  long_think_p_ = snap_rng.chance(0.5) ? 0.05 * snap_rng.unit() : 0;
  params += fmt::format("\n  clients: operation timeout {} ms, home nodes {}", op_timeout_ms_,
                        fmt::join(homes, " "));
  params +=
      fmt::format("\n  pauses: p={:.2f} that one targets a keyspace's leader", leader_pause_p_);
  params += fmt::format(", clients idle up to {} ms with p={:.3f}", kLongThinkMaxUs / kUsPerMs,
                        long_think_p_);
  params += fmt::format(
      "\n  keyspaces (most operations on {}): {}", focus,
      fmt::join(sim_keyspaces | std::views::transform([](const SimKeyspace& k) { return k.name; }),
                " "));
  checkers_.resize(base.keyspaces.size());

  nodes_.resize(static_cast<size_t>(o_.nodes));
  for (int i = 0; i < o_.nodes; ++i) {
    SimNode& n = nodes_[static_cast<size_t>(i)];
    n.config = base;
    n.config.node_id = base.nodes[static_cast<size_t>(i)].id;
    n.config.port = base.nodes[static_cast<size_t>(i)].port;
    n.storage = std::make_unique<MemStorage>();
    n.offset_us =
        static_cast<int64_t>(rng_.range(0, static_cast<uint64_t>(mix_.offset_max_ms))) * kUsPerMs;
    n.drift_ppm =
        static_cast<int64_t>(rng_.range(0, static_cast<uint64_t>(2 * mix_.drift_ppm_max))) -
        mix_.drift_ppm_max;
    n.tick_period_us = kTickUs * 1'000'000 / (1'000'000 + n.drift_ppm);
    n.clock = std::make_unique<SimClock>(&q_, n.drift_ppm);
    params += fmt::format("\n  node {}: clock offset {} ms, drift {:+} ppm", i,
                          n.offset_us / kUsPerMs, n.drift_ppm);
  }
  result_.params = params;
  say(params);

  for (int i = 0; i < o_.nodes; ++i)
    start_node(i);
  workload_ = std::make_unique<Workload>(o_.workload, mix_, o_.clients, std::move(sim_keyspaces));
  clients_.resize(static_cast<size_t>(o_.clients));
  for (int c = 0; c < o_.clients; ++c) {
    SimClient& cl = clients_[static_cast<size_t>(c)];
    cl.index = c;
    cl.process = c;
    cl.home = homes[static_cast<size_t>(c)];
    schedule(EventKind::kClientStart, static_cast<int64_t>(rng_.range(0, 1'000)), 0,
             static_cast<uint64_t>(c));
  }
  if (mix_.fault_interval_ms > 0) {
    schedule(EventKind::kNemesis, exp_delay_us(mix_.fault_interval_ms));
  }
  if (disk_full_every_ms_ > 0) {
    schedule(EventKind::kDiskFull,
             static_cast<int64_t>(disk_rng_.range(1, static_cast<uint64_t>(disk_full_every_ms_))) *
                 kUsPerMs);
  }
}

SimResult Simulator::run() {
  const auto wall0 = std::chrono::steady_clock::now();
  setup();

  // Safety: the workload under faults.
  run_until(o_.safety_max_ms * kUsPerMs, [&] { return issued_ >= o_.ops && all_clients_idle(); });

  // Liveness: heal, then every op started from now on must succeed within the bound.
  if (result_.ok) {
    heal_everything();
    phase_ = Phase::kLiveness;
    heal_time_ = q_.now();
    say(fmt::format("t={:.3f}s healed; liveness phase", static_cast<double>(heal_time_) / 1e6));
    for (auto& cl : clients_) {
      if (!cl.busy) schedule(EventKind::kClientStart, q_.now(), 0, static_cast<uint64_t>(cl.index));
    }
    const int64_t stop_issuing = heal_time_ + liveness_issue_ms_ * kUsPerMs;
    const int64_t deadline = stop_issuing + (o_.liveness_bound_ms + op_timeout_ms_) * kUsPerMs;
    run_until(deadline, [&] { return q_.now() >= stop_issuing && all_clients_idle(); });
    if (result_.ok && !all_clients_idle()) check_liveness_deadlines();
  }
  // Final reads, then quiesce and compare replicas.
  if (result_.ok) {
    start_final_reads();
    const int64_t deadline = q_.now() + (o_.liveness_bound_ms + op_timeout_ms_) * kUsPerMs;
    run_until(deadline, [&] { return all_clients_idle(); });
    if (result_.ok && !all_clients_idle()) check_liveness_deadlines();
  }
  if (result_.ok) {
    phase_ = Phase::kQuiesce;
    for (auto& cl : clients_)
      cl.stopped = true;
    if (lks_) {
      check_leaderless_convergence();
    } else if (mks_) {
      check_multileader_convergence();
    } else {
      run_until(q_.now() + kQuiesceMs * kUsPerMs, [] { return false; });
      if (result_.ok) check_convergence_after_quiesce();
    }
  }
  if (result_.ok) {
    if (lks_) {
      check_leaderless_history();
    } else if (mks_) {
      check_multileader();
    } else {
      check_histories();
    }
  }

  for (const SimNode& n : nodes_) {
    for (const raft::Raft* g : n.groups) {
      if (n.node && g) result_.stats.disk_handoffs += g->disk_full_handoffs();
    }
  }
  result_.trace_hash = XXH3_64bits_digest(&hash_);
  result_.stats.sim_us = q_.now();
  result_.stats.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  for (auto& c : checkers_)
    result_.stats.invariant_checks += c.checks();
  if (!result_.ok) {
    result_.failure +=
        fmt::format("\nseed {} FAILED; reproduce with:\n  {}", o_.seed, reproduce_command(o_));
  }
  return std::move(result_);
}

bool Simulator::run_until(int64_t deadline, const std::function<bool()>& done) {
  while (result_.ok && !q_.empty() && !done()) {
    if (q_.next_time() > deadline) return false;
    q_.pop(&cur_);
    hash_event(cur_);
    dispatch(cur_);
    ++result_.stats.events;
    if (++events_since_check_ >= static_cast<uint64_t>(o_.check_every)) {
      events_since_check_ = 0;
      check_invariants();
    }
    if (phase_ == Phase::kLiveness || phase_ == Phase::kFinal) check_liveness_deadlines();
    if (mix_.vote_crash_p > 0 && faults_on_) watch_votes();
  }
  return result_.ok;
}

void Simulator::heal_everything() {
  faults_on_ = false;
  net_ = Partition::healed(o_.nodes);
  ++partition_serial_;
  mix_.loss = mix_.duplicate = mix_.tail_p = 0;
  // A multi-leader receiver drops what arrives past a gap in an origin's run and waits for
  // the sender's retransmit timeout: under continued reordering its catch-up crawls (one
  // timeout per gap), so the faults that end here include reordering.
  if (mks_) mix_.reorder = 0;
  regions_.drop_loss();
  for (int i = 0; i < o_.nodes; ++i) {
    SimNode& n = nodes_[static_cast<size_t>(i)];
    n.paused_until = std::min(n.paused_until, q_.now());
    n.disk_full_until = std::min(n.disk_full_until, q_.now());
    if (!n.node) start_node(i);
  }
}

void Simulator::check_liveness_deadlines() {
  const int64_t bound = o_.liveness_bound_ms * kUsPerMs;
  for (const auto& cl : clients_) {
    if (cl.chain && q_.now() - cl.chain_start > bound) {
      fail(fmt::format(
          "liveness: client {}'s {} started at t={:.3f}s (after healing at t={:.3f}s) did not "
          "succeed within {} ms: {} attempts, last: {}",
          cl.index, fmt::join(cl.op.args, " "), static_cast<double>(cl.chain_start) / 1e6,
          static_cast<double>(heal_time_) / 1e6, o_.liveness_bound_ms, cl.chain_attempts,
          cl.last_error.empty() ? "no reply yet" : cl.last_error));
      return;
    }
  }
}

void Simulator::start_final_reads() {
  phase_ = Phase::kFinal;
  final_reads_us_ = q_.now();
  std::vector<ClientOp> reads = workload_->final_reads();
  for (size_t i = 0; i < reads.size(); ++i) {
    clients_[i % clients_.size()].queue.push_back(std::move(reads[i]));
  }
  for (auto& cl : clients_) {
    cl.stopped = cl.queue.empty();
    if (!cl.queue.empty() && !cl.busy) {
      schedule(EventKind::kClientStart, q_.now(), 0, static_cast<uint64_t>(cl.index));
    }
  }
}

void Simulator::check_convergence_after_quiesce() {
  const int64_t give_up = q_.now() + kConvergeMaxMs * kUsPerMs;
  check::CheckResult last;
  std::string keyspace;
  while (true) {
    bool all = true;
    for (const SimKeyspace& k : workload_->keyspaces()) {
      std::map<std::string, check::ReplicaState> replicas;
      for (int i = 0; i < o_.nodes; ++i) {
        const Node& node = *nodes_[static_cast<size_t>(i)].node;
        const int ks = node.store().find_keyspace(k.name);
        RKV_ASSERT(ks >= 0);
        check::ReplicaState& st = replicas[fmt::format("n{}", i + 1)];
        const KeyTable& t = node.store().keyspace(static_cast<uint32_t>(ks)).table;
        uint64_t cursor = 0;
        do {
          cursor =
              t.scan(cursor, [&](const KeyTable::Entry& e) { st[e.key.str()] = e.value.data; });
        } while (cursor != 0);
      }
      last = check::check_convergence(replicas);
      if (!last.ok) {
        keyspace = k.name;
        all = false;
        break;
      }
    }
    if (all) return;
    if (q_.now() >= give_up) break;
    run_until(q_.now() + 200 * kUsPerMs, [] { return false; });
    if (!result_.ok) return;
  }
  fail(fmt::format("convergence: replicas of keyspace {} still differ {} ms after quiescing:\n{}",
                   keyspace, kConvergeMaxMs, last.explanation));
}

std::set<check::LostElement> Simulator::listed_lost_elements(const std::string& keyspace) const {
  std::set<check::LostElement> out;
  for (const SimNode& n : nodes_) {
    if (!n.node) continue;
    for (const Node::LostWrite& lw : n.node->lost_writes()) {
      if (lw.keyspace != keyspace) continue;
      // The command as recorded, space-separated: "SADD <key> <element>...".
      const std::vector<std::string> words = split_words(lw.command);
      if (words.size() < 3 || words[0] != "SADD") continue;
      for (size_t i = 2; i < words.size(); ++i)
        out.insert({words[1], words[i]});
    }
  }
  return out;
}

void Simulator::check_histories() {
  auto judge = [&](const std::string& what, const check::CheckResult& r) {
    if (!r.notes.empty()) note(fmt::format("{} checker: {}", what, fmt::join(r.notes, "; ")));
    if (r.verdict == check::Verdict::kValid) return;
    if (r.verdict == check::Verdict::kUnknown) {
      note(fmt::format("{} checker: unknown ({})", what, r.explanation));
      return;
    }
    fail(fmt::format("{} checker: {}\n{}", what, check::verdict_name(r.verdict), r.explanation));
  };
  JudgeInputs in;
  in.final_reads_us = final_reads_us_;
  // Follower reads may be late by up to two one-way delays (a duplicate arrives after a second
  // delay) of the heartbeat that carried their news; node clocks run within the drift bound.
  in.staleness.slack_us = 2 * (mix_.delay_max_us + mix_.tail_max_us);
  in.staleness.rate_margin = 2.0 * static_cast<double>(mix_.drift_ppm_max) / 1e6;
  in.listed_lost = [this](const std::string& keyspace) {
    auto lost = listed_lost_elements(keyspace);
    result_.stats.lost_writes_listed += lost.size();
    return lost;
  };
  in.keep_going = [this] { return result_.ok; };
  judge_history(workload_->keyspaces(), result_.history, in, judge);
}

void Simulator::fail(std::string what) {
  if (!result_.ok) return;
  result_.ok = false;
  result_.failure = fmt::format("t={:.6f}s event {}: {}", static_cast<double>(q_.now()) / 1e6,
                                result_.stats.events, what);
  say("FAILURE " + result_.failure);
}

// ---------------------------------------------------------------------------------------------
// events

void Simulator::schedule(EventKind kind, int64_t at, int node, uint64_t a, uint64_t b,
                         uint32_t generation, std::string data, int from) {
  Event e;
  e.time = at;
  e.kind = kind;
  e.node = static_cast<uint8_t>(node);
  e.from = static_cast<uint8_t>(from);
  e.generation = generation;
  e.a = a;
  e.b = b;
  e.data = std::move(data);
  q_.push(std::move(e));
}

void Simulator::hash_event(const Event& e) {
  struct {
    int64_t time;
    uint64_t a, b;
    uint32_t generation;
    uint8_t kind, node, from, pad;
  } h{e.time, e.a, e.b, e.generation, static_cast<uint8_t>(e.kind), e.node, e.from, 0};
  XXH3_64bits_update(&hash_, &h, sizeof h);
  if (!e.data.empty()) XXH3_64bits_update(&hash_, e.data.data(), e.data.size());
}

bool Simulator::defer_if_paused(Event& e, int source) {
  SimNode& n = nodes_[e.node];
  if (n.paused_until == 0 || q_.now() >= n.paused_until + kResumeSpreadUs) return false;
  auto [it, fresh] = n.resume_offsets_us.try_emplace(source, 0);
  if (fresh) it->second = static_cast<int64_t>(rng_.uniform(kResumeSpreadUs));
  const int64_t at = n.paused_until + it->second;
  if (q_.now() >= at) return false;
  // SIGSTOP: the kernel buffers what arrives; the process sees it when it resumes.
  e.time = at;
  q_.push(std::move(e));
  return true;
}

void Simulator::dispatch(Event& e) {
  switch (e.kind) {
    case EventKind::kTick:
      if (!defer_if_paused(e, kSourceTimer)) on_tick(e);
      break;
    case EventKind::kDeliver:
      if (!defer_if_paused(e, kSourcePeer + e.from)) on_deliver(e);
      break;
    case EventKind::kDiskDone:
      if (!defer_if_paused(e, kSourceDisk)) on_disk_done(e);
      break;
    case EventKind::kBlobDone:
      if (!defer_if_paused(e, kSourceDisk)) on_blob_done(e);
      break;
    case EventKind::kRequest:
      if (!defer_if_paused(e, kSourceClient + static_cast<int>(e.a))) on_request(e);
      break;
    case EventKind::kReply:
      on_reply(e);
      break;
    case EventKind::kClientTimeout:
      on_client_timeout(e);
      break;
    case EventKind::kClientStart:
      client_start(static_cast<int>(e.a));
      break;
    case EventKind::kNemesis:
      on_nemesis();
      break;
    case EventKind::kRestart:
      if (!nodes_[e.node].node) start_node(e.node);
      break;
    case EventKind::kResume:
      break;  // deferred events run at this time on their own
    case EventKind::kDiskFull:
      on_disk_full();
      break;
    case EventKind::kPersistRetry:
      if (!defer_if_paused(e, kSourceTimer)) on_persist_retry(e);
      break;
    case EventKind::kPartitionEnd:
      if (e.a == partition_serial_) net_ = Partition::healed(o_.nodes);
      break;
    case EventKind::kCrash:
      if (faults_on_ && nodes_[e.node].node && nodes_[e.node].incarnation == e.generation &&
          down_count() < mix_.max_down) {
        say(fmt::format("t={:.3f}s crash node {} just after it voted",
                        static_cast<double>(q_.now()) / 1e6, e.node));
        crash_node(e.node, static_cast<int64_t>(e.a));
      }
      break;
  }
}

// ---------------------------------------------------------------------------------------------
// nodes

int64_t Simulator::clock_ms(int i) const {
  const SimNode& n = nodes_[static_cast<size_t>(i)];
  return kEpochMs + (n.offset_us + n.clock->us() + n.jumps_us) / kUsPerMs;
}

void Simulator::start_node(int i) {
  SimNode& n = nodes_[static_cast<size_t>(i)];
  RKV_ASSERT(!n.node);
  ++n.incarnation;
  n.node = std::make_unique<Node>(n.config, n.storage.get(), rng_.next(), n.clock.get());
  n.node->set_image_blobs(true);  // as the server: images written beside the batches
  n.blob_ops.clear();
  n.refused_streams.clear();
  n.blob_free_at = q_.now();
  Status st = n.node->open(clock_ms(i));
  if (!st.is_ok()) {
    fail(fmt::format("node {} failed to open{}: {}", i, n.incarnation > 1 ? " after a crash" : "",
                     st.to_string()));
    n.node.reset();
    return;
  }
  n.disk_free_at = q_.now();
  register_groups(i);
  if (mks_) watch_multileader_engine(i);
  schedule(EventKind::kTick, q_.now() + n.tick_period_us, i, 0, 0, n.incarnation);
  drain(i);
}

void Simulator::crash_node(int i, int64_t down_ms) {
  SimNode& n = nodes_[static_cast<size_t>(i)];
  // A torn crash cuts the last write mid-way. The real store is RocksDB, whose write-ahead log
  // frames every batch as one checksummed record: recovery drops a torn batch whole, so a torn
  // write loses exactly what a plain crash loses (everything unsynced). MemStorage's in-record
  // tear (a value cut short inside a surviving batch) cannot happen there; the Raft log store's
  // handling of such a record is covered by its unit tests.
  const bool torn = rng_.chance(mix_.torn_p);
  n.storage->crash(/*torn_last_write=*/false);
  for (const raft::Raft* g : n.groups) {
    if (g) result_.stats.disk_handoffs += g->disk_full_handoffs();
  }
  n.node.reset();
  n.held.clear();
  n.paused_until = 0;
  n.refused.reset();  // never acknowledged: lost with the process
  n.refusing = false;
  ++result_.stats.crashes;
  if (torn) ++result_.stats.torn_crashes;
  register_groups(i);  // unregisters: every group is now down
  for (auto& cl : clients_) {
    if (cl.node != i) continue;
    // The connection resets; an op in flight may or may not have happened.
    if (cl.busy) client_finish(cl, nullptr, check::OpStatus::kInfo, "connection reset (crash)");
    cl.node = -1;
  }
  schedule(EventKind::kRestart, q_.now() + down_ms * kUsPerMs, i);
}

void Simulator::register_groups(int i) {
  SimNode& n = nodes_[static_cast<size_t>(i)];
  n.groups.resize(checkers_.size(), nullptr);
  for (size_t ks = 0; ks < checkers_.size(); ++ks) {
    const raft::Raft* g = n.node ? raft_group_of(*n.node, static_cast<uint32_t>(ks)) : nullptr;
    if (g == n.groups[ks]) continue;
    checkers_[ks].set_node(static_cast<raft::NodeId>(i + 1), g);
    n.groups[ks] = g;
    if (g) result_.stats.raft_active = true;
  }
}

// Runs each keyspace's InvariantChecker when the observable Raft state of some node changed
// since the last check (role, term, vote, log end, commit, applied, incarnation): an event that
// changed none of these cannot produce a new violation, and skipping it keeps the checker's
// log walks off the hot path of client traffic that Raft has not yet seen.
void Simulator::check_invariants() {
  for (size_t ks = 0; ks < checkers_.size(); ++ks) {
    uint64_t state[kMaxNodes * 8];
    size_t k = 0;
    for (auto& n : nodes_) {
      const raft::Raft* g = n.groups.size() > ks ? n.groups[ks] : nullptr;
      if (!g) {
        state[k++] = 0;
        continue;
      }
      result_.stats.max_term = std::max(result_.stats.max_term, g->term());
      result_.stats.max_snapshot_index =
          std::max(result_.stats.max_snapshot_index, g->snapshot().meta.index);
      state[k++] = n.incarnation;
      state[k++] = g->term();
      state[k++] = g->vote();
      state[k++] = static_cast<uint64_t>(g->role());
      state[k++] = g->commit();
      state[k++] = g->applied();
      state[k++] = g->last_index();
      state[k++] = g->last_term();
    }
    const uint64_t fp = XXH3_64bits(state, k * sizeof(uint64_t));
    if (ks < checked_state_.size() && checked_state_[ks] == fp) continue;
    checked_state_.resize(checkers_.size(), 0);
    checked_state_[ks] = fp;
    bool any = false;
    for (auto& n : nodes_)
      any |= n.groups.size() > ks && n.groups[ks] != nullptr;
    if (!any) continue;
    Status st = checkers_[ks].check();
    if (!st.is_ok()) {
      fail(fmt::format("raft invariant violated in keyspace #{}: {}", ks, st.to_string()));
      return;
    }
  }
}

// Crashes a node soon after it grants a vote, sometimes: the window in which a vote that was
// not made durable turns into two votes in one term.
void Simulator::watch_votes() {
  for (int i = 0; i < o_.nodes; ++i) {
    SimNode& n = nodes_[static_cast<size_t>(i)];
    n.votes.resize(n.groups.size());
    for (size_t ks = 0; ks < n.groups.size(); ++ks) {
      const raft::Raft* g = n.groups[ks];
      if (!g) continue;
      const std::pair<uint64_t, uint64_t> tv{g->term(), g->vote()};
      if (tv == n.votes[ks]) continue;
      n.votes[ks] = tv;
      if (tv.second == raft::kNoNode || tv.second == g->id() || !rng_.chance(mix_.vote_crash_p)) {
        continue;
      }
      const auto after = static_cast<int64_t>(
          rng_.range(0, static_cast<uint64_t>(mix_.disk_max_us + 2 * mix_.delay_max_us)));
      const auto down = static_cast<uint64_t>(rng_.range(1, 50));
      schedule(EventKind::kCrash, q_.now() + after, i, down, 0, n.incarnation);
    }
  }
}

void Simulator::on_tick(const Event& e) {
  SimNode& n = nodes_[e.node];
  if (!n.node || e.generation != n.incarnation) return;  // a tick of a crashed incarnation
  n.node->tick(clock_ms(e.node));
  drain(e.node);
  schedule(EventKind::kTick, q_.now() + n.tick_period_us, e.node, 0, 0, n.incarnation);
}

void Simulator::on_deliver(const Event& e) {
  SimNode& n = nodes_[e.node];
  if (!n.node) return;  // nobody listening
  if (mks_) watch_multileader_delivery(e.node, e.data);
  n.node->on_peer_message(e.from, e.data, clock_ms(e.node));
  drain(e.node);
}

void Simulator::on_disk_done(const Event& e) {
  SimNode& n = nodes_[e.node];
  if (!n.node || e.generation != n.incarnation) return;
  if (e.b != 0) {
    Status s = n.storage->sync();
    RKV_ASSERT(s.is_ok());
  }
  n.node->on_persisted(e.a);
  if (n.refusing && !n.refused) {
    // The refused batch was written on its retry: the disk has room again. A batch that
    // completes while a refused one still waits was written before the disk filled.
    n.refusing = false;
    n.node->refuse_writes({});
  }
  drain(e.node);
}

void Simulator::on_blob_done(const Event& e) {
  SimNode& n = nodes_[e.node];
  if (!n.node || e.generation != n.incarnation) return;
  // The oldest op completes: the server's blob thread carries them out in the order taken, and
  // a pause that defers this event may let a later one's event come first (a read of an image
  // then found it removed).
  RKV_ASSERT(!n.blob_ops.empty());  // one event per op
  auto it = n.blob_ops.begin();
  BlobOp op = std::move(it->second);
  n.blob_ops.erase(it);
  // Durable once done, like the server's (written, synced, renamed): a crash before this event
  // leaves no blob, one after leaves it whole.
  // On a full disk an image write fails (the group tries a new image later); reading and
  // removing need no room.
  const bool refused = disk_full(n) && op.data && !op.read;
  Status st = refused ? Status::resource_exhausted("no space left on device (simulated)")
                      : run_blob_op(*n.storage, op);
  // An image written in parts with one refused does not finish (it comes out short).
  const bool short_stream = op.part && n.refused_streams.count(op.name) > 0;
  if (op.part && refused) n.refused_streams.insert(op.name);
  if (op.part && op.last) n.refused_streams.erase(op.name);
  RKV_ASSERT_MSG(st.is_ok() || refused || (op.last && short_stream),
                 (op.name + ": " + st.to_string()).c_str());
  if (op.part && op.last && short_stream) ++result_.stats.images_cut_short;
  if (op.read) ++result_.stats.images_read_back;
  n.node->on_blob_done(std::move(op), st, clock_ms(e.node));
  drain(e.node);
}

void Simulator::write_batch(int i, PersistRequest req) {
  SimNode& n = nodes_[static_cast<size_t>(i)];
  if (disk_full(n)) {
    // As the server: the batch is kept whole and retried; the node refuses writes meanwhile.
    ++result_.stats.refused_batches;
    n.refused = std::move(req);
    if (!n.refusing) {
      n.refusing = true;
      n.node->refuse_writes("MISCONF the disk is full (simulated); writes are refused");
    }
    schedule(EventKind::kPersistRetry, q_.now() + kPersistRetryUs, i, 0, 0, n.incarnation);
    return;
  }
  // The write reaches the OS at once (lost by a crash unless synced); the sync, and with it
  // the acknowledgement, completes after the disk's latency, in order.
  Status s = n.storage->write(std::move(req.batch), false);
  RKV_ASSERT(s.is_ok());
  const auto latency = static_cast<int64_t>(
      rng_.range(static_cast<uint64_t>(mix_.disk_min_us), static_cast<uint64_t>(mix_.disk_max_us)));
  n.disk_free_at = std::max(n.disk_free_at, q_.now()) + latency;
  schedule(EventKind::kDiskDone, n.disk_free_at, i, req.token, req.sync ? 1 : 0, n.incarnation);
  ++result_.stats.persists;
}

void Simulator::on_persist_retry(const Event& e) {
  SimNode& n = nodes_[e.node];
  if (!n.node || e.generation != n.incarnation || !n.refused) return;
  PersistRequest req = std::move(*n.refused);
  n.refused.reset();
  write_batch(e.node, std::move(req));  // refused again while the disk is still full
  drain(e.node);
}

void Simulator::on_disk_full() {
  if (!faults_on_) return;
  schedule(EventKind::kDiskFull,
           q_.now() + 1 +
               static_cast<int64_t>(-std::log(1.0 - disk_rng_.unit()) *
                                    static_cast<double>(disk_full_every_ms_ * kUsPerMs)));
  const int victim = static_cast<int>(disk_rng_.uniform(static_cast<uint64_t>(o_.nodes)));
  const auto len =
      static_cast<int64_t>(disk_rng_.range(1, static_cast<uint64_t>(disk_full_max_ms_)));
  SimNode& n = nodes_[static_cast<size_t>(victim)];
  n.disk_full_until = std::max(n.disk_full_until, q_.now() + len * kUsPerMs);
  ++result_.stats.disk_fulls;
  say(fmt::format("t={:.3f}s disk of node {} full for {} ms", static_cast<double>(q_.now()) / 1e6,
                  victim, len));
}

void Simulator::drain(int i) {
  SimNode& n = nodes_[static_cast<size_t>(i)];
  Node& node = *n.node;
  node.pump(clock_ms(i));  // every event is one input: its effects go out at once
  for (BlobOp& op : node.take_blob_ops()) {
    // An image takes many times a batch's latency: client writes and acknowledgements go on
    // meanwhile, and a crash may come between the image and the record that names it.
    const int64_t latency =
        op.data || op.read
            ? static_cast<int64_t>(rng_.range(static_cast<uint64_t>(mix_.disk_min_us) * 10,
                                              static_cast<uint64_t>(mix_.disk_max_us) * 50))
            : mix_.disk_min_us;
    n.blob_free_at = std::max(n.blob_free_at, q_.now()) + latency;
    const uint64_t id = n.next_blob_op++;
    n.blob_ops.emplace(id, std::move(op));
    schedule(EventKind::kBlobDone, n.blob_free_at, i, id, 0, n.incarnation);
  }
  // A refused batch goes first (its retry); later ones wait in the node.
  if (!n.refused && node.has_pending_persist()) {
    PersistRequest req = node.take_persist();
    // Observed as the node makes it (a coordinator's batch before its peers get the write),
    // whether or not a full disk refuses it for now.
    if (ledger_) observe_leaderless(i, req.batch);
    if (mks_) observe_multileader(i, req.batch);
    write_batch(i, std::move(req));
  }
  for (PeerSend& s : node.take_sends())
    send(i, static_cast<int>(s.to), std::move(s.payload));
  for (DeferredReply& r : node.take_replies()) {
    const int c = static_cast<int>(r.client_id & 0xffff);
    if (c < static_cast<int>(clients_.size())) {
      SimClient& cl = clients_[static_cast<size_t>(c)];
      if (cl.conn_id == r.client_id && cl.busy && cl.seq == r.seq) {
        route_reply(i, c, cl.serial, std::move(r.bytes));
      }
    }
  }
  if (!n.held.empty()) {
    const uint64_t durable = node.durable_token();
    size_t kept = 0;
    for (size_t k = 0; k < n.held.size(); ++k) {
      HeldReply& h = n.held[k];
      if (h.token <= durable) {
        route_reply(i, h.client, h.serial, std::move(h.bytes));
      } else {
        if (k != kept) n.held[kept] = std::move(h);
        ++kept;
      }
    }
    n.held.resize(kept);
  }
}

void Simulator::send(int from, int to, std::string payload) {
  ++result_.stats.messages_sent;
  if (lks_) watch_leaderless_message(from, to, payload);
  if (mks_) watch_multileader_send(from, payload);
  if (to < 0 || to >= o_.nodes || to == from) {
    fail(fmt::format("node {} sent a message to invalid peer {}", from, to));
    return;
  }
  // Between two regions a WAN link (its own delay and loss); within one the seed's LAN.
  const WanLink* wan = regions_.same_region(from, to) ? nullptr : &regions_.link(from, to);
  if (wan) ++result_.stats.wan_messages;
  if (!net_.can_send(from, to) || rng_.chance(mix_.loss) || (wan && rng_.chance(wan->loss))) {
    ++result_.stats.messages_dropped;
    return;
  }
  auto delay = [&] {
    auto d = wan ? wan->base_us +
                       static_cast<int64_t>(rng_.range(0, static_cast<uint64_t>(wan->jitter_us)))
                 : static_cast<int64_t>(rng_.range(static_cast<uint64_t>(mix_.delay_min_us),
                                                   static_cast<uint64_t>(mix_.delay_max_us)));
    if (wan) note_wan_delay(d);
    if (rng_.chance(mix_.tail_p))
      d += static_cast<int64_t>(rng_.range(0, static_cast<uint64_t>(mix_.tail_max_us)));
    return d;
  };
  int64_t at = q_.now() + delay();
  int64_t& last = link_last_[static_cast<size_t>(from * o_.nodes + to)];
  // Links are FIFO (like TCP) unless this message is picked to overtake its predecessors.
  if (!rng_.chance(mix_.reorder)) at = std::max(at, last);
  last = std::max(last, at);
  if (rng_.chance(mix_.duplicate)) {
    ++result_.stats.messages_duplicated;
    schedule(EventKind::kDeliver, at + delay(), to, 0, 0, 0, payload, from);
  }
  schedule(EventKind::kDeliver, at, to, 0, 0, 0, std::move(payload), from);
}

// ---------------------------------------------------------------------------------------------
// clients

bool Simulator::all_clients_idle() const {
  for (const auto& cl : clients_) {
    if (cl.busy || cl.chain || !cl.queue.empty()) return false;
  }
  return true;
}

void Simulator::client_start(int c) {
  SimClient& cl = clients_[static_cast<size_t>(c)];
  if (cl.busy || cl.stopped) return;
  if (cl.chain) {
    // Retry the chain's op (the same command), as a new history record.
    workload_->prepare_retry(cl.op);
  } else if (!cl.queue.empty()) {
    cl.op = std::move(cl.queue.front());
    cl.queue.erase(cl.queue.begin());
    cl.op.client = -1;
    cl.chain = true;
    cl.chain_start = q_.now();
    cl.chain_attempts = 0;
  } else {
    const bool issuing =
        phase_ == Phase::kSafety
            ? issued_ < o_.ops
            : phase_ == Phase::kLiveness && q_.now() < heal_time_ + liveness_issue_ms_ * kUsPerMs;
    if (!issuing) return;
    cl.op = workload_->next(c, rng_);
    if (phase_ != Phase::kSafety) {
      cl.chain = true;
      cl.chain_start = q_.now();
      cl.chain_attempts = 0;
    }
  }
  ++issued_;
  ++cl.serial;
  cl.busy = true;
  if (cl.chain) ++cl.chain_attempts;
  cl.op.op.process = cl.process;
  cl.op.op.invoke = q_.now();
  schedule(EventKind::kClientTimeout, q_.now() + op_timeout_ms_ * kUsPerMs, 0,
           static_cast<uint64_t>(c), cl.serial);
  client_send(cl);
}

void Simulator::client_send(SimClient& cl) {
  if (cl.node < 0) {
    cl.node =
        cl.home >= 0 ? cl.home : static_cast<int>(rng_.uniform(static_cast<uint64_t>(o_.nodes)));
    SimNode& n = nodes_[static_cast<size_t>(cl.node)];
    if (!n.node) {
      // Connection refused: the request was never sent.
      client_finish(cl, nullptr, check::OpStatus::kFail, "connection refused");
      return;
    }
    cl.conn_id = (next_conn_++ << 16) | static_cast<uint64_t>(cl.index);
    cl.conn_incarnation = n.incarnation;
  }
  ++cl.seq;
  schedule(EventKind::kRequest, q_.now() + client_link_delay(), cl.node,
           static_cast<uint64_t>(cl.index), cl.serial);
}

void Simulator::on_request(const Event& e) {
  SimClient& cl = clients_[e.a];
  if (!cl.busy || cl.serial != e.b || cl.node != e.node) return;
  SimNode& n = nodes_[e.node];
  if (!n.node || n.incarnation != cl.conn_incarnation) {
    client_finish(cl, nullptr, check::OpStatus::kFail, "connection reset before the request");
    return;
  }
  std::string out;
  resp::Writer w(&out, 2);
  ClientRequest req;
  req.client_id = cl.conn_id;
  req.seq = cl.seq;
  req.read_mode = cl.op.read_mode;
  req.consistency = cl.op.consistency;
  const MultiLeaderEngine* ml = mks_ ? multileader_engine(e.node) : nullptr;
  const uint64_t ml_before = ml ? ml->own_seq() : 0;
  const Dispatch d = execute(*n.node, req, cl.op, clock_ms(e.node), w);
  if (ml) note_multileader_op(e.node, cl, ml_before);
  if (cl.op.op.type == check::OpType::kGet && !cl.op.final_read && !lks_ &&
      workload_->keyspaces()[static_cast<size_t>(cl.op.keyspace)].mode.read ==
          ReadMode::kFollower) {
    // What STALENESS on this connection would answer now (the read was served locally). A
    // single node has none: its keyspaces apply locally, and its reads are fresh.
    if (const auto st = n.node->staleness(cl.conn_id); st && n.node->clustered()) {
      RKV_ASSERT(d.kind == Dispatch::kReady);
      // Unknown staleness (no news under a leader's lease since the node started) bounds
      // nothing.
      cl.op.op.staleness_ms = st->ms_since_leader < 0 ? kUnknownStalenessMs : st->ms_since_leader;
      cl.op.op.entries_behind = static_cast<int64_t>(st->entries_behind);
      if (st->entries_behind > 0 || st->ms_since_leader > 100) ++result_.stats.stale_follower_reads;
    }
  }
  switch (d.kind) {
    case Dispatch::kReady:
      route_reply(e.node, cl.index, cl.serial, std::move(out));
      break;
    case Dispatch::kAfterPersist:
      n.held.push_back({d.token, cl.index, cl.serial, std::move(out)});
      break;
    case Dispatch::kDeferred:
      break;
  }
  drain(e.node);
}

Dispatch Simulator::execute(Node& node, const ClientRequest& req, const ClientOp& op,
                            int64_t now_ms, resp::Writer& w) {
  if (!op.transaction.empty()) {  // MULTI ... EXEC, as a connection hands it to the node
    Transaction txn;
    txn.commands = op.transaction;
    return node.execute_transaction(req, std::move(txn), now_ms, w);
  }
  std::array<std::string_view, kMaxArgs> argv{};
  const size_t argc = op.args.size();
  RKV_ASSERT(argc <= kMaxArgs);
  for (size_t k = 0; k < argc; ++k)
    argv[k] = op.args[k];
  const resp::CommandSpec* spec = resp::lookup_command(argv[0]);
  RKV_ASSERT(spec != nullptr && resp::arity_ok(*spec, argc));
  return node.execute(req, *spec, std::span(argv.data(), argc), now_ms, w);
}

void Simulator::route_reply(int node, int client, uint64_t serial, std::string bytes) {
  schedule(EventKind::kReply, q_.now() + client_link_delay(), node, static_cast<uint64_t>(client),
           serial, 0, std::move(bytes));
}

void Simulator::on_reply(const Event& e) {
  SimClient& cl = clients_[e.a];
  if (!cl.busy || cl.serial != e.b) return;
  const Reply r = parse_reply(e.data);
  if (r.kind == Reply::kInvalid) {
    fail(fmt::format("node {} sent a malformed reply to {}: {:?}", e.node,
                     fmt::join(cl.op.args, " "), e.data));
    return;
  }
  client_finish(cl, &r, check::OpStatus::kInfo, "");
}

void Simulator::on_client_timeout(const Event& e) {
  SimClient& cl = clients_[e.a];
  if (!cl.busy || cl.serial != e.b) return;
  client_finish(cl, nullptr, check::OpStatus::kInfo, "client timeout");
}

void Simulator::client_disconnect(SimClient& cl) {
  if (cl.node >= 0) {
    SimNode& n = nodes_[static_cast<size_t>(cl.node)];
    if (n.node && n.incarnation == cl.conn_incarnation) n.node->on_client_closed(cl.conn_id);
  }
  cl.node = -1;
}

void Simulator::client_finish(SimClient& cl, const Reply* reply, check::OpStatus no_reply_status,
                              std::string_view why) {
  check::Op& op = cl.op.op;
  bool definite = false;  // a real answer (not an error, not a timeout): ends a chain
  if (reply) {
    workload_->complete(cl.op, *reply);
    if (auto v = workload_->take_violation()) fail(fmt::format("client {}: {}", cl.index, *v));
    definite = reply->kind != Reply::kError && op.status != check::OpStatus::kInfo;
    if (reply->kind == Reply::kError) cl.last_error = "-" + reply->text;
  } else {
    op.status = no_reply_status;
    cl.last_error = std::string(why);
  }
  op.complete = q_.now();
  switch (op.status) {
    case check::OpStatus::kOk:
      ++result_.stats.ops_ok;
      break;
    case check::OpStatus::kFail:
      ++result_.stats.ops_fail;
      break;
    case check::OpStatus::kInfo:
      ++result_.stats.ops_info;
      break;
  }
  if (lks_ && op.ok() && (op.type == check::OpType::kSet || op.type == check::OpType::kDel)) {
    check_write_quorum(cl.op);
  }
  if (mks_) finish_multileader_op(cl);
  if (o_.collect_history) {
    result_.history.push_back(op);
    op_replicas_.push_back(cl.op.replicas);
  }
  cl.busy = false;
  if (op.status == check::OpStatus::kInfo) cl.process += o_.clients;  // that process may still act
  int64_t wait = static_cast<int64_t>(rng_.range(0, static_cast<uint64_t>(mix_.think_max_us)));
  if (long_think_p_ > 0 && rng_.chance(long_think_p_)) {
    // A client that stays idle on its open connection for a while (as the issue's steps do:
    // the connection to the paused leader is used again after a write elsewhere).
    wait += static_cast<int64_t>(rng_.range(0, kLongThinkMaxUs));
  }
  if (!definite) {
    // Real clients drop the connection after an error or timeout and try another node.
    client_disconnect(cl);
    if (cl.chain) wait += static_cast<int64_t>(rng_.range(1'000, kRetryBackoffMaxUs));
  } else {
    cl.chain = false;
  }
  schedule(EventKind::kClientStart, q_.now() + wait, 0, static_cast<uint64_t>(cl.index));
}

// ---------------------------------------------------------------------------------------------
// nemesis

int64_t Simulator::exp_delay_us(int64_t mean_ms) {
  const double u = rng_.unit();
  return 1 + static_cast<int64_t>(-std::log(1.0 - u) * static_cast<double>(mean_ms * kUsPerMs));
}

int Simulator::down_count() const {
  int d = 0;
  for (const auto& n : nodes_)
    d += n.node ? 0 : 1;
  return d;
}

int Simulator::leader_of(uint32_t ks) const {
  int best = -1;
  uint64_t term = 0;
  for (int i = 0; i < o_.nodes; ++i) {
    const SimNode& n = nodes_[static_cast<size_t>(i)];
    const raft::Raft* g = n.groups.size() > ks ? n.groups[ks] : nullptr;
    if (g && g->role() == raft::Role::kLeader && g->term() >= term) {
      best = i;
      term = g->term();
    }
  }
  return best;
}

void Simulator::on_nemesis() {
  if (!faults_on_) return;
  schedule(EventKind::kNemesis, q_.now() + exp_delay_us(mix_.fault_interval_ms));
  const double total = mix_.w_partition + mix_.w_crash + mix_.w_pause + mix_.w_clock;
  if (total <= 0) return;
  double r = rng_.unit() * total;
  const int victim = static_cast<int>(rng_.uniform(static_cast<uint64_t>(o_.nodes)));
  SimNode& n = nodes_[static_cast<size_t>(victim)];
  if ((r -= mix_.w_partition) < 0) {
    if (!net_.is_healed()) {
      net_ = Partition::healed(o_.nodes);
      ++partition_serial_;
      say(fmt::format("t={:.3f}s heal partition", static_cast<double>(q_.now()) / 1e6));
      return;
    }
    std::vector<PartitionShape> shapes;
    for (int s = 0; s < kShapeCount; ++s) {
      if (mix_.shapes[static_cast<size_t>(s)]) shapes.push_back(static_cast<PartitionShape>(s));
    }
    // Multi-leader: sometimes a whole region cut off (when there are several), sometimes
    // every node alone, each taking writes nobody else sees.
    if (mks_ && regions_.count() > 1 && rng_.chance(kRegionCutP)) {
      net_ =
          regions_.cut_off(static_cast<int>(rng_.uniform(static_cast<uint64_t>(regions_.count()))));
    } else {
      net_ = mks_ && rng_.chance(kAllAloneP)
                 ? Partition::all_alone(o_.nodes)
                 : Partition::make(shapes[rng_.uniform(shapes.size())], o_.nodes, rng_);
    }
    ++partition_serial_;
    ++result_.stats.partitions;
    const auto len =
        static_cast<int64_t>(rng_.range(1, static_cast<uint64_t>(mix_.partition_max_ms)));
    schedule(EventKind::kPartitionEnd, q_.now() + len * kUsPerMs, 0, partition_serial_);
    say(fmt::format("t={:.3f}s partition {} for {} ms", static_cast<double>(q_.now()) / 1e6,
                    net_.description(), len));
  } else if ((r -= mix_.w_crash) < 0) {
    if (!n.node || down_count() >= mix_.max_down) return;
    say(fmt::format("t={:.3f}s crash node {}", static_cast<double>(q_.now()) / 1e6, victim));
    crash_node(victim,
               static_cast<int64_t>(rng_.range(1, static_cast<uint64_t>(mix_.down_max_ms))));
  } else if ((r -= mix_.w_pause) < 0) {
    int target = victim;
    auto len = static_cast<int64_t>(rng_.range(1, static_cast<uint64_t>(mix_.pause_max_ms)));
    if (rng_.chance(leader_pause_p_)) {
      // Targeted (at the call site, as BUGGIFY): the leader of a keyspace (the focus one, if
      // any) stops for three to six
      // election timeouts, long enough for the others to elect a new leader and acknowledge
      // writes that the paused one will not have seen when it resumes.
      const uint32_t ks = focus_group_ != 0
                              ? focus_group_
                              : static_cast<uint32_t>(1 + rng_.uniform(checkers_.size() - 1));
      const int leader = leader_of(ks);
      if (leader >= 0) target = leader;
      const int64_t election_ms = static_cast<int64_t>(nodes_[0].config.raft.election_ticks) *
                                  static_cast<int64_t>(nodes_[0].config.raft.tick_ms);
      len = static_cast<int64_t>(rng_.range(static_cast<uint64_t>(3 * election_ms),
                                            static_cast<uint64_t>(6 * election_ms)));
    }
    SimNode& paused = nodes_[static_cast<size_t>(target)];
    if (!paused.node || paused.paused_until > q_.now()) return;
    paused.paused_until = q_.now() + len * kUsPerMs;
    paused.resume_offsets_us.clear();
    ++result_.stats.pauses;
    schedule(EventKind::kResume, paused.paused_until, target);
    say(fmt::format("t={:.3f}s pause node {} for {} ms", static_cast<double>(q_.now()) / 1e6,
                    target, len));
  } else {
    if (mix_.jump_max_ms <= 0) return;
    const auto jump = static_cast<int64_t>(rng_.range(1, static_cast<uint64_t>(mix_.jump_max_ms)));
    n.jumps_us += jump * kUsPerMs;
    ++result_.stats.clock_jumps;
    say(fmt::format("t={:.3f}s clock of node {} jumps {} ms forward",
                    static_cast<double>(q_.now()) / 1e6, victim, jump));
  }
}

// ---------------------------------------------------------------------------------------------
// leaderless model

std::vector<SimKeyspace> Simulator::setup_leaderless(Config& base, std::string* params) {
  // Drawn from a stream of its own, so that the fault draws of a seed are those of primary runs.
  Random lrng(o_.seed ^ 0x1ead'1e55'0000'0002ull);
  auto pick = [&](std::initializer_list<uint64_t> xs) {
    return *(xs.begin() + static_cast<std::ptrdiff_t>(lrng.uniform(xs.size())));
  };
  KeyspaceConfig k;
  k.name = "prefs";
  k.prefix = "prefs:";
  k.model = Model::kLeaderless;
  const auto max_n = static_cast<uint64_t>(std::min(o_.nodes, 5));
  k.n = static_cast<int>(lrng.chance(0.1) ? 1 : lrng.range(std::min<uint64_t>(2, max_n), max_n));
  const auto n = static_cast<uint64_t>(k.n);
  if (lrng.chance(0.5)) {  // overlapping quorums: R + W > N
    k.w = static_cast<int>(lrng.range(1, n));
    k.r = static_cast<int>(lrng.range(n - static_cast<uint64_t>(k.w) + 1, n));
  } else {
    k.r = static_cast<int>(lrng.range(1, n));
    k.w = static_cast<int>(lrng.range(1, n));
  }
  k.sloppy = lrng.chance(0.5);
  k.read_repair = static_cast<ReadRepair>(lrng.uniform(3));
  k.conflict = lrng.chance(0.5) ? ConflictMode::kLww : ConflictMode::kSiblings;
  LeaderlessSettings& ls = base.leaderless;
  ls.tokens_per_node = static_cast<uint32_t>(pick({1, 4, 16, 64}));
  ls.gossip_ms = pick({50, 100, 200});
  ls.request_timeout_ms = pick({200, 500, 1000, 2000});
  ls.anti_entropy_ms = pick({300, 1000, 3000, 10000});
  ls.handoff_batch = pick({1, 8, 64});
  if (lrng.chance(0.2)) ls.hint_window_ms = lrng.range(500, 5000);
  if (lrng.chance(0.2)) ls.max_hint_bytes = lrng.range(200, 5000);
  // Some seeds collect tombstones within the run: a short grace period and hint window.
  if (lrng.chance(0.3)) {
    ls.tombstone_grace_ms = lrng.range(100, 3000);
    ls.hint_window_ms = lrng.range(500, 3000);
  }
  base.keyspaces.push_back(k);
  // Replicas that missed writes catch up through hints, read repair and, at the latest, one
  // anti-entropy round per range: allow three.
  converge_bound_ms_ = kConvergeMaxMs + 3 * static_cast<int64_t>(ls.anti_entropy_ms);
  *params += fmt::format(
      "\n  leaderless keyspace {}: n={} r={} w={} (R + W {} N), sloppy={}, read_repair={}, "
      "conflict={}\n  leaderless: {} tokens per node, gossip every {} ms, request timeout {} ms, "
      "anti-entropy every {} ms, hint window {} ms, hints up to {} bytes per node, handoff batch "
      "{}, tombstone grace {} ms; replicas must converge within {} ms",
      k.name, k.n, k.r, k.w, k.r + k.w > k.n ? ">" : "<=", k.sloppy, to_string(k.read_repair),
      to_string(k.conflict), ls.tokens_per_node, ls.gossip_ms, ls.request_timeout_ms,
      ls.anti_entropy_ms, ls.hint_window_ms, ls.max_hint_bytes, ls.handoff_batch,
      ls.tombstone_grace_ms, converge_bound_ms_);
  lrow_prefix_ = "v" + k.name + std::string(1, '\0');
  lhint_prefix_ = "h" + k.name + std::string(1, '\0');
  // Most clients wait longer than the coordinator does, so that its answer (OK, or TIMEOUT
  // when too few replicas acknowledged) reaches them; the others give up first.
  if (lrng.chance(0.7)) {
    leaderless_op_timeout_ms_ =
        static_cast<int64_t>(ls.request_timeout_ms) + static_cast<int64_t>(lrng.range(50, 1000));
  }
  ledger_ = std::make_unique<check::LeaderlessLedger>(k.conflict);
  lks_ = k;
  SimKeyspace sk;
  sk.name = k.name;
  sk.mode = check::mode_promise(CommitMode::kQuorum, ReadMode::kLinearizable);
  sk.leaderless = k;
  return {sk};
}

// Every object row of the leaderless keyspace in a batch a node is about to write: the ledger
// learns each write's dot and causal past from the first copy stored (its coordinator's).
void Simulator::observe_leaderless(int node, const WriteBatch& batch) {
  for (const WriteBatch::Item& it : batch.items()) {
    if (it.op == WriteBatch::Op::kPut && it.key.starts_with(lhint_prefix_)) {
      observe_hint_row(node, std::string_view(it.key).substr(lhint_prefix_.size()), it.value);
      continue;
    }
    if (it.op != WriteBatch::Op::kPut || it.make_value || !it.key.starts_with(lrow_prefix_)) {
      continue;
    }
    const std::string_view key = std::string_view(it.key).substr(lrow_prefix_.size());
    std::string_view payload;
    versions::Versioned obj;
    if (!unseal(it.value, &payload) || !versions::Versioned::decode(&payload, &obj)) {
      fail(fmt::format("node {} wrote an undecodable object for key \"{}\"", node, key));
      return;
    }
    const std::string err = ledger_->observe(node, key, obj, q_.now());
    if (!err.empty()) {
      fail("leaderless versions: " + err);
      return;
    }
  }
}

void Simulator::observe_hint_row(int node, std::string_view rest, std::string_view value) {
  std::string_view payload;
  uint64_t stored_ms = 0;
  versions::Versioned obj;
  if (rest.size() < 4 || !unseal(value, &payload) || !get_varint(&payload, &stored_ms) ||
      !versions::Versioned::decode(&payload, &obj)) {
    fail(fmt::format("node {} wrote an undecodable hint row", node));
    return;
  }
  uint32_t home = 0;
  for (size_t i = 0; i < 4; ++i)
    home = (home << 8) | static_cast<uint8_t>(rest[i]);
  hint_rows_[{node, home, std::string(rest.substr(4))}] = std::move(obj);
}

// Hint ownership (Dynamo's hinted handoff): a fallback that acknowledges a hinted write counts
// toward W, so by the time it acknowledges it must hold the object, durably, as a hint for the
// home replica (or as its own copy when it is that home).
void Simulator::watch_leaderless_message(int from, int to, std::string_view payload) {
  if (payload.empty() || payload[0] != kPeerLeaderless) return;
  std::string_view body = payload.substr(1), name;
  if (!peek_engine_keyspace(body, &name) || name != lks_->name) return;
  body.remove_prefix(static_cast<size_t>(name.data() - body.data()) + name.size());
  std::vector<std::string_view> parts;
  if (!body.empty() &&
      static_cast<uint8_t>(body[0]) == static_cast<uint8_t>(leaderless::MsgType::kBatch)) {
    if (!leaderless::split_batch(body, &parts)) return;
  } else {
    parts.push_back(body);
  }
  for (std::string_view part : parts) {
    leaderless::Msg m;
    if (leaderless::decode(part, &m)) watch_hint(from, to, m);
  }
}

void Simulator::watch_hint(int from, int to, leaderless::Msg& m) {
  if (m.type == leaderless::MsgType::kWrite) {
    if (m.kind == leaderless::WriteKind::kHint && m.hint_for >= 0) {
      hints_sent_[{from, to, m.id}] =
          HintSent{static_cast<uint32_t>(m.hint_for), m.key, std::move(m.object)};
    } else {
      hints_sent_.erase({from, to, m.id});
    }
    return;
  }
  if (m.type != leaderless::MsgType::kWriteAck) return;
  auto it = hints_sent_.find({to, from, m.id});
  if (it == hints_sent_.end()) return;
  const HintSent h = std::move(it->second);
  hints_sent_.erase(it);
  if (!m.ok) return;  // refused (hint bounds): not counted
  const versions::Versioned* held = nullptr;
  if (h.home == static_cast<uint32_t>(from)) {
    const LeaderlessEngine* e = leaderless_engine(from);
    held = e ? e->local_object(h.key) : nullptr;
  } else {
    auto row = hint_rows_.find({from, h.home, h.key});
    held = row == hint_rows_.end() ? nullptr : &row->second;
  }
  if (!held || !held->covers(h.obj)) {
    fail(
        fmt::format("hint ownership: node {} acknowledged a hinted write of \"{}\" for node {} "
                    "(counted toward W by node {}) without holding it as a hint",
                    from, h.key, h.home, to));
  }
}

bool Simulator::storage_covers(int node, const std::string& key, const versions::Dot& d) const {
  MemStorage& st = *nodes_[static_cast<size_t>(node)].storage;
  auto covers = [&](const std::string& row, bool hint) {
    auto v = st.get(row);
    if (!v.is_ok()) return false;
    std::string_view payload;
    uint64_t stored_ms = 0;
    versions::Versioned obj;
    return unseal(v.value(), &payload) && (!hint || get_varint(&payload, &stored_ms)) &&
           versions::Versioned::decode(&payload, &obj) && obj.context().covers(d);
  };
  if (covers(lrow_prefix_ + key, false)) return true;
  for (int t = 0; t < o_.nodes; ++t) {
    std::string row = lhint_prefix_;
    for (int i = 3; i >= 0; --i)
      row.push_back(static_cast<char>(static_cast<uint32_t>(t) >> (8 * i)));
    if (covers(row + key, true)) return true;
  }
  return false;
}

void Simulator::check_write_quorum(const ClientOp& c) {
  const check::Op& op = c.op;
  std::vector<versions::Dot> dots;  // the write's dot; a DEL: its candidate tombstones
  if (op.type == check::OpType::kSet) {
    const check::LeaderlessWrite* w = op.value ? ledger_->by_value(*op.value) : nullptr;
    if (w) dots.push_back(w->sibling.dot);
  } else {
    for (const check::LeaderlessWrite* t : ledger_->tombstones(op.key, op.invoke, q_.now()))
      dots.push_back(t->sibling.dot);
  }
  int holders = 0;
  for (int i = 0; i < o_.nodes; ++i) {
    for (const versions::Dot& d : dots) {
      if (storage_covers(i, op.key, d)) {
        ++holders;
        break;
      }
    }
  }
  if (holders < c.replicas) {
    fail(fmt::format("write quorum: {} succeeded with {} = {} but only {} node(s) hold it",
                     fmt::join(c.args, " "), op.type == check::OpType::kSet ? "W" : "W (DEL)",
                     c.replicas, holders));
  }
}

const LeaderlessEngine* Simulator::leaderless_engine(int i) const {
  const SimNode& n = nodes_[static_cast<size_t>(i)];
  if (!n.node) return nullptr;
  const int ks = n.node->store().find_keyspace(lks_->name);
  const Engine* e = ks >= 0 ? n.node->engine(static_cast<uint32_t>(ks)) : nullptr;
  return e ? e->as_leaderless() : nullptr;
}

check::HomeObjects Simulator::leaderless_homes() const {
  std::set<std::string> keys;
  for (int i = 0; i < o_.nodes; ++i) {
    if (const LeaderlessEngine* e = leaderless_engine(i)) {
      e->for_each_object([&](std::string_view k, const versions::Versioned&) { keys.emplace(k); });
    }
  }
  check::HomeObjects out;
  const LeaderlessEngine* any = leaderless_engine(0);
  if (!any) return out;
  std::vector<uint32_t> homes;
  for (const std::string& key : keys) {
    any->ring().preference_list(leaderless::Ring::hash_key(key), static_cast<size_t>(lks_->n),
                                &homes);
    auto& objs = out[key];
    for (uint32_t h : homes) {
      const LeaderlessEngine* e = leaderless_engine(static_cast<int>(h));
      const versions::Versioned* o = e ? e->local_object(key) : nullptr;
      objs.emplace_back(static_cast<int>(h), o ? *o : versions::Versioned{});
    }
  }
  return out;
}

// (b): from the moment the clients stopped, the home replicas of every key must come to hold
// equal objects within converge_bound_ms_; the time it took is reported.
void Simulator::check_leaderless_convergence() {
  const int64_t quiet = q_.now();
  const int64_t give_up = quiet + converge_bound_ms_ * kUsPerMs;
  check::CheckResult last;
  while (true) {
    final_homes_ = leaderless_homes();
    last = check::check_leaderless_convergence(final_homes_);
    if (last.ok) break;
    if (q_.now() >= give_up) {
      fail(
          fmt::format("convergence: home replicas of keyspace {} still differ {} ms after the "
                      "clients stopped:\n{}",
                      lks_->name, converge_bound_ms_, last.explanation));
      return;
    }
    run_until(q_.now() + 50 * kUsPerMs, [] { return false; });
    if (!result_.ok) return;
  }
  SimStats& st = result_.stats;
  st.converge_ms = (q_.now() - quiet) / kUsPerMs;
  st.max_siblings = ledger_->max_siblings();
  for (int i = 0; i < o_.nodes; ++i) {
    const LeaderlessEngine* e = leaderless_engine(i);
    if (!e) continue;
    st.lww_discarded += e->stats().lww_discarded;
    st.read_repairs += e->stats().read_repairs;
    st.hints_delivered += e->stats().hints_delivered;
    st.sync_keys += e->stats().sync_keys;
    st.refusals_redirected += e->stats().refusals_redirected;
    st.writes_refused += e->stats().writes_refused;
    st.hints_left += e->hint_count();
  }
  say(fmt::format("t={:.3f}s leaderless replicas converged {} ms after the clients stopped",
                  static_cast<double>(q_.now()) / 1e6, st.converge_ms));
}

// (a), (c), (e) over the history and the converged replicas (check/leaderless_checker.h).
void Simulator::check_leaderless_history() {
  std::vector<check::LeaderlessOp> ops;
  ops.reserve(result_.history.size());
  for (size_t i = 0; i < result_.history.size(); ++i) {
    if (Workload::family_of(result_.history[i].key) != Family::kLeaderless) continue;
    ops.push_back({result_.history[i], op_replicas_[i]});
  }
  check::LeaderlessFacts facts;
  facts.n = lks_->n;
  facts.sloppy = lks_->sloppy;
  facts.conflict = lks_->conflict;
  facts.blocking_repair = lks_->read_repair == ReadRepair::kBlocking;
  // Seeds with a short grace period may collect tombstones (a node's counter of collections
  // restarts with the node, so the setting decides).
  const LeaderlessSettings& lset = nodes_[0].config.leaderless;
  facts.tombstones_collected =
      lset.tombstone_grace_ms < LeaderlessSettings{}.tombstone_grace_ms ||
      lset.hint_window_ms + lset.request_timeout_ms < LeaderlessSettings{}.tombstone_grace_ms;
  facts.epoch_ms = kEpochMs + SimClock::kMonoOriginUs / kUsPerMs;  // a perfect clock at t = 0
  for (const SimNode& n : nodes_) {
    const int64_t drift_ms = (std::abs(n.drift_ppm) * q_.now()) / 1'000'000'000 + 1;
    facts.max_clock_ahead_ms =
        std::max(facts.max_clock_ahead_ms, (n.offset_us + n.jumps_us) / kUsPerMs + drift_ms);
  }
  const check::CheckResult r = check::check_leaderless(ops, *ledger_, final_homes_, facts);
  if (!r.notes.empty()) note(fmt::format("leaderless checker: {}", fmt::join(r.notes, "; ")));
  if (!r.ok) {
    fail(fmt::format("keyspace {} (leaderless n={} r={} w={} sloppy={} conflict={}): {}\n{}",
                     lks_->name, lks_->n, lks_->r, lks_->w, lks_->sloppy, to_string(lks_->conflict),
                     check::verdict_name(r.verdict), r.explanation));
  }
}

// ---------------------------------------------------------------------------------------------
// multi-leader model

std::vector<SimKeyspace> Simulator::setup_multileader(Config& base, std::string* params) {
  RKV_ASSERT(o_.nodes >= 2);  // one node has no replication engine (sim_cli refuses it)
  // Drawn from a stream of its own, so that the fault draws of a seed are those of primary runs.
  Random mrng(o_.seed ^ 0x3171'1ead'0000'0003ull);
  auto pick = [&](std::initializer_list<uint64_t> xs) {
    return *(xs.begin() + static_cast<std::ptrdiff_t>(mrng.uniform(xs.size())));
  };
  KeyspaceConfig k;
  k.name = "carts";
  k.prefix = "carts:";
  k.model = Model::kMultiLeader;
  MultiLeaderSettings& ms = base.multileader;
  // Short exchanges, so that runs converge well within the simulated time.
  ms.hello_ms = pick({20, 50, 100, 200});
  ms.retransmit_ms = pick({100, 250, 500, 1000});
  // Some seeds keep a log so short that peers back from a partition or a crash get a state
  // transfer; some ship in small batches with a small unacknowledged window.
  if (mrng.chance(0.3)) ms.max_log_entries = pick({2, 8, 32});
  if (mrng.chance(0.3)) ms.ship_batch_bytes = pick({64, 512, 4096});
  if (mrng.chance(0.2)) ms.max_unacked_bytes = pick({256, 2048});
  ms.tombstone_grace_ms = pick({0, 0, 100, 1000});
  // Some seeds send state transfers in many small parts (some lost, or sent while the
  // receiver is down).
  if (mrng.chance(0.3)) ms.state_chunk_bytes = pick({64, 256});
  if (o_.state_chunk_bytes > 0) ms.state_chunk_bytes = static_cast<uint64_t>(o_.state_chunk_bytes);
  // Half the seeds write nothing after healing: a later write of a key would hide a node that
  // missed an earlier one.
  if (mrng.chance(0.5)) liveness_issue_ms_ = 0;
  // The configured bound (500 ms) by default, below the clock offsets some seeds draw: peers
  // then stamp ahead of what a node's clock follows. --max-clock-skew-ms sets it.
  if (o_.max_clock_skew_ms > 0) ms.max_clock_skew_ms = static_cast<uint64_t>(o_.max_clock_skew_ms);
  // The no-silent-loss checker looks every discard up in CONFLICTS: none may fall off.
  ms.conflict_records = std::numeric_limits<uint32_t>::max();
  // --conflict picks the mode; without it each seed draws one, from a stream of its own (so the
  // seed's other draws are the same whatever the mode): a sweep runs every mode a user can
  // configure, each judged by its own checkers.
  if (o_.conflict == "crdt") {
    k.conflict = ConflictMode::kCrdt;
  } else if (o_.conflict == "siblings") {
    k.conflict = ConflictMode::kSiblings;
  } else if (o_.conflict == "lww") {
    k.conflict = ConflictMode::kLww;
  } else {
    Random crng(o_.seed ^ 0xc0f1'1c70'0000'0005ull);
    static constexpr ConflictMode kModes[] = {ConflictMode::kLww, ConflictMode::kCrdt,
                                              ConflictMode::kSiblings};
    k.conflict = kModes[crng.uniform(std::size(kModes))];
  }
  base.keyspaces.push_back(k);
  place_regions(base);
  // A window smaller than the WAN's bandwidth-delay product throttles catch-up to a trickle (256
  // bytes unacknowledged over a 400 ms round trip carry 640 bytes a second): across regions the
  // smallest window drawn is 64 KiB, as an operator would size it (docs/configuration.md).
  if (regions_.max_one_way_us() > 0) {
    ms.max_unacked_bytes = std::max<uint64_t>(ms.max_unacked_bytes, uint64_t{64} << 10);
  }
  // After the clients stop, a peer whose shipping stalled resumes from its cursor within a
  // retransmit interval and learns every cursor within a hello interval: allow three of each.
  // Across regions every step also waits for WAN round trips.
  converge_bound_ms_ = kConvergeMaxMs + 3 * static_cast<int64_t>(ms.retransmit_ms + ms.hello_ms) +
                       kConvergeWanRoundTrips * 2 * regions_.max_one_way_us() / kUsPerMs;
  *params += "\n  regions: " + regions_.describe();
  *params += fmt::format(
      "\n  multi-leader keyspace {}: conflict={}, hello every {} ms, retransmit after {} ms, log "
      "up to {} entries, ship batches of {} bytes, {} bytes unacknowledged, state transfer "
      "chunks of {} bytes, tombstone grace {} ms, max clock skew {} ms; clients write for {} ms "
      "after healing; nodes must converge within {} ms",
      k.name, to_string(k.conflict), ms.hello_ms, ms.retransmit_ms, ms.max_log_entries,
      ms.ship_batch_bytes, ms.max_unacked_bytes, ms.state_chunk_bytes, ms.tombstone_grace_ms,
      ms.max_clock_skew_ms, liveness_issue_ms_, converge_bound_ms_);
  mlog_prefix_ = "M" + k.name + std::string(1, '\0') + "o";
  const auto n = static_cast<size_t>(o_.nodes);
  ml_taken_.resize(n);
  ml_discards_.resize(n);
  ml_reported_.resize(n);
  ml_transferred_.resize(n);
  mks_ = k;
  SimKeyspace sk;
  sk.name = k.name;
  sk.mode = check::mode_promise(CommitMode::kQuorum, ReadMode::kLinearizable);
  sk.multileader = true;
  sk.crdt = k.conflict == ConflictMode::kCrdt;
  sk.siblings = k.conflict == ConflictMode::kSiblings;
  return {sk};
}

void Simulator::place_regions(Config& base) {
  // Drawn from a stream of its own, so that a seed's other draws stay what they were; a seed
  // in one region runs exactly as it did before regions existed.
  Random rrng(o_.seed ^ 0x4e61'0000'0000'0004ull);
  const int count =
      o_.regions > 0
          ? o_.regions
          : 1 + static_cast<int>(rrng.uniform(static_cast<uint64_t>(std::min(3, o_.nodes))));
  const bool lossy = o_.faults != FaultLevel::kNone && (o_.disabled & kFamilyLoss) == 0;
  regions_ = RegionLayout::draw(count, o_.nodes, lossy, rrng);
  result_.stats.regions = count;
  if (count == 1) return;  // no region declared: all nodes in one
  for (int i = 0; i < o_.nodes; ++i) {
    base.nodes[static_cast<size_t>(i)].region = RegionLayout::name(regions_.region_of(i));
  }
}

MultiLeaderEngine* Simulator::multileader_engine(int i) const {
  const SimNode& n = nodes_[static_cast<size_t>(i)];
  if (!n.node) return nullptr;
  const int ks = n.node->store().find_keyspace(mks_->name);
  Engine* e = ks >= 0 ? n.node->engine(static_cast<uint32_t>(ks)) : nullptr;
  return e ? e->as_multileader() : nullptr;
}

// A new incarnation's engine reports every peer write it takes (the observation hook).
void Simulator::watch_multileader_engine(int i) {
  ml_discards_[static_cast<size_t>(i)].clear();  // CONFLICTS starts empty with the process
  MultiLeaderEngine* e = multileader_engine(i);
  RKV_ASSERT(e != nullptr);
  e->set_apply_observer([this, i](const multileader::Item& it, bool stood) {
    ml_taken_[static_cast<size_t>(i)].emplace(it.actor, it.seq);
    if (!stood) ml_discards_[static_cast<size_t>(i)].push_back({it.actor, it.seq, it.key});
  });
}

// Every origin-log entry in a batch a node is about to write: the ledger of writes.
void Simulator::observe_multileader(int node, const WriteBatch& batch) {
  const MultiLeaderEngine* e = multileader_engine(node);
  RKV_ASSERT(e != nullptr);
  for (const WriteBatch::Item& row : batch.items()) {
    if (row.op != WriteBatch::Op::kPut || row.make_value || !row.key.starts_with(mlog_prefix_) ||
        row.key.size() != mlog_prefix_.size() + 8) {
      continue;
    }
    std::string_view payload;
    multileader::Item it;
    if (!unseal(row.value, &payload) || !multileader::decode_log_record(payload, e->actor(), &it)) {
      fail(fmt::format("node {} wrote an undecodable origin-log entry", node));
      return;
    }
    auto [pos, fresh] = ml_entries_.try_emplace(MlId{it.actor, it.seq}, MlEntry{node, it});
    if (fresh) continue;
    MlEntry& old = pos->second;
    const multileader::Item& o = old.item;
    if (o.key == it.key && o.hlc == it.hlc && o.tomb == it.tomb && o.image == it.image) continue;
    if (old.acked) {
      fail(fmt::format(
          "no silent loss: node {} acknowledged a write of \"{}\" as entry {} of its origin log "
          "(actor {:x}, hlc {}), then wrote another write of \"{}\" under the same number: the "
          "acknowledged entry was lost",
          node, o.key, o.seq, o.actor, o.hlc, it.key));
      return;
    }
    old = MlEntry{node, std::move(it)};  // an unacknowledged entry a crash lost, reused
  }
}

// A value image (Store::key_image) in a canonical form: a set's or hash's elements come in
// its hash table's order, which differs between nodes holding equal values; they are sorted.
// Strings and lists are their own canonical form; nullopt stays nullopt.
std::optional<std::string> canonical_image(std::optional<std::string> image) {
  constexpr size_t kHead = 8 + 1 + 4;  // expiry, type, element count
  if (!image || image->size() < kHead) return image;
  const auto type = static_cast<ValueType>((*image)[8]);
  if (type != ValueType::kSet && type != ValueType::kHash && type != ValueType::kZset) {
    return image;
  }
  const int parts = type == ValueType::kSet ? 1 : 2;
  std::vector<std::string_view> elements;
  const std::string_view all = *image;
  size_t at = kHead;
  while (at < all.size()) {
    const size_t begin = at;
    for (int p = 0; p < parts; ++p) {
      if (all.size() - at < 4) return image;  // malformed: compared as it is
      const uint32_t len = get_u32(all.data() + at);
      if (all.size() - at - 4 < len) return image;
      at += 4 + len;
    }
    elements.push_back(all.substr(begin, at - begin));
  }
  std::sort(elements.begin(), elements.end());
  std::string out(all.substr(0, kHead));
  for (std::string_view e : elements)
    out.append(e);
  return out;
}

// The body of a multi-leader message of the simulated keyspace, after its envelope.
bool multileader_body(std::string_view payload, std::string_view keyspace, std::string_view* body) {
  if (payload.empty() || payload[0] != kPeerMultiLeader) return false;
  std::string_view b = payload.substr(1), name;
  if (!peek_engine_keyspace(b, &name) || name != keyspace) return false;
  b.remove_prefix(static_cast<size_t>(name.data() - b.data()) + name.size());
  *body = b;
  return true;
}

// What a node reports applied (kStatus carries its durable applied vector).
void Simulator::watch_multileader_send(int from, std::string_view payload) {
  std::string_view body;
  multileader::Msg m;
  if (!multileader_body(payload, mks_->name, &body) || body.empty() ||
      static_cast<uint8_t>(body[0]) != static_cast<uint8_t>(multileader::MsgType::kStatus) ||
      !multileader::decode(body, &m)) {
    return;
  }
  ml_reported_[static_cast<size_t>(from)] = std::move(m.applied);
}

// The last part of a state transfer brings the receiver every entry its sender held: those it
// did not take one by one are covered by the key images it took.
void Simulator::watch_multileader_delivery(int to, std::string_view payload) {
  std::string_view body;
  multileader::Msg m;
  if (!multileader_body(payload, mks_->name, &body) || body.empty() ||
      static_cast<uint8_t>(body[0]) != static_cast<uint8_t>(multileader::MsgType::kState) ||
      !multileader::decode(body, &m) || !m.last) {
    return;
  }
  for (const auto& [actor, seq] : m.applied) {
    uint64_t& covered = ml_transferred_[static_cast<size_t>(to)][actor];
    covered = std::max(covered, seq);
  }
}

// The entries a client's command appended to the node's origin log (executed at once).
void Simulator::note_multileader_op(int node, const SimClient& cl, uint64_t seq_before) {
  const MultiLeaderEngine* e = multileader_engine(node);
  if (!e || e->own_seq() == seq_before) return;
  std::vector<MlId>& ids = ml_op_entries_[{cl.index, cl.serial}];
  for (uint64_t s = seq_before + 1; s <= e->own_seq(); ++s)
    ids.emplace_back(e->actor(), s);
}

// An acknowledged write must be in its node's origin log (durable: the reply waited for it).
void Simulator::finish_multileader_op(const SimClient& cl) {
  // conflict = crdt: what the counter and the set must show at the end.
  const check::Op& o = cl.op.op;
  if (o.type == check::OpType::kIncr) {
    ml_incr_ok_ += o.status == check::OpStatus::kOk;
    ml_incr_info_ += o.status == check::OpStatus::kInfo;
  } else if (o.type == check::OpType::kSadd && o.ok() && o.value) {
    ml_sadd_ok_.insert(*o.value);
  }
  auto op = ml_op_entries_.find({cl.index, cl.serial});
  if (op == ml_op_entries_.end()) return;
  if (cl.op.op.ok()) {
    for (const MlId& id : op->second) {
      auto e = ml_entries_.find(id);
      if (e == ml_entries_.end() || e->second.item.key != cl.op.op.key) {
        fail(fmt::format(
            "no silent loss: {} was acknowledged but entry {} of actor {:x} is not in its node's "
            "origin log",
            fmt::join(cl.op.args, " "), id.second, id.first));
        return;
      }
      e->second.acked = true;
    }
  }
  ml_op_entries_.erase(op);
}

// conflict = siblings: every node holds the same live siblings of every key (value, stamp,
// dot, expiry) and shows the same value. Dead ones (tombstones, expired values) are forgotten
// at each node in its own time, and contexts keep the dots of what each forgot: not compared.
std::string Simulator::siblings_difference(const std::set<std::string>& keys,
                                           const std::vector<const MultiLeaderEngine*>& e) const {
  auto live = [&](int i, const std::string& key) {
    std::vector<versions::Sibling> out;
    const int64_t now = clock_ms(i);
    if (const versions::Versioned* o = e[static_cast<size_t>(i)]->versioned(key)) {
      for (const versions::Sibling& s : o->siblings()) {
        if (versioned::live(s, now)) out.push_back(s);
      }
    }
    return out;
  };
  const uint32_t ks = static_cast<uint32_t>(nodes_[0].node->store().find_keyspace(mks_->name));
  for (const std::string& key : keys) {
    const auto sibs0 = live(0, key);
    const auto image0 = nodes_[0].node->store().key_image(ks, key);
    for (int i = 1; i < o_.nodes; ++i) {
      const auto sibs = live(i, key);
      const auto image = nodes_[static_cast<size_t>(i)].node->store().key_image(ks, key);
      if (sibs0 == sibs && image0 == image) continue;
      auto text = [](const std::vector<versions::Sibling>& v) {
        std::string t;
        for (const versions::Sibling& s : v)
          t += fmt::format("[{:?} {:x}:{} hlc {}]", s.value, s.dot.actor, s.dot.counter, s.hlc);
        return t.empty() ? std::string("(none)") : t;
      };
      return fmt::format("key \"{}\": node 0 holds siblings {}, node {} holds {}", key, text(sibs0),
                         i, text(sibs));
    }
  }
  return {};
}

std::string Simulator::multileader_difference() const {
  std::set<std::string> keys;
  for (const auto& [id, e] : ml_entries_)
    keys.insert(e.item.key);
  std::vector<const MultiLeaderEngine*> engines;
  for (int i = 0; i < o_.nodes; ++i) {
    engines.push_back(multileader_engine(i));
    if (!engines.back()) return fmt::format("node {} is down", i);
  }
  // Every node has taken (and reported durable) every entry of every origin.
  for (int i = 0; i < o_.nodes; ++i) {
    for (const MultiLeaderEngine* origin : engines) {
      const uint64_t have =
          multileader::applied_of(ml_reported_[static_cast<size_t>(i)], origin->actor());
      if (have < origin->own_seq()) {
        return fmt::format("node {} reports actor {:x}'s log applied up to {} of {}", i,
                           origin->actor(), have, origin->own_seq());
      }
    }
  }
  const uint32_t ks = static_cast<uint32_t>(nodes_[0].node->store().find_keyspace(mks_->name));
  if (mks_->conflict == ConflictMode::kSiblings) return siblings_difference(keys, engines);
  for (const std::string& key : keys) {
    const auto image0 = canonical_image(nodes_[0].node->store().key_image(ks, key));
    const auto stamp0 = engines[0]->stamp(key);
    for (int i = 1; i < o_.nodes; ++i) {
      const auto image =
          canonical_image(nodes_[static_cast<size_t>(i)].node->store().key_image(ks, key));
      const auto stamp = engines[static_cast<size_t>(i)]->stamp(key);
      // A deleted key's stamp is collected at each node in its own time: compare live keys'.
      // With crdt a key's stamp is its latest change as it arrived, which differs by node:
      // the objects' content is what must agree (their elements, shown by the images).
      const bool live = image0 || image;
      const bool crdt = mks_->conflict == ConflictMode::kCrdt;
      const bool same_stamp = !live || crdt ||
                              (stamp0 && stamp && stamp0->hlc == stamp->hlc &&
                               stamp0->actor == stamp->actor && !stamp->tomb);
      if (image0 != image || !same_stamp) {
        return fmt::format(
            "key \"{}\": node 0 holds {:?} stamped {}, node {} holds {:?} stamped {}", key,
            image0.value_or("(none)"),
            stamp0 ? fmt::format("({}, {:x})", stamp0->hlc, stamp0->actor) : "-", i,
            image.value_or("(none)"),
            stamp ? fmt::format("({}, {:x})", stamp->hlc, stamp->actor) : "-");
      }
    }
  }
  return {};
}

// (a): from the moment the clients stopped, every node must hold the same content of the
// keyspace (images and stamps) and report every origin's log applied, within
// converge_bound_ms_; the time it took is reported.
void Simulator::check_multileader_convergence() {
  const int64_t quiet = q_.now();
  const int64_t give_up = quiet + converge_bound_ms_ * kUsPerMs;
  while (true) {
    const std::string why = multileader_difference();
    if (why.empty()) break;
    if (q_.now() >= give_up) {
      fail(
          fmt::format("convergence: the nodes of multi-leader keyspace {} still differ {} ms "
                      "after the clients stopped: {}",
                      mks_->name, converge_bound_ms_, why));
      return;
    }
    // Inputs a pause deferred keep their time when healing ends the pause early: a node may
    // be silent for longer than the poll interval, so each poll runs at least one event.
    RKV_ASSERT(!q_.empty());  // every live node keeps a tick scheduled
    run_until(std::max(q_.now() + 50 * kUsPerMs, q_.next_time()), [] { return false; });
    if (!result_.ok) return;
  }
  SimStats& st = result_.stats;
  st.converge_ms = (q_.now() - quiet) / kUsPerMs;
  for (int i = 0; i < o_.nodes; ++i) {
    const MultiLeaderStats& ms = multileader_engine(i)->stats();
    st.lww_discarded += ms.lww_discarded;
    st.resends += ms.resends;
    st.state_transfers += ms.state_transfers_received;
    st.tombstones_collected += ms.tombstones_collected;
    st.clock_skew_reports += ms.clock_skew_reports;
    st.siblings_created += ms.siblings_created;
    st.max_siblings =
        std::max<uint64_t>(st.max_siblings, multileader_engine(i)->keys_with_siblings());
  }
  say(fmt::format("t={:.3f}s multi-leader nodes converged {} ms after the clients stopped",
                  static_cast<double>(q_.now()) / 1e6, st.converge_ms));
}

// (b) no silent loss and (c) the LWW winner, over the converged nodes and the ledger.
// conflict = crdt, after convergence: every node's counter counts every acknowledged INCR
// (and at most the indeterminate ones besides), and every node's set holds every acknowledged
// SADD's member (the workload never removes from it).
void Simulator::check_multileader_crdt() {
  const std::string counter = mks_->prefix + "mc0", set = mks_->prefix + "ms0";
  for (int i = 0; i < o_.nodes; ++i) {
    const Node& node = *nodes_[static_cast<size_t>(i)].node;
    const auto ks = static_cast<uint32_t>(node.store().find_keyspace(mks_->name));
    const auto c = node.store().key_image(ks, counter);
    int64_t value = 0;
    if (c) {
      Value v;
      size_t at = 0;
      if (!Store::parse_value_image(*c, &at, true, &v) || !v.is_string() ||
          !parse_int64(v.data, &value)) {
        fail(fmt::format("counter: {} at node {} is not an integer", counter, i));
        return;
      }
    }
    if (value < ml_incr_ok_ || value > ml_incr_ok_ + ml_incr_info_) {
      fail(
          fmt::format("counter: {} at node {} is {}, but {} INCRs were acknowledged and {} are "
                      "indeterminate",
                      counter, i, value, ml_incr_ok_, ml_incr_info_));
      return;
    }
    std::set<std::string> members;
    if (const auto img = node.store().key_image(ks, set)) {
      Value v;
      size_t at = 0;
      if (Store::parse_value_image(*img, &at, true, &v) && v.coll) {
        v.coll->elems.for_each([&](const KeyTable::Entry& e) { members.insert(e.key.str()); });
      }
    }
    for (const std::string& m : ml_sadd_ok_) {
      if (!members.contains(m)) {
        fail(fmt::format("set-full: acknowledged SADD {} {} is missing at node {}", set, m, i));
        return;
      }
    }
  }
}

// conflict = siblings, after convergence, no silent loss: every acknowledged SET is, at every
// node, still one of the key's siblings, or superseded by a write that had seen it (one whose
// context covers its dot; a write a crash lost before it was shipped does not count). A SET's
// entry carries the write as a one-sibling object: its dot, and as context what it superseded.
void Simulator::check_multileader_siblings() {
  std::map<uint64_t, uint64_t> log_end;
  for (int i = 0; i < o_.nodes; ++i)
    log_end[multileader_engine(i)->actor()] = multileader_engine(i)->own_seq();
  struct Write {
    MlId id;
    versions::Versioned change;
    const MlEntry* entry;
  };
  std::map<std::string, std::vector<Write>> by_key;  // writes kept in their node's log
  for (const auto& [id, e] : ml_entries_) {
    auto end = log_end.find(id.first);
    if (end == log_end.end() || id.second > end->second) continue;
    Write w{id, {}, &e};
    std::string_view in = e.item.image;
    if (!versions::Versioned::decode(&in, &w.change) || w.change.siblings().size() != 1) {
      fail(fmt::format("siblings: entry {} of actor {:x} (\"{}\") does not carry one write",
                       id.second, id.first, e.item.key));
      return;
    }
    by_key[e.item.key].push_back(std::move(w));
  }
  for (const auto& [key, writes] : by_key) {
    for (const Write& w : writes) {
      const versions::Sibling& s = w.change.siblings().front();
      if (!w.entry->acked || s.tombstone) continue;
      // Superseded: another write of the key whose context names this one's dot.
      const Write* by = nullptr;
      for (const Write& o : writes) {
        if (o.id != w.id && o.change.context().covers(s.dot)) {
          by = &o;
          break;
        }
      }
      if (by) continue;
      for (int i = 0; i < o_.nodes; ++i) {
        const versions::Versioned* obj = multileader_engine(i)->versioned(key);
        const bool held =
            obj && std::any_of(obj->siblings().begin(), obj->siblings().end(),
                               [&](const versions::Sibling& x) { return x.dot == s.dot; });
        const bool expired = s.expire_at_ms != 0 && s.expire_at_ms <= clock_ms(i);
        if (held || expired) continue;
        fail(fmt::format(
            "no silent loss (siblings): acknowledged SET {} {} (node {}, dot {:x}:{}) is not a "
            "sibling at node {} and no write that saw it superseded it; node {} holds {}",
            key, s.value, w.entry->node, s.dot.actor, s.dot.counter, i, i,
            obj ? fmt::format("{} siblings", obj->siblings().size()) : std::string("nothing")));
        return;
      }
    }
  }
}

void Simulator::check_multileader() {
  std::map<uint64_t, uint64_t> log_end;  // per actor: the last entry its node kept
  std::vector<uint64_t> actors;
  for (int i = 0; i < o_.nodes; ++i) {
    const MultiLeaderEngine* e = multileader_engine(i);
    log_end[e->actor()] = e->own_seq();
    actors.push_back(e->actor());
  }
  auto kept = [&](const MlId& id) {
    auto end = log_end.find(id.first);
    return end != log_end.end() && id.second <= end->second;
  };
  // (b) An acknowledged write survives its node's crashes.
  for (const auto& [id, e] : ml_entries_) {
    if (e.acked && !kept(id)) {
      fail(fmt::format(
          "no silent loss: node {} acknowledged a write of \"{}\" as entry {} of its origin log "
          "(actor {:x}), but its log ends at {}",
          e.node, e.item.key, id.second, id.first, log_end[id.first]));
      return;
    }
  }
  // (b) At every node, each entry of every origin up to what the node reports applied was
  // taken there (applied or discarded), or came with a state transfer.
  for (int i = 0; i < o_.nodes; ++i) {
    const auto n = static_cast<size_t>(i);
    for (const auto& [id, e] : ml_entries_) {
      if (id.first == actors[n] || !kept(id) ||
          id.second > multileader::applied_of(ml_reported_[n], id.first)) {
        continue;
      }
      auto transferred = ml_transferred_[n].find(id.first);
      if (ml_taken_[n].contains(id) ||
          (transferred != ml_transferred_[n].end() && id.second <= transferred->second)) {
        continue;
      }
      fail(fmt::format(
          "no silent loss: node {} reports node {}'s log (actor {:x}) applied up to {}, but "
          "never applied nor discarded its entry {} (\"{}\", hlc {})",
          i, e.node, id.first, multileader::applied_of(ml_reported_[n], id.first), id.second,
          e.item.key, e.item.hlc));
      return;
    }
    // Every discard is recorded (CONFLICTS), with the write that lost.
    std::set<std::tuple<uint64_t, uint64_t, std::string>> recorded;
    for (const ConflictRecord& c :
         multileader_engine(i)->conflicts(std::numeric_limits<size_t>::max()))
      recorded.emplace(c.loser_actor, c.loser_seq, c.key);
    for (const MlDiscard& d : ml_discards_[n]) {
      if (!recorded.contains({d.actor, d.seq, d.key})) {
        fail(
            fmt::format("no silent loss: node {} discarded entry {} of actor {:x} (\"{}\") without "
                        "recording the conflict",
                        i, d.seq, d.actor, d.key));
        return;
      }
    }
  }
  if (mks_->conflict == ConflictMode::kCrdt) return check_multileader_crdt();
  if (mks_->conflict == ConflictMode::kSiblings) return check_multileader_siblings();
  // (c) Each key holds the write with the greatest stamp among those that were kept.
  std::map<std::string, const MlEntry*> winners;
  for (const auto& [id, e] : ml_entries_) {
    if (!kept(id)) continue;
    const MlEntry*& w = winners[e.item.key];
    if (!w || std::pair(e.item.hlc, e.item.actor) > std::pair(w->item.hlc, w->item.actor)) w = &e;
  }
  for (int i = 0; i < o_.nodes; ++i) {
    const Node& node = *nodes_[static_cast<size_t>(i)].node;
    const auto ks = static_cast<uint32_t>(node.store().find_keyspace(mks_->name));
    for (const auto& [key, w] : winners) {
      const auto image = canonical_image(node.store().key_image(ks, key));
      const bool right = w->item.tomb ? !image : image == canonical_image(w->item.image);
      if (right) continue;
      fail(fmt::format(
          "last writer wins: key \"{}\" at node {} holds {:?}, but the write with the greatest "
          "stamp is entry {} of node {} (actor {:x}, hlc {}): {}",
          key, i, image.value_or("(none)"), w->item.seq, w->node, w->item.actor, w->item.hlc,
          w->item.tomb ? std::string("a deletion") : fmt::format("{:?}", w->item.image)));
      return;
    }
  }
}

}  // namespace

SimResult run_simulation(const SimOptions& options, std::ostream* log) {
  SimOptions o = options;
  if (o.nodes == 0) {
    // Each seed draws its cluster size (3..7), from a stream of its own.
    Random nrng(o.seed ^ 0x1ead'1e55'0000'0001ull);
    o.nodes = static_cast<int>(nrng.range(3, kMaxNodes));
  }
  Simulator sim(o, log);
  return sim.run();
}

}  // namespace rkv::sim
