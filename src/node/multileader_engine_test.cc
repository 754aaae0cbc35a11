// MultiLeaderEngine on an in-process cluster (mini_cluster_test_util.h): local writes, origin
// logs shipped from per-peer cursors, last-writer-wins with every discard recorded, resumption
// after partitions and restarts, state transfer past the log bound, tombstone collection.
#include "node/multileader_engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "node/mini_cluster_test_util.h"

namespace rkv {
namespace {

Config ml_config(uint64_t max_log_entries = 1000000, uint32_t bugs = 0,
                 ConflictMode conflict = ConflictMode::kLww) {
  Config base = two_keyspaces("carts", Model::kMultiLeader);
  base.keyspaces[1].conflict = conflict;
  base.multileader.hello_ms = 50;
  base.multileader.retransmit_ms = 200;
  base.multileader.max_log_entries = max_log_entries;
  base.raft.bugs = bugs;
  return base;
}

class MlCluster : public MiniCluster {
 public:
  explicit MlCluster(int nodes, uint64_t max_log_entries = 1000000, uint32_t bugs = 0,
                     ConflictMode conflict = ConflictMode::kLww)
      : MiniCluster(nodes, ml_config(max_log_entries, bugs, conflict)) {}
  const MultiLeaderEngine& engine(int i) { return *node(i).engine(1)->as_multileader(); }
  // Every node's content of the keyspace, as GET/TYPE/... would show it: key -> image.
  std::map<std::string, std::string> contents(int i) {
    std::map<std::string, std::string> out;
    node(i).store().keyspace(1).table.for_each([&](const KeyTable::Entry& e) {
      out[e.key.str()] = *node(i).store().key_image(1, e.key.view());
    });
    return out;
  }
  // A key written at node 0, then deleted at node 1 once node 1 had it.
  void write_then_delete(const std::string& key) {
    advance(100);
    run(0, {"SET", key, "1"});
    advance(100);
    run(1, {"DEL", key});
  }
  void expect_converged() {
    for (size_t i = 1; i < 3; ++i)
      EXPECT_EQ(contents(0), contents(static_cast<int>(i))) << "node " << i;
  }
};

TEST(MultiLeaderEngine, EveryNodeTakesWritesAndEveryNodeSeesThem) {
  MlCluster c(3);
  c.advance(100);
  EXPECT_EQ(c.run(0, {"SET", "carts:a", "1"}), "+OK\r\n");
  EXPECT_EQ(c.run(1, {"SADD", "carts:s", "x", "y"}), ":2\r\n");
  EXPECT_EQ(c.run(2, {"HSET", "carts:h", "f", "v"}), ":1\r\n");
  EXPECT_EQ(c.run(2, {"RPUSH", "carts:l", "a", "b"}), ":2\r\n");
  c.advance(100);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(c.run(i, {"GET", "carts:a"}), "$1\r\n1\r\n") << i;
    EXPECT_EQ(c.run(i, {"SCARD", "carts:s"}), ":2\r\n") << i;
    EXPECT_EQ(c.run(i, {"HGET", "carts:h", "f"}), "$1\r\nv\r\n") << i;
    EXPECT_EQ(c.run(i, {"LRANGE", "carts:l", "0", "-1"}), "*2\r\n$1\r\na\r\n$1\r\nb\r\n") << i;
  }
  EXPECT_EQ(c.run(1, {"DEL", "carts:a"}), ":1\r\n");
  c.advance(100);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(c.run(i, {"EXISTS", "carts:a"}), ":0\r\n") << i;
  c.expect_converged();
  // No transactions: they could not hold across nodes that write independently.
  std::vector<std::string_view> keys = {"carts:a"};
  EXPECT_NE(c.node(0).watch(1, keys).find("multi-leader"), std::string::npos);
  std::vector<std::string_view> set = {"SET", "carts:a", "1"};
  int64_t ks = -1;
  EXPECT_NE(c.node(0).admit_to_transaction(*resp::lookup_command("set"), set, &ks), "");
}

// Each side of a partition keeps writing the same keys; after healing every node holds the
// newest write of each key, and every write LWW discarded is in some node's conflict records.
TEST(MultiLeaderEngine, PartitionedWritersConvergeAndDiscardsAreRecorded) {
  MlCluster c(3);
  c.advance(100);
  c.cut(0, 1);
  c.cut(0, 2);
  for (int k = 0; k < 20; ++k) {
    const std::string key = "carts:k" + std::to_string(k);
    EXPECT_EQ(c.run(0, {"SET", key, "zero-" + std::to_string(k)}), "+OK\r\n");
    c.advance(10);
    EXPECT_EQ(c.run(k % 2 + 1, {"SET", key, "other-" + std::to_string(k)}), "+OK\r\n");
  }
  c.advance(100);
  EXPECT_EQ(c.run(0, {"GET", "carts:k0"}), "$6\r\nzero-0\r\n");  // cut off: its own write
  c.heal();
  c.advance(1000);
  c.expect_converged();
  uint64_t discarded = 0;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(c.run(i, {"GET", "carts:k3"}), "$7\r\nother-3\r\n") << i;  // written later
    discarded += c.engine(i).stats().lww_discarded;
  }
  EXPECT_GE(discarded, 20u);  // each of node 0's writes lost somewhere, and was counted there
  auto recs = c.engine(1).conflicts(100);
  ASSERT_FALSE(recs.empty());
  EXPECT_EQ(recs[0].loser_actor, c.engine(0).actor());
}

