// Node: the memory limit (maxmemory) and eviction. Who evicts, per model (docs/guarantees.md,
// "Eviction"):
//  * local keyspaces (a single node): this node, at once; the deletes are stored as DEL's are.
//  * primary keyspaces: the leader alone chooses victims and proposes them as one kEvict log
//    entry (one in flight per keyspace); every replica removes them when it applies the
//    entry, so replicas stay identical. Followers never evict; they leave the decision about
//    a client's write to the leader, which the write is relayed to.
//  * leaderless and multi-leader keyspaces: no eviction. A delete by one replica would be
//    undone by repair or resurrect nothing consistently, so writes that may grow memory are
//    refused with -OOM while the node is over its limit, whatever the policy.
#include <fmt/format.h>

#include "node/node.h"

namespace rkv {

namespace {

// Keys chosen before a write when the node is over its limit (the rest is left to the tick).
constexpr size_t kEvictionsPerWrite = 64;
// Keys per eviction log entry at most.
constexpr size_t kMaxEvictionsPerEntry = 1024;

constexpr std::string_view kOomError = "OOM command not allowed when used memory > 'maxmemory'.";

}  // namespace

void Node::set_memory_settings(const MemorySettings& m) {
  if (m.policy != config_.memory.policy) evictor_.reset();
  config_.memory = m;
  store_.set_access_lfu(eviction::uses_lfu(m.policy));
}

void Node::set_used_memory(uint64_t bytes) {
  mem_measured_ = bytes;
  mem_added_ = 0;
  mem_freed_ = 0;
}

bool Node::admit_memory(const resp::CommandSpec& spec, std::span<const std::string_view> args,
                        int64_t now_ms, resp::Writer& w) {
  uint64_t bytes = 64;  // what the command may add, estimated by its size
  for (std::string_view a : args)
    bytes += a.size();
  mem_added_ += bytes;
  if (!over_memory_limit()) return true;
  const KeyRoute r = route_keys(spec, args);
  const Engine* e = r.ks >= 0 ? engine(static_cast<uint32_t>(r.ks)) : nullptr;
  if (e && !e->as_primary()) {
    w.error(kOomError);  // leaderless and multi-leader keyspaces evict nothing
    return false;
  }
  // A follower relays the write; the leader, whose memory its own follows, decides.
  if (e && !e->as_primary()->is_leader()) return true;
  if (config_.memory.policy != MaxmemoryPolicy::kNoEviction && evict(now_ms, kEvictionsPerWrite)) {
    return true;
  }
  w.error(kOomError);
  return false;
}

bool Node::evict(int64_t now_ms, size_t max_keys) {
  const MemorySettings& m = config_.memory;
  if (m.policy == MaxmemoryPolicy::kNoEviction) return false;
  const size_t n = store_.keyspace_count();
  std::vector<bool> eligible(n, false);
  bool in_flight = false;
  for (uint32_t ks = 0; ks < n; ++ks) {
    const Engine* e = engine(ks);
    if (!e) {
      eligible[ks] = true;
    } else if (const RaftGroup* g = e->as_primary(); g && g->is_leader()) {
      eligible[ks] = !g->evicting();
      in_flight |= g->evicting();
    }
  }
  // Evict down to a little under the limit, so that eviction runs in batches rather than one
  // key per write.
  const uint64_t target = m.maxmemory - m.maxmemory / 64;
  std::vector<std::vector<std::string>> batches(n);
  const size_t before = pending_.batch.size();
  bool picked = false;
  evictor_.begin_batch();
  uint32_t ks = 0;
  std::string key;
  for (size_t i = 0; i < max_keys && used_memory_estimate() > target; ++i) {
    if (!evictor_.pick(store_, m.policy, m.samples, eligible, now_ms, &ks, &key)) break;
    picked = true;
    const KeyTable::Entry* e = store_.keyspace(ks).table.find(key);
    RKV_ASSERT(e != nullptr);
    mem_freed_ += eviction::approx_bytes(key, e->value);
    if (!engine(ks)) {
      store_.remove_key(ks, key, change_sink());
      ++evicted_keys_;
      continue;
    }
    batches[ks].push_back(key);
    if (batches[ks].size() >= kMaxEvictionsPerEntry) eligible[ks] = false;
  }
  if (pending_.batch.size() != before) pending_.token = next_token_++;
  for (uint32_t k = 0; k < n; ++k) {
    if (batches[k].empty()) continue;
    std::vector<std::string_view> keys(batches[k].begin(), batches[k].end());
    if (primary(k)->propose_evictions(keys, now_ms)) {
      evicted_keys_ += keys.size();
      in_flight = true;
    }
  }
  return picked || in_flight;
}

}  // namespace rkv
