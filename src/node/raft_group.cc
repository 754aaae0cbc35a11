#include "node/raft_group.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <limits>

#include "core/checksum.h"
#include "node/node.h"
#include "node/wire.h"
#include "raft/codec.h"
#include "raft/log_store.h"
#include "resp/commands.h"
#include "resp/writer.h"

namespace rkv {

namespace {

constexpr size_t kMaxExpiriesPerEntry = 128;
// commit = async acknowledges a write at once only while the log holds fewer uncommitted
// entries than this; beyond, writes wait for their commit (as with quorum) until the replicas
// catch up. Clients are slowed to the replicas' pace instead of being refused once Raft's own
// bound (max_uncommitted_entries) is reached, and what a failover can lose stays bounded.
constexpr uint64_t kAsyncAckMaxUncommitted = 4096;
// A pause of the node is reported at most this often.
constexpr int64_t kPauseNoteEveryMs = 10000;
// Entries ahead of the one being applied whose key's bucket, and entry, are prefetched.
constexpr size_t kPrefetchBucketAhead = 8;
constexpr size_t kPrefetchEntryAhead = 4;
// Committed entries one pump() applies at most (about a millisecond of work).
constexpr size_t kMaxAppliedPerPump = 4096;
// Entries of the keyspace a snapshot image takes per step (per tick): about a millisecond (a
// cache miss or two per entry).
constexpr size_t kImageEntriesPerStep = 4096;
// A streamed image's build looks for a part to hand out after this many entries.
constexpr size_t kImageSliceEntries = 16;
// What a log entry holds in memory besides its command: Raft's entry, the shared buffer's
// header, and the storage's record of it (measured with a heap profile: about 80-100 bytes).
constexpr uint64_t kLogEntryOverhead = 96;
// An image begins on the log's bytes alone only after this many entries since the last one.
constexpr uint64_t kMinEntriesPerImage = 100;

raft::NodeId raft_id(uint32_t index) {
  return index + 1;
}
int32_t node_index(raft::NodeId id) {
  return id == raft::kNoNode ? -1 : static_cast<int32_t>(id - 1);
}

}  // namespace

RaftGroup::RaftGroup(Node* node, uint32_t keyspace, Random* random)
    : node_(node),
      ks_(keyspace),
      group_(node->store_.keyspace(keyspace).config.name),
      random_(random) {}

RaftGroup::~RaftGroup() = default;

Status RaftGroup::open(int64_t /*now_ms*/) {
  auto restored = raft::load(*node_->storage_, group_);
  if (!restored.is_ok()) return restored.status();
  if (restored->dropped_torn_index) {
    node_->note(fmt::format("keyspace {}: dropped torn log record at index {} (never acknowledged)",
                            group_, *restored->dropped_torn_index));
  }
  // The keyspace's state is the snapshot image plus the committed log after it: no rows of a
  // replicated keyspace are stored. The image is loaded here; the Raft core hands the entries
  // from the snapshot up to the persisted commit index to the first Ready, which applies them.
  raft::PersistentState& ps = restored->state;
  const uint64_t applied = ps.snapshot.meta.index;
  if (applied > 0 && !node_->store_.load_keyspace(ks_, ps.snapshot.data, node_->key_events_)) {
    return Status::corruption(fmt::format("snapshot image of keyspace {} is corrupt", group_));
  }
  const RaftSettings& rs = node_->config_.raft;
  raft::Config cfg;
  cfg.id = raft_id(node_->self_index_);
  for (uint32_t i = 0; i < node_->config_.nodes.size(); ++i)
    cfg.voters.push_back(raft_id(i));
  cfg.election_tick = rs.election_ticks;
  cfg.heartbeat_tick = rs.heartbeat_ticks;
  cfg.lease_drift_ticks = rs.lease_drift_ticks;
  cfg.max_inflight_msgs = rs.max_inflight_msgs;
  cfg.snapshot_catchup_entries = rs.snapshot_catchup_entries;
  cfg.applied = applied;
  cfg.bugs = rs.bugs;
  if (Status st = cfg.validate(); !st.is_ok()) return st;
  last_hs_ = ps.hard_state;
  durable_hs_ = ps.hard_state;
  start_term_ = ps.hard_state.term;
  applied_ = cfg.applied;
  last_compact_ = ps.snapshot.meta.index;
  plan_next_image();
  if (node_->image_blobs_) {
    // Blobs of images written but never named by a record (a crash came between), or named by
    // a record replaced since, go now.
    auto names = node_->storage_->list_blobs();
    if (!names.is_ok()) return names.status();
    const std::string prefix = raft::image_blob_prefix(group_);
    for (const std::string& name : *names) {
      if (name.rfind(prefix, 0) != 0) continue;
      const char* first = name.data() + prefix.size();
      const char* last = name.data() + name.size();
      uint64_t index = 0;
      auto [end, ec] = std::from_chars(first, last, index);
      if (ec != std::errc() || end != last) continue;
      blobs_.insert(index);
    }
    if (!restored->image_blob.empty()) {
      blob_index_ = ps.snapshot.meta.index;
      blob_bytes_ = ps.snapshot.data.size();
    }
    remove_blobs_except(blob_index_);
  }
  raft_ = std::make_unique<raft::Raft>(cfg, *random_, std::move(ps));
  return Status::ok();
}

bool RaftGroup::is_leader() const {
  return raft_->role() == raft::Role::kLeader;
}
int32_t RaftGroup::leader_index() const {
  return node_index(raft_->leader());
}

GroupStatus RaftGroup::status(uint64_t tick_ms) const {
  GroupStatus s;
  s.role = raft_->role();
  s.term = raft_->term();
  s.leader = leader_index();
  s.commit = raft_->commit();
  s.applied = applied_;
  s.last_index = raft_->last_index();
  s.leader_commit = is_leader() ? raft_->commit() : raft_->leader_commit();
  s.ms_since_leader = raft_->ticks_since_leader() * tick_ms;
  s.snapshot_index = raft_->snapshot().meta.index;
  s.snapshots_sent = raft_->snapshots_sent();
  s.snapshots_installed = raft_->snapshots_installed();
  s.disk_full_handoffs = raft_->disk_full_handoffs();
  if (is_leader()) {
    for (const auto& [id, pr] : raft_->progress()) {
      s.followers.push_back({static_cast<uint32_t>(id - 1), pr.match,
                             raft_->last_index() > pr.match ? raft_->last_index() - pr.match : 0,
                             pr.recent_active});
    }
  }
  return s;
}

std::string RaftGroup::error(const Origin& o, std::string_view msg) const {
  std::string out;
  resp::Writer(&out, o.proto).error(msg);
  return out;
}

void RaftGroup::reply(const Origin& o, std::string bytes) {
  node_->deliver(o, std::move(bytes));
}

void RaftGroup::sync_clock() {
  const int64_t now = node_->mono_ms();
  const auto tick_ms = static_cast<int64_t>(node_->config_.raft.tick_ms);
  if (!clock_started_ || now < last_tick_ms_) {
    clock_started_ = true;
    last_tick_ms_ = now;
    return;
  }
  const int64_t elapsed = now - last_tick_ms_;
  uint64_t ticks = static_cast<uint64_t>(elapsed / tick_ms);
  if (ticks == 0) return;
  last_tick_ms_ += static_cast<int64_t>(ticks) * tick_ms;
  // A gap longer than half an election timeout is a pause of this node (stopped, descheduled,
  // the machine suspended): its peers' messages of that time are still waiting, unread. Firing
  // those ticks as timer ticks would let a leader fail its check-quorum, or a follower
  // campaign, before reading them; they are handed to Raft as skipped ticks instead, which
  // still count as time for leases and staleness. Once: a node that stays that slow ticks on,
  // at most 4 election timeouts per call (the rest is skipped too).
  const uint64_t election_ticks = node_->config_.raft.election_ticks;
  const uint64_t pause_ticks = std::max<uint64_t>(2, election_ticks / 2);
  uint64_t skipped = 0;
  if (ticks > pause_ticks && !skipped_pause_) {
    skipped_pause_ = true;
    skipped = ticks;
    if (now - last_pause_note_ms_ >= kPauseNoteEveryMs) {
      last_pause_note_ms_ = now;
      node_->note(
          fmt::format("keyspace {}: this node paused for {} ms (descheduled, stopped or "
                      "suspended); leases and staleness count the pause, election timers resume "
                      "from now",
                      group_, elapsed));
    }
  } else {
    skipped_pause_ = false;
    skipped = ticks > 4 * election_ticks ? ticks - 4 * election_ticks : 0;
  }
  if (skipped > 0) raft_->skip_ticks(skipped);
  for (uint64_t i = skipped; i < ticks; ++i)
    raft_->tick();
}

ReadStaleness RaftGroup::staleness() {
  sync_clock();
  const raft::Raft::Freshness f = raft_->freshness();
  ReadStaleness st;
  st.entries_behind = f.commit > applied_ ? f.commit - applied_ : 0;
  if (f.ticks == std::numeric_limits<uint64_t>::max()) {
    st.ms_since_leader = -1;
  } else {
    // An upper bound: Raft counts whole ticks, and time since the last one has not been
    // handed to it yet.
    st.ms_since_leader = static_cast<int64_t>(f.ticks * node_->config_.raft.tick_ms) +
                         (node_->mono_ms() - last_tick_ms_);
  }
  return st;
}

void RaftGroup::tick(int64_t now_ms) {
  sync_clock();
  const int64_t mono = node_->mono_ms();

  // Requests past their deadline: a write's outcome is unknown, a read simply failed.
  for (auto it = writes_.begin(); it != writes_.end();) {
    if (it->second.deadline_ms <= mono) {
      reply(it->second.origin,
            error(it->second.origin,
                  "TIMEOUT the write was not confirmed in time; its outcome is unknown"));
      it = writes_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = reads_.begin(); it != reads_.end();) {
    if (it->second.deadline_ms <= mono) {
      reply(
          it->second.origin,
          error(it->second.origin, "TRYAGAIN the read could not be confirmed by a quorum in time"));
      it = reads_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = all_waiting_.begin(); it != all_waiting_.end();) {
    if (it->second.deadline_ms <= mono) {
      reply(
          it->second.origin,
          error(it->second.origin,
                "TIMEOUT committed by a quorum but not yet held by every replica (commit = all)"));
      it = all_waiting_.erase(it);
    } else {
      ++it;
    }
  }
  if (is_leader()) propose_expiries(now_ms);
  build_image();
  manage_image();
  note_disk_handoff();
  pump(now_ms);
}

void RaftGroup::set_disk_full(bool full) {
  raft_->set_disk_full(full);
  noted_no_handoff_ = false;
  noted_handoff_to_ = raft::kNoNode;
  note_disk_handoff();
}

void RaftGroup::note_disk_handoff() {
  if (raft_->disk_full_handoffs() != noted_handoffs_) {
    noted_handoffs_ = raft_->disk_full_handoffs();
    noted_no_handoff_ = false;
    const raft::NodeId to = raft_->transferee();
    // A transfer retried (every election timeout while it does not succeed) is logged only
    // when it goes to another follower.
    if (to == raft::kNoNode || to == noted_handoff_to_) return;
    noted_handoff_to_ = to;
    node_->note(fmt::format(
        "keyspace {}: the disk is full: handing leadership to {} (its log matches up to {} of "
        "{}); this node stays out of elections until there is room",
        group_, node_->config_.nodes[static_cast<size_t>(node_index(to))].id,
        raft_->progress().at(to).match, raft_->last_index()));
    return;
  }
  const auto& progress = raft_->progress();
  const bool none_replicating = std::none_of(progress.begin(), progress.end(), [](const auto& p) {
    return p.second.state == raft::ProgressState::kReplicate;
  });
  if (raft_->disk_full() && is_leader() && !progress.empty() && none_replicating &&
      !noted_no_handoff_) {
    noted_no_handoff_ = true;
    node_->note(fmt::format(
        "keyspace {}: the disk is full and no follower is acknowledging: this node stays the "
        "leader (writes are refused) until one is, or until there is room",
        group_));
  }
}

void RaftGroup::note_role(const raft::SoftState& ss) {
  const bool leads = ss.role == raft::Role::kLeader;
  if (leads == led_) return;
  led_ = leads;
  if (leads) {
    node_->note_event(
        fmt::format("keyspace {}: this node is now the leader (term {})", group_, ss.term));
  } else {
    node_->note_event(fmt::format(
        "keyspace {}: this node is no longer the leader (term {}, leader {})", group_, ss.term,
        ss.leader == raft::kNoNode
            ? std::string("unknown")
            : node_->config_.nodes[static_cast<size_t>(node_index(ss.leader))].id));
  }
}

void RaftGroup::send(const raft::Message& m) {
  static constexpr char kTag[] = {kPeerRaft};
  // An async keyspace acknowledges writes without its followers: their appends may wait to
  // leave together (a follower then reads, persists and acknowledges many rounds at once). A
  // full append (catch-up) has nothing to wait for; votes, heartbeats, acknowledgements and
  // snapshots leave at once too.
  bool lazy = m.type == raft::MessageType::kApp &&
              node_->store_.keyspace(ks_).config.commit == CommitMode::kAsync &&
              m.entries.size() < raft_->config().max_entries_per_msg;
  if (lazy) {
    size_t bytes = 0;
    for (const raft::Entry& e : m.entries)
      bytes += e.data.size();
    lazy = bytes < raft_->config().max_bytes_per_msg;
  }
  node_->send_peer(PeerSend{static_cast<uint32_t>(m.to - 1),
                            raft::encode_message(group_, m, std::string_view(kTag, 1)), lazy});
}

Dispatch RaftGroup::execute(const Origin& o, const resp::CommandSpec& spec,
                            std::span<const std::string_view> args, const RequestOptions& opts,
                            int64_t now_ms, resp::Writer& w) {
  const bool write = (spec.flags & resp::kWrite) != 0;
  const KeyspaceConfig& kc = node_->store_.keyspace(ks_).config;
  const std::optional<ReadMode> mode = opts.read_mode;
  ReadMode rm = mode.value_or(kc.read);
  if (!write && rm == ReadMode::kFollower) {
    if (o.peer < 0) {
      ReadStaleness st = staleness();
      st.keyspace = kc.name;
      node_->staleness_[o.client_id] = std::move(st);
    }
    std::string out;
    read_local(args, o.proto, now_ms, &out);
    w.raw(out);
    return {};
  }
  if (!is_leader() || (o.peer >= 0 && raft_->term() != o.leader_term)) {
    uint8_t rmode = mode ? static_cast<uint8_t>(1 + static_cast<int>(*mode)) : 0;
    return relay(o, write, args, rmode, now_ms, w);
  }
  if (write) {
    submit_write(o, args, now_ms);  // goes out with the driver's next pump()
    return {Dispatch::kDeferred, 0};
  }
  std::string out;
  if (submit_read(o, args, rm, now_ms, &out)) {
    w.raw(out);
    return {};
  }
  return {Dispatch::kDeferred, 0};
}

Dispatch RaftGroup::relay(const Origin& o, bool write, std::span<const std::string_view> args,
                          uint8_t read_mode, int64_t now_ms, resp::Writer& w) {
  if (o.peer >= 0) {
    // Not executed now. Whether an earlier delivery of the same request was is known only
    // if this incarnation saw every delivery: that is, it started before the term in which
    // the peer knew it as leader. Otherwise (it led in that term, crashed and restarted) an
    // earlier delivery may have been proposed then, and a write's outcome is unknown.
    if (write && o.leader_term <= start_term()) {
      w.error("TIMEOUT this node restarted since it led; the relayed write's outcome is unknown");
    } else {
      w.error("TRYAGAIN this node is no longer the leader; retry");
    }
    return {};
  }
  node_->forward(o, ks_, write, args, read_mode, now_ms);
  return {Dispatch::kDeferred, 0};
}

Dispatch RaftGroup::execute_transaction(const Origin& o, Transaction& txn, int64_t now_ms,
                                        resp::Writer& w) {
  // Straight from the client's EXEC: its WATCH covered what this node applied so far. (Held
  // for a leader and then run here, or relayed, it keeps the index of its first try.)
  if (txn.checked_through == Transaction::kNotChecked) txn.checked_through = state_index();
  if (!is_leader() || (o.peer >= 0 && raft_->term() != o.leader_term)) {
    const std::vector<std::string> relayed = encode_relayed_transaction(txn);
    const std::vector<std::string_view> args(relayed.begin(), relayed.end());
    return relay(o, /*write=*/true, args, 0, now_ms, w);
  }
  if (!txn.watched.empty() && watched_changed(txn)) {
    w.null_array();
    return {};
  }
  std::vector<std::string> encoded;
  encoded.reserve(txn.commands.size());
  for (const auto& c : txn.commands) {
    const std::vector<std::string_view> a(c.begin(), c.end());
    encoded.push_back(encode_command(a));
  }
  LoggedCommand cmd{LoggedCommand::kMulti, node_->self_index_, now_ms,
                    std::vector<std::string_view>(encoded.begin(), encoded.end())};
  submit(o, cmd);  // goes out with the driver's next pump()
  return {Dispatch::kDeferred, 0};
}

namespace {

// The log entries watched_changed reads at most (a bounded step of the event loop, a few
// milliseconds); a WATCH older than that aborts its EXEC.
constexpr uint64_t kMaxWatchScan = 10000;

// Calls fn(key) for every key a logged entry may change: the keys of its commands that write.
template <typename Fn>
void for_each_written_key(const LoggedCommand& cmd, Fn&& fn) {
  if (cmd.kind == LoggedCommand::kExpire || cmd.kind == LoggedCommand::kEvict) {
    for (std::string_view k : cmd.args)
      fn(k);
    return;
  }
  auto command_keys = [&](std::span<const std::string_view> args) {
    const resp::CommandSpec* spec = resp::lookup_command(args[0]);
    if (spec && (spec->flags & resp::kWrite)) {
      resp::for_each_key(*spec, args, [&](size_t i) { fn(args[i]); });
    }
  };
  if (cmd.kind == LoggedCommand::kClient) return command_keys(cmd.args);
  std::vector<std::string_view> args;
  for (std::string_view c : cmd.args) {
    if (decode_command(c, &args)) command_keys(args);
  }
}

}  // namespace

bool RaftGroup::watched_changed(const Transaction& t) const {
  const raft::RaftLog& log = raft_->log();
  const uint64_t last = log.last_index();
  if (t.checked_through >= last) return false;
  if (t.checked_through + 1 < log.first_index() || last - t.checked_through > kMaxWatchScan) {
    return true;  // cannot be checked: assumed changed (a spurious abort is safe)
  }
  bool changed = false;
  LoggedCommand cmd;
  for (uint64_t i = t.checked_through + 1; i <= last && !changed; ++i) {
    const raft::Entry& e = log.at(i);
    if (e.type != raft::EntryType::kNormal || !decode_logged(e.data, &cmd)) continue;
    for_each_written_key(cmd, [&](std::string_view key) {
      changed = changed || std::find(t.watched.begin(), t.watched.end(), key) != t.watched.end();
    });
  }
  return changed;
}

void RaftGroup::on_peer_message(uint32_t from, std::string_view body, int64_t /*now_ms*/) {
  auto env = raft::decode_message(body);
  if (!env.is_ok() || env->message.from != from + 1) {
    ++node_->bad_peer_messages_;
    return;
  }
  step(env->message);  // effects: next pump()
}

void RaftGroup::describe(std::vector<std::pair<std::string, std::string>>* out,
                         int64_t /*now_ms*/) const {
  GroupStatus st = status(node_->config_.raft.tick_ms);
  out->emplace_back("model", "primary");
  out->emplace_back("role", raft::role_name(st.role));
  out->emplace_back("term", std::to_string(st.term));
  out->emplace_back("commit", std::to_string(st.commit));
  out->emplace_back("applied", std::to_string(st.applied));
}

void RaftGroup::step(const raft::Message& m) {
  Status st = raft_->step(m);
  (void)st;  // messages from non-members or to another node are dropped
}

void RaftGroup::submit_write(const Origin& origin, std::span<const std::string_view> args,
                             int64_t now_ms) {
  submit(origin, LoggedCommand{LoggedCommand::kClient, node_->self_index_, now_ms,
                               std::vector<std::string_view>(args.begin(), args.end())});
}

void RaftGroup::submit(const Origin& origin, const LoggedCommand& cmd) {
  std::string data = encode_logged(cmd.kind, cmd.proposer, cmd.now_ms, cmd.args);
  // Async commit executes at once when the in-memory state covers the whole log (every
  // earlier entry applied or itself speculative); otherwise it waits for the commit.
  const bool async = node_->store_.keyspace(ks_).config.commit == CommitMode::kAsync;
  const bool speculate = async && state_index() == raft_->last_index() &&
                         raft_->last_index() - raft_->commit() < kAsyncAckMaxUncommitted;
  auto idx = raft_->propose(std::move(data));
  if (idx.is_ok() && speculate) {
    speculate_write(&origin, cmd, idx.value());
    return;
  }
  if (!idx.is_ok()) {
    reply(origin,
          error(origin, idx.status().code() == Code::kResourceExhausted
                            ? "TRYAGAIN too many writes in flight; retry"
                            : "TRYAGAIN this node is not the leader (leadership is changing)"));
    return;
  }
  writes_[idx.value()] = PendingWrite{origin, raft_->term(),
                                      node_->deadline_in(node_->config_.raft.request_timeout_ms)};
}

template <typename Fn>
void RaftGroup::run_logged(const LoggedCommand& cmd, resp::Writer& w, Fn&& before_key) {
  auto run = [&](std::span<const std::string_view> args) {
    const resp::CommandSpec* spec = resp::lookup_command(args[0]);
    RKV_ASSERT(spec != nullptr);
    resp::for_each_key(*spec, args, [&](size_t i) { before_key(args[i]); });
    node_->store_.execute(*spec, args, cmd.now_ms, w, node_->key_events_);
  };
  if (cmd.kind == LoggedCommand::kClient) return run(cmd.args);
  if (cmd.kind == LoggedCommand::kEvict) {
    for (std::string_view key : cmd.args) {
      before_key(key);
      node_->store_.remove_key(ks_, key, node_->key_events_);
    }
    return;
  }
  RKV_ASSERT(cmd.kind == LoggedCommand::kMulti);
  // A transaction: its commands run in order on the same state, so each sees the changes of
  // those before it; no other entry runs in between. Blocking commands (BLPOP, ...) must act
  // as their non-blocking forms here, as in Redis's EXEC.
  w.array(cmd.args.size());
  std::vector<std::string_view> args;
  for (std::string_view c : cmd.args) {
    const bool ok = decode_command(c, &args);
    RKV_ASSERT_MSG(ok, "a transaction's command does not decode");
    run(args);
  }
}

void RaftGroup::speculate_write(const Origin* origin, const LoggedCommand& cmd, uint64_t index) {
  Speculative sp{raft_->term(), {}};
  // Before-images of every key the commands name (every data command touches only those), so
  // that a transaction is undone whole. A hash or set is copied whole: O(its elements) per
  // speculative write to it (a known cost of commit = "async" with large collections;
  // docs/architecture.md, "bounded steps").
  auto remember = [&](std::string_view key) {
    KeyTable::Entry* e = node_->store_.mutable_entry(ks_, key);
    sp.undo.emplace_back(std::string(key), e ? std::optional<Value>(e->value) : std::nullopt);
    note_change(key);
  };
  std::string out;
  resp::Writer w(&out, origin ? origin->proto : 2);
  node_->store_.set_applying(true);
  run_logged(cmd, w, remember);
  node_->store_.set_applying(false);
  speculative_.push_back(index, std::move(sp));
  if (origin) async_replies_.push_back(index, std::make_pair(*origin, std::move(out)));
}

void RaftGroup::rollback_speculative() {
  // Undo in reverse log order, restoring each key's value from before the entry.
  for (auto it = speculative_.rbegin(); it != speculative_.rend(); ++it) {
    for (auto u = it->second.undo.rbegin(); u != it->second.undo.rend(); ++u) {
      note_change(u->first);
      node_->key_events_.changed(ks_, u->first);  // a WATCH since the write must abort
      if (u->second) {
        node_->store_.restore(ks_, u->first, *u->second);
      } else {
        node_->store_.erase_key(ks_, u->first);
      }
    }
  }
  speculative_.clear();
}

void RaftGroup::read_local(std::span<const std::string_view> args, int proto, int64_t now_ms,
                           std::string* out) {
  const resp::CommandSpec* spec = resp::lookup_command(args[0]);
  RKV_ASSERT(spec != nullptr);
  resp::Writer w(out, proto);
  NullSink none;
  node_->store_.execute(*spec, args, now_ms, w, none);
}

bool RaftGroup::submit_read(const Origin& origin, std::span<const std::string_view> args,
                            ReadMode mode, int64_t now_ms, std::string* now_reply) {
  if (mode == ReadMode::kLease) {
    // The lease is judged on the clock as it is now: after a pause of this node (messages of
    // a newer leader may be waiting unread) the time counts, and the lease is over.
    sync_clock();
    if (raft_->lease_read_ok()) {
      read_local(args, origin.proto, now_ms, now_reply);
      return true;
    }
  }
  uint64_t ctx = ++next_ctx_;
  Status st = raft_->read_index(ctx);
  if (!st.is_ok()) {
    *now_reply = error(origin, "TRYAGAIN this node cannot confirm its leadership right now");
    return true;
  }
  PendingRead pr{origin, {}, node_->deadline_in(node_->config_.raft.request_timeout_ms)};
  pr.args.assign(args.begin(), args.end());
  reads_.emplace(ctx, std::move(pr));
  return false;
}

void RaftGroup::pump(int64_t now_ms) {
  // A node that fell behind may have many committed entries to apply: at most about
  // kMaxAppliedPerPump are applied per call (each Ready hands out a bounded batch), the rest
  // at the next call (the driver pumps at least every tick), so that no step of the event
  // loop grows with the backlog.
  size_t applied = 0;
  while (applied < kMaxAppliedPerPump && raft_->has_ready()) {
    if (inflight_) {
      // Only what needs nothing of the write in progress (see Raft::partial_ready), and only
      // while that write's Ready changes no role and brought no snapshot: its own committed
      // entries were applied already, so these follow them in log order.
      if (!inflight_applied_ || inflight_->soft_state ||
          !raft_->has_partial_ready(durable_hs_.term)) {
        break;
      }
      raft::Ready rd = raft_->partial_ready(durable_hs_.term);
      for (const raft::Message& m : rd.messages)
        send(m);
      applied += rd.committed_entries.size();
      apply_ready(rd, now_ms);
      raft_->advance(rd);
      release_all_mode();
      continue;
    }
    raft::Ready rd = raft_->ready();
    applied += rd.committed_entries.size();
    if (rd.soft_state) note_role(*rd.soft_state);
    const bool durable_change =
        rd.truncate_from || !rd.entries.empty() || rd.snapshot || rd.compacted ||
        (rd.hard_state &&
         (rd.hard_state->term != last_hs_.term || rd.hard_state->vote != last_hs_.vote));
    if (rd.hard_state) last_hs_ = *rd.hard_state;
    if (!durable_change) {
      // At most the commit index moved. Raft does not need it durable (a restarted node learns
      // it again from the leader), so it is not written on its own: it rides along with the
      // next durable write. On restart the committed entries up to the stored index are
      // re-applied.
      if (rd.hard_state) commit_unwritten_ = true;
      finish(rd, now_ms, /*applied=*/false);
      continue;
    }
    const bool in_blob =
        rd.compacted && blob_index_ != 0 && rd.compacted->meta.index == blob_index_;
    raft::add_ready_writes(group_, rd, &node_->pending_.batch,
                           in_blob ? raft::image_blob_name(group_, blob_index_) : std::string(),
                           blob_bytes_);
    // Blobs are removed once this record is durable (finish): it must really be.
    if (node_->image_blobs_ && (in_blob || rd.snapshot)) node_->force_sync_ = true;
    for (const raft::Entry& e : rd.truncated)  // recorded in the truncation's own batch
      node_->note_truncated(ks_, e);
    if (!rd.hard_state && commit_unwritten_) {
      raft::add_hard_state_write(group_, last_hs_, &node_->pending_.batch);
    }
    commit_unwritten_ = false;
    // A leader's appends and heartbeats go out now, in parallel with its own write
    // (raft::is_leader_stream), and so do a follower's heartbeat responses of a term already
    // durable (Raft::needs_nothing_durable). Everything else (votes, append acknowledgements)
    // waits for it.
    {
      const bool leader = raft_->role() == raft::Role::kLeader;
      std::vector<raft::Message> later;
      for (raft::Message& m : rd.messages) {
        if (leader ? raft::is_leader_stream(m.type)
                   : raft::Raft::needs_nothing_durable(m, durable_hs_.term)) {
          send(m);
        } else {
          later.push_back(std::move(m));
        }
      }
      rd.messages = std::move(later);
    }
    // Committed entries are persisted here already (and on a quorum), so they are applied, and
    // their clients answered, now rather than after this Ready's own write, which may carry
    // new entries. A received snapshot must be in place before anything applies: that Ready
    // keeps the order of the contract.
    inflight_applied_ = !rd.snapshot;
    if (inflight_applied_) apply_ready(rd, now_ms);
    inflight_token_ = node_->new_token();
    inflight_ = std::move(rd);
  }
}

void RaftGroup::on_persisted(uint64_t token, int64_t now_ms) {
  if (inflight_ && token >= inflight_token_) {
    raft::Ready rd = std::move(*inflight_);
    inflight_.reset();
    finish(rd, now_ms, inflight_applied_);
  }
  pump(now_ms);
}

void RaftGroup::finish(raft::Ready& rd, int64_t now_ms, bool applied) {
  // Called once the Ready's write is durable (or when it had nothing durable: then its hard
  // state changed the commit index alone, and term and vote are as durable as before).
  if (rd.hard_state) durable_hs_ = *rd.hard_state;
  for (const raft::Message& m : rd.messages)
    send(m);
  // commit = async: entries now durable in this leader's log are acknowledged.
  for (const raft::Entry& e : rd.entries) {
    auto* r = async_replies_.find(e.index);
    if (r == nullptr) continue;
    reply(r->second.first, std::move(r->second.second));
    async_replies_.erase(e.index);
  }
  if (rd.snapshot) {
    image_.reset();          // the keyspace is replaced: an image of the old one is of no use
    if (image_parts_ > 0) {  // and what of it was written goes
      node_->blob_ops_.push_back(
          BlobOp{raft::image_blob_name(group_, image_index_), nullptr, ks_, image_index_});
      image_parts_ = 0;
    }
    bool ok = node_->store_.load_keyspace(ks_, rd.snapshot->data, node_->key_events_);
    RKV_ASSERT_MSG(ok, "leader sent a malformed keyspace image");
    applied_ = rd.snapshot->meta.index;
    applied_bytes_ = 0;
    // Requests waiting on indexes the snapshot covers can no longer be matched to entries.
    for (auto it = writes_.begin(); it != writes_.end() && it->first <= applied_;) {
      reply(it->second.origin,
            error(it->second.origin,
                  "TIMEOUT the write's outcome is unknown (replaced by a snapshot)"));
      it = writes_.erase(it);
    }
  }
  if (!applied) apply_ready(rd, now_ms);
  if (node_->image_blobs_) {
    // The record naming the image is durable now: the blobs it replaced can go.
    if (rd.snapshot) {
      blob_index_ = 0;  // the image is in the record
      remove_blobs_except(0);
    } else if (rd.compacted && rd.compacted->meta.index == blob_index_) {
      remove_blobs_except(blob_index_);
    }
  }
  if (rd.soft_state && rd.soft_state->role != raft::Role::kLeader) {
    fail_pending_reads("TRYAGAIN leadership changed while the read waited; retry");
    // Speculative (async) entries may never commit: take their effects back out of memory.
    // Those that do commit under the next leader are applied again like any entry.
    rollback_speculative();
    for (auto& [idx, r] : async_replies_) {
      reply(
          r.first,
          error(r.first,
                "TIMEOUT leadership changed before the write was durable; its outcome is unknown"));
    }
    async_replies_.clear();
  }
  raft_->advance(rd);
  release_all_mode();
  maybe_compact();
  manage_image();
}

void RaftGroup::apply_ready(const raft::Ready& rd, int64_t now_ms) {
  node_->store_.set_applying(true);
  // A follower applies batches of writes to keys scattered over the keyspace, each a cache miss
  // on its bucket and again on its entry: both are asked for a few entries ahead.
  // An async leader executed its own entries when it proposed them, and applying them touches
  // no key: a batch that starts with one is not hinted.
  const auto& ces = rd.committed_entries;
  const KeyTable& table = node_->store_.keyspace(ks_).table;
  const bool hints =
      speculative_.empty() || ces.empty() || speculative_.find(ces.front().index) == nullptr;
  auto hint = [&](size_t i, bool entry) {
    if (!hints || i >= ces.size() || ces[i].type != raft::EntryType::kNormal) return;
    if (auto key = logged_key(ces[i].data)) {
      if (entry) {
        table.prefetch_entry(*key);
      } else {
        table.prefetch_bucket(*key);
      }
    }
  };
  for (size_t i = 0; i < ces.size() && i < kPrefetchEntryAhead; ++i)
    hint(i, true);
  for (size_t i = kPrefetchEntryAhead; i < ces.size() && i < kPrefetchBucketAhead; ++i)
    hint(i, false);
  for (size_t i = 0; i < ces.size(); ++i) {
    hint(i + kPrefetchBucketAhead, false);
    hint(i + kPrefetchEntryAhead, true);
    apply_entry(ces[i]);
  }
  node_->store_.set_applying(false);
  for (const raft::ReadState& r : rd.read_states) {
    auto it = reads_.find(r.ctx);
    if (it == reads_.end()) continue;
    it->second.index = r.index;
    reads_at_index_.emplace(r.index, std::move(it->second));
    reads_.erase(it);
  }
  serve_ready_reads(now_ms);
}

void RaftGroup::apply_entry(const raft::Entry& e) {
  applied_ = e.index;
  applied_bytes_ += e.data.size() + kLogEntryOverhead;
  if (e.index >= evict_inflight_index_) evict_inflight_index_ = 0;
  auto w = writes_.find(e.index);
  PendingWrite* pw = w != writes_.end() ? &w->second : nullptr;
  const bool ours = pw && pw->term == e.term;
  if (e.type != raft::EntryType::kNormal) {
    if (pw) {
      reply(pw->origin,
            error(pw->origin,
                  "TRYAGAIN leadership changed before the write committed; it was not applied"));
      writes_.erase(w);
    }
    return;
  }
  if (auto* sp = speculative_.find(e.index)) {
    if (sp->second.term == e.term) {
      speculative_.erase(e.index);
      return;  // executed when proposed; its reply went out once it was durable
    }
    rollback_speculative();  // a different entry committed here: memory ran ahead wrongly
  }
  LoggedCommand cmd;
  bool ok = decode_logged(e.data, &cmd);
  RKV_ASSERT_MSG(ok, "committed log entry does not decode");
  if (cmd.kind == LoggedCommand::kExpire) {
    for (std::string_view key : cmd.args) {
      note_change(key);
      node_->store_.erase_if_expired(ks_, key, cmd.now_ms, node_->key_events_);
    }
    if (e.index >= expire_inflight_index_) expire_inflight_index_ = 0;
  } else {
    std::string out;
    resp::Writer wr(&out, ours ? pw->origin.proto : 2);
    run_logged(cmd, wr, [&](std::string_view key) { note_change(key); });
    if (ours) {
      if (node_->store_.keyspace(ks_).config.commit == CommitMode::kAll) {
        all_waiting_[e.index] = HeldReply{pw->origin, std::move(out), pw->deadline_ms};
      } else {
        reply(pw->origin, std::move(out));
      }
    }
  }
  if (pw) {
    if (!ours) {
      reply(pw->origin,
            error(pw->origin,
                  "TRYAGAIN leadership changed before the write committed; it was not applied"));
    }
    writes_.erase(w);
  }
}

void RaftGroup::serve_ready_reads(int64_t now_ms) {
  while (!reads_at_index_.empty() && reads_at_index_.begin()->first <= applied_) {
    PendingRead pr = std::move(reads_at_index_.begin()->second);
    reads_at_index_.erase(reads_at_index_.begin());
    std::vector<std::string_view> args(pr.args.begin(), pr.args.end());
    std::string out;
    read_local(args, pr.origin.proto, now_ms, &out);
    reply(pr.origin, std::move(out));
  }
}

void RaftGroup::fail_pending_reads(std::string_view why) {
  for (auto& [ctx, pr] : reads_)
    reply(pr.origin, error(pr.origin, why));
  reads_.clear();
  for (auto& [idx, pr] : reads_at_index_)
    reply(pr.origin, error(pr.origin, why));
  reads_at_index_.clear();
}

void RaftGroup::release_all_mode() {
  if (all_waiting_.empty()) return;
  uint64_t min_match = raft_->last_index();
  if (!is_leader()) {
    min_match = 0;  // a deposed leader cannot learn replicas' progress any more
  } else {
    for (const auto& [id, pr] : raft_->progress())
      min_match = std::min(min_match, pr.match);
  }
  while (!all_waiting_.empty() && all_waiting_.begin()->first <= min_match) {
    reply(all_waiting_.begin()->second.origin, std::move(all_waiting_.begin()->second.bytes));
    all_waiting_.erase(all_waiting_.begin());
  }
}

void RaftGroup::propose_expiries(int64_t now_ms) {
  if (expire_inflight_index_ != 0) return;
  std::vector<std::string> keys = node_->store_.expired_keys(ks_, now_ms, kMaxExpiriesPerEntry);
  if (keys.empty()) return;
  std::vector<std::string_view> args(keys.begin(), keys.end());
  auto idx =
      raft_->propose(encode_logged(LoggedCommand::kExpire, node_->self_index_, now_ms, args));
  if (idx.is_ok()) expire_inflight_index_ = idx.value();
}

bool RaftGroup::propose_evictions(std::span<const std::string_view> keys, int64_t now_ms) {
  RKV_ASSERT(!keys.empty() && evict_inflight_index_ == 0);
  const LoggedCommand cmd{LoggedCommand::kEvict, node_->self_index_, now_ms,
                          std::vector<std::string_view>(keys.begin(), keys.end())};
  // As a client write (submit): with commit = "async" the leader's memory runs ahead of the
  // commit, so the eviction runs there at once (undone like a write if it never commits), in
  // its place among the speculative writes.
  const bool async = node_->store_.keyspace(ks_).config.commit == CommitMode::kAsync;
  const bool speculate = async && state_index() == raft_->last_index();
  auto idx = raft_->propose(encode_logged(cmd.kind, cmd.proposer, cmd.now_ms, cmd.args));
  if (!idx.is_ok()) return false;
  evict_inflight_index_ = idx.value();
  if (speculate) speculate_write(nullptr, cmd, idx.value());
  return true;
}

void RaftGroup::note_change(std::string_view key) {
  if (image_) image_->note_change(key);
}

void RaftGroup::maybe_compact() {
  // The log prefix is replaced by an image of the keyspace once snapshot_min_entries entries
  // and at least as many entries as the keyspace had keys when the last image began were
  // applied since it (plan_next_image):
  // the log stays bounded (by the larger of the two), and writing images costs at most about
  // one key per entry, however large the keyspace (as Redis rewrites its AOF once it has grown
  // by the size of the data). The image is the keyspace as of applied_ when the build begins:
  // keys changed by speculative (commit = async, not yet committed) entries show their value
  // from before the first of those entries, and keys changed while the image is being built
  // (kImageEntriesPerStep entries per tick, so that no step of the event loop grows with the
  // keyspace) their value from before the change.
  // Each node stretches the interval by a random quarter or less, drawn per image: replicas
  // apply the same entries, and images written by every node at the same moment (a large
  // write and sync each) would hold up the acknowledgements of all of them at once, and with
  // them the leader's quorum.
  // Or once the entries applied since the last image hold log_byte_budget() bytes in memory
  // (large values, a small maxmemory), with kMinEntriesPerImage entries at least so that a few
  // huge entries do not each cost an image.
  const bool by_count = applied_ >= last_compact_ + compact_every_;
  const bool by_bytes =
      applied_bytes_ >= log_byte_budget() && applied_ >= last_compact_ + kMinEntriesPerImage;
  if (image_ || blob_writing_ || !(by_count || by_bytes) || applied_ < image_retry_at_ ||
      raft_->applied() < applied_) {
    return;
  }
  applied_bytes_ = 0;
  Store::KeyOverrides as_of;
  for (const auto& [idx, sp] : speculative_) {
    for (const auto& [key, before] : sp.undo)
      as_of.emplace(key, before);  // keeps the earliest before-image of each key
  }
  image_ = std::make_unique<Store::ImageBuild>(node_->store_, ks_, std::move(as_of),
                                               /*streamed=*/node_->image_blobs_);
  image_index_ = applied_;
  plan_next_image();
  build_image();
}

uint64_t RaftGroup::log_byte_budget() const {
  uint64_t budget = node_->config_.raft.snapshot_log_bytes;
  if (const uint64_t limit = node_->config_.memory.maxmemory; limit != 0) {
    budget = std::min(budget, limit / 8);
  }
  return budget;
}

void RaftGroup::plan_next_image() {
  // Counted in keys (and elements) as they are now, not as they will be: with a key count that
  // keeps up with the entries (every write a new key), "as many entries as keys since the last
  // image" would never come. Keys and collection elements alike: an image writes every element, so
  // a keyspace of a few large hashes or sets is imaged as rarely as one with as many string keys
  // (the bytes written per entry stay O(1) amortized however large one collection grows).
  const uint64_t every = std::max<uint64_t>(node_->config_.raft.snapshot_min_entries,
                                            node_->store_.keyspace_weight(ks_));
  compact_every_ = every + random_->uniform(every / 4 + 1);
}

void RaftGroup::build_image() {
  if (!image_) return;
  if (!node_->image_blobs_) {
    if (!image_->step(kImageEntriesPerStep)) return;
    Status st = raft_->compact(image_index_, image_->take());
    image_.reset();
    if (st.is_ok()) last_compact_ = image_index_;
    return;
  }
  // Written by the driver off the loop, as a file of its own, a part at a time as the build
  // goes (raft.image_part_bytes each, looked at every kImageSliceEntries entries): memory holds
  // a part, never the image. The log is compacted to it once the last part made it durable
  // (on_blob_done), and Raft holds none of it (it is read back when a follower needs it).
  // Client writes meanwhile go to disk in their own batches.
  for (size_t visited = 0; visited < kImageEntriesPerStep; visited += kImageSliceEntries) {
    const bool done = image_->step(kImageSliceEntries);
    std::string part = image_->take_part(done ? 0 : node_->config_.raft.image_part_bytes);
    if (part.empty() && !done) continue;
    BlobOp op{raft::image_blob_name(group_, image_index_),
              std::make_shared<std::string>(std::move(part)), ks_, image_index_};
    op.part = true;
    op.first = image_parts_++ == 0;
    op.last = done;
    if (done) {
      op.head = image_->head();
      op.length = image_->size();
      op.release = std::shared_ptr<Store::ImageBuild>(std::move(image_));
      image_parts_ = 0;
      blob_writing_ = true;
    }
    node_->blob_ops_.push_back(std::move(op));
    if (done) return;
  }
}

void RaftGroup::on_blob_done(BlobOp op, const Status& st, int64_t /*now_ms*/) {
  if (op.read) {
    image_reading_ = false;
    if (!st.is_ok()) {
      // The follower waiting for the snapshot stays behind meanwhile; the others are served.
      node_->note(
          fmt::format("keyspace {}: could not read back the snapshot image {} to send "
                      "it to a follower: {} (tried again in a second)",
                      group_, op.name, st.to_string()));
      image_read_retry_at_ = node_->mono_ms() + 1000;
      return;
    }
    raft_->restore_image(op.index, std::move(*op.data));  // ignored when stale
    return;
  }
  if (!op.data) {
    // A removal. One that failed leaves a file the next open removes.
    if (!st.is_ok()) {
      node_->note(fmt::format("keyspace {}: could not remove image {}: {}", group_, op.name,
                              st.to_string()));
    }
    return;
  }
  if (op.part && !op.last) {
    // A part: a failure shows again when the last part finishes (the blob comes out short).
    if (!st.is_ok() && image_part_error_.empty()) image_part_error_ = st.to_string();
    return;
  }
  RKV_ASSERT(blob_writing_);
  blob_writing_ = false;
  std::string part_error = std::move(image_part_error_);
  image_part_error_.clear();
  if (!st.is_ok()) {
    // A full or failing disk: the log keeps its entries, and the image is tried again after
    // as many entries as a compaction waits for at least.
    node_->note(fmt::format("keyspace {}: could not write the snapshot image at index {}: {}",
                            group_, op.index, part_error.empty() ? st.to_string() : part_error));
    image_retry_at_ = applied_ + std::max<uint64_t>(node_->config_.raft.snapshot_min_entries, 1);
    return;
  }
  const uint64_t before = raft_->snapshot().meta.index;
  RKV_ASSERT(op.part);  // images are written as they are built (build_image)
  Status c = raft_->compact_stored(op.index, op.length);
  if (c.is_ok() && raft_->snapshot().meta.index == op.index && before != op.index) {
    blob_index_ = op.index;
    blob_bytes_ = op.length;
    last_compact_ = op.index;
    blobs_.insert(op.index);  // the older ones go once the record naming this one is durable
  } else {
    // A snapshot from the leader replaced the keyspace meanwhile: this image is of no use.
    node_->blob_ops_.push_back(BlobOp{op.name, nullptr, ks_, op.index});
  }
}

void RaftGroup::manage_image() {
  if (!node_->image_blobs_ || blob_index_ == 0 || raft_->snapshot().meta.index != blob_index_) {
    return;  // the image is not in a blob of its own (yet)
  }
  if (raft_->image_held()) {
    (void)raft_->drop_image();  // refused while a transfer is under way
    return;
  }
  const uint64_t wanted = raft_->image_wanted();
  if (wanted != blob_index_ || image_reading_ || node_->mono_ms() < image_read_retry_at_) return;
  image_reading_ = true;
  node_->blob_ops_.push_back(
      BlobOp{raft::image_blob_name(group_, wanted), nullptr, ks_, wanted, /*read=*/true});
}

void RaftGroup::remove_blobs_except(uint64_t keep) {
  for (auto it = blobs_.begin(); it != blobs_.end();) {
    if (*it == keep) {
      ++it;
      continue;
    }
    node_->blob_ops_.push_back(BlobOp{raft::image_blob_name(group_, *it), nullptr, ks_, *it});
    it = blobs_.erase(it);
  }
}

}  // namespace rkv