TEST(MultiLeaderEngine, ARestartedPeerResumesFromItsCursor) {
  MlCluster c(3);
  c.advance(100);
  c.set_down(2, true);
  for (int k = 0; k < 50; ++k)
    c.run(k % 2, {"SET", "carts:r" + std::to_string(k), std::to_string(k)});
  c.advance(300);
  c.start(2);  // restarts from its storage
  c.set_down(2, false);
  c.advance(1000);
  c.expect_converged();
  EXPECT_EQ(c.engine(0).stats().state_transfers_sent, 0u);
  EXPECT_EQ(c.run(2, {"GET", "carts:r49"}), "$2\r\n49\r\n");
  // Its own writes survive its restart and reach the others.
  c.run(2, {"SET", "carts:mine", "2"});
  c.start(2);
  c.advance(500);
  EXPECT_EQ(c.run(0, {"GET", "carts:mine"}), "$1\r\n2\r\n");
}

TEST(MultiLeaderEngine, APeerBeyondTheLogBoundGetsAStateTransfer) {
  MlCluster c(3, /*max_log_entries=*/8);
  c.advance(100);
  c.set_down(2, true);
  for (int k = 0; k < 40; ++k)
    c.run(0, {"SET", "carts:t" + std::to_string(k), std::to_string(k)});
  c.run(0, {"DEL", "carts:t0"});
  c.advance(500);
  c.set_down(2, false);
  c.advance(1500);
  EXPECT_GE(c.engine(0).stats().state_transfers_sent, 1u);
  c.expect_converged();
  EXPECT_EQ(c.run(2, {"EXISTS", "carts:t0"}), ":0\r\n");
}

TEST(MultiLeaderEngine, TombstonesAreCollectedOnceStable) {
  MlCluster c(3);
  c.write_then_delete("carts:g");
  EXPECT_TRUE(c.engine(1).stamp("carts:g")->tomb);
  EXPECT_TRUE(c.engine(2).stamp("carts:g")->tomb);  // shipped at once (settled)
  c.advance(1000);
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(c.engine(i).stamp("carts:g").has_value()) << i;
    EXPECT_EQ(c.engine(i).tombstone_count(), 0u);
  }
  // While a member is unreachable nothing is collected: it may still write the key.
  c.set_down(2, true);
  c.run(0, {"SET", "carts:g2", "1"});
  c.run(0, {"DEL", "carts:g2"});
  c.advance(1000);
  EXPECT_TRUE(c.engine(0).stamp("carts:g2").has_value());
}

