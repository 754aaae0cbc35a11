// Progress: the leader's view of one follower's log (Raft §5.3 nextIndex/matchIndex) plus the
// flow-control state that decides what may be sent next.
//
//   kProbe      the follower's position is unknown: at most one App in flight; the leader
//               backs `next` off on rejection (using the reject hint) until one is accepted.
//   kReplicate  the position is known: Apps are pipelined optimistically (next advances on
//               send), bounded by `inflight` messages; a rejection falls back to kProbe.
//   kSnapshot   the follower needs entries the leader compacted: a snapshot is streamed to it
//               chunk by chunk; on install the follower's AppResp moves it back to replicate.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>

#include "core/assert.h"

namespace rkv::raft {

enum class ProgressState : uint8_t { kProbe, kReplicate, kSnapshot };
const char* progress_state_name(ProgressState s);

// A bounded window of in-flight App messages, each remembered by its last entry index.
class Inflights {
 public:
  explicit Inflights(size_t capacity = 256) : capacity_(capacity) {}
  bool full() const { return q_.size() >= capacity_; }
  size_t count() const { return q_.size(); }
  void add(uint64_t last_index) {
    RKV_ASSERT(!full());
    RKV_ASSERT(q_.empty() || q_.back() < last_index);
    q_.push_back(last_index);
  }
  // Frees every message whose entries are all at or below `index` (acknowledged).
  void free_le(uint64_t index) {
    while (!q_.empty() && q_.front() <= index)
      q_.pop_front();
  }
  void reset() { q_.clear(); }

 private:
  size_t capacity_;
  std::deque<uint64_t> q_;
};

struct Progress {
  explicit Progress(size_t max_inflight) : inflight(max_inflight) {}

  uint64_t match = 0;        // highest index known to be persisted on the follower and match ours
  uint64_t next = 1;         // next index to send
  uint64_t commit_sent = 0;  // commit index carried by the last App sent
  ProgressState state = ProgressState::kProbe;
  bool probe_sent = false;     // kProbe: an App is outstanding; pause until a reply/heartbeat
  bool recent_active = false;  // heard from since the last check-quorum round
  Inflights inflight;

  // kSnapshot: the snapshot being streamed and the bytes the follower has confirmed.
  uint64_t pending_snapshot = 0;
  uint64_t snapshot_offset = 0;

  // Highest heartbeat round the follower has echoed (ReadIndex confirmation) and the tick at
  // which that round was sent (lease: the follower reset its election timer no earlier).
  uint64_t acked_round = 0;
  uint64_t lease_from_tick = 0;
  bool has_lease_ack = false;

  void become_probe() {
    // After a snapshot, continue right after it; otherwise retry right after what matched.
    const uint64_t snap = state == ProgressState::kSnapshot ? pending_snapshot : 0;
    state = ProgressState::kProbe;
    probe_sent = false;
    next = std::max(match + 1, snap + 1);
    pending_snapshot = 0;
    snapshot_offset = 0;
    inflight.reset();
  }
  void become_replicate() {
    state = ProgressState::kReplicate;
    probe_sent = false;
    next = match + 1;
    inflight.reset();
  }
  void become_snapshot(uint64_t snapshot_index) {
    state = ProgressState::kSnapshot;
    probe_sent = false;
    pending_snapshot = snapshot_index;
    snapshot_offset = 0;
    inflight.reset();
  }

  // A successful AppResp for index n. Returns true if match advanced.
  bool maybe_update(uint64_t n) {
    bool updated = false;
    if (match < n) {
      match = n;
      updated = true;
      probe_sent = false;
    }
    next = std::max(next, n + 1);
    return updated;
  }

  // A rejection of the App whose prev index was `rejected`; `hint` is where to probe next.
  // Returns false when the rejection is stale (already superseded).
  bool maybe_decrease_to(uint64_t rejected, uint64_t hint) {
    if (state == ProgressState::kReplicate) {
      if (rejected <= match) return false;
      next = match + 1;
      return true;
    }
    if (next - 1 != rejected) return false;
    next = std::max(std::min(rejected, hint + 1), match + 1);
    probe_sent = false;
    return true;
  }

  bool is_paused() const {
    switch (state) {
      case ProgressState::kProbe:
        return probe_sent;
      case ProgressState::kReplicate:
        return inflight.full();
      case ProgressState::kSnapshot:
        return true;
    }
    return true;
  }
};

}  // namespace rkv::raft
