#include "node/eviction.h"

#include <algorithm>

#include "node/key_table.h"
#include "node/store.h"

namespace rkv::eviction {

uint32_t lfu_counter(uint32_t meta, int64_t now_ms) {
  const uint32_t stamp = (meta >> 8) & 0xffff;
  const uint32_t counter = meta & 0xff;
  const uint32_t now = lfu_minutes(now_ms);
  const uint32_t elapsed = now >= stamp ? now - stamp : now + 0x10000 - stamp;
  const uint32_t periods = elapsed / kLfuDecayMinutes;
  return counter > periods ? counter - periods : 0;
}

uint32_t lfu_touch(uint32_t meta, int64_t now_ms, uint64_t random) {
  const uint32_t stamp = lfu_minutes(now_ms) << 8;
  if (meta == 0) return stamp | kLfuInit;
  uint32_t c = lfu_counter(meta, now_ms);
  if (c < 255) {
    const uint32_t base = c > kLfuInit ? c - kLfuInit : 0;
    // Increment with probability 1 / (base * factor + 1), decided on 32 random bits.
    const uint64_t r = random >> 32;
    if (r * (uint64_t{base} * kLfuLogFactor + 1) < (uint64_t{1} << 32)) ++c;
  }
  return stamp | c;
}

bool uses_lfu(MaxmemoryPolicy p) {
  return p == MaxmemoryPolicy::kAllkeysLfu || p == MaxmemoryPolicy::kVolatileLfu;
}

bool volatile_only(MaxmemoryPolicy p) {
  return p == MaxmemoryPolicy::kVolatileLru || p == MaxmemoryPolicy::kVolatileLfu ||
         p == MaxmemoryPolicy::kVolatileRandom || p == MaxmemoryPolicy::kVolatileTtl;
}

uint64_t approx_bytes(std::string_view key, const Value& v) {
  // An entry (96 B) and its bucket slot, rounded up by the allocator.
  uint64_t b = sizeof(KeyTable::Entry) + 16;
  if (key.size() > KeyTable::Key::kInline) b += key.size();
  if (v.data.capacity() > 15) b += v.data.capacity();
  if (v.expire_at_ms != 0) b += 64 + key.size();  // its node in the expiry index
  if (v.coll) b += v.coll->payload_bytes() + v.coll->size() * (sizeof(KeyTable::Entry) + 16);
  return b;
}

void EvictionPool::offer(uint64_t score, uint32_t keyspace, std::string_view key) {
  for (size_t i = 0; i < n_; ++i) {
    if (items_[i].keyspace == keyspace && items_[i].key == key) {
      // Already there: drop the old entry, then insert with the new score.
      std::rotate(items_.begin() + static_cast<ptrdiff_t>(i),
                  items_.begin() + static_cast<ptrdiff_t>(i) + 1,
                  items_.begin() + static_cast<ptrdiff_t>(n_));
      --n_;
      break;
    }
  }
  if (n_ == kSize && score <= items_[0].score) return;  // worse than everything kept
  // Position among the ascending scores.
  size_t at = 0;
  while (at < n_ && items_[at].score < score)
    ++at;
  if (n_ == kSize) {
    // Full: the lowest goes, the ones below `at` move down one.
    std::rotate(items_.begin(), items_.begin() + 1, items_.begin() + static_cast<ptrdiff_t>(at));
    --at;
  } else {
    std::rotate(items_.begin() + static_cast<ptrdiff_t>(at),
                items_.begin() + static_cast<ptrdiff_t>(n_),
                items_.begin() + static_cast<ptrdiff_t>(n_) + 1);
    ++n_;
  }
  // items_[at]'s string buffer is reused (no allocation once the pool has warmed up).
  items_[at].score = score;
  items_[at].keyspace = keyspace;
  items_[at].key.assign(key);
}

bool EvictionPool::pop_best(uint32_t* keyspace, std::string* key) {
  if (n_ == 0) return false;
  --n_;
  *keyspace = items_[n_].keyspace;
  key->swap(items_[n_].key);
  return true;
}

uint64_t Evictor::score(MaxmemoryPolicy policy, uint32_t meta, int64_t now_ms) {
  if (uses_lfu(policy)) return 255 - lfu_counter(meta, now_ms);
  return lru_idle(lru_clock(now_ms), meta & kMetaMask);
}

void Evictor::populate(const Store& store, MaxmemoryPolicy policy, uint32_t samples,
                       const std::vector<bool>& eligible, int64_t now_ms) {
  const bool vol = volatile_only(policy);
  for (uint32_t ks = 0; ks < store.keyspace_count(); ++ks) {
    if (ks >= eligible.size() || !eligible[ks]) continue;
    const Keyspace& k = store.keyspace(ks);
    if (vol ? k.expiries.empty() : k.table.size() == 0) continue;
    // Keys with a TTL may be sparse among all keys: a volatile sample walks further.
    const size_t max_buckets = static_cast<size_t>(samples) * (vol ? 64 : 8);
    k.table.sample(random_.next(), samples, max_buckets, [&](const KeyTable::Entry& e) {
      if (vol && e.value.expire_at_ms == 0) return false;
      if (chosen(ks, e.key.view())) return false;
      pool_.offer(score(policy, e.key.meta(), now_ms), ks, e.key.view());
      return true;
    });
  }
}

bool Evictor::pick_soonest(const Store& store, const std::vector<bool>& eligible,
                           uint32_t* keyspace, std::string* key) const {
  const std::pair<int64_t, std::string>* best = nullptr;
  for (uint32_t ks = 0; ks < store.keyspace_count(); ++ks) {
    if (ks >= eligible.size() || !eligible[ks]) continue;
    const auto& exp = store.keyspace(ks).expiries;
    // The soonest not picked in this batch (at most the batch's picks are passed).
    auto it = exp.begin();
    while (it != exp.end() && chosen(ks, it->second))
      ++it;
    if (it != exp.end() && (!best || it->first < best->first)) {
      best = &*it;
      *keyspace = ks;
    }
  }
  if (!best) return false;
  key->assign(best->second);
  return true;
}

bool Evictor::pick_random(const Store& store, bool vol, const std::vector<bool>& eligible,
                          int64_t now_ms, uint32_t* keyspace, std::string* key) {
  (void)now_ms;
  uint64_t total = 0;
  for (uint32_t ks = 0; ks < store.keyspace_count(); ++ks) {
    if (ks < eligible.size() && eligible[ks]) {
      const Keyspace& k = store.keyspace(ks);
      total += vol ? k.expiries.size() : k.table.size();
    }
  }
  if (total == 0) return false;
  for (int attempt = 0; attempt < 4; ++attempt) {
    // A keyspace in proportion to its candidates, then a key from a random bucket of it.
    uint64_t at = random_.uniform(total);
    uint32_t ks = 0;
    for (; ks < store.keyspace_count(); ++ks) {
      if (ks >= eligible.size() || !eligible[ks]) continue;
      const Keyspace& k = store.keyspace(ks);
      const uint64_t n = vol ? k.expiries.size() : k.table.size();
      if (at < n) break;
      at -= n;
    }
    bool found = false;
    store.keyspace(ks).table.sample(random_.next(), 1, vol ? 512 : 64,
                                    [&](const KeyTable::Entry& e) {
                                      if (vol && e.value.expire_at_ms == 0) return false;
                                      if (chosen(ks, e.key.view())) return false;
                                      *keyspace = ks;
                                      key->assign(e.key.view());
                                      found = true;
                                      return true;
                                    });
    if (found) return true;
  }
  // Keys with a TTL too sparse to meet at random: the soonest to expire.
  if (vol) return pick_soonest(store, eligible, keyspace, key);
  for (uint32_t ks = 0; ks < store.keyspace_count(); ++ks) {
    if (ks >= eligible.size() || !eligible[ks] || store.keyspace(ks).table.size() == 0) continue;
    bool found = false;
    store.keyspace(ks).table.sample(random_.next(), 1, SIZE_MAX, [&](const KeyTable::Entry& e) {
      if (chosen(ks, e.key.view())) return false;
      *keyspace = ks;
      key->assign(e.key.view());
      found = true;
      return true;
    });
    if (found) return true;
  }
  return false;
}

bool Evictor::pick(const Store& store, MaxmemoryPolicy policy, uint32_t samples,
                   const std::vector<bool>& eligible, int64_t now_ms, uint32_t* keyspace,
                   std::string* key) {
  if (!pick_any(store, policy, samples, eligible, now_ms, keyspace, key)) return false;
  chosen_.emplace(*keyspace, *key);
  return true;
}

bool Evictor::pick_any(const Store& store, MaxmemoryPolicy policy, uint32_t samples,
                       const std::vector<bool>& eligible, int64_t now_ms, uint32_t* keyspace,
                       std::string* key) {
  switch (policy) {
    case MaxmemoryPolicy::kNoEviction:
      return false;
    case MaxmemoryPolicy::kVolatileTtl:
      return pick_soonest(store, eligible, keyspace, key);
    case MaxmemoryPolicy::kAllkeysRandom:
    case MaxmemoryPolicy::kVolatileRandom:
      return pick_random(store, volatile_only(policy), eligible, now_ms, keyspace, key);
    default:
      break;
  }
  const bool vol = volatile_only(policy);
  for (int attempt = 0; attempt < 4; ++attempt) {
    populate(store, policy, samples, eligible, now_ms);
    // The best candidate that still exists (the pool outlives the keys it names).
    while (pool_.pop_best(keyspace, key)) {
      if (*keyspace >= eligible.size() || !eligible[*keyspace]) continue;
      if (chosen(*keyspace, *key)) continue;
      const KeyTable::Entry* e = store.keyspace(*keyspace).table.find(*key);
      if (e && (!vol || e->value.expire_at_ms != 0)) return true;
    }
  }
  // Nothing met in four samples: keys too sparse among the buckets (a table that held many
  // more keys than it does now, keys with a TTL among many without), or none at all. Any key
  // is better than refusing a write while keys remain: the soonest to expire, or one at random
  // (which walks the table as far as it takes).
  if (vol) return pick_soonest(store, eligible, keyspace, key);
  return pick_random(store, false, eligible, now_ms, keyspace, key);
}

}  // namespace rkv::eviction
