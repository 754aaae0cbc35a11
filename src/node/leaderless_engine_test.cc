// LeaderlessEngine on a small in-process cluster: Nodes on MemStorage, messages delivered in
// order (or dropped towards nodes marked down), every batch persisted at once. Deterministic;
// the simulator explores the interleavings, these tests pin the mechanisms one by one.
#include "node/leaderless_engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "node/mini_cluster_test_util.h"
#include "node/node.h"

namespace rkv {
namespace {

class MiniCluster : public rkv::MiniCluster {
 public:
  MiniCluster(int nodes, int n, int r, int w, ConflictMode conflict = ConflictMode::kLww,
              bool sloppy = true, int64_t grace_ms = 3600 * 1000)
      : rkv::MiniCluster(nodes, config(n, r, w, conflict, sloppy, grace_ms)) {}

  const LeaderlessEngine& engine(int i) { return *node(i).engine(1)->as_leaderless(); }
  void repair(int i) { node(i).engine(1)->as_leaderless()->start_repair(); }

  // The home replicas of a key, by node index.
  std::vector<uint32_t> homes(const std::string& key) {
    std::vector<uint32_t> out;
    engine(0).ring().preference_list(leaderless::Ring::hash_key(key),
                                     static_cast<size_t>(base_.keyspaces[1].n), &out);
    return out;
  }