TEST(MultiLeaderEngine, BrokenVariantLosesAnEntryAfterAGap) {
  // The receiver of a run with a gap (a lost message) must wait for the resend; the broken
  // variant applies past the gap and never sees the entry it skipped.
  MlCluster ok(2), bad(2, 1000000, kBugCursorSkips);
  for (MlCluster* c : {&ok, &bad}) {
    c->advance(100);
    c->cut(0, 1);
    c->run(0, {"SET", "carts:x", "1"});
    c->advance(10);  // shipped into the cut: lost
    c->heal();
    c->run(0, {"SET", "carts:y", "2"});
    c->advance(1000);
  }
  EXPECT_EQ(ok.run(1, {"GET", "carts:x"}), "$1\r\n1\r\n");
  EXPECT_EQ(bad.run(1, {"GET", "carts:x"}), "$-1\r\n");  // skipped for good
  EXPECT_EQ(bad.run(1, {"GET", "carts:y"}), "$1\r\n2\r\n");
}

// --- conflict = "crdt" ----------------------------------------------------------------------

class CrdtCluster : public MlCluster {
 public:
  explicit CrdtCluster(int nodes, uint64_t max_log_entries = 1000000)
      : MlCluster(nodes, max_log_entries, 0, ConflictMode::kCrdt) {}
  void isolate_all() {
    for (int a = 0; a < 3; ++a)
      for (int b = a + 1; b < 3; ++b)
        cut(a, b);
  }
};

// Every node cut off increments, adds and removes on its own; after healing every increment
// counts, every add not seen by a remove survives, and the nodes agree.
TEST(MultiLeaderCrdt, CountersSetsAndHashesMergeAfterAPartition) {
  CrdtCluster c(3);
  c.advance(100);
  EXPECT_EQ(c.run(0, {"SADD", "carts:s", "a", "b"}), ":2\r\n");
  EXPECT_EQ(c.run(0, {"HSET", "carts:h", "f", "1"}), ":1\r\n");
  c.advance(100);
  c.isolate_all();
  for (int i = 0; i < 3; ++i) {
    for (int k = 0; k <= i; ++k)
      c.run(i, {"INCR", "carts:n"});
    c.run(i, {"INCRBY", "carts:n", "10"});
    c.run(i, {"HINCRBY", "carts:h", "f", "5"});
    c.run(i, {"SADD", "carts:s", "m" + std::to_string(i)});
  }
  EXPECT_EQ(c.run(1, {"SREM", "carts:s", "a"}), ":1\r\n");  // removes the `a` node 1 saw
  EXPECT_EQ(c.run(2, {"SADD", "carts:s", "a"}), ":0\r\n");  // already there: no new add
  EXPECT_EQ(c.run(2, {"GET", "carts:n"}), "$2\r\n13\r\n");  // its own view: 3 + 10
  c.heal();
  c.advance(1000);
  c.expect_converged();
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(c.run(i, {"GET", "carts:n"}), "$2\r\n36\r\n") << i;  // 1+2+3 + 30
    EXPECT_EQ(c.run(i, {"HGET", "carts:h", "f"}), "$2\r\n16\r\n") << i;
    EXPECT_EQ(c.run(i, {"SCARD", "carts:s"}), ":4\r\n") << i;  // b m0 m1 m2
    EXPECT_EQ(c.run(i, {"SISMEMBER", "carts:s", "a"}), ":0\r\n") << i;
  }
  c.start(1);  // objects come back from disk
  EXPECT_EQ(c.run(1, {"SCARD", "carts:s"}), ":4\r\n");
}

