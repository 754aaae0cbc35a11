// Plain value types of the Raft core: log entries, persistent state, messages, snapshots.
// Everything here is copyable data with no behaviour; the protocol lives in raft.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/shared_bytes.h"

namespace rkv::raft {

using NodeId = uint64_t;  // 0 means "none"
inline constexpr NodeId kNoNode = 0;

enum class EntryType : uint8_t {
  kNormal = 0,  // an application command
  kNoop = 1,    // appended by a new leader to commit entries of earlier terms (Raft §5.4.2, §8)
};

struct Entry {
  uint64_t term = 0;
  uint64_t index = 0;
  EntryType type = EntryType::kNormal;
  SharedBytes data;  // copies of an entry share its bytes

  friend bool operator==(const Entry&, const Entry&) = default;
};

// The state that must be on stable storage before a node answers any RPC (Figure 2).
struct HardState {
  uint64_t term = 0;
  NodeId vote = kNoNode;
  uint64_t commit = 0;

  friend bool operator==(const HardState&, const HardState&) = default;
};

// Where a term's entries start in the log: the log's terms never decrease with the index, so a
// list of these, ascending, tells the term of every index from the first one on.
struct TermStart {
  uint64_t term = 0;
  uint64_t index = 0;  // the first index holding an entry of `term`

  friend bool operator==(const TermStart&, const TermStart&) = default;
};

// Most TermStarts a snapshot carries (the oldest are dropped beyond it): one per term in which
// a leader appended entries, so this covers that many leaderships.
inline constexpr size_t kMaxTermStarts = 256;

// Describes the state-machine snapshot that replaces the log prefix [1, index].
struct SnapshotMeta {
  uint64_t index = 0;
  uint64_t term = 0;
  std::vector<NodeId> voters;
  // The terms of the log prefix the snapshot replaces, ascending (the newest kMaxTermStarts).
  // A node whose log diverged from it learns from them which of its own entries are not part of
  // the committed history (see RaftLog::install_snapshot). Empty in snapshots written before
  // they were kept: then nothing is known about the prefix.
  std::vector<TermStart> term_starts;

  // The term of the committed entry at `index` (<= this->index), when term_starts tell it.
  std::optional<uint64_t> term_at(uint64_t index) const;

  friend bool operator==(const SnapshotMeta&, const SnapshotMeta&) = default;
};

struct Snapshot {
  SnapshotMeta meta;
  std::string data;  // opaque state-machine image produced by the application

  friend bool operator==(const Snapshot&, const Snapshot&) = default;
};

// What a node finds on its disk at start: the input of Raft's constructor.
// entries are contiguous and start at snapshot.meta.index + 1.
struct PersistentState {
  HardState hard_state;
  Snapshot snapshot;  // meta.index == 0: no snapshot
  std::vector<Entry> entries;
};

enum class MessageType : uint8_t {
  kPreVote = 0,
  kPreVoteResp,
  kVote,
  kVoteResp,
  kApp,
  kAppResp,
  kHeartbeat,
  kHeartbeatResp,
  kSnapshot,  // one chunk of an InstallSnapshot transfer
  kSnapshotResp,
  kTimeoutNow,
};
inline constexpr int kMessageTypeCount = 11;
const char* message_type_name(MessageType t);

// context value on kVote/kPreVote that marks a campaign started by leadership transfer: voters
// grant it even while they still hear from a live leader.
inline constexpr uint64_t kCampaignTransfer = 1;

// One peer RPC. Field meaning by type:
//   kPreVote/kVote   term: (prospective) term; index/log_term: candidate's last log position;
//                    context: kCampaignTransfer or 0.
//   k*VoteResp       reject: vote denied.
//   kApp             index/log_term: position preceding `entries`; commit: leader commit.
//   kAppResp         !reject: index = highest index known to match the leader's log.
//                    reject: index = rejected prev index; reject_hint_index/_term = the
//                    follower's guess of the last position where the logs may agree (the
//                    largest index <= index whose term is <= the leader's log_term).
//   kHeartbeat       commit: min(leader commit, follower match); context: heartbeat round,
//                    echoed in kHeartbeatResp (confirms leadership for ReadIndex and lease);
//                    index: the leader's own commit index; lease: the leader held its lease
//                    when it sent this, so no other leader could have committed anything
//                    newer than `index` (a follower's staleness is measured from it).
//   kSnapshot        snapshot: meta; offset: byte offset of `data` in the image; done: last
//                    chunk. Install completes with a kAppResp.
//   kSnapshotResp    index: snapshot index; offset: bytes received so far (the next chunk to
//                    send); reject: the follower cannot continue at this offset, restart at
//                    `offset` (usually 0).
//   kTimeoutNow      the receiver should campaign at once (leadership transfer).
struct Message {
  MessageType type = MessageType::kApp;
  NodeId from = kNoNode;
  NodeId to = kNoNode;
  uint64_t term = 0;
  uint64_t log_term = 0;
  uint64_t index = 0;
  std::vector<Entry> entries;
  uint64_t commit = 0;
  bool reject = false;
  uint64_t reject_hint_index = 0;
  uint64_t reject_hint_term = 0;
  uint64_t context = 0;
  SnapshotMeta snapshot;
  uint64_t offset = 0;
  std::string data;
  bool done = false;
  bool lease = false;

  friend bool operator==(const Message&, const Message&) = default;
};

enum class Role : uint8_t { kFollower, kPreCandidate, kCandidate, kLeader };
const char* role_name(Role r);

// Volatile state worth reporting to the node layer when it changes.
struct SoftState {
  Role role = Role::kFollower;
  NodeId leader = kNoNode;
  uint64_t term = 0;

  friend bool operator==(const SoftState&, const SoftState&) = default;
};

// A linearizable read is ready: once the state machine has applied `index`, serve read `ctx`.
struct ReadState {
  uint64_t index = 0;
  uint64_t ctx = 0;

  friend bool operator==(const ReadState&, const ReadState&) = default;
};

}  // namespace rkv::raft
