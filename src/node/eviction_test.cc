// Eviction: the access records (LRU clock, LFU counter), the candidate pool, victim choice
// per policy on a Store, and the node's rules (OOM refusals, local evictions, a primary
// keyspace's leader evicting through its log).
#include "node/eviction.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "node/mini_cluster_test_util.h"
#include "node/node.h"
#include "node/store.h"
#include "node/store_test_util.h"

namespace rkv {
namespace {

using eviction::EvictionPool;
using eviction::Evictor;

constexpr int64_t kT0 = 1'700'000'000'000;
constexpr std::string_view kOom = "-OOM command not allowed when used memory > 'maxmemory'.\r\n";

std::vector<KeyspaceConfig> one_keyspace() {
  KeyspaceConfig def;
  def.name = "default";
  return {def};
}

TEST(LruClock, IdleTimeSurvivesOneWrap) {
  EXPECT_EQ(eviction::lru_idle(100, 40), 60u);
  EXPECT_EQ(eviction::lru_idle(5, eviction::kMetaMask - 4), 10u);
  EXPECT_EQ(eviction::lru_clock(kT0 + 1000) - eviction::lru_clock(kT0), 10u);
}

TEST(LfuCounter, NewKeysStartAtInitAndGrowLogarithmically) {
  Random r(1);
  uint32_t meta = eviction::lfu_touch(0, kT0, r.next());
  EXPECT_EQ(eviction::lfu_counter(meta, kT0), eviction::kLfuInit);
  uint32_t last = eviction::kLfuInit;
  std::vector<uint32_t> at;  // the counter after 100, 1000, 10000 and 100000 accesses
  for (int i = 1; i <= 100000; ++i) {
    meta = eviction::lfu_touch(meta, kT0, r.next());
    const uint32_t c = eviction::lfu_counter(meta, kT0);
    ASSERT_GE(c, last);  // never goes down without time passing
    last = c;
    if (i == 100 || i == 1000 || i == 10000 || i == 100000) at.push_back(c);
  }
  // Redis's table for lfu-log-factor 10: about 10, 18, 40 and 100+ (a Morris counter).
  EXPECT_GE(at[0], 8u);
  EXPECT_LE(at[0], 14u);
  EXPECT_GE(at[1], 14u);
  EXPECT_LE(at[1], 24u);
  EXPECT_GE(at[2], 30u);
  EXPECT_LE(at[2], 60u);
  EXPECT_GE(at[3], 80u);
  EXPECT_LE(at[3], 255u);
}

TEST(LfuCounter, DecaysOnePerMinuteWithoutAccess) {
  const int64_t t0 = kT0 / 60'000 * 60'000;  // the start of a minute
  const uint32_t meta = (eviction::lfu_minutes(t0) << 8) | 20;
  EXPECT_EQ(eviction::lfu_counter(meta, t0 + 59'000), 20u);
  EXPECT_EQ(eviction::lfu_counter(meta, t0 + 3 * 60'000), 17u);
  EXPECT_EQ(eviction::lfu_counter(meta, t0 + 60 * 60'000), 0u);
  // An access decays first, then counts from there.
  Random r(3);
  const uint32_t touched = eviction::lfu_touch(meta, t0 + 5 * 60'000, r.next());
  EXPECT_GE(eviction::lfu_counter(touched, t0 + 5 * 60'000), 15u);
  EXPECT_LE(eviction::lfu_counter(touched, t0 + 5 * 60'000), 16u);
}

TEST(EvictionPool, KeepsTheBestSixteenAndHandsThemOutBestFirst) {
  EvictionPool pool;
  for (uint64_t s = 0; s < 40; ++s)
    pool.offer((s * 17) % 40, 0, "k" + std::to_string((s * 17) % 40));
  EXPECT_EQ(pool.size(), EvictionPool::kSize);
  for (size_t i = 1; i < pool.size(); ++i)
    EXPECT_LT(pool.at(i - 1).score, pool.at(i).score);
  uint32_t ks;
  std::string key;
  for (uint64_t want = 39; want >= 24; --want) {
    ASSERT_TRUE(pool.pop_best(&ks, &key));
    EXPECT_EQ(key, "k" + std::to_string(want));
  }
  EXPECT_FALSE(pool.pop_best(&ks, &key));
}

TEST(EvictionPool, AKeyOfferedAgainKeepsItsNewScore) {
  EvictionPool pool;
  pool.offer(5, 0, "a");
  pool.offer(9, 0, "b");
  pool.offer(1, 0, "a");  // touched since: less evictable
  EXPECT_EQ(pool.size(), 2u);
  uint32_t ks;
  std::string key;
  ASSERT_TRUE(pool.pop_best(&ks, &key));
  EXPECT_EQ(key, "b");
  ASSERT_TRUE(pool.pop_best(&ks, &key));
  EXPECT_EQ(key, "a");
}

// A store of `n` keys k0..k(n-1) written at kT0; those in `ttl` get a TTL of (i + 1) s.
Store make_store(int n, bool lfu, const std::set<int>& ttl = {}) {
  Store s(one_keyspace());
  s.set_access_lfu(lfu);
  for (int i = 0; i < n; ++i) {
    const std::string k = "k" + std::to_string(i);
    if (ttl.count(i)) {
      test::exec(s, {"SET", k, "v", "PX", std::to_string((i + 1) * 1000)}, 2, kT0);
    } else {
      test::exec(s, {"SET", k, "v"}, 2, kT0);
    }
  }
  return s;
}

// Evicts `count` keys from s under policy, returning them in order.
std::vector<std::string> evict_some(Store& s, Evictor& ev, MaxmemoryPolicy policy, int count,
                                    int64_t now) {
  std::vector<std::string> out;
  const std::vector<bool> eligible{true};
  for (int i = 0; i < count; ++i) {
    uint32_t ks;
    std::string key;
    ev.begin_batch();
    if (!ev.pick(s, policy, 5, eligible, now, &ks, &key)) break;
    out.push_back(key);
    NullSink none;
    s.remove_key(ks, key, none);
  }
  return out;
}

TEST(Evictor, AllkeysLruKeepsTheKeysReadLately) {
  for (MaxmemoryPolicy p : {MaxmemoryPolicy::kAllkeysLru, MaxmemoryPolicy::kAllkeysLfu}) {
    const bool lfu = p == MaxmemoryPolicy::kAllkeysLfu;
    Store s = make_store(2000, lfu);
    // The hot keys are read again and again later; the others never.
    for (int round = 0; round < 20; ++round) {
      for (int i = 0; i < 2000; i += 40)
        test::exec(s, {"GET", "k" + std::to_string(i)}, 2, kT0 + 5000 + round);
    }
    Evictor ev(42);
    const auto gone = evict_some(s, ev, p, 1500, kT0 + 6000);
    ASSERT_EQ(gone.size(), 1500u);
    size_t hot_gone = 0;
    for (const auto& k : gone)
      hot_gone += std::stoi(k.substr(1)) % 40 == 0 ? 1 : 0;
    // Sampling is approximate: of 50 hot keys, nearly all stay while 1500 of 1950 cold go.
    EXPECT_LE(hot_gone, 3u) << to_string(p);
  }
}

TEST(Evictor, EveryKeyOfASparseTableCanBeEvicted) {
  // 50,000 keys written, all but 20 removed: a victim is found for each of the 20 (a write
  // must not get -OOM under an allkeys policy while keys remain).
  for (MaxmemoryPolicy p : {MaxmemoryPolicy::kAllkeysLru, MaxmemoryPolicy::kAllkeysLfu,
                            MaxmemoryPolicy::kAllkeysRandom}) {
    Store s = make_store(50000, p == MaxmemoryPolicy::kAllkeysLfu);
    NullSink none;
    for (int i = 20; i < 50000; ++i)
      s.remove_key(0, "k" + std::to_string(i), none);
    Evictor ev(7);
    EXPECT_EQ(evict_some(s, ev, p, 100, kT0 + 1000).size(), 20u) << to_string(p);
    EXPECT_EQ(s.keyspace(0).table.size(), 0u);
  }
}

TEST(Evictor, VolatilePoliciesEvictOnlyKeysWithATtl) {
  std::set<int> ttl;
  for (int i = 0; i < 1000; i += 10)
    ttl.insert(i);
  for (MaxmemoryPolicy p : {MaxmemoryPolicy::kVolatileLru, MaxmemoryPolicy::kVolatileLfu,
                            MaxmemoryPolicy::kVolatileRandom, MaxmemoryPolicy::kVolatileTtl}) {
    Store s = make_store(1000, eviction::uses_lfu(p), ttl);
    Evictor ev(7);
    const auto gone = evict_some(s, ev, p, 1000, kT0 + 10);
    EXPECT_EQ(gone.size(), ttl.size()) << to_string(p);  // then nothing qualifies
    for (const auto& k : gone)
      EXPECT_TRUE(ttl.count(std::stoi(k.substr(1)))) << to_string(p) << " " << k;
    EXPECT_EQ(s.keyspace(0).table.size(), 1000 - ttl.size());
  }
}

TEST(Evictor, VolatileTtlEvictsTheSoonestExpiringFirst) {
  Store s = make_store(50, false, {3, 7, 11, 20, 40});
  Evictor ev(1);
  EXPECT_EQ(evict_some(s, ev, MaxmemoryPolicy::kVolatileTtl, 10, kT0),
            (std::vector<std::string>{"k3", "k7", "k11", "k20", "k40"}));
}

TEST(Evictor, NoevictionAndNoEligibleKeyspacePickNothing) {
  Store s = make_store(10, false);
  Evictor ev(1);
  uint32_t ks;
  std::string key;
  EXPECT_FALSE(ev.pick(s, MaxmemoryPolicy::kNoEviction, 5, {true}, kT0, &ks, &key));
  EXPECT_FALSE(ev.pick(s, MaxmemoryPolicy::kAllkeysLru, 5, {false}, kT0, &ks, &key));
  EXPECT_TRUE(ev.pick(s, MaxmemoryPolicy::kAllkeysRandom, 5, {true}, kT0, &ks, &key));
}

TEST(Evictor, WithinABatchAKeyIsPickedOnce) {
  Store s = make_store(30, false, {1, 2, 3});
  for (MaxmemoryPolicy p : {MaxmemoryPolicy::kAllkeysLru, MaxmemoryPolicy::kAllkeysRandom,
                            MaxmemoryPolicy::kVolatileTtl}) {
    Evictor ev(5);
    ev.begin_batch();
    std::set<std::string> seen;
    uint32_t ks;
    std::string key;
    while (ev.pick(s, p, 5, {true}, kT0, &ks, &key))
      ASSERT_TRUE(seen.insert(key).second) << to_string(p) << " " << key;
    EXPECT_EQ(seen.size(), p == MaxmemoryPolicy::kVolatileTtl ? 3u : 30u) << to_string(p);
  }
}

TEST(Evictor, SameSeedSameVictims) {
  for (MaxmemoryPolicy p : {MaxmemoryPolicy::kAllkeysLru, MaxmemoryPolicy::kAllkeysRandom}) {
    Store a = make_store(500, false), b = make_store(500, false);
    Evictor ea(9), eb(9);
    EXPECT_EQ(evict_some(a, ea, p, 100, kT0 + 1000), evict_some(b, eb, p, 100, kT0 + 1000));
  }
}

TEST(KeyMeta, KeepsTheKeyIntactAroundTheInlineLimit) {
  KeyTable t;
  for (size_t len : {size_t{0}, size_t{24}, size_t{25}, size_t{26}, size_t{100}}) {
    const std::string k(len, 'x');
    bool inserted;
    KeyTable::Entry* e = t.upsert(k, &inserted);
    e->key.set_meta(0xabcdef);
    EXPECT_EQ(e->key.meta(), 0xabcdefu);
    EXPECT_EQ(e->key.view(), k);
  }
}

// --- the node's rules ---

Config single_node(MaxmemoryPolicy p) {
  Config c;
  c.keyspaces = one_keyspace();
  c.memory.maxmemory = 1 << 20;
  c.memory.policy = p;
  return c;
}

// Runs a client command on a single node (through its routing, where the limit is checked).
std::string run_on(Node& n, std::vector<std::string_view> a, int64_t now = kT0) {
  std::string out;
  resp::Writer w(&out, 2);
  n.execute(ClientRequest{}, *resp::lookup_command(a[0]), a, now, w);
  return out;
}

TEST(NodeMemory, NoevictionRefusesGrowingWritesButNotDeletes) {
  MemStorage storage;
  Node n(single_node(MaxmemoryPolicy::kNoEviction), &storage);
  ASSERT_TRUE(n.open(kT0).is_ok());
  auto run = [&](std::vector<std::string_view> a) { return run_on(n, a); };
  EXPECT_EQ(run({"SET", "a", "1"}), "+OK\r\n");
  n.set_used_memory(2 << 20);
  EXPECT_EQ(run({"SET", "b", "1"}), kOom);
  EXPECT_EQ(run({"APPEND", "a", "x"}), kOom);
  EXPECT_EQ(run({"GET", "a"}), "$1\r\n1\r\n");
  EXPECT_EQ(run({"DEL", "a"}), ":1\r\n");
  EXPECT_EQ(n.evicted_keys(), 0u);
  n.set_used_memory(100);
  EXPECT_EQ(run({"SET", "b", "1"}), "+OK\r\n");
}

TEST(NodeMemory, AllkeysLruEvictsLocalKeysBeforeAWriteAndStoresTheDeletes) {
  MemStorage storage;
  Node n(single_node(MaxmemoryPolicy::kAllkeysLru), &storage);
  ASSERT_TRUE(n.open(kT0).is_ok());
  const std::string value(1000, 'v');
  // 2000 keys of about 1.1 KB under a 1 MB limit: the node's own estimate of what the writes
  // add (nothing measured yet) crosses the limit, and eviction keeps it there.
  for (int i = 0; i < 2000; ++i)
    ASSERT_EQ(run_on(n, {"SET", "k" + std::to_string(i), value}), "+OK\r\n");
  const uint64_t during_load = n.evicted_keys();
  EXPECT_GT(during_load, 900u);
  EXPECT_LT(n.used_memory_estimate(), (1u << 20) + 2000);
  EXPECT_EQ(n.store().total_keys(), 2000 - during_load);
  // The driver measures 200 KB over the limit: the next write evicts a bounded step first,
  // the tick the rest.
  n.set_used_memory((1u << 20) + 200'000);
  EXPECT_EQ(run_on(n, {"SET", "new", value}, kT0 + 1000), "+OK\r\n");
  EXPECT_GT(n.evicted_keys(), during_load);
  EXPECT_LE(n.evicted_keys(), during_load + 64);
  n.tick(kT0 + 1010);
  EXPECT_LT(n.used_memory_estimate(), 1u << 20);
  EXPECT_GT(n.evicted_keys(), during_load + 150);
  EXPECT_EQ(n.store().total_keys(), 2001 - n.evicted_keys());
  EXPECT_EQ(run_on(n, {"EXISTS", "new"}), ":1\r\n");  // the newest key is not the victim
  // The deletes are stored: a restart does not bring the keys back.
  PersistRequest r = n.take_persist();
  ASSERT_TRUE(storage.write(r.batch, r.sync).is_ok());
  Node again(single_node(MaxmemoryPolicy::kAllkeysLru), &storage);
  ASSERT_TRUE(again.open(kT0 + 2000).is_ok());
  EXPECT_EQ(again.store().total_keys(), n.store().total_keys());
}

class EvictingCluster : public MiniCluster {
 public:
  explicit EvictingCluster(Model m) : MiniCluster(3, config(m)) {}
  static Config config(Model m) {
    Config c = two_keyspaces("kv", m);
    c.memory.maxmemory = 1 << 20;
    c.memory.policy = MaxmemoryPolicy::kAllkeysLru;
    return c;
  }
  int primary_leader() {
    for (int t = 0; t < 500; ++t) {
      for (int i = 0; i < 3; ++i) {
        const Engine* e = node(i).engine(1);
        if (e->as_primary() && e->as_primary()->is_leader()) return i;
      }
      advance(10);
    }
    return -1;
  }
  std::set<std::string> keys(int i) {
    std::set<std::string> out;
    node(i).store().keyspace(1).table.for_each(
        [&](const KeyTable::Entry& e) { out.insert(e.key.str()); });
    return out;
  }
};

TEST(NodeMemory, ThePrimaryLeaderEvictsThroughItsLogAndReplicasFollow) {
  EvictingCluster c(Model::kPrimary);
  const int l = c.primary_leader();
  ASSERT_GE(l, 0);
  for (int i = 0; i < 300; ++i)
    ASSERT_EQ(c.run(l, {"SET", "kv:" + std::to_string(i), std::string(1000, 'v')}), "+OK\r\n");
  // Every node measures 100 KB more than its limit; only the leader acts.
  for (int i = 0; i < 3; ++i)
    c.node(i).set_used_memory((1 << 20) + 100'000);
  c.advance(20);
  EXPECT_GT(c.node(l).evicted_keys(), 0u);
  const auto leader_keys = c.keys(l);
  EXPECT_LT(leader_keys.size(), 250u);
  EXPECT_GT(leader_keys.size(), 150u);
  for (int i = 0; i < 3; ++i) {
    if (i == l) continue;
    EXPECT_EQ(c.node(i).evicted_keys(), 0u);
    EXPECT_EQ(c.keys(i), leader_keys);
  }
  // A write through a follower is relayed and admitted by the leader, which evicts.
  const int f = (l + 1) % 3;
  for (int i = 0; i < 3; ++i)
    c.node(i).set_used_memory((1 << 20) + 100'000);
  EXPECT_EQ(c.run(f, {"SET", "kv:new", "x"}), "+OK\r\n");
}

TEST(NodeMemory, LeaderlessAndMultiLeaderKeyspacesOnlyRefuse) {
  for (Model m : {Model::kLeaderless, Model::kMultiLeader}) {
    EvictingCluster c(m);
    c.advance(100);
    EXPECT_EQ(c.run(0, {"SET", "kv:a", "1"}), "+OK\r\n");
    c.node(0).set_used_memory(2 << 20);
    EXPECT_EQ(c.run(0, {"SET", "kv:b", "1"}), kOom) << to_string(m);
    EXPECT_EQ(c.node(0).evicted_keys(), 0u);
    EXPECT_EQ(c.run(0, {"DEL", "kv:a"}), ":1\r\n") << to_string(m);
  }
}

}  // namespace
}  // namespace rkv