TEST(MultiLeaderCrdt, ADeleteRemovesWhatItSawAndAConcurrentAddSurvives) {
  CrdtCluster c(3);
  c.advance(100);
  c.run(0, {"SADD", "carts:cart", "apple", "pear"});
  c.run(0, {"INCRBY", "carts:qty", "5"});
  c.advance(100);
  c.isolate_all();
  c.run(0, {"DEL", "carts:cart", "carts:qty"});
  c.run(1, {"SADD", "carts:cart", "plum"});
  c.run(1, {"INCR", "carts:qty"});
  c.run(2, {"SET", "carts:reg", "early"});
  c.advance(10);
  c.run(1, {"SET", "carts:reg", "late"});
  c.heal();
  c.advance(1000);
  c.expect_converged();
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(c.run(i, {"SMEMBERS", "carts:cart"}), "*1\r\n$4\r\nplum\r\n") << i;
    EXPECT_EQ(c.run(i, {"GET", "carts:qty"}), "$1\r\n1\r\n") << i;  // the unseen increment
    EXPECT_EQ(c.run(i, {"GET", "carts:reg"}), "$4\r\nlate\r\n") << i;
  }
  // Deleted everywhere and stable: collected.
  c.run(2, {"DEL", "carts:cart", "carts:qty", "carts:reg"});
  c.advance(1000);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(c.engine(i).object("carts:cart"), nullptr) << i;
    EXPECT_EQ(c.engine(i).tombstone_count(), 0u) << i;
  }
}

TEST(MultiLeaderCrdt, CommandsWithoutAConvergentMeaningAreRefused) {
  CrdtCluster c(3);
  c.advance(100);
  for (std::vector<std::string> cmd :
       std::vector<std::vector<std::string>>{{"SETNX", "carts:a", "1"},
                                             {"SET", "carts:a", "1", "NX"},
                                             {"GETSET", "carts:a", "1"},
                                             {"LPUSH", "carts:l", "x"},
                                             {"SPOP", "carts:s"},
                                             {"ZADD", "carts:z", "GT", "1", "m"},
                                             {"RENAME", "carts:a", "carts:b"}}) {
    const std::string r = c.run(0, cmd);
    EXPECT_EQ(r.substr(0, 5), "-ERR ") << cmd[0];
    EXPECT_NE(r.find("conflict = crdt"), std::string::npos) << r;
  }
  EXPECT_EQ(c.run(0, {"EXISTS", "carts:a", "carts:l"}), ":0\r\n");
  EXPECT_EQ(c.run(0, {"ZADD", "carts:z", "1.5", "m"}), ":1\r\n");
  EXPECT_EQ(c.run(1, {"ZINCRBY", "carts:z", "2", "m"}), "$3\r\n3.5\r\n");
  EXPECT_EQ(c.run(0, {"INCRBYFLOAT", "carts:f", "0.25"}), "$4\r\n0.25\r\n");
  EXPECT_EQ(c.run(0, {"EXPIRE", "carts:f", "100"}), ":1\r\n");
  c.advance(100);
  EXPECT_EQ(c.run(2, {"ZSCORE", "carts:z", "m"}), "$3\r\n3.5\r\n");
  EXPECT_EQ(c.run(2, {"GET", "carts:f"}), "$4\r\n0.25\r\n");
  EXPECT_EQ(c.run(2, {"TTL", "carts:f"}), ":100\r\n");
  c.expect_converged();
}

TEST(MultiLeaderCrdt, RestartsAndStateTransfersKeepTheObjects) {
  CrdtCluster c(3, /*max_log_entries=*/8);
  c.advance(100);
  c.set_down(2, true);
  for (int k = 0; k < 30; ++k)
    c.run(k % 2, {"INCR", "carts:c" + std::to_string(k % 5)});
  c.advance(300);
  c.start(0);  // its objects come back from disk
  c.set_down(2, false);
  c.advance(1500);
  c.expect_converged();
  EXPECT_GE(c.engine(0).stats().state_transfers_sent + c.engine(1).stats().state_transfers_sent,
            1u);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(c.run(i, {"GET", "carts:c0"}), "$1\r\n6\r\n") << i;
  c.run(2, {"INCR", "carts:c0"});
  c.advance(300);
  EXPECT_EQ(c.run(0, {"GET", "carts:c0"}), "$1\r\n7\r\n");
}

