// LogRecords: the Raft log records ("l" keys) RocksStorage keeps in memory, in key order.
//
// A log's records are keys <prefix><u64 big-endian index>, where the prefix ends in its only
// '\0' byte (raft/log_store.h: "l" <group> "\0"). Each prefix gets a run: a deque of records
// indexed by log index, appended at the back and cut at the front, with no tree node and no
// key string per record (a std::map of them cost a follower more than its RocksDB writes).
// Every other key, and a log record that would leave a gap in its run, goes to an ordinary
// ordered map. The two are merged in key order when scanned: runs never interleave with each
// other (no such prefix is a prefix of another), map keys may fall anywhere.
//
// A record's value is a short head kept in the record itself followed by a tail whose bytes are
// shared (SharedBytes): a sealed Raft entry is its checksum, term, index and type, then the
// entry's data, the same buffer the Raft log and its messages hold, so that the log is not in
// memory twice.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/shared_bytes.h"

namespace rkv {

class LogRecords {
 public:
  class Record {
   public:
    static constexpr size_t kInlineHead = 31;

    Record() = default;
    // The value head + tail; a head longer than kInlineHead is joined with the tail instead.
    Record(std::string_view head, SharedBytes tail, uint64_t segment);

    std::string_view head() const { return {head_, head_size_}; }
    const SharedBytes& tail() const { return tail_; }
    size_t size() const { return head_size_ + tail_.size(); }
    // The value in one piece: a view of the tail when there is no head, else of *scratch,
    // which it overwrites.
    std::string_view value(std::string* scratch) const;
    std::string value() const;

    uint64_t segment = 0;  // which write-ahead log segment holds the value (RocksStorage's)

   private:
    SharedBytes tail_;
    uint8_t head_size_ = 0;
    char head_[kInlineHead] = {};
  };

  // Sets key to the value head + tail. Returns the segment of the record it replaced, nullopt
  // when new.
  std::optional<uint64_t> put(std::string key, std::string_view head, SharedBytes tail,
                              uint64_t segment);
  std::optional<uint64_t> put(std::string key, std::string_view value, uint64_t segment) {
    return put(std::move(key), value, SharedBytes(), segment);
  }
  // Removes key, if present; calls on_erase with its segment.
  void erase(std::string_view key, const std::function<void(uint64_t)>& on_erase);
  // Removes every key in [begin, end); calls on_erase with the segment of each.
  void erase_range(std::string_view begin, std::string_view end,
                   const std::function<void(uint64_t)>& on_erase);
  // The record under key, or nullptr.
  Record* find(std::string_view key);
  // Visits the records with keys at or after begin in key order until fn returns false. fn may
  // change a record's segment but not add or remove records; the key it sees lives until the
  // next call.
  void scan_from(std::string_view begin,
                 const std::function<bool(std::string_view key, Record& record)>& fn);

  size_t size() const { return size_; }
  size_t bytes() const { return bytes_; }  // keys and values

 private:
  struct Run {
    std::string prefix;
    uint64_t first = 0;  // the index of records.front()
    std::deque<Record> records;
    uint64_t end() const { return first + records.size(); }
  };
  using Map = std::map<std::string, Record, std::less<>>;

  Run* run_for(std::string_view prefix, bool create);
  // The first index of run r whose key is at or after bound (r.end() if none).
  static uint64_t lower(const Run& r, std::string_view bound);
  // Moves run r's records from index `from` on into the map.
  void spill(Run& r, uint64_t from);
  void drop_front(Run& r, uint64_t n, const std::function<void(uint64_t)>& on_erase);
  void drop_back(Run& r, uint64_t n, const std::function<void(uint64_t)>& on_erase);
  void note_removed(size_t key_size, const Record& rec,
                    const std::function<void(uint64_t)>& on_erase);

  std::map<std::string, Run, std::less<>> runs_;  // by prefix
  Run* last_run_ = nullptr;                       // the run of the last put (map nodes stay put)
  Map other_;
  size_t log_keys_in_map_ = 0;  // keys of other_ that have a log record's form
  size_t size_ = 0;
  size_t bytes_ = 0;
};

}  // namespace rkv