 private:
  static Config config(int n, int r, int w, ConflictMode conflict, bool sloppy, int64_t grace_ms) {
    Config base = two_keyspaces("kv", Model::kLeaderless);
    KeyspaceConfig& ks = base.keyspaces[1];
    ks.n = n;
    ks.r = r;
    ks.w = w;
    ks.conflict = conflict;
    ks.sloppy = sloppy;
    base.leaderless.gossip_ms = 50;
    base.leaderless.anti_entropy_ms = 1000000;  // tests start repairs themselves
    base.leaderless.tombstone_grace_ms = static_cast<uint64_t>(grace_ms);
    base.leaderless.hint_window_ms = static_cast<uint64_t>(grace_ms);
    return base;
  }
};

TEST(LeaderlessEngine, QuorumWriteIsReadableThroughEveryNode) {
  MiniCluster c(3, 3, 2, 2);
  c.advance(200);  // gossip: every node hears of every other
  EXPECT_EQ(c.run(0, {"SET", "kv:a", "hello"}), "+OK\r\n");
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(c.run(i, {"GET", "kv:a"}), "$5\r\nhello\r\n") << "node " << i;
    EXPECT_EQ(c.run(i, {"GET", "kv:a"}, Consistency::kAll), "$5\r\nhello\r\n");
    ASSERT_NE(c.engine(i).local_object("kv:a"), nullptr);  // every replica stored it
  }
  EXPECT_EQ(c.run(1, {"DEL", "kv:a", "kv:none"}), ":1\r\n");
  EXPECT_EQ(c.run(2, {"GET", "kv:a"}), "$-1\r\n");
  EXPECT_EQ(c.run(2, {"EXISTS", "kv:a"}), ":0\r\n");
  EXPECT_EQ(c.run(0, {"INCR", "kv:n"}).substr(0, 33), "-ERR INCR is not available on lea");
  EXPECT_EQ(c.run(0, {"GET", "kv:a"}, Consistency::kAny).substr(0, 26),
            "-ERR CONSISTENCY ANY appli");
}

// A replica that cannot make writes durable (a full disk: Node::refuse_writes) refuses replica
// writes at once instead of holding them unacknowledged; a quorum of the others still takes
// the write, a client of that node gets the refusal, and repair brings it up to date later.
TEST(LeaderlessEngine, AReplicaRefusingWritesIsCountedOutAndRepairedLater) {
  MiniCluster c(3, 3, 2, 2);
  c.advance(200);
  c.node(2).refuse_writes("MISCONF disk full");
  EXPECT_EQ(c.run(0, {"SET", "kv:a", "1"}), "+OK\r\n");
  EXPECT_EQ(c.engine(2).local_object("kv:a"), nullptr);
  EXPECT_FALSE(c.node(2).has_pending_persist());
  EXPECT_EQ(c.run(0, {"SET", "kv:a", "2"}, Consistency::kAll).substr(0, 1), "-");
  EXPECT_EQ(c.run(2, {"SET", "kv:b", "1"}), "-MISCONF disk full\r\n");
  EXPECT_EQ(c.run(2, {"GET", "kv:a"}), "$1\r\n2\r\n");  // R = 2 from the others
  c.node(2).refuse_writes("");
  c.repair(2);
  c.advance(1000);
  ASSERT_NE(c.engine(2).local_object("kv:a"), nullptr);
}

// Sloppy quorum: a home replica that refuses a write (a full disk) is treated as down for it:
// the next node on the ring stands in, holding the write as a hint, and the write reaches W at
// once. The hint reaches the home replica once it can write again.
TEST(LeaderlessEngine, ARefusedWriteGoesToAStandInWhenSloppy) {
  MiniCluster c(4, 3, 2, 3);
  c.advance(200);
  const auto homes = c.homes("kv:a");
  const int coordinator = static_cast<int>(homes[0]), full = static_cast<int>(homes[2]);
  int stand_in = 0;
  while (std::find(homes.begin(), homes.end(), static_cast<uint32_t>(stand_in)) != homes.end())
    ++stand_in;
  c.node(full).refuse_writes("MISCONF disk full");
  EXPECT_EQ(c.run(coordinator, {"SET", "kv:a", "1"}), "+OK\r\n");
  EXPECT_EQ(c.engine(full).local_object("kv:a"), nullptr);
  EXPECT_EQ(c.engine(stand_in).hint_count(), 1u);
  EXPECT_EQ(c.engine(coordinator).stats().refusals_redirected, 1u);
  c.node(full).refuse_writes("");
  for (int i = 0; i < 100 && c.engine(full).local_object("kv:a") == nullptr; ++i)
    c.advance(100);
  ASSERT_NE(c.engine(full).local_object("kv:a"), nullptr);
  EXPECT_EQ(c.engine(stand_in).hint_count(), 0u);
}

// With a strict quorum a refusal leaves the write short of W: it fails at once (not at the
// request's deadline) with an error that says it may be stored in part, and the coordinator
// keeps a hint for the replica that refused.
TEST(LeaderlessEngine, ARefusedWriteFailsAtOnceWithAStrictQuorum) {
  MiniCluster c(4, 3, 2, 3, ConflictMode::kLww, /*sloppy=*/false);
  c.advance(200);
  const auto homes = c.homes("kv:a");
  const int coordinator = static_cast<int>(homes[0]), full = static_cast<int>(homes[2]);
  c.node(full).refuse_writes("MISCONF disk full");
  const std::string reply = c.run(coordinator, {"SET", "kv:a", "1"});
  EXPECT_EQ(reply.rfind("-REFUSED the write of key 'kv:a' cannot reach the 3 replicas it needs",
                        0),
            0u)
      << reply;
  EXPECT_EQ(c.engine(coordinator).stats().writes_refused, 1u);
  EXPECT_EQ(c.engine(coordinator).hint_count(), 1u);
  c.node(full).refuse_writes("");
  for (int i = 0; i < 100 && c.engine(full).local_object("kv:a") == nullptr; ++i)
    c.advance(100);
  ASSERT_NE(c.engine(full).local_object("kv:a"), nullptr);
  // W = 2 of 3: one refusal leaves enough, and the write succeeds.
  MiniCluster c2(4, 3, 2, 2, ConflictMode::kLww, /*sloppy=*/false);
  c2.advance(200);
  c2.node(full).refuse_writes("MISCONF disk full");
  EXPECT_EQ(c2.run(coordinator, {"SET", "kv:a", "1"}), "+OK\r\n");
  EXPECT_EQ(c2.engine(coordinator).stats().writes_refused, 0u);
}

// A replica answers a read only with versions it holds durably: one still waiting for its disk
// could be taken back by a crash after a reader saw it. The answer comes once it is written.
TEST(LeaderlessEngine, AReplicaAnswersReadsOnlyWithDurableVersions) {
  MiniCluster c(3, 3, 1, 1, ConflictMode::kLww, /*sloppy=*/false);
  c.advance(200);
  c.set_down(0, true);
  c.set_down(1, true);
  c.hold_disk(2, true);
  EXPECT_EQ(c.run(2, {"SET", "kv:a", "1"}).substr(0, 1), "-");  // not durable: not acknowledged
  EXPECT_NE(c.engine(2).local_object("kv:a"), nullptr);         // held in memory meanwhile
  const std::string read = c.run(2, {"GET", "kv:a"});
  EXPECT_EQ(read.substr(0, 1), "-") << read;  // what a crash could take back is not returned
  c.hold_disk(2, false);
  c.advance(10);
  EXPECT_EQ(c.run(2, {"GET", "kv:a"}), "$1\r\n1\r\n");
}

// Commands the leaderless engine does not implement are refused (not executed on one replica)
// with an error that names the model; the multi-key ones as well.
TEST(LeaderlessEngine, RefusesStringAndKeyCommandsItDoesNotImplement) {
  MiniCluster c(3, 3, 2, 2);
  c.advance(200);
  EXPECT_EQ(c.run(0, {"SET", "kv:a", "1"}), "+OK\r\n");
  const std::vector<std::vector<std::string>> refused = {{"SETEX", "kv:a", "10", "v"},
                                                         {"GETEX", "kv:a", "PERSIST"},
                                                         {"GETSET", "kv:a", "v"},
                                                         {"INCRBYFLOAT", "kv:a", "1.5"},
                                                         {"SETRANGE", "kv:a", "0", "x"},
                                                         {"GETRANGE", "kv:a", "0", "1"},
                                                         {"SETBIT", "kv:a", "1", "1"},
                                                         {"BITCOUNT", "kv:a"},
                                                         {"EXPIREAT", "kv:a", "1"},
                                                         {"EXPIRETIME", "kv:a"},
                                                         {"RENAME", "kv:a", "kv:b"},
                                                         {"COPY", "kv:a", "kv:b"},
                                                         {"MSETNX", "kv:x", "1"},
                                                         {"LCS", "kv:a", "kv:b"},
                                                         {"UNLINK", "kv:a"},
                                                         {"TOUCH", "kv:a"}};
  for (const auto& cmd : refused) {
    std::string name = cmd[0];
    EXPECT_EQ(c.run(1, cmd),
              "-ERR " + name + " is not available on leaderless keyspace 'kv' " +
                  "(supported: GET, MGET, EXISTS, TTL, PTTL, SIBLINGS, SET, DEL)\r\n");
  }
  EXPECT_EQ(c.run(2, {"GET", "kv:a"}), "$1\r\n1\r\n");  // nothing was changed
}

// Hashes, sets and sorted sets have no conflict semantics in a leaderless keyspace yet: every
// one of their commands is refused the same way, naming the keyspace and its model, and
// changes nothing.
TEST(LeaderlessEngine, RefusesHashSetAndSortedSetCommands) {
  MiniCluster c(3, 3, 2, 2);
  c.advance(200);
  const std::vector<std::vector<std::string>> refused = {{"HSET", "kv:h", "f", "v"},
                                                         {"HGET", "kv:h", "f"},
                                                         {"HGETALL", "kv:h"},
                                                         {"HINCRBY", "kv:h", "f", "1"},
                                                         {"HRANDFIELD", "kv:h"},
                                                         {"HSCAN", "kv:h", "0"},
                                                         {"SADD", "kv:s", "m"},
                                                         {"SMEMBERS", "kv:s"},
                                                         {"SPOP", "kv:s"},
                                                         {"SRANDMEMBER", "kv:s", "2"},
                                                         {"SMOVE", "kv:s", "kv:t", "m"},
                                                         {"SINTERSTORE", "kv:d", "kv:s"},
                                                         {"SINTERCARD", "1", "kv:s"},
                                                         {"SSCAN", "kv:s", "0"},
                                                         {"ZADD", "kv:z", "1", "m"},
                                                         {"ZINCRBY", "kv:z", "1", "m"},
                                                         {"ZRANGE", "kv:z", "0", "-1"},
                                                         {"ZRANK", "kv:z", "m"},
                                                         {"ZPOPMIN", "kv:z"},
                                                         {"ZRANGESTORE", "kv:d", "kv:z", "0", "1"},
                                                         {"ZUNIONSTORE", "kv:d", "1", "kv:z"},
                                                         {"ZINTERCARD", "1", "kv:z"},
                                                         {"ZSCAN", "kv:z", "0"}};
  for (const auto& cmd : refused) {
    EXPECT_EQ(c.run(1, cmd),
              "-ERR " + cmd[0] + " is not available on leaderless keyspace 'kv' " +
                  "(supported: GET, MGET, EXISTS, TTL, PTTL, SIBLINGS, SET, DEL)\r\n");
  }
  EXPECT_EQ(c.run(2, {"EXISTS", "kv:h", "kv:s", "kv:d", "kv:z"}), ":0\r\n");
}

// Lists too (a list's order has no merge rule across concurrent writers yet), the blocking
// pops included: refused at once, never waiting.
TEST(LeaderlessEngine, RefusesListCommands) {
  MiniCluster c(3, 3, 2, 2);
  c.advance(200);
  const std::vector<std::vector<std::string>> refused = {
      {"LPUSH", "kv:l", "a"},
      {"RPUSH", "kv:l", "a"},
      {"LPUSHX", "kv:l", "a"},
      {"RPUSHX", "kv:l", "a"},
      {"LPOP", "kv:l"},
      {"RPOP", "kv:l", "2"},
      {"LLEN", "kv:l"},
      {"LRANGE", "kv:l", "0", "-1"},
      {"LINDEX", "kv:l", "0"},
      {"LSET", "kv:l", "0", "a"},
      {"LINSERT", "kv:l", "before", "a", "b"},
      {"LREM", "kv:l", "0", "a"},
      {"LTRIM", "kv:l", "0", "1"},
      {"LPOS", "kv:l", "a"},
      {"LMOVE", "kv:l", "kv:m", "left", "right"},
      {"RPOPLPUSH", "kv:l", "kv:m"},
      {"LMPOP", "1", "kv:l", "left"},
      {"BLPOP", "kv:l", "0"},
      {"BRPOP", "kv:l", "kv:m", "1"},
      {"BLMOVE", "kv:l", "kv:m", "left", "left", "0"},
      {"BRPOPLPUSH", "kv:l", "kv:m", "0"},
      {"BLMPOP", "0", "1", "kv:l", "left"}};
  for (const auto& cmd : refused) {
    EXPECT_EQ(c.run(1, cmd),
              "-ERR " + cmd[0] + " is not available on leaderless keyspace 'kv' " +
                  "(supported: GET, MGET, EXISTS, TTL, PTTL, SIBLINGS, SET, DEL)\r\n");
  }
  EXPECT_EQ(c.run(2, {"EXISTS", "kv:l", "kv:m"}), ":0\r\n");
}

TEST(LeaderlessEngine, NonReplicaRelaysWritesToAHomeReplica) {
  MiniCluster c(5, 3, 2, 2);
  c.advance(300);
  // A key whose home replicas do not include node 0.
  std::string key;
  for (int i = 0; key.empty(); ++i) {
    std::string k = "kv:k" + std::to_string(i);
    auto h = c.homes(k);
    if (std::find(h.begin(), h.end(), 0u) == h.end()) key = k;
  }
  EXPECT_EQ(c.run(0, {"SET", key, "v"}), "+OK\r\n");
  EXPECT_EQ(c.engine(0).local_object(key), nullptr);  // not a replica: stores nothing
  EXPECT_EQ(c.engine(0).stats().relayed, 1u);
  EXPECT_EQ(c.run(0, {"GET", key}, Consistency::kAll), "$1\r\nv\r\n");
}

TEST(LeaderlessEngine, WritesWithTheSameContextBecomeSiblingsUntilAWriteSeesBoth) {
  MiniCluster c(3, 3, 2, 2, ConflictMode::kSiblings);
  c.advance(200);
  ASSERT_EQ(c.run(0, {"SET", "kv:s", "base"}), "+OK\r\n");
  // SIBLINGS -> [context, [[value, hlc, dot, expire], ...]]; take the context.
  std::string sib = c.run(1, {"SIBLINGS", "kv:s"});
  const size_t at = sib.find("\r\n", sib.find('$')) + 2;
  const std::string ctx = sib.substr(at, sib.find("\r\n", at) - at);
  ASSERT_EQ(c.run(1, {"SET", "kv:s", "x", "CONTEXT", ctx}), "+OK\r\n");
  ASSERT_EQ(c.run(2, {"SET", "kv:s", "y", "CONTEXT", ctx}), "+OK\r\n");
  const versions::Versioned* o = c.engine(0).local_object("kv:s");
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(o->siblings().size(), 2u);  // x and y are concurrent; base is gone
  sib = c.run(0, {"SIBLINGS", "kv:s"});
  EXPECT_NE(sib.find("$1\r\nx\r\n"), std::string::npos);
  EXPECT_NE(sib.find("$1\r\ny\r\n"), std::string::npos);
  const size_t at2 = sib.find("\r\n", sib.find('$')) + 2;
  const std::string both = sib.substr(at2, sib.find("\r\n", at2) - at2);
  ASSERT_EQ(c.run(0, {"SET", "kv:s", "z", "CONTEXT", both}), "+OK\r\n");
  EXPECT_EQ(c.run(1, {"GET", "kv:s"}, Consistency::kAll), "$1\r\nz\r\n");
  EXPECT_EQ(c.engine(2).local_object("kv:s")->siblings().size(), 1u);
  EXPECT_EQ(c.run(0, {"SET", "kv:s", "w", "CONTEXT", "!!"}).substr(0, 12), "-ERR CONTEXT");
}

TEST(LeaderlessEngine, LwwKeepsOneVersionAndCountsTheWriteItDiscards) {
  MiniCluster c(3, 3, 1, 1);
  c.advance(200);
  // Nodes 0 and 1 cannot talk: each writes at ONE without seeing the other's write.
  c.cut(0, 1);
  c.cut(0, 2);
  c.cut(1, 2);
  ASSERT_EQ(c.run(0, {"SET", "kv:l", "from0"}, Consistency::kOne), "+OK\r\n");
  ASSERT_EQ(c.run(1, {"SET", "kv:l", "from1"}, Consistency::kOne), "+OK\r\n");
  c.heal();
  // A read at ALL merges both and repairs: one version is left, one write was discarded.
  std::string v = c.run(2, {"GET", "kv:l"}, Consistency::kAll);
  EXPECT_TRUE(v == "$5\r\nfrom0\r\n" || v == "$5\r\nfrom1\r\n") << v;
  c.advance(100);
  uint64_t discarded = 0;
  for (int i = 0; i < 3; ++i) {
    ASSERT_NE(c.engine(i).local_object("kv:l"), nullptr);
    EXPECT_EQ(c.engine(i).local_object("kv:l")->siblings().size(), 1u);
    discarded += c.engine(i).stats().lww_discarded;
  }
  // Counted where the versions met: at least once, at most once per replica.
  EXPECT_GE(discarded, 1u);
  EXPECT_LE(discarded, 3u);
}

TEST(LeaderlessEngine, ReadRepairBringsAStaleReplicaUpToDate) {
  MiniCluster c(3, 3, 2, 2);
  c.advance(200);
  c.cut(0, 2);
  c.cut(1, 2);
  ASSERT_EQ(c.run(0, {"SET", "kv:r", "new"}), "+OK\r\n");  // nodes 0 and 1
  EXPECT_EQ(c.engine(2).local_object("kv:r"), nullptr);
  c.heal();
  // A read at ONE through the stale replica answers from itself: stale, and judged so once
  // the other replicas' answers arrive (read repair async/blocking fixes node 2 meanwhile).
  EXPECT_EQ(c.run(2, {"GET", "kv:r"}, Consistency::kOne), "$-1\r\n");
  uint64_t judged = 0, fresh = 0;
  for (size_t b = 0; b < LeaderlessEngine::kFreshnessBuckets; ++b) {
    judged += c.engine(2).freshness().judged[b];
    fresh += c.engine(2).freshness().fresh[b];
  }
  EXPECT_EQ(judged, 1u);
  EXPECT_EQ(fresh, 0u);
  c.cut(0, 2);
  c.cut(1, 2);
  ASSERT_EQ(c.run(0, {"SET", "kv:r", "newer"}), "+OK\r\n");
  c.heal();
  // Any late hint or repair is still pending; a read at ALL repairs node 2 before replying.
  EXPECT_EQ(c.run(2, {"GET", "kv:r"}, Consistency::kAll), "$5\r\nnewer\r\n");
  ASSERT_NE(c.engine(2).local_object("kv:r"), nullptr);
  EXPECT_EQ(c.engine(2).local_object("kv:r")->siblings()[0].value, "newer");
}

TEST(LeaderlessEngine, HintsForADownReplicaAreHandedOffWhenItReturns) {
  MiniCluster c(5, 3, 2, 2);
  c.advance(300);
  auto homes = c.homes("kv:h");
  const int victim = static_cast<int>(homes[2]);
  const int coordinator = static_cast<int>(homes[0]);
  c.set_down(victim, true);
  c.advance(3000);  // the failure detectors mark it down
  ASSERT_EQ(c.run(coordinator, {"SET", "kv:h", "hinted"}, Consistency::kAll), "+OK\r\n");
  size_t hints = 0;
  for (int i = 0; i < 5; ++i)
    hints += c.engine(i).hint_count();
  EXPECT_EQ(hints, 1u);  // a fallback holds it for the victim
  ASSERT_EQ(c.run(coordinator, {"DEL", "kv:h"}), ":1\r\n");
  c.set_down(victim, false);
  c.start(victim);  // restarts (its storage survived)
  c.advance(3000);
  hints = 0;
  for (int i = 0; i < 5; ++i)
    hints += c.engine(i).hint_count();
  EXPECT_EQ(hints, 0u);
  const versions::Versioned* o = c.engine(victim).local_object("kv:h");
  ASSERT_NE(o, nullptr);
  ASSERT_EQ(o->siblings().size(), 1u);
  EXPECT_TRUE(o->siblings()[0].tombstone);  // the delete reached it: nothing comes back
  EXPECT_EQ(c.run(victim, {"GET", "kv:h"}, Consistency::kAll), "$-1\r\n");
}

TEST(LeaderlessEngine, StrictQuorumRefusesWhatItCannotReachAndSaysSo) {
  MiniCluster c(5, 3, 3, 3, ConflictMode::kLww, /*sloppy=*/false);
  c.advance(300);
  auto homes = c.homes("kv:u");
  c.set_down(static_cast<int>(homes[1]), true);
  c.advance(3000);
  const std::string r = c.run(static_cast<int>(homes[0]), {"SET", "kv:u", "v"});
  EXPECT_EQ(r.substr(0, 12), "-UNAVAILABLE") << r;
  EXPECT_EQ(c.run(static_cast<int>(homes[0]), {"GET", "kv:u"}, Consistency::kOne), "$-1\r\n");
}

TEST(LeaderlessEngine, AWipedNodeIsRebuiltByAntiEntropy) {
  MiniCluster c(3, 3, 2, 2);
  c.advance(200);
  for (int i = 0; i < 200; ++i) {
    ASSERT_EQ(c.run(i % 3, {"SET", "kv:w" + std::to_string(i), "v" + std::to_string(i)}),
              "+OK\r\n");
  }
  c.wipe(2);
  c.start(2);
  EXPECT_EQ(c.engine(2).object_count(), 0u);
  const_cast<LeaderlessEngine&>(c.engine(2)).start_repair();
  c.advance(2500);  // a few comparisons start per tick
  EXPECT_EQ(c.engine(2).object_count(), 200u);
  EXPECT_GT(c.engine(2).stats().sync_rounds, 0u);
  // A second pass finds every range equal and sends nothing.
  const uint64_t keys_before =
      c.engine(0).stats().sync_keys + c.engine(1).stats().sync_keys + c.engine(2).stats().sync_keys;
  const_cast<LeaderlessEngine&>(c.engine(2)).start_repair();
  c.advance(2500);
  EXPECT_EQ(
      c.engine(0).stats().sync_keys + c.engine(1).stats().sync_keys + c.engine(2).stats().sync_keys,
      keys_before);
}

TEST(LeaderlessEngine, TombstonesGoOnlyOnceEveryReplicaHoldsThemAndDotsAreNotReused) {
  MiniCluster c(4, 3, 2, 2, ConflictMode::kSiblings, true, /*grace_ms=*/1000);
  c.advance(300);
  auto homes = c.homes("kv:t");
  const int a = static_cast<int>(homes[0]), b = static_cast<int>(homes[1]);
  const int down = static_cast<int>(homes[2]);
  ASSERT_EQ(c.run(a, {"SET", "kv:t", "v1"}, Consistency::kAll), "+OK\r\n");
  c.set_down(down, true);
  ASSERT_EQ(c.run(a, {"DEL", "kv:t"}), ":1\r\n");
  // Past the grace period, but one replica is down: nobody may forget the delete.
  c.advance(5000);
  c.repair(a);
  c.repair(b);
  c.advance(3000);
  ASSERT_NE(c.engine(a).local_object("kv:t"), nullptr);
  ASSERT_NE(c.engine(b).local_object("kv:t"), nullptr);
  EXPECT_EQ(c.engine(a).stats().tombstones_collected, 0u);
  // It returns (with v1 only): the delete reaches it, then every replica syncs and collects.
  c.set_down(down, false);
  c.start(down);
  c.advance(3000);
  // Every replica collects it within a few anti-entropy rounds, and it stays collected.
  auto collected = [&] {
    for (int i : {a, b, down}) {
      if (c.engine(i).local_object("kv:t") != nullptr) return false;
    }
    return true;
  };
  for (int round = 0; round < 10 && !collected(); ++round) {
    for (int i : {a, b, down})
      c.repair(i);
    c.advance(2000);
  }
  EXPECT_TRUE(collected());
  for (int i : {a, b, down})
    c.repair(i);
  c.advance(4000);
  EXPECT_TRUE(collected());
  EXPECT_EQ(c.run(down, {"GET", "kv:t"}, Consistency::kAll), "$-1\r\n");
  // Written again: the new version's dot is above the collected ones, so the write survives
  // merging with any replica's memory of the old key.
  ASSERT_EQ(c.run(a, {"SET", "kv:t", "v2"}, Consistency::kAll), "+OK\r\n");
  const versions::Versioned* o = c.engine(a).local_object("kv:t");
  ASSERT_NE(o, nullptr);
  EXPECT_GT(o->siblings()[0].dot.counter, 2u);
  EXPECT_EQ(c.run(b, {"GET", "kv:t"}, Consistency::kAll), "$2\r\nv2\r\n");
}

TEST(LeaderlessEngine, GarbageFromAPeerIsCountedAndChangesNothing) {
  MiniCluster c(3, 3, 2, 2);
  c.advance(200);
  ASSERT_EQ(c.run(0, {"SET", "kv:g", "v"}), "+OK\r\n");
  Random rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string p;
    p.push_back('L');
    put_engine_header(&p, "kv");
    const size_t len = rng.uniform(40);
    for (size_t k = 0; k < len; ++k)
      p.push_back(static_cast<char>(rng.uniform(256)));
    c.node(1).on_peer_message(0, p, c.wall());
  }
  c.settle();
  EXPECT_GT(c.engine(1).stats().bad_messages, 1000u);
  EXPECT_EQ(c.run(1, {"GET", "kv:g"}, Consistency::kAll), "$1\r\nv\r\n");
}