// conflict = "siblings": the leaderless model's versioned keys, replicated through origin logs.
class SibCluster : public MlCluster {
 public:
  explicit SibCluster(int nodes, uint64_t max_log_entries = 1000000, uint32_t bugs = 0)
      : MlCluster(nodes, max_log_entries, bugs, ConflictMode::kSiblings) {}
  // The live values of a key's siblings at node i, sorted by dot (as SIBLINGS lists them).
  std::vector<std::string> values(int i, std::string_view key) {
    std::vector<std::string> out;
    if (const versions::Versioned* o = engine(i).versioned(key)) {
      for (const versions::Sibling& s : o->siblings())
        out.push_back(s.tombstone ? "(deleted)" : s.value);
    }
    return out;
  }
  // Every one of the first `nodes` nodes holds exactly `expected` (values() order).
  void expect_values(std::string_view key, const std::vector<std::string>& expected,
                     int nodes = 3) {
    for (int i = 0; i < nodes; ++i)
      EXPECT_EQ(values(i, key), expected) << "node " << i;
  }
  // Runs each (node, command) with every node cut off from every other, then heals and lets
  // `ms` pass: the writes are concurrent.
  void apart(const std::vector<std::pair<int, std::vector<std::string>>>& commands,
             int64_t ms = 500) {
    for (int a = 0; a < 3; ++a) {
      for (int b = a + 1; b < 3; ++b)
        cut(a, b);
    }
    for (const auto& [i, args] : commands)
      EXPECT_EQ(run(i, args).substr(0, 1), args[0] == "SET" ? "+" : ":") << args[0];
    heal();
    advance(ms);
  }
  // The context SIBLINGS returns at node i.
  std::string context(int i, std::string_view key) {
    const versions::Versioned* o = engine(i).versioned(key);
    return o ? o->context().to_context() : std::string();
  }
};

TEST(MultiLeaderSiblings, ConcurrentWritesAtTwoNodesAreTwoSiblingsEverywhere) {
  SibCluster c(3);
  c.advance(100);
  c.cut(0, 1);
  c.cut(0, 2);
  EXPECT_EQ(c.run(0, {"SET", "carts:k", "a"}), "+OK\r\n");  // acknowledged alone
  EXPECT_EQ(c.run(1, {"SET", "carts:k", "b"}), "+OK\r\n");
  c.advance(100);
  EXPECT_EQ(c.values(0, "carts:k"), (std::vector<std::string>{"a"}));
  EXPECT_EQ(c.values(2, "carts:k"), (std::vector<std::string>{"b"}));
  c.apart({});
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(c.values(i, "carts:k").size(), 2u) << i;
    EXPECT_EQ(c.values(i, "carts:k"), c.values(0, "carts:k")) << i;
    EXPECT_EQ(c.engine(i).keys_with_siblings(), 1u) << i;
    // GET shows the same winner everywhere.
    EXPECT_EQ(c.run(i, {"GET", "carts:k"}), c.run(0, {"GET", "carts:k"})) << i;
  }
  EXPECT_GE(c.engine(0).stats().siblings_created, 1u);
  // SIBLINGS in the leaderless shape: [context, [[value, hlc, dot, expire_at_ms], ...]].
  const std::string reply = c.run(2, {"SIBLINGS", "carts:k"});
  EXPECT_EQ(reply.substr(0, 4), "*2\r\n");
  EXPECT_NE(reply.find("*2\r\n*4\r\n"), std::string::npos) << reply;
  // A SET without CONTEXT replaces what its node holds, like a plain SET.
  EXPECT_EQ(c.run(2, {"SET", "carts:k", "c"}), "+OK\r\n");
  c.advance(300);
  c.expect_values("carts:k", {"c"});
  c.expect_converged();
}

