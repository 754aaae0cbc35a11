#include "raft/raft.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <string>

#include "core/assert.h"
#include "raft/quorum.h"

namespace rkv::raft {

const char* message_type_name(MessageType t) {
  switch (t) {
    case MessageType::kPreVote:
      return "PreVote";
    case MessageType::kPreVoteResp:
      return "PreVoteResp";
    case MessageType::kVote:
      return "Vote";
    case MessageType::kVoteResp:
      return "VoteResp";
    case MessageType::kApp:
      return "App";
    case MessageType::kAppResp:
      return "AppResp";
    case MessageType::kHeartbeat:
      return "Heartbeat";
    case MessageType::kHeartbeatResp:
      return "HeartbeatResp";
    case MessageType::kSnapshot:
      return "Snapshot";
    case MessageType::kSnapshotResp:
      return "SnapshotResp";
    case MessageType::kTimeoutNow:
      return "TimeoutNow";
  }
  return "?";
}

const char* role_name(Role r) {
  switch (r) {
    case Role::kFollower:
      return "follower";
    case Role::kPreCandidate:
      return "pre-candidate";
    case Role::kCandidate:
      return "candidate";
    case Role::kLeader:
      return "leader";
  }
  return "?";
}

const char* progress_state_name(ProgressState s) {
  switch (s) {
    case ProgressState::kProbe:
      return "probe";
    case ProgressState::kReplicate:
      return "replicate";
    case ProgressState::kSnapshot:
      return "snapshot";
  }
  return "?";
}

namespace {
constexpr size_t kMaxRoundHistory = 1024;
// Entries that compaction or a snapshot install dropped which one tick frees (RaftLog::trim_step):
// a compaction of a million-entry log is spread over a few seconds instead of one burst.
constexpr size_t kTrimEntriesPerTick = 8192;

bool is_leader_message(MessageType t) {
  return t == MessageType::kApp || t == MessageType::kHeartbeat || t == MessageType::kSnapshot;
}
}  // namespace

Status Config::validate() const {
  if (id == kNoNode) return Status::invalid_argument("raft: id must be non-zero");
  if (std::find(voters.begin(), voters.end(), id) == voters.end()) {
    return Status::invalid_argument("raft: voters must include the node's own id");
  }
  if (std::find(voters.begin(), voters.end(), kNoNode) != voters.end()) {
    return Status::invalid_argument("raft: voter id 0 is reserved");
  }
  if (heartbeat_tick <= 0 || election_tick <= heartbeat_tick) {
    return Status::invalid_argument("raft: need 0 < heartbeat_tick < election_tick");
  }
  if (lease_drift_ticks < 0 || lease_drift_ticks >= election_tick) {
    return Status::invalid_argument("raft: need 0 <= lease_drift_ticks < election_tick");
  }
  if (max_inflight_msgs == 0 || max_entries_per_msg == 0 || max_bytes_per_msg == 0 ||
      snapshot_chunk_bytes == 0 || max_uncommitted_entries == 0 || max_pending_reads == 0 ||
      max_apply_entries_per_ready == 0) {
    return Status::invalid_argument("raft: limits must be positive");
  }
  return Status::ok();
}

Raft::Raft(Config config, Random& random, PersistentState restored)
    : cfg_(std::move(config)), random_(random), id_(cfg_.id) {
  Status s = cfg_.validate();
  RKV_ASSERT_MSG(s.is_ok(), s.message().c_str());
  voters_ = cfg_.voters;
  std::sort(voters_.begin(), voters_.end());
  voters_.erase(std::unique(voters_.begin(), voters_.end()), voters_.end());

  log_.restore(restored.snapshot.meta, std::move(restored.entries), restored.hard_state.commit);
  if (cfg_.applied > log_.applied()) log_.applied_to(std::min(cfg_.applied, log_.committed()));
  set_snapshot(std::move(restored.snapshot));
  term_ = restored.hard_state.term;
  vote_ = restored.hard_state.vote;
  // A node that restarts may have acknowledged a leader's heartbeat just before it crashed;
  // that leader may be serving lease reads, so stay out of elections for one election timeout.
  if (cfg_.check_quorum && term_ > 0) vote_guard_ticks_ = static_cast<uint64_t>(cfg_.election_tick);
  become_follower(term_, kNoNode);
  prev_hs_ = hard_state();
  prev_ss_ = soft_state();
}

// ---------------------------------------------------------------------------------------------
// Role transitions.

bool Raft::is_voter(NodeId id) const {
  return std::binary_search(voters_.begin(), voters_.end(), id);
}

bool Raft::in_lease() const {
  if (ticks_ < vote_guard_ticks_) return true;
  return leader_ != kNoNode && election_elapsed_ < cfg_.election_tick;
}

bool Raft::committed_in_current_term() const {
  auto t = log_.term(log_.committed());
  return t.has_value() && *t == term_;
}

void Raft::reset(uint64_t term) {
  if (term != term_) {
    term_ = term;
    vote_ = kNoNode;
    lease_disabled_ = false;
  }
  leader_ = kNoNode;
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  randomized_election_timeout_ =
      cfg_.election_tick +
      static_cast<int>(random_.uniform(static_cast<uint64_t>(cfg_.election_tick)));
  votes_.clear();
  transferee_ = kNoNode;
  progress_.clear();
  pending_reads_.clear();
  reads_awaiting_commit_.clear();
  read_round_needed_ = false;
  append_pending_ = commit_pending_ = false;
}

void Raft::become_follower(uint64_t term, NodeId leader) {
  reset(term);
  role_ = Role::kFollower;
  leader_ = leader;
}

void Raft::become_pre_candidate() {
  RKV_ASSERT(role_ != Role::kLeader);
  // A pre-candidate does not touch term or vote: a failed pre-election leaves no trace.
  reset(term_);
  role_ = Role::kPreCandidate;
}

void Raft::become_candidate() {
  RKV_ASSERT(role_ != Role::kLeader);
  reset(term_ + 1);
  vote_ = id_;
  role_ = Role::kCandidate;
}

void Raft::become_leader() {
  RKV_ASSERT(role_ == Role::kCandidate);
  reset(term_);
  role_ = Role::kLeader;
  leader_ = id_;
  ticks_since_leader_ = 0;
  for (NodeId v : voters_) {
    if (v == id_) continue;
    Progress pr(cfg_.max_inflight_msgs);
    pr.next = log_.last_index() + 1;
    pr.recent_active = true;  // grace period: check-quorum counts from now
    progress_.emplace(v, std::move(pr));
  }
  // §8: a no-op of the new term lets earlier-term entries commit (Figure 8) and lets
  // ReadIndex start serving.
  log_.append({Entry{term_, log_.last_index() + 1, EntryType::kNoop, {}}});
  if (voters_.size() == 1) maybe_commit();
  bcast_append();
}

void Raft::campaign(CampaignKind kind) {
  MessageType type;
  uint64_t term;
  if (kind == CampaignKind::kPreElection) {
    become_pre_candidate();
    type = MessageType::kPreVote;
    term = term_ + 1;
  } else {
    become_candidate();
    type = MessageType::kVote;
    term = term_;
  }
  votes_[id_] = true;
  if (quorum::tally_majority(voters_.size(), 1, 0) == quorum::VoteResult::kWon) {
    if (kind == CampaignKind::kPreElection) {
      campaign(CampaignKind::kElection);
    } else {
      become_leader();
    }
    return;
  }
  for (NodeId v : voters_) {
    if (v == id_) continue;
    Message m;
    m.type = type;
    m.to = v;
    m.term = term;
    m.index = log_.last_index();
    m.log_term = log_.last_term();
    m.context = kind == CampaignKind::kTransfer ? kCampaignTransfer : 0;
    send(std::move(m));
  }
}

void Raft::tally_and_advance() {
  size_t granted = 0, rejected = 0;
  for (const auto& [id, g] : votes_)
    (g ? granted : rejected)++;
  switch (quorum::tally_majority(voters_.size(), granted, rejected)) {
    case quorum::VoteResult::kWon:
      if (role_ == Role::kPreCandidate) {
        campaign(CampaignKind::kElection);
      } else {
        become_leader();
      }
      break;
    case quorum::VoteResult::kLost:
      become_follower(term_, kNoNode);
      break;
    case quorum::VoteResult::kPending:
      break;
  }
}

// ---------------------------------------------------------------------------------------------
// Time.

void Raft::tick() {
  log_.trim_step(kTrimEntriesPerTick);
  ++ticks_;
  ++ticks_since_fresh_;
  if (role_ == Role::kLeader) {
    tick_heartbeat();
    maybe_hand_off();
  } else {
    ++ticks_since_leader_;
    tick_election();
  }
}

void Raft::skip_ticks(uint64_t n) {
  if ((cfg_.bugs & kBugLeaseIgnoresPause) == 0) ticks_ += n;
  if ((cfg_.bugs & kBugStalenessIgnoresPause) != 0) return;
  if (role_ != Role::kLeader) ticks_since_leader_ += n;
  ticks_since_fresh_ += n;
}

void Raft::tick_election() {
  ++election_elapsed_;
  if (election_elapsed_ >= randomized_election_timeout_) {
    if (disk_full_) {
      // No campaign (see set_disk_full), but the timer stays expired: this node does not look
      // as if it heard a leader lately (leader stickiness would refuse others' votes), and it
      // campaigns at its next tick once there is room again.
      election_elapsed_ = randomized_election_timeout_;
      return;
    }
    election_elapsed_ = 0;
    campaign(cfg_.pre_vote ? CampaignKind::kPreElection : CampaignKind::kElection);
  }
}

void Raft::tick_heartbeat() {
  ++heartbeat_elapsed_;
  ++election_elapsed_;
  if (election_elapsed_ >= cfg_.election_tick) {
    election_elapsed_ = 0;
    if (cfg_.check_quorum) {
      size_t active = 1;
      for (auto& [id, pr] : progress_) {
        if (pr.recent_active) ++active;
        pr.recent_active = false;
      }
      if (active < quorum()) {
        become_follower(term_, kNoNode);
        return;
      }
    }
    transferee_ = kNoNode;  // a transfer that did not finish in one election timeout is abandoned
  }
  if (heartbeat_elapsed_ >= cfg_.heartbeat_tick) {
    heartbeat_elapsed_ = 0;
    bcast_heartbeat();
  }
}

// ---------------------------------------------------------------------------------------------
// Messages in.

void Raft::send(Message m) {
  m.from = id_;
  if (m.term == 0) m.term = term_;
  msgs_.push_back(std::move(m));
}

Status Raft::step(const Message& m) {
  if (m.to != id_) return Status::invalid_argument("raft: message addressed to another node");
  if (m.from == id_ || !is_voter(m.from)) {
    return Status::invalid_argument("raft: message from a non-member");
  }
  for (size_t k = 0; k < m.entries.size(); ++k) {
    if (m.entries[k].index != m.index + 1 + k) {
      return Status::invalid_argument("raft: entries do not follow the message index");
    }
  }
  const bool vote_req = m.type == MessageType::kVote || m.type == MessageType::kPreVote;
  if (m.term > term_) {
    if (vote_req && cfg_.check_quorum && in_lease() && m.context != kCampaignTransfer) {
      // Leader stickiness: while we hear from a live leader, disruptive candidates are ignored.
      return Status::ok();
    }
    if (m.type == MessageType::kPreVote) {
      // A pre-vote never changes our term.
    } else if (m.type == MessageType::kPreVoteResp && !m.reject) {
      // A granted pre-vote carries the term we would campaign in; nothing to adopt.
    } else {
      become_follower(m.term, is_leader_message(m.type) ? m.from : kNoNode);
    }
  } else if (m.term < term_) {
    if ((cfg_.check_quorum || cfg_.pre_vote) &&
        (m.type == MessageType::kApp || m.type == MessageType::kHeartbeat)) {
      // A deposed leader (perhaps partitioned away) learns our term and steps down. Without
      // this a node whose term rose while isolated could never rejoin under pre-vote.
      Message r;
      r.type = MessageType::kAppResp;
      r.to = m.from;
      send(std::move(r));
    } else if (m.type == MessageType::kPreVote) {
      Message r;
      r.type = MessageType::kPreVoteResp;
      r.to = m.from;
      r.reject = true;
      send(std::move(r));
    }
    return Status::ok();
  }

  if (vote_req) {
    handle_vote_request(m);
    return Status::ok();
  }
  switch (role_) {
    case Role::kLeader:
      step_leader(m);
      break;
    case Role::kCandidate:
    case Role::kPreCandidate:
      step_candidate(m);
      break;
    case Role::kFollower:
      step_follower(m);
      break;
  }
  return Status::ok();
}

void Raft::handle_vote_request(const Message& m) {
  const bool pre = m.type == MessageType::kPreVote;
  const bool can_vote =
      vote_ == m.from || (vote_ == kNoNode && leader_ == kNoNode) || (pre && m.term > term_);
  const bool up_to_date =
      (cfg_.bugs & kBugIgnoreLogUpToDate) != 0 || log_.is_up_to_date(m.index, m.log_term);
  Message r;
  r.type = pre ? MessageType::kPreVoteResp : MessageType::kVoteResp;
  r.to = m.from;
  if (can_vote && up_to_date) {
    // The grant carries the campaign's term. A real vote is recorded in the HardState, which the
    // Ready persists before this response is sent.
    r.term = m.term;
    if (!pre) {
      vote_ = m.from;
      election_elapsed_ = 0;
    }
  } else {
    r.reject = true;
  }
  send(std::move(r));
}

void Raft::step_candidate(const Message& m) {
  switch (m.type) {
    case MessageType::kApp:
    case MessageType::kHeartbeat:
    case MessageType::kSnapshot:
      // Someone won this term (§5.2): return to follower and take the message.
      become_follower(term_, m.from);
      step_follower(m);
      break;
    case MessageType::kPreVoteResp:
    case MessageType::kVoteResp: {
      const bool mine = (role_ == Role::kPreCandidate) == (m.type == MessageType::kPreVoteResp);
      if (!mine) break;
      votes_.emplace(m.from, !m.reject);
      tally_and_advance();
      break;
    }
    default:
      break;
  }
}

void Raft::step_follower(const Message& m) {
  switch (m.type) {
    case MessageType::kApp:
    case MessageType::kHeartbeat:
    case MessageType::kSnapshot:
      leader_ = m.from;
      election_elapsed_ = 0;
      ticks_since_leader_ = 0;
      if (m.type == MessageType::kApp) {
        handle_append(m);
      } else if (m.type == MessageType::kHeartbeat) {
        handle_heartbeat(m);
      } else {
        handle_snapshot_chunk(m);
      }
      break;
    case MessageType::kTimeoutNow:
      // Leadership transfer: campaign at once, skipping pre-vote, overriding stickiness. Not
      // with a full disk: the leader gives up the transfer after an election timeout.
      if (!disk_full_) campaign(CampaignKind::kTransfer);
      break;
    default:
      break;
  }
}

void Raft::handle_append(const Message& m) {
  Message r;
  r.type = MessageType::kAppResp;
  r.to = m.from;
  leader_commit_ = std::max(leader_commit_, m.commit);
  if (m.index < log_.committed()) {
    r.index = log_.committed();
  } else if (log_.match_term(m.index, m.log_term)) {
    const uint64_t last_new =
        log_.maybe_append(m.index, m.entries, /*allow_truncate_committed=*/cfg_.bugs != 0);
    log_.commit_to(std::min(m.commit, last_new));
    r.index = last_new;
  } else {
    // Consistency check failed (§5.3). Hint the last position that may match so the leader can
    // skip a whole term per round trip instead of one entry.
    r.reject = true;
    r.index = m.index;
    r.reject_hint_index = log_.find_conflict_by_term(m.index, m.log_term);
    r.reject_hint_term = log_.term(r.reject_hint_index).value_or(0);
  }
  send(std::move(r));
}

void Raft::handle_heartbeat(const Message& m) {
  leader_commit_ = std::max({leader_commit_, m.commit, m.index});
  if (m.lease) {
    ticks_since_fresh_ = 0;
    heard_fresh_ = true;
  }
  log_.commit_to(std::min(m.commit, log_.last_index()));
  Message r;
  r.type = MessageType::kHeartbeatResp;
  r.to = m.from;
  r.context = m.context;
  send(std::move(r));
}

void Raft::handle_snapshot_chunk(const Message& m) {
  leader_commit_ = std::max(leader_commit_, m.commit);
  Message r;
  r.to = m.from;
  if (m.snapshot.index <= log_.committed()) {
    // Already have it (or newer): tell the leader where we are.
    incoming_.reset();
    r.type = MessageType::kAppResp;
    r.index = log_.committed();
    send(std::move(r));
    return;
  }
  r.type = MessageType::kSnapshotResp;
  r.index = m.snapshot.index;
  bool same = incoming_.has_value() && incoming_->meta.index == m.snapshot.index &&
              incoming_->meta.term == m.snapshot.term;
  if (m.offset == 0 && !same) {
    incoming_ = Snapshot{m.snapshot, {}};
    same = true;
  }
  if (!same) incoming_.reset();
  const uint64_t have = same ? incoming_->data.size() : 0;
  if (m.offset > have || !same) {
    // A gap (a chunk was lost, or we restarted and lost the partial image): resume at `have`.
    r.reject = true;
    r.offset = have;
    send(std::move(r));
    return;
  }
  if (m.offset + m.data.size() > have) incoming_->data.append(m.data, have - m.offset);
  if (m.done && m.offset + m.data.size() == incoming_->data.size()) {
    Snapshot snap = std::move(*incoming_);
    incoming_.reset();
    install_snapshot(std::move(snap));
    return;
  }
  r.offset = incoming_->data.size();
  send(std::move(r));
}

void Raft::install_snapshot(Snapshot snap) {
  Message r;
  r.type = MessageType::kAppResp;
  r.to = leader_;
  if (log_.match_term(snap.meta.index, snap.meta.term)) {
    // Our log already holds the snapshot's last entry: only the commit index moves.
    log_.commit_to(snap.meta.index);
    r.index = log_.committed();
    send(std::move(r));
    return;
  }
  log_.install_snapshot(snap.meta, (cfg_.bugs & kBugSnapshotForgetsLost) != 0);
  ++snapshots_installed_;
  set_snapshot(std::move(snap));
  pending_snapshot_ = snapshot_;
  if (pending_compaction_ && pending_compaction_->meta.index <= snapshot_->meta.index) {
    pending_compaction_.reset();
  }
  r.index = snapshot_->meta.index;  // sent after the Ready carrying the snapshot is persisted
  send(std::move(r));
}

void Raft::step_leader(const Message& m) {
  auto it = progress_.find(m.from);
  if (it == progress_.end()) return;
  it->second.recent_active = true;
  switch (m.type) {
    case MessageType::kAppResp:
      handle_append_resp(m);
      break;
    case MessageType::kHeartbeatResp:
      handle_heartbeat_resp(m);
      break;
    case MessageType::kSnapshotResp:
      handle_snapshot_resp(m);
      break;
    default:
      break;  // App/Heartbeat at our own term cannot come from anyone else (election safety)
  }
}

void Raft::handle_append_resp(const Message& m) {
  Progress& pr = progress_.at(m.from);
  if (m.reject) {
    uint64_t next_probe = m.reject_hint_index;
    if (m.reject_hint_term > 0) {
      next_probe = log_.find_conflict_by_term(m.reject_hint_index, m.reject_hint_term);
    }
    if (pr.maybe_decrease_to(m.index, next_probe)) {
      if (pr.state == ProgressState::kReplicate) pr.become_probe();
      send_append(m.from, true);
    }
    return;
  }
  const bool was_paused = pr.is_paused();
  if (pr.maybe_update(m.index)) {
    if (pr.state == ProgressState::kProbe) {
      pr.become_replicate();
    } else if (pr.state == ProgressState::kSnapshot && pr.match >= pr.pending_snapshot) {
      pr.become_probe();
      pr.become_replicate();
    } else if (pr.state == ProgressState::kReplicate) {
      pr.inflight.free_le(pr.match);
    }
    if (maybe_commit()) {
      commit_pending_ = true;  // told by flush_broadcast(), once for every ack of this batch
    } else if (was_paused) {
      send_append(m.from, true);
    }
    while (send_append(m.from, false)) {
    }
    if (m.from == transferee_ && pr.match == log_.last_index()) send_timeout_now(m.from);
  }
}

void Raft::handle_heartbeat_resp(const Message& m) {
  Progress& pr = progress_.at(m.from);
  pr.probe_sent = false;
  if (pr.state == ProgressState::kReplicate && pr.inflight.full()) {
    // Every App in the window may have been lost; make room for one retry.
    pr.inflight.free_le(pr.next);
  }
  if (pr.match < log_.last_index() && pr.state != ProgressState::kSnapshot)
    send_append(m.from, true);

  if (m.context > pr.acked_round) {
    pr.acked_round = m.context;
    bool found = false;
    const uint64_t sent = round_sent_tick(m.context, &found);
    if (found) {
      const bool had_lease = lease_read_ok();
      pr.lease_from_tick = sent;
      pr.has_lease_ack = true;
      // The lease was just won: tell the followers at once (their staleness is measured from
      // heartbeats sent under it) rather than at the next heartbeat.
      if (!had_lease && lease_read_ok()) read_round_needed_ = true;
    }
    release_reads();
  }
}

void Raft::handle_snapshot_resp(const Message& m) {
  Progress& pr = progress_.at(m.from);
  if (pr.state != ProgressState::kSnapshot || m.index != pr.pending_snapshot ||
      snapshot_->meta.index != pr.pending_snapshot) {
    return;
  }
  if (m.reject) {
    pr.snapshot_offset = std::min<uint64_t>(m.offset, image_size_);
    send_snapshot_chunk(m.from);
  } else if (m.offset > pr.snapshot_offset) {
    pr.snapshot_offset = std::min<uint64_t>(m.offset, image_size_);
    send_snapshot_chunk(m.from);
  }
}

// ---------------------------------------------------------------------------------------------
// Messages out (leader).

bool Raft::send_append(NodeId to, bool send_if_empty) {
  Progress& pr = progress_.at(to);
  if (pr.is_paused()) return false;
  const uint64_t prev = pr.next - 1;
  const auto prev_term = log_.term(prev);
  if (!prev_term.has_value()) {
    // The follower needs entries we compacted away: stream the snapshot instead.
    RKV_ASSERT(snapshot_->meta.index > 0);
    pr.become_snapshot(snapshot_->meta.index);
    ++snapshots_sent_;
    send_snapshot_chunk(to);
    return false;
  }
  std::vector<Entry> entries;
  if (pr.next <= log_.last_index()) {
    entries = log_.slice(pr.next, log_.last_index() + 1, cfg_.max_entries_per_msg,
                         cfg_.max_bytes_per_msg);
  }
  if (entries.empty() && !send_if_empty) return false;
  Message m;
  m.type = MessageType::kApp;
  m.to = to;
  m.index = prev;
  m.log_term = *prev_term;
  m.commit = log_.committed();
  pr.commit_sent = m.commit;
  if (!entries.empty()) {
    const uint64_t last = entries.back().index;
    if (pr.state == ProgressState::kReplicate) {
      pr.next = last + 1;
      pr.inflight.add(last);
    }
    if ((cfg_.bugs & kBugCommitCountsUnpersisted) != 0) pr.match = std::max(pr.match, last);
  }
  if (pr.state == ProgressState::kProbe) pr.probe_sent = true;
  m.entries = std::move(entries);
  send(std::move(m));
  return true;
}

void Raft::send_snapshot_chunk(NodeId to) {
  Progress& pr = progress_.at(to);
  RKV_ASSERT(pr.state == ProgressState::kSnapshot);
  if (pr.pending_snapshot != snapshot_->meta.index) {
    // We compacted again since the transfer started: restart it with the newer image.
    pr.pending_snapshot = snapshot_->meta.index;
    pr.snapshot_offset = 0;
  }
  if (!image_held_) {
    image_wanted_ = snapshot_->meta.index;  // sent once the application hands it back
    return;
  }
  const uint64_t size = image_size_;
  const uint64_t off = std::min<uint64_t>(pr.snapshot_offset, size);
  const uint64_t len = std::min<uint64_t>(cfg_.snapshot_chunk_bytes, size - off);
  Message m;
  m.type = MessageType::kSnapshot;
  m.to = to;
  m.snapshot = snapshot_->meta;
  m.offset = off;
  m.data = snapshot_->data.substr(off, len);
  m.done = off + len == size;
  m.commit = log_.committed();
  send(std::move(m));
}

void Raft::bcast_append() {
  for (auto& [id, pr] : progress_)
    send_append(id, true);
}

bool Raft::broadcast_pending() const {
  return role_ == Role::kLeader && (append_pending_ || commit_pending_);
}

void Raft::flush_broadcast() {
  if (!broadcast_pending()) {
    append_pending_ = commit_pending_ = false;
    return;
  }
  const uint64_t committed = log_.committed();
  for (auto& [id, pr] : progress_) {
    // New entries carry the commit index with them; without any, an empty App tells it, unless
    // the last App sent to this follower already carried it.
    const bool tell_commit = commit_pending_ && pr.commit_sent < committed;
    if (!send_append(id, tell_commit)) continue;
    while (send_append(id, false)) {
    }
  }
  append_pending_ = commit_pending_ = false;
}

void Raft::bcast_heartbeat() {
  // Told to the followers: while the lease holds no other leader can have committed anything
  // newer than our commit index, so a follower's staleness can be measured from this message.
  const bool lease = lease_read_ok();
  ++round_;
  round_ticks_.emplace_back(round_, ticks_);
  if (round_ticks_.size() > kMaxRoundHistory) round_ticks_.pop_front();
  read_round_needed_ = false;
  for (auto& [id, pr] : progress_) {
    Message m;
    m.type = MessageType::kHeartbeat;
    m.to = id;
    m.commit = std::min(pr.match, log_.committed());
    m.context = round_;
    m.index = log_.committed();
    m.lease = lease;
    send(std::move(m));
    // Retransmit the outstanding snapshot chunk: chunks are not otherwise retried.
    if (pr.state == ProgressState::kSnapshot) send_snapshot_chunk(id);
  }
}

void Raft::send_timeout_now(NodeId to) {
  Message m;
  m.type = MessageType::kTimeoutNow;
  m.to = to;
  send(std::move(m));
  lease_disabled_ = true;  // the target may win an election at any time from now on
}

uint64_t Raft::round_sent_tick(uint64_t round, bool* found) const {
  for (auto it = round_ticks_.rbegin(); it != round_ticks_.rend(); ++it) {
    if (it->first == round) {
      *found = true;
      return it->second;
    }
    if (it->first < round) break;
  }
  *found = false;
  return 0;
}

bool Raft::maybe_commit() {
  std::vector<uint64_t> matches;
  matches.reserve(voters_.size());
  for (NodeId v : voters_) {
    // The leader counts itself only for what it has persisted.
    matches.push_back(v == id_ ? log_.stable() : progress_.at(v).match);
  }
  const uint64_t mci = quorum::majority_index(matches);
  if (mci <= log_.committed()) return false;
  // Figure 2 / §5.4.2: only an entry of the current term is committed by counting replicas.
  if (log_.term(mci) != term_) return false;
  const bool first_in_term = !committed_in_current_term();
  log_.commit_to(mci);
  if (first_in_term && !reads_awaiting_commit_.empty()) {
    for (uint64_t ctx : reads_awaiting_commit_) {
      pending_reads_.push_back({log_.committed(), ctx, round_ + 1});
    }
    reads_awaiting_commit_.clear();
    read_round_needed_ = true;
    release_reads();
  }
  return true;
}

void Raft::release_reads() {
  while (!pending_reads_.empty()) {
    const PendingRead& r = pending_reads_.front();
    size_t acks = 1;
    for (const auto& [id, pr] : progress_) {
      if (pr.acked_round >= r.round) ++acks;
    }
    if (acks < quorum()) break;
    read_states_.push_back({r.index, r.ctx});
    pending_reads_.pop_front();
  }
}

// ---------------------------------------------------------------------------------------------
// Client inputs.

Result<uint64_t> Raft::propose(std::string data) {
  if (role_ != Role::kLeader) {
    return Status::unavailable("raft: not the leader (leader is " + std::to_string(leader_) + ")");
  }
  if (transferee_ != kNoNode) {
    return Status::unavailable("raft: leadership transfer in progress");
  }
  if (log_.last_index() - log_.committed() >= cfg_.max_uncommitted_entries) {
    return Status::resource_exhausted("raft: too many uncommitted entries");
  }
  const uint64_t index = log_.last_index() + 1;
  log_.append({Entry{term_, index, EntryType::kNormal, std::move(data)}});
  if (voters_.size() == 1) maybe_commit();
  append_pending_ = true;  // sent by flush_broadcast(): one App per follower for many proposals
  return index;
}

Status Raft::read_index(uint64_t ctx) {
  if (role_ != Role::kLeader) {
    return Status::unavailable("raft: not the leader (leader is " + std::to_string(leader_) + ")");
  }
  if ((cfg_.bugs & kBugReadIndexNoQuorumCheck) != 0) {
    read_states_.push_back({log_.committed(), ctx});
    return Status::ok();
  }
  if (pending_reads_.size() + reads_awaiting_commit_.size() >= cfg_.max_pending_reads) {
    return Status::resource_exhausted("raft: too many pending reads");
  }
  if (!committed_in_current_term()) {
    // Our commit index may lag the previous leader's until our no-op commits (§6.4 step 1).
    reads_awaiting_commit_.push_back(ctx);
    return Status::ok();
  }
  if (voters_.size() == 1) {
    read_states_.push_back({log_.committed(), ctx});
    return Status::ok();
  }
  // Confirmed by the next heartbeat round, which ready() sends (batching concurrent reads).
  pending_reads_.push_back({log_.committed(), ctx, round_ + 1});
  read_round_needed_ = true;
  return Status::ok();
}

bool Raft::lease_read_ok() const {
  if (role_ != Role::kLeader || !cfg_.check_quorum || lease_disabled_ || transferee_ != kNoNode ||
      !committed_in_current_term()) {
    return false;
  }
  const uint64_t lease = static_cast<uint64_t>(cfg_.election_tick - cfg_.lease_drift_ticks);
  size_t fresh = 1;
  for (const auto& [id, pr] : progress_) {
    if (pr.has_lease_ack && ticks_ - pr.lease_from_tick < lease) ++fresh;
  }
  return fresh >= quorum();
}

Raft::Freshness Raft::freshness() const {
  constexpr uint64_t kNever = std::numeric_limits<uint64_t>::max();
  if (role_ != Role::kLeader) {
    return {heard_fresh_ ? ticks_since_fresh_ : kNever, std::max(leader_commit_, log_.committed())};
  }
  if (lease_read_ok()) return {0, log_.committed()};
  if (!committed_in_current_term()) return {kNever, log_.committed()};
  // The latest heartbeat send that a quorum (this node included) acknowledged.
  std::vector<uint64_t> sent;
  for (const auto& [id, pr] : progress_) {
    if (pr.has_lease_ack) sent.push_back(pr.lease_from_tick);
  }
  const size_t need = quorum() - 1;
  if (sent.size() < need) return {kNever, log_.committed()};
  if (need == 0) return {0, log_.committed()};
  std::nth_element(sent.begin(), sent.begin() + static_cast<std::ptrdiff_t>(need - 1), sent.end(),
                   std::greater<>());
  return {ticks_ - sent[need - 1], log_.committed()};
}

Status Raft::transfer_leadership(NodeId to) {
  if (role_ != Role::kLeader) return Status::unavailable("raft: not the leader");
  if (to == id_ || !is_voter(to)) {
    return Status::invalid_argument("raft: transfer target must be another voter");
  }
  if (transferee_ == to) return Status::ok();
  transferee_ = to;
  election_elapsed_ = 0;  // the transfer gets one election timeout to finish
  if (progress_.at(to).match == log_.last_index()) {
    send_timeout_now(to);
  } else {
    send_append(to, true);
  }
  return Status::ok();
}

void Raft::set_disk_full(bool full) {
  disk_full_ = full;
  last_handoff_to_ = kNoNode;
  if (!full) return;
  if (role_ == Role::kPreCandidate || role_ == Role::kCandidate) {
    // A candidate keeps its term and its vote for itself; it just stops asking.
    become_follower(term_, kNoNode);
  }
  maybe_hand_off();
}

NodeId Raft::disk_handoff_target(NodeId avoid) const {
  if (role_ != Role::kLeader) return kNoNode;
  NodeId best = kNoNode;
  uint64_t best_match = 0;
  for (const auto& [id, pr] : progress_) {  // ordered by id: ties go to the lowest
    if (id == avoid || !pr.recent_active || pr.state != ProgressState::kReplicate) continue;
    if (best == kNoNode || pr.match > best_match) {
      best = id;
      best_match = pr.match;
    }
  }
  return best;
}

void Raft::maybe_hand_off() {
  if (!disk_full_ || role_ != Role::kLeader || transferee_ != kNoNode) return;
  // A retry goes to another follower when there is one: the last one may not have been able
  // to take over (its own disk full, say).
  NodeId to = disk_handoff_target(last_handoff_to_);
  if (to == kNoNode) to = disk_handoff_target();
  if (to == kNoNode) return;
  Status st = transfer_leadership(to);
  RKV_ASSERT(st.is_ok());
  last_handoff_to_ = to;
  ++disk_full_handoffs_;
}

Status Raft::compact(uint64_t index, std::string image) {
  if (index <= snapshot_->meta.index) return Status::ok();  // the log's base is never above it
  if (index > log_.applied() || index > log_.stable()) {
    return Status::invalid_argument("raft: compact index " + std::to_string(index) +
                                    " is beyond the applied index " +
                                    std::to_string(log_.applied()));
  }
  const uint64_t t = *log_.term(index);
  std::vector<TermStart> starts = log_.term_starts_to(snapshot_->meta, index);
  const uint64_t cut =
      index > cfg_.snapshot_catchup_entries ? index - cfg_.snapshot_catchup_entries : 0;
  if (cut > log_.base_index()) log_.compact(cut);
  set_snapshot(Snapshot{SnapshotMeta{index, t, voters_, std::move(starts)}, std::move(image)});
  pending_compaction_ = snapshot_;  // shared with the Ready that persists it: not copied
  return Status::ok();
}

Status Raft::compact_stored(uint64_t index, uint64_t image_bytes) {
  const uint64_t before = snapshot_->meta.index;
  RKV_RETURN_IF_ERROR(compact(index, std::string()));
  if (snapshot_->meta.index == before) return Status::ok();  // not newer: nothing changed
  image_size_ = image_bytes;
  image_held_ = false;
  return Status::ok();
}

void Raft::set_snapshot(Snapshot snap) {
  image_size_ = snap.data.size();
  image_held_ = true;
  image_wanted_ = 0;
  snapshot_ = std::make_shared<const Snapshot>(std::move(snap));
}

bool Raft::drop_image() {
  if (!image_held_ || snapshot_->meta.index == 0) return false;
  for (const auto& [id, pr] : progress_) {
    if (pr.state == ProgressState::kSnapshot) return false;
  }
  // A new object: the Ready persisting the old one (pending_compaction_) keeps its bytes.
  snapshot_ = std::make_shared<const Snapshot>(Snapshot{snapshot_->meta, {}});
  image_held_ = false;
  return true;
}

void Raft::restore_image(uint64_t index, std::string image) {
  if (image_held_ || index != snapshot_->meta.index) return;
  RKV_ASSERT_MSG(image.size() == image_size_,
                 "restored image differs in size from the dropped one");
  snapshot_ = std::make_shared<const Snapshot>(Snapshot{snapshot_->meta, std::move(image)});
  image_held_ = true;
  image_wanted_ = 0;
  for (auto& [id, pr] : progress_) {
    if (pr.state == ProgressState::kSnapshot) send_snapshot_chunk(id);
  }
}

// ---------------------------------------------------------------------------------------------
// Effects out.

bool Raft::has_ready() const {
  return read_round_needed_ || broadcast_pending() || soft_state() != prev_ss_ ||
         hard_state() != prev_hs_ || !msgs_.empty() || log_.last_index() > log_.stable() ||
         log_.has_truncation() || pending_snapshot_ != nullptr || pending_compaction_ != nullptr ||
         log_.has_next_committed() || !read_states_.empty();
}

void Raft::flush_leader_sends() {
  if (read_round_needed_ && role_ == Role::kLeader) bcast_heartbeat();
  read_round_needed_ = false;
  flush_broadcast();
}

Ready Raft::ready() {
  flush_leader_sends();
  Ready rd;
  if (soft_state() != prev_ss_) {
    prev_ss_ = soft_state();
    rd.soft_state = prev_ss_;
  }
  if (hard_state() != prev_hs_) {
    prev_hs_ = hard_state();
    rd.hard_state = prev_hs_;
    if ((cfg_.bugs & kBugVoteNotPersisted) != 0) rd.hard_state->vote = kNoNode;
  }
  rd.truncate_from = log_.take_truncate_from();
  rd.entries = log_.unstable_entries();
  if (!rd.entries.empty()) log_.handed_out(rd.entries.back().index);
  rd.snapshot = std::move(pending_snapshot_);
  rd.compacted = std::move(pending_compaction_);
  if (rd.compacted) rd.compacted_log_to = log_.base_index();
  rd.messages = std::move(msgs_);
  msgs_.clear();
  coalesce_acks(&rd.messages);
  take_applicable(&rd);
  rd.truncated = log_.take_truncated();
  return rd;
}

void Raft::coalesce_acks(std::vector<Message>* msgs) {
  auto is_accept = [](const Message& m) { return m.type == MessageType::kAppResp && !m.reject; };
  size_t out = 0;
  for (size_t i = 0; i < msgs->size(); ++i) {
    Message& m = (*msgs)[i];
    if (out > 0) {
      Message& prev = (*msgs)[out - 1];
      if (is_accept(prev) && is_accept(m) && prev.to == m.to && prev.term == m.term &&
          m.index >= prev.index) {
        prev = std::move(m);  // the later acceptance says all the earlier one did
        continue;
      }
    }
    if (out != i) (*msgs)[out] = std::move(m);
    ++out;
  }
  msgs->resize(out);
}

void Raft::take_applicable(Ready* rd) {
  rd->committed_entries = log_.next_committed(cfg_.max_apply_entries_per_ready);
  if (!rd->committed_entries.empty()) log_.applying(rd->committed_entries.back().index);
  rd->read_states = std::move(read_states_);
  read_states_.clear();
}

bool is_leader_stream(MessageType t) {
  return t == MessageType::kApp || t == MessageType::kHeartbeat || t == MessageType::kSnapshot ||
         t == MessageType::kTimeoutNow;
}

bool Raft::has_partial_ready(uint64_t durable_term) const {
  if (soft_state() != prev_ss_) return false;
  if (log_.has_next_committed() || !read_states_.empty()) return true;
  if (role_ != Role::kLeader) {
    return std::any_of(msgs_.begin(), msgs_.end(),
                       [&](const Message& m) { return needs_nothing_durable(m, durable_term); });
  }
  return read_round_needed_ || broadcast_pending() ||
         std::any_of(msgs_.begin(), msgs_.end(),
                     [](const Message& m) { return is_leader_stream(m.type); });
}

Ready Raft::partial_ready(uint64_t durable_term) {
  RKV_ASSERT(soft_state() == prev_ss_);
  flush_leader_sends();
  Ready rd;
  std::vector<Message> rest;
  for (Message& m : msgs_) {
    const bool now =
        role_ == Role::kLeader ? is_leader_stream(m.type) : needs_nothing_durable(m, durable_term);
    (now ? rd.messages : rest).push_back(std::move(m));
  }
  msgs_ = std::move(rest);
  take_applicable(&rd);
  return rd;
}

void Raft::advance(const Ready& rd) {
  if (!rd.entries.empty()) log_.stable_to(rd.entries.back().index, rd.entries.back().term);
  if (!rd.committed_entries.empty()) log_.applied_to(rd.committed_entries.back().index);
  if (role_ == Role::kLeader && maybe_commit()) commit_pending_ = true;
}

}  // namespace rkv::raft