// The bulk strings of a RESP2 reply, in order, arrays flattened (test replies only).
std::vector<std::string> bulks(std::string_view r) {
  std::vector<std::string> out;
  while (!r.empty()) {
    const size_t eol = r.find("\r\n");
    if (eol == std::string_view::npos) break;
    if (r[0] == '$') {
      const size_t len = std::stoul(std::string(r.substr(1, eol - 1)));
      out.emplace_back(r.substr(eol + 2, len));
      r.remove_prefix(eol + 2 + len + 2);
    } else {
      r.remove_prefix(eol + 2);
    }
  }
  return out;
}

TEST(LeaderlessEngine, KeysScanAndDbsizeListEveryLiveKeyFromAnyNode) {
  MiniCluster c(5, 3, 2, 2);
  c.advance(300);
  std::set<std::string> live;
  for (int i = 0; i < 60; ++i) {
    const std::string k = "kv:l" + std::to_string(i);
    ASSERT_EQ(c.run(i % 5, {"SET", k, "v"}), "+OK\r\n");
    live.insert(k);
  }
  for (int i = 0; i < 60; i += 6) {
    ASSERT_EQ(c.run((i + 2) % 5, {"DEL", "kv:l" + std::to_string(i)}), ":1\r\n");
    live.erase("kv:l" + std::to_string(i));
  }
  ASSERT_EQ(c.run(0, {"SET", "plain", "x"}), "+OK\r\n");  // the default keyspace (primary)
  for (int n = 0; n < 5; ++n) {
    // Every node lists every live key of the leaderless keyspace, whichever replicas it holds.
    std::vector<std::string> keys = bulks(c.run(n, {"KEYS", "kv:*"}));
    EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()), live) << "node " << n;
    EXPECT_EQ(keys.size(), live.size());
    EXPECT_EQ(bulks(c.run(n, {"KEYS", "kv:l1?"})).size(), 8u);  // l10..l19 but l12, l18
    // SCAN from cursor 0 to 0 sees each once, through this node's own keys and every range.
    std::multiset<std::string> scanned;
    std::string cursor = "0";
    int calls = 0;
    do {
      std::vector<std::string> r = bulks(c.run(n, {"SCAN", cursor, "MATCH", "kv:*"}));
      ASSERT_FALSE(r.empty());
      cursor = r[0];
      scanned.insert(r.begin() + 1, r.end());
      ASSERT_LT(++calls, 10000);
    } while (cursor != "0");
    EXPECT_EQ(std::set<std::string>(scanned.begin(), scanned.end()), live);
    EXPECT_EQ(scanned.size(), live.size());
  }
  // DBSIZE: the leaderless keys once each, plus the node's own keys of other keyspaces.
  const std::string dbsize = c.run(1, {"DBSIZE"});
  EXPECT_TRUE(dbsize == ":" + std::to_string(live.size()) + "\r\n" ||
              dbsize == ":" + std::to_string(live.size() + 1) + "\r\n")
      << dbsize;
  EXPECT_EQ(bulks(c.run(2, {"SCAN", "0", "TYPE", "hash", "MATCH", "kv:*", "COUNT", "1000"})).size(),
            1u);  // only the cursor: leaderless values are strings
  EXPECT_EQ(c.run(2, {"SCAN", "4611686018427387904999"}), "-ERR invalid cursor\r\n");
  EXPECT_EQ(c.run(2, {"SCAN", std::to_string((uint64_t{1} << 62) | (uint64_t{7} << 32))}),
            "-ERR invalid cursor\r\n");  // no keyspace 7
}