TEST(MultiLeaderSiblings, ASetWithContextReplacesExactlyTheVersionsItNames) {
  SibCluster c(3);
  c.advance(100);
  c.apart({{0, {"SET", "carts:k", "a"}}, {1, {"SET", "carts:k", "b"}}});
  ASSERT_EQ(c.values(2, "carts:k").size(), 2u);
  const std::string read = c.context(2, "carts:k");  // the client read both
  // A write concurrent with the resolution is kept beside it.
  c.apart({{0, {"SET", "carts:k", "late"}}, {1, {"SET", "carts:k", "merged", "CONTEXT", read}}});
  for (int i = 0; i < 3; ++i) {
    std::vector<std::string> v = c.values(i, "carts:k");
    std::sort(v.begin(), v.end());
    EXPECT_EQ(v, (std::vector<std::string>{"late", "merged"})) << i;
  }
  const std::string both = c.context(0, "carts:k");
  EXPECT_EQ(c.run(2, {"SET", "carts:k", "one", "CONTEXT", both}), "+OK\r\n");
  c.advance(300);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(c.values(i, "carts:k"), (std::vector<std::string>{"one"})) << i;
    EXPECT_EQ(c.engine(i).keys_with_siblings(), 0u) << i;
  }
  EXPECT_EQ(c.run(0, {"SET", "carts:k", "x", "CONTEXT", "garbage"}),
            "-ERR CONTEXT is not a causal context returned by SIBLINGS\r\n");
}

TEST(MultiLeaderSiblings, OnlyTheLeaderlessCommandSetRuns) {
  SibCluster c(2);
  c.advance(100);
  EXPECT_EQ(c.run(0, {"SET", "carts:k", "v", "PX", "5000"}), "+OK\r\n");
  EXPECT_EQ(c.run(0, {"MGET", "carts:k", "carts:none"}), "*2\r\n$1\r\nv\r\n$-1\r\n");
  EXPECT_EQ(c.run(0, {"EXISTS", "carts:k", "carts:none"}), ":1\r\n");
  EXPECT_EQ(c.run(0, {"PTTL", "carts:k"}), ":5000\r\n");
  EXPECT_EQ(c.run(0, {"TTL", "carts:none"}), ":-2\r\n");
  const std::string sadd = c.run(0, {"SADD", "carts:s", "x"});
  EXPECT_NE(sadd.find("(supported: GET, MGET, EXISTS, TTL, PTTL, SIBLINGS, SET, DEL)"),
            std::string::npos)
      << sadd;
  EXPECT_NE(c.run(0, {"INCR", "carts:n"}).find("lose increments"), std::string::npos);
  EXPECT_NE(c.run(0, {"SET", "carts:k", "v", "NX"}).find("CONTEXT"), std::string::npos);
  EXPECT_EQ(c.run(1, {"DEL", "carts:k", "carts:none"}), ":1\r\n");
  EXPECT_EQ(c.run(1, {"DEL", "carts:k"}), ":0\r\n");
  c.advance(100);
  EXPECT_EQ(c.run(0, {"GET", "carts:k"}), "$-1\r\n");
}

TEST(MultiLeaderSiblings, ARestartKeepsTheSiblingsAndATransferCarriesThem) {
  SibCluster c(3, /*max_log_entries=*/4);
  c.advance(100);
  c.cut(0, 1);
  c.cut(0, 2);
  c.set_down(2, true);
  c.run(0, {"SET", "carts:k", "a"});
  c.run(1, {"SET", "carts:k", "b"});
  for (int k = 0; k < 12; ++k)  // past the log bound: node 2 will need a state transfer
    c.run(k % 2, {"SET", "carts:o" + std::to_string(k), "x"});
  c.heal();
  c.advance(300);
  c.start(0);  // its versions come back from disk
  EXPECT_EQ(c.values(0, "carts:k").size(), 2u);
  EXPECT_EQ(c.engine(0).keys_with_siblings(), 1u);
  c.set_down(2, false);
  c.start(2);
  c.advance(1500);
  EXPECT_GE(c.engine(0).stats().state_transfers_sent + c.engine(1).stats().state_transfers_sent,
            1u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(c.values(i, "carts:k").size(), 2u) << i;
    EXPECT_EQ(c.values(i, "carts:k"), c.values(0, "carts:k")) << i;
  }
  c.expect_converged();
}

