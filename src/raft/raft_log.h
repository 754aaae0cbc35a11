// RaftLog: the in-memory view of one node's Raft log.
//
// Layout:   [ dropped (1..base_index) ][ entries base_index+1 .. last_index ]
//                                      |- stable: persisted --|- unstable -|
// The node's snapshot covers at least the dropped prefix; it may cover more (Raft keeps some
// entries below its snapshot so followers slightly behind catch up from the log).
// `stable_` is the last index known to be on disk; entries above it must be handed to the
// driver (Ready::entries) and acknowledged (stable_to) before they count for this node.
// `committed_` and `applied_` follow Figure 2: applied <= committed <= last_index.
// Entries removed by a conflicting leader are remembered (take_truncated) so the node layer can
// record writes that were lost, and the lowest truncated persisted index is remembered
// (take_truncate_from) so the driver deletes them from disk.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "raft/types.h"

namespace rkv::raft {

class RaftLog {
 public:
  // Everything restored is stable (it came from disk).
  void restore(const SnapshotMeta& snap, std::vector<Entry> entries, uint64_t commit);

  uint64_t first_index() const { return base_index_ + 1; }
  uint64_t last_index() const { return phys_base_ + entries_.size(); }
  uint64_t last_term() const;
  // The last entry no longer held (0 when none was dropped yet) and its term.
  uint64_t base_index() const { return base_index_; }
  uint64_t base_term() const { return base_term_; }
  uint64_t committed() const { return committed_; }
  uint64_t applied() const { return applied_; }
  uint64_t stable() const { return stable_; }

  // Term of entry i; 0 for i == 0; nullopt when i is dropped (< base_index) or beyond last.
  std::optional<uint64_t> term(uint64_t i) const;
  bool match_term(uint64_t i, uint64_t t) const {
    auto tt = term(i);
    return tt.has_value() && *tt == t;
  }
  // Raft §5.4.1: is a log ending at (index, term) at least as up-to-date as this one?
  bool is_up_to_date(uint64_t index, uint64_t t) const {
    return t > last_term() || (t == last_term() && index >= last_index());
  }
  // Largest j <= min(index, last_index) whose term is <= t (or whose term is unknown because
  // compacted). Used by fast backtracking on both sides.
  uint64_t find_conflict_by_term(uint64_t index, uint64_t t) const;

  const Entry& at(uint64_t i) const;
  // Entries [lo, hi) limited to max_count entries and max_bytes of data (at least one entry
  // when lo < hi). Precondition: first_index() <= lo <= hi <= last_index() + 1.
  std::vector<Entry> slice(uint64_t lo, uint64_t hi, size_t max_count, size_t max_bytes) const;

  // Leader path: appends entries that directly follow last_index.
  void append(std::vector<Entry> entries);
  // Follower path (AppendEntries step 3-4): entries follow prev; keeps the matching prefix,
  // truncates the first conflicting suffix and appends the rest. Returns the index of the last
  // new entry (prev + entries.size()). `allow_truncate_committed` exists only for broken
  // variants; otherwise truncating a committed entry is an invariant violation.
  uint64_t maybe_append(uint64_t prev, std::vector<Entry> entries, bool allow_truncate_committed);

  void commit_to(uint64_t index);
  void applied_to(uint64_t index);
  // The driver persisted entries up to (index, term); ignored when the log changed since.
  void stable_to(uint64_t index, uint64_t t);

  // Entries in (max(applied, applying), min(committed, stable)], at most max_count.
  std::vector<Entry> next_committed(size_t max_count) const;
  // The driver was handed committed entries up to `index` to apply (a Ready not yet advanced):
  // the next Ready hands out the entries after them.
  void applying(uint64_t index) { applying_ = std::max(applying_, index); }
  bool has_next_committed() const;
  std::vector<Entry> unstable_entries() const;
  // The driver was handed unstable entries up to `index` (a Ready not yet advanced): they may
  // reach the disk, so truncating them must also truncate the disk.
  void handed_out(uint64_t index) { handed_out_ = std::max(handed_out_, index); }

  // Replaces the whole log with a snapshot (follower install). Everything is dropped.
  // Entries above the commit index that are not part of the snapshot's history (by its term
  // starts; every entry above meta.index, since a matching one would have kept the log) are
  // reported as truncated (take_truncated): they can never commit. With `forget_lost` (a
  // deliberately broken variant) they are dropped silently.
  void install_snapshot(const SnapshotMeta& meta, bool forget_lost = false);
  // The term starts of a snapshot at `index` (an index this log holds) that follows `prev`:
  // prev.term_starts extended by the terms of the entries (prev.index, index], the oldest
  // dropped beyond kMaxTermStarts. Precondition: base_index() <= prev.index <= index.
  std::vector<TermStart> term_starts_to(const SnapshotMeta& prev, uint64_t index) const;
  // Drops entries <= index (a snapshot covers them).
  // Precondition: base_index < index <= applied and index <= stable.
  void compact(uint64_t index);

  // Frees up to `max` entries that compaction or a snapshot install dropped; true while some
  // remain.
  bool trim_step(size_t max);
  // Entries held but no longer part of the log (compacted or replaced, not yet freed).
  size_t dropped_held() const { return (base_index_ - phys_base_) + graveyard_.size(); }

  bool has_truncation() const { return truncate_from_.has_value() || !truncated_.empty(); }
  std::optional<uint64_t> take_truncate_from();
  std::vector<Entry> take_truncated();

 private:
  uint64_t base_index_ = 0;
  uint64_t base_term_ = 0;
  // entries_[k].index == phys_base_ + 1 + k. Entries up to base_index_ are gone as far as the
  // log's users can tell; the ones still held (phys_base_ < index <= base_index_) are freed a
  // bounded number at a time by trim_step, so that compacting a long log is no burst of frees.
  uint64_t phys_base_ = 0;
  std::deque<Entry> entries_;
  std::deque<Entry> graveyard_;  // a log replaced by a snapshot, freed by trim_step too
  uint64_t committed_ = 0;
  uint64_t applied_ = 0;
  uint64_t applying_ = 0;  // highest committed index handed to the driver to apply
  uint64_t stable_ = 0;
  uint64_t handed_out_ = 0;  // highest unstable index handed to the driver (may be on disk)
  std::optional<uint64_t> truncate_from_;
  std::vector<Entry> truncated_;
};

}  // namespace rkv::raft
