#include "raft/raft_log.h"

#include <algorithm>

#include "core/assert.h"

namespace rkv::raft {

std::optional<uint64_t> SnapshotMeta::term_at(uint64_t i) const {
  if (i == index) return term;
  if (i > index || term_starts.empty() || i < term_starts.front().index) return std::nullopt;
  // The last start at or below i.
  auto it = std::upper_bound(term_starts.begin(), term_starts.end(), i,
                             [](uint64_t v, const TermStart& t) { return v < t.index; });
  return std::prev(it)->term;
}

void RaftLog::restore(const SnapshotMeta& snap, std::vector<Entry> entries, uint64_t commit) {
  base_index_ = snap.index;
  phys_base_ = snap.index;
  base_term_ = snap.term;
  entries_.assign(std::make_move_iterator(entries.begin()), std::make_move_iterator(entries.end()));
  graveyard_.clear();
  for (size_t k = 0; k < entries_.size(); ++k) {
    RKV_ASSERT_MSG(entries_[k].index == base_index_ + 1 + k, "restored log is not contiguous");
  }
  stable_ = last_index();
  handed_out_ = stable_;
  committed_ = std::max(base_index_, std::min(commit, last_index()));
  applied_ = base_index_;
  applying_ = applied_;
  truncate_from_.reset();
  truncated_.clear();
}

uint64_t RaftLog::last_term() const {
  return entries_.empty() ? base_term_ : entries_.back().term;
}

std::optional<uint64_t> RaftLog::term(uint64_t i) const {
  if (i == base_index_) return base_term_;
  if (i < base_index_ || i > last_index()) return std::nullopt;
  return entries_[i - phys_base_ - 1].term;
}

uint64_t RaftLog::find_conflict_by_term(uint64_t index, uint64_t t) const {
  uint64_t j = std::min(index, last_index());
  for (; j > 0; --j) {
    auto tj = term(j);
    if (!tj.has_value() || *tj <= t) break;
  }
  return j;
}

const Entry& RaftLog::at(uint64_t i) const {
  RKV_ASSERT(i > base_index_ && i <= last_index());
  return entries_[i - phys_base_ - 1];
}

std::vector<Entry> RaftLog::slice(uint64_t lo, uint64_t hi, size_t max_count,
                                  size_t max_bytes) const {
  RKV_ASSERT(first_index() <= lo && lo <= hi && hi <= last_index() + 1);
  std::vector<Entry> out;
  out.reserve(std::min<uint64_t>(hi - lo, max_count));
  size_t bytes = 0;
  for (uint64_t i = lo; i < hi && out.size() < max_count; ++i) {
    const Entry& e = at(i);
    if (!out.empty() && bytes + e.data.size() > max_bytes) break;
    bytes += e.data.size();
    out.push_back(e);
  }
  return out;
}

void RaftLog::append(std::vector<Entry> entries) {
  for (auto& e : entries) {
    RKV_ASSERT(e.index == last_index() + 1);
    entries_.push_back(std::move(e));
  }
}

uint64_t RaftLog::maybe_append(uint64_t prev, std::vector<Entry> entries,
                               bool allow_truncate_committed) {
  const uint64_t last_new = prev + entries.size();
  size_t k = 0;
  // Skip the prefix this log already holds; entries at or below the base are committed
  // and therefore identical (Log Matching), so they are skipped too.
  for (; k < entries.size(); ++k) {
    const Entry& e = entries[k];
    RKV_ASSERT(e.index == prev + 1 + k);
    if (e.index <= base_index_) continue;
    if (!match_term(e.index, e.term)) break;
  }
  if (k == entries.size()) return last_new;
  const uint64_t conflict = entries[k].index;
  if (conflict <= last_index()) {
    RKV_ASSERT_MSG(allow_truncate_committed || conflict > committed_,
                   "a leader asked to overwrite a committed entry");
    for (uint64_t i = conflict; i <= last_index(); ++i)
      truncated_.push_back(at(i));
    entries_.resize(conflict - phys_base_ - 1);
    if (conflict <= std::max(stable_, handed_out_)) {
      // The suffix is (or may be, if a Ready is being persisted) on disk: delete it there too.
      stable_ = std::min(stable_, conflict - 1);
      handed_out_ = std::min(handed_out_, conflict - 1);
      truncate_from_ = std::min(truncate_from_.value_or(conflict), conflict);
    }
    committed_ = std::min(committed_, conflict - 1);
    applied_ = std::min(applied_, committed_);
    applying_ = std::min(applying_, committed_);
  }
  for (; k < entries.size(); ++k)
    entries_.push_back(std::move(entries[k]));
  return last_new;
}

void RaftLog::commit_to(uint64_t index) {
  if (index <= committed_) return;
  RKV_ASSERT_MSG(index <= last_index(), "commit index beyond the log");
  committed_ = index;
}

void RaftLog::applied_to(uint64_t index) {
  if (index <= applied_) return;
  RKV_ASSERT(index <= committed_ && index <= stable_);
  applied_ = index;
}

void RaftLog::stable_to(uint64_t index, uint64_t t) {
  if (index <= stable_) return;
  if (match_term(index, t)) stable_ = index;
}

std::vector<Entry> RaftLog::next_committed(size_t max_count) const {
  std::vector<Entry> out;
  const uint64_t hi = std::min(committed_, stable_);
  const uint64_t from = std::max({applied_ + 1, applying_ + 1, first_index()});
  if (from <= hi) out.reserve(std::min<uint64_t>(hi - from + 1, max_count));
  for (uint64_t i = from; i <= hi && out.size() < max_count; ++i) {
    out.push_back(at(i));
  }
  return out;
}

bool RaftLog::has_next_committed() const {
  return std::min(committed_, stable_) > std::max({applied_, applying_, base_index_});
}

std::vector<Entry> RaftLog::unstable_entries() const {
  std::vector<Entry> out;
  const uint64_t from = std::max(stable_ + 1, first_index());
  if (from <= last_index()) out.reserve(last_index() - from + 1);
  for (uint64_t i = from; i <= last_index(); ++i) {
    out.push_back(at(i));
  }
  return out;
}

void RaftLog::install_snapshot(const SnapshotMeta& meta, bool forget_lost) {
  // Committed entries are in the snapshot's history. Above the commit index, an entry whose
  // term differs from the committed one at its index (or whose index the snapshot's term
  // starts no longer cover) is not, and never will be: the committed entry at that index
  // is another. Above meta.index nothing of ours is (the entry at meta.index differs, or the
  // log would have been kept), and Log Matching makes every later one differ too.
  for (uint64_t i = std::max(committed_, base_index_) + 1; i <= last_index() && !forget_lost; ++i) {
    const Entry& e = at(i);
    const std::optional<uint64_t> t = i <= meta.index ? meta.term_at(i) : std::nullopt;
    if (!t || *t != e.term) truncated_.push_back(e);
  }
  base_index_ = meta.index;
  base_term_ = meta.term;
  // The old log goes to the graveyard whole (no burst of frees here); trim_step frees it.
  if (graveyard_.empty()) {
    graveyard_.swap(entries_);
  } else {
    for (Entry& e : entries_)
      graveyard_.push_back(std::move(e));
  }
  entries_.clear();
  phys_base_ = meta.index;
  committed_ = meta.index;
  applied_ = meta.index;
  applying_ = meta.index;
  stable_ = meta.index;  // the snapshot is persisted in the same Ready that carries it
  handed_out_ = meta.index;
  truncate_from_.reset();  // the snapshot write deletes the whole persisted log
}

std::vector<TermStart> RaftLog::term_starts_to(const SnapshotMeta& prev, uint64_t index) const {
  RKV_ASSERT(base_index_ <= prev.index && prev.index <= index && index <= last_index());
  std::vector<TermStart> out = prev.term_starts;
  // Terms never decrease along the log: each term's run is found by bisection, so this costs
  // a few lookups per term, not one per entry.
  for (uint64_t i = prev.index + 1; i <= index;) {
    const uint64_t t = at(i).term;
    if (out.empty() || out.back().term != t) out.push_back({t, i});
    uint64_t lo = i, hi = index;  // the run's last index is in [lo, hi]
    while (lo < hi) {
      const uint64_t mid = lo + (hi - lo + 1) / 2;
      if (at(mid).term == t) {
        lo = mid;
      } else {
        hi = mid - 1;
      }
    }
    i = lo + 1;
  }
  if (out.size() > kMaxTermStarts) {
    out.erase(out.begin(), out.end() - static_cast<std::ptrdiff_t>(kMaxTermStarts));
  }
  return out;
}

void RaftLog::compact(uint64_t index) {
  RKV_ASSERT(index > base_index_ && index <= applied_ && index <= stable_);
  base_term_ = *term(index);
  base_index_ = index;  // the entries up to it are freed by trim_step
}

bool RaftLog::trim_step(size_t max) {
  for (; max > 0 && !graveyard_.empty(); --max)
    graveyard_.pop_front();
  for (; max > 0 && phys_base_ < base_index_; --max) {
    entries_.pop_front();
    ++phys_base_;
  }
  return !graveyard_.empty() || phys_base_ < base_index_;
}

std::optional<uint64_t> RaftLog::take_truncate_from() {
  auto r = truncate_from_;
  truncate_from_.reset();
  return r;
}

std::vector<Entry> RaftLog::take_truncated() {
  std::vector<Entry> r;
  r.swap(truncated_);
  return r;
}

}  // namespace rkv::raft