TEST(LeaderlessEngine, AListingNeedsRReplicasOfEveryRangeAndSeesDeletesOverStaleCopies) {
  MiniCluster c(3, 3, 2, 2);
  c.advance(300);
  ASSERT_EQ(c.run(0, {"SET", "kv:a", "1"}, Consistency::kAll), "+OK\r\n");
  ASSERT_EQ(c.run(0, {"SET", "kv:b", "1"}, Consistency::kAll), "+OK\r\n");
  // Node 2 misses the delete: its live copy of kv:a must not bring the key back in a listing.
  c.set_down(2, true);
  ASSERT_EQ(c.run(0, {"DEL", "kv:a"}), ":1\r\n");
  c.set_down(2, false);
  c.advance(300);
  EXPECT_EQ(bulks(c.run(2, {"KEYS", "kv:*"})), std::vector<std::string>{"kv:b"});
  // Two of three replicas unreachable from node 0: R = 2 answers cannot be had.
  c.cut(0, 1);
  c.cut(0, 2);
  const std::string r = c.run(0, {"KEYS", "*"});
  EXPECT_EQ(r.substr(0, 12), "-UNAVAILABLE") << r;
  c.heal();
}

TEST(LeaderlessEngine, ExpiredValuesDieEverywhereAtOnceAndAreCollectedLikeTombstones) {
  MiniCluster c(3, 3, 2, 2, ConflictMode::kLww, true, /*grace_ms=*/1000);
  c.advance(300);
  ASSERT_EQ(c.run(0, {"SET", "kv:e", "v", "PX", "500"}, Consistency::kAll), "+OK\r\n");
  ASSERT_EQ(c.run(1, {"SET", "kv:keep", "k", "PX", "500"}, Consistency::kAll), "+OK\r\n");
  ASSERT_EQ(c.run(2, {"SET", "kv:keep", "k2"}, Consistency::kAll), "+OK\r\n");  // no expiry now
  for (int n = 0; n < 3; ++n) {
    EXPECT_EQ(c.run(n, {"GET", "kv:e"}, Consistency::kOne), "$1\r\nv\r\n");
    const std::string ttl = c.run(n, {"PTTL", "kv:e"}, Consistency::kOne);
    const int64_t ms = std::stoll(ttl.substr(1));  // the absolute expiry travelled with the value
    EXPECT_TRUE(ms > 0 && ms <= 500) << ttl;
  }
  c.advance(600);
  for (int n = 0; n < 3; ++n) {
    EXPECT_EQ(c.run(n, {"GET", "kv:e"}, Consistency::kOne), "$-1\r\n");
    EXPECT_EQ(c.run(n, {"EXISTS", "kv:e"}, Consistency::kOne), ":0\r\n");
    EXPECT_EQ(c.run(n, {"TTL", "kv:e"}, Consistency::kOne), ":-2\r\n");
    EXPECT_EQ(c.run(n, {"GET", "kv:keep"}, Consistency::kOne), "$2\r\nk2\r\n");
    EXPECT_EQ(bulks(c.run(n, {"KEYS", "kv:*"})), std::vector<std::string>{"kv:keep"});
    // Not forgotten before the grace period and a sync with every replica.
    EXPECT_NE(c.engine(n).local_object("kv:e"), nullptr);
  }
  c.advance(2000);
  for (int n = 0; n < 3; ++n)
    c.repair(n);
  c.advance(3000);
  for (int n = 0; n < 3; ++n) {
    EXPECT_EQ(c.engine(n).local_object("kv:e"), nullptr) << "node " << n;
    EXPECT_NE(c.engine(n).local_object("kv:keep"), nullptr);
    EXPECT_EQ(c.run(n, {"GET", "kv:e"}, Consistency::kAll), "$-1\r\n");
  }
  // The key can be written again, and the new value is seen by every replica.
  ASSERT_EQ(c.run(1, {"SET", "kv:e", "again"}), "+OK\r\n");
  for (int n = 0; n < 3; ++n)
    EXPECT_EQ(c.run(n, {"GET", "kv:e"}, Consistency::kAll), "$5\r\nagain\r\n");
}

}  // namespace
}  // namespace rkv
