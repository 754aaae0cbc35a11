#include "storage/log_records.h"

#include <cstring>
#include <utility>

#include "core/checksum.h"

namespace rkv {

namespace {

constexpr size_t kIndexBytes = 8;

// Splits a log record's key into its prefix (ending in its only '\0') and index.
bool split(std::string_view key, std::string_view* prefix, uint64_t* index) {
  if (key.size() <= kIndexBytes) return false;
  const std::string_view p = key.substr(0, key.size() - kIndexBytes);
  if (p.back() != '\0' || std::memchr(p.data(), '\0', p.size() - 1) != nullptr) return false;
  *prefix = p;
  *index = get_u64_be(key.data() + p.size());
  return true;
}

void key_of(std::string_view prefix, uint64_t index, std::string* out) {
  out->assign(prefix);
  put_u64_be(*out, index);
}

}  // namespace

LogRecords::Record::Record(std::string_view head, SharedBytes tail, uint64_t segment)
    : segment(segment) {
  if (head.size() <= kInlineHead) {
    std::memcpy(head_, head.data(), head.size());
    head_size_ = static_cast<uint8_t>(head.size());
    tail_ = std::move(tail);
  } else if (tail.empty()) {
    tail_ = SharedBytes(head);
  } else {
    std::string joined;
    joined.reserve(head.size() + tail.size());
    joined.append(head);
    joined.append(tail.view());
    tail_ = SharedBytes(joined);
  }
}

std::string_view LogRecords::Record::value(std::string* scratch) const {
  if (head_size_ == 0) return tail_.view();
  scratch->assign(head());
  scratch->append(tail_.view());
  return *scratch;
}

std::string LogRecords::Record::value() const {
  std::string out;
  out.reserve(size());
  out.append(head());
  out.append(tail_.view());
  return out;
}

LogRecords::Run* LogRecords::run_for(std::string_view prefix, bool create) {
  if (last_run_ != nullptr && last_run_->prefix == prefix) return last_run_;
  auto it = runs_.find(prefix);
  if (it == runs_.end()) {
    if (!create) return nullptr;
    it = runs_.emplace(std::string(prefix), Run{}).first;
    it->second.prefix = it->first;
  }
  last_run_ = &it->second;
  return last_run_;
}

uint64_t LogRecords::lower(const Run& r, std::string_view bound) {
  uint64_t lo = r.first;
  uint64_t hi = r.end();
  std::string k;
  while (lo < hi) {
    const uint64_t mid = lo + (hi - lo) / 2;
    key_of(r.prefix, mid, &k);
    if (std::string_view(k) < bound) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

void LogRecords::note_removed(size_t key_size, const Record& rec,
                              const std::function<void(uint64_t)>& on_erase) {
  bytes_ -= key_size + rec.size();
  --size_;
  if (on_erase) on_erase(rec.segment);
}

void LogRecords::drop_front(Run& r, uint64_t n, const std::function<void(uint64_t)>& on_erase) {
  for (; n > 0; --n) {
    note_removed(r.prefix.size() + kIndexBytes, r.records.front(), on_erase);
    r.records.pop_front();
    ++r.first;
  }
}

void LogRecords::drop_back(Run& r, uint64_t n, const std::function<void(uint64_t)>& on_erase) {
  for (; n > 0; --n) {
    note_removed(r.prefix.size() + kIndexBytes, r.records.back(), on_erase);
    r.records.pop_back();
  }
}

void LogRecords::spill(Run& r, uint64_t from) {
  std::string k;
  for (uint64_t i = from; i < r.end(); ++i) {
    key_of(r.prefix, i, &k);
    other_.emplace(k, std::move(r.records[i - r.first]));
    ++log_keys_in_map_;
  }
  r.records.resize(from - r.first);
}

std::optional<uint64_t> LogRecords::put(std::string key, std::string_view head, SharedBytes tail,
                                        uint64_t segment) {
  Record incoming(head, std::move(tail), segment);
  std::string_view prefix;
  uint64_t index = 0;
  const bool log_key = split(key, &prefix, &index);
  if (log_key) {
    Run& r = *run_for(prefix, true);
    if (index >= r.first && index < r.end()) {
      Record& rec = r.records[index - r.first];
      const uint64_t old = rec.segment;
      bytes_ = bytes_ - rec.size() + incoming.size();
      rec = std::move(incoming);
      return old;
    }
    if (r.records.empty() || index == r.end()) {
      std::optional<uint64_t> old;
      if (log_keys_in_map_ > 0) {  // the key may have gone to the map when it left a gap
        auto it = other_.find(key);
        if (it != other_.end()) {
          old = it->second.segment;
          note_removed(it->first.size(), it->second, {});
          other_.erase(it);
          --log_keys_in_map_;
        }
      }
      if (r.records.empty()) r.first = index;
      bytes_ += key.size() + incoming.size();
      ++size_;
      r.records.push_back(std::move(incoming));
      return old;
    }
  }
  auto [it, inserted] = other_.try_emplace(std::move(key));
  if (inserted) {
    bytes_ += it->first.size() + incoming.size();
    ++size_;
    if (log_key) ++log_keys_in_map_;
    it->second = std::move(incoming);
    return std::nullopt;
  }
  const uint64_t old = it->second.segment;
  bytes_ = bytes_ - it->second.size() + incoming.size();
  it->second = std::move(incoming);
  return old;
}

void LogRecords::erase(std::string_view key, const std::function<void(uint64_t)>& on_erase) {
  std::string_view prefix;
  uint64_t index = 0;
  const bool log_key = split(key, &prefix, &index);
  if (log_key) {
    if (Run* r = run_for(prefix, false); r && index >= r->first && index < r->end()) {
      if (index == r->first) {
        drop_front(*r, 1, on_erase);
      } else {
        if (index + 1 < r->end()) spill(*r, index + 1);
        drop_back(*r, 1, on_erase);
      }
      return;
    }
  }
  auto it = other_.find(key);
  if (it == other_.end()) return;
  note_removed(it->first.size(), it->second, on_erase);
  if (log_key) --log_keys_in_map_;
  other_.erase(it);
}

void LogRecords::erase_range(std::string_view begin, std::string_view end,
                             const std::function<void(uint64_t)>& on_erase) {
  if (begin >= end) return;
  for (auto& entry : runs_) {
    Run& r = entry.second;
    if (r.records.empty()) continue;
    const uint64_t lo = lower(r, begin);
    const uint64_t hi = lower(r, end);
    if (lo >= hi) continue;
    if (lo == r.first) {
      drop_front(r, hi - lo, on_erase);
    } else {
      if (hi < r.end()) spill(r, hi);
      drop_back(r, hi - lo, on_erase);
    }
  }
  auto lo = other_.lower_bound(begin);
  auto hi = other_.lower_bound(end);
  std::string_view prefix;
  uint64_t index = 0;
  for (auto it = lo; it != hi; ++it) {
    note_removed(it->first.size(), it->second, on_erase);
    if (split(it->first, &prefix, &index)) --log_keys_in_map_;
  }
  other_.erase(lo, hi);
}

LogRecords::Record* LogRecords::find(std::string_view key) {
  std::string_view prefix;
  uint64_t index = 0;
  if (split(key, &prefix, &index)) {
    if (Run* r = run_for(prefix, false); r && index >= r->first && index < r->end()) {
      return &r->records[index - r->first];
    }
  }
  auto it = other_.find(key);
  return it == other_.end() ? nullptr : &it->second;
}

void LogRecords::scan_from(std::string_view begin,
                           const std::function<bool(std::string_view, Record&)>& fn) {
  auto o = other_.lower_bound(begin);
  auto ri = runs_.begin();
  uint64_t index = 0;
  // Moves ri to the first run, from ri on, holding a key at or after begin; index is that key's.
  auto seek = [&] {
    for (; ri != runs_.end(); ++ri) {
      index = lower(ri->second, begin);
      if (index < ri->second.end()) return;
    }
  };
  seek();
  std::string run_key;
  while (ri != runs_.end() || o != other_.end()) {
    if (ri != runs_.end()) key_of(ri->second.prefix, index, &run_key);
    if (ri != runs_.end() && (o == other_.end() || std::string_view(run_key) < o->first)) {
      Run& r = ri->second;
      if (!fn(run_key, r.records[index - r.first])) return;
      if (++index >= r.end()) {
        ++ri;
        seek();
      }
    } else {
      if (!fn(o->first, o->second)) return;
      ++o;
    }
  }
}

}  // namespace rkv
