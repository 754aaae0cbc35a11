// Eviction under `maxmemory` (docs/configuration.md, [memory]): which key goes when the node is
// over its memory limit. Sans-IO and deterministic: time comes in as now_ms, randomness from
// the Random the owner seeds.
//
// Per key the Store keeps 24 bits beside the key (KeyTable::Key::meta, no extra bytes):
//  * LRU policies: the access clock, in units of kLruTickMs, wrapping every 2^24 units
//    (19.4 days). A key untouched for longer than that looks younger than it is.
//  * LFU policies: 16 bits of minutes (when the counter was last decayed) and an 8-bit
//    logarithmic (Morris) counter: each access increments it with probability
//    1 / ((counter - kLfuInit) * kLfuLogFactor + 1), and it loses one per kLfuDecayMinutes
//    without access. New keys start at kLfuInit so they are not the first to go.
// Victims are chosen as Redis does: sample `samples` keys from a random place of each eligible
// keyspace's table, keep the best candidates seen so far in a small pool (EvictionPool), and
// evict the best of the pool that still exists. volatile-ttl is exact (the keyspace's expiry
// index is ordered): the key that expires soonest goes first.
#pragma once

#include <array>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/random.h"

namespace rkv {

class Store;
struct Value;

namespace eviction {

inline constexpr uint32_t kMetaMask = (1u << 24) - 1;

// --- LRU access clock ---
inline constexpr int64_t kLruTickMs = 100;
inline uint32_t lru_clock(int64_t now_ms) {
  return static_cast<uint32_t>(now_ms / kLruTickMs) & kMetaMask;
}
// Units of kLruTickMs since `stamp` on a clock reading `now` (one wrap tolerated).
inline uint32_t lru_idle(uint32_t now, uint32_t stamp) {
  return now >= stamp ? now - stamp : now + (kMetaMask + 1 - stamp);
}

// --- LFU counter ---
inline constexpr uint32_t kLfuInit = 5;
inline constexpr uint32_t kLfuLogFactor = 10;
inline constexpr uint32_t kLfuDecayMinutes = 1;
inline uint32_t lfu_minutes(int64_t now_ms) {
  return static_cast<uint32_t>(now_ms / 60000) & 0xffff;
}
// The counter of `meta` as of now_ms (decayed, not stored).
uint32_t lfu_counter(uint32_t meta, int64_t now_ms);
// `meta` after one access at now_ms; `random` is a fresh 64-bit random number. A meta of 0 (a
// key never touched) becomes kLfuInit.
uint32_t lfu_touch(uint32_t meta, int64_t now_ms, uint64_t random);

bool uses_lfu(MaxmemoryPolicy p);
bool volatile_only(MaxmemoryPolicy p);

// About how many bytes removing the value frees (entry, key, value, elements, allocator
// rounding): the eviction loop's estimate until the allocator is measured again.
uint64_t approx_bytes(std::string_view key, const Value& v);

// The best eviction candidates seen so far, highest score (most evictable) last. A key offered
// again keeps its newer score.
class EvictionPool {
 public:
  static constexpr size_t kSize = 16;
  struct Candidate {
    uint64_t score = 0;
    uint32_t keyspace = 0;
    std::string key;
  };
  void offer(uint64_t score, uint32_t keyspace, std::string_view key);
  // Moves the best candidate out; false when the pool is empty.
  bool pop_best(uint32_t* keyspace, std::string* key);
  size_t size() const { return n_; }
  const Candidate& at(size_t i) const { return items_[i]; }  // ascending by score
  void clear() { n_ = 0; }

 private:
  std::array<Candidate, kSize> items_;
  size_t n_ = 0;
};

// Chooses victims in a Store. Owned by the node; not thread-safe.
class Evictor {
 public:
  explicit Evictor(uint64_t seed) : random_(seed) {}

  // The next key to evict under `policy`, among the keyspaces whose `eligible` flag is set:
  // false when there is none (noeviction; a volatile policy and no key with a TTL). The key
  // exists when returned.
  bool pick(const Store& store, MaxmemoryPolicy policy, uint32_t samples,
            const std::vector<bool>& eligible, int64_t now_ms, uint32_t* keyspace,
            std::string* key);
  // Forgets the pool (the policy changed: its scores mean something else).
  void reset() { pool_.clear(); }
  // Starts a batch of picks: within one, a key is picked once (a primary keyspace's victims
  // stay in its table until the leader's eviction entry is applied).
  void begin_batch() { chosen_.clear(); }

 private:
  // The key's score under policy: higher is evicted first.
  static uint64_t score(MaxmemoryPolicy policy, uint32_t meta, int64_t now_ms);
  // Fills the pool from a sample of every eligible keyspace.
  void populate(const Store& store, MaxmemoryPolicy policy, uint32_t samples,
                const std::vector<bool>& eligible, int64_t now_ms);
  bool pick_any(const Store& store, MaxmemoryPolicy policy, uint32_t samples,
                const std::vector<bool>& eligible, int64_t now_ms, uint32_t* keyspace,
                std::string* key);
  bool pick_random(const Store& store, bool volatile_keys, const std::vector<bool>& eligible,
                   int64_t now_ms, uint32_t* keyspace, std::string* key);
  bool pick_soonest(const Store& store, const std::vector<bool>& eligible, uint32_t* keyspace,
                    std::string* key) const;

  bool chosen(uint32_t ks, std::string_view key) const {
    return !chosen_.empty() && chosen_.count(std::pair<uint32_t, std::string_view>(ks, key)) > 0;
  }

  // Orders (keyspace, key) pairs, looked up by views.
  struct KeyLess {
    using is_transparent = void;
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return std::pair<uint32_t, std::string_view>(a.first, a.second) <
             std::pair<uint32_t, std::string_view>(b.first, b.second);
    }
  };

  Random random_;
  EvictionPool pool_;
  std::set<std::pair<uint32_t, std::string>, KeyLess> chosen_;
};

}  // namespace eviction
}  // namespace rkv