TEST(MultiLeaderSiblings, DeletionsAreCollectedOnceStableAndAKeyWrittenAgainSupersedesThem) {
  SibCluster c(3);
  c.write_then_delete("carts:g");
  EXPECT_EQ(c.values(2, "carts:g"), (std::vector<std::string>{"(deleted)"}));
  c.advance(1000);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(c.engine(i).versioned("carts:g"), nullptr) << i;
    EXPECT_EQ(c.engine(i).tombstone_count(), 0u) << i;
  }
  // A deletion concurrent with a write stays a sibling until stable, then only the value stays.
  c.apart({{0, {"SET", "carts:h", "v"}}, {1, {"SET", "carts:h", "w"}}}, 300);
  c.apart(
      {{0, {"SET", "carts:h", "v2", "CONTEXT", c.context(0, "carts:h")}}, {1, {"DEL", "carts:h"}}},
      1500);
  c.expect_values("carts:h", {"v2"});
  c.expect_converged();
}

// The value shown expires while its node is down: after the restart the other sibling shows,
// in GET and in the Store (KEYS, SCAN, DBSIZE), as on the nodes that stayed up.
TEST(MultiLeaderSiblings, AnotherSiblingShowsWhenTheShownOneExpired) {
  SibCluster c(2);
  c.advance(100);
  c.apart({{1, {"SET", "carts:k", "b"}}, {0, {"SET", "carts:k", "a", "PX", "300"}}}, 100);
  EXPECT_EQ(c.run(0, {"GET", "carts:k"}), "$1\r\na\r\n");
  c.set_down(0, true);
  c.advance(500);
  c.start(0);
  c.set_down(0, false);
  c.advance(200);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(c.run(i, {"GET", "carts:k"}), "$1\r\nb\r\n") << i;
    EXPECT_EQ(c.run(i, {"DBSIZE"}), ":1\r\n") << i;
  }
}

// A context naming a write not durable yet would, after a crash lost that write, name the next
// write issued under its dot: SIBLINGS answers once what its context names is durable.
TEST(MultiLeaderSiblings, AContextIsShownOnlyOnceTheWritesItNamesAreDurable) {
  SibCluster c(2);
  c.advance(100);
  auto direct = [&](std::vector<std::string_view> args) {
    ClientRequest req;
    req.client_id = 1;
    req.seq = 1;
    std::string out;
    resp::Writer w(&out, 2);
    return c.node(0).execute(req, *resp::lookup_command(args[0]), args, c.wall(), w);
  };
  const Dispatch set = direct({"SET", "carts:k", "v"});  // not persisted yet
  ASSERT_EQ(set.kind, Dispatch::kAfterPersist);
  const Dispatch read = direct({"SIBLINGS", "carts:k"});
  EXPECT_EQ(read.kind, Dispatch::kAfterPersist);
  EXPECT_EQ(read.token, set.token);
  EXPECT_EQ(direct({"GET", "carts:k"}).kind, Dispatch::kReady);
  c.settle();
  EXPECT_EQ(direct({"SIBLINGS", "carts:k"}).kind, Dispatch::kReady);
}

TEST(MultiLeaderSiblings, BrokenVariantKeepsOnlyTheWinner) {
  SibCluster c(2, 1000000, kBugSiblingsDropConcurrent);
  c.advance(100);
  c.apart({{0, {"SET", "carts:k", "a"}}, {1, {"SET", "carts:k", "b"}}}, 300);
  EXPECT_EQ(c.values(0, "carts:k").size(), 1u);  // a concurrent write silently gone
}

}  // namespace
}  // namespace rkv
