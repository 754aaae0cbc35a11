#include "node/node.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <vector>

namespace rkv {
namespace {

std::string run(Node& n, std::initializer_list<std::string_view> args, int64_t now,
                uint64_t* token = nullptr) {
  std::vector<std::string_view> a(args);
  std::string out;
  resp::Writer w(&out, 2);
  uint64_t t = n.execute(*resp::lookup_command(a[0]), a, now, w);
  if (token) *token = t;
  return out;
}

void persist(Node& n, Storage& s) {
  PersistRequest r = n.take_persist();
  ASSERT_TRUE(s.write(r.batch, r.sync).is_ok());
  n.on_persisted(r.token);
}

// Opens a node on `s` at time 0, runs `commands` and persists what they changed (synced).
void write_and_persist(const Config& cfg, Storage& s,
                       std::initializer_list<std::initializer_list<std::string_view>> commands) {
  Node n(cfg, &s);
  ASSERT_TRUE(n.open(0).is_ok());
  for (const auto& c : commands)
    run(n, c, 0);
  persist(n, s);
}

TEST(Node, WritesReturnTokensReadsDoNot) {
  MemStorage s;
  Node n(Config::defaults(), &s);
  ASSERT_TRUE(n.open(0).is_ok());
  uint64_t t1 = 0, t2 = 0, t3 = 0;
  run(n, {"SET", "a", "1"}, 0, &t1);
  run(n, {"GET", "a"}, 0, &t2);
  run(n, {"SET", "b", "1"}, 0, &t3);
  EXPECT_GT(t1, 0u);
  EXPECT_EQ(t2, 0u);
  EXPECT_GT(t3, t1);
  EXPECT_TRUE(n.has_pending_persist());
  PersistRequest r = n.take_persist();
  EXPECT_EQ(r.token, t3);
  EXPECT_TRUE(r.sync);  // default fsync = batch
  EXPECT_EQ(r.batch.size(), 2u);
  EXPECT_FALSE(n.has_pending_persist());
}

TEST(Node, SyncedWritesSurviveCrashUnsyncedDoNot) {
  MemStorage s;
  Config cfg = Config::defaults();
  {
    Node n(cfg, &s);
    ASSERT_TRUE(n.open(0).is_ok());
    run(n, {"SET", "accounts:alice", "100"}, 0);
    run(n, {"SET", "k", "v", "PX", "5000"}, 0);
    persist(n, s);
    run(n, {"SET", "lost", "x"}, 0);
    PersistRequest r = n.take_persist();
    ASSERT_TRUE(s.write(r.batch, /*sync=*/false).is_ok());
  }
  s.crash();
  Node n(cfg, &s);
  ASSERT_TRUE(n.open(1000).is_ok());
  EXPECT_EQ(run(n, {"GET", "accounts:alice"}, 1000), "$3\r\n100\r\n");
  EXPECT_EQ(run(n, {"PTTL", "k"}, 1000), ":4000\r\n");
  EXPECT_EQ(run(n, {"GET", "lost"}, 1000), "$-1\r\n");
  EXPECT_EQ(n.store().keyspace(n.store().route("accounts:alice")).table.size(), 1u);
}

TEST(Node, ExpiredKeysAreDroppedAtLoad) {
  MemStorage s;
  Config cfg = Config::defaults();
  write_and_persist(cfg, s, {{"SET", "k", "v", "PX", "100"}});
  Node n(cfg, &s);
  ASSERT_TRUE(n.open(500).is_ok());
  EXPECT_EQ(n.store().total_keys(), 0u);
  EXPECT_FALSE(s.get(Node::data_key("default", "k")).is_ok());
}

TEST(Node, CorruptRecordRefusesToStartAndNamesTheKey) {
  MemStorage s;
  Config cfg = Config::defaults();
  write_and_persist(cfg, s, {{"SET", "accounts:bob", "42"}});
  std::string key = Node::data_key("accounts", "accounts:bob");
  std::string rec = s.get(key).value();
  rec.back() ^= 0x1;
  WriteBatch b;
  b.put(key, rec);
  ASSERT_TRUE(s.write(b, true).is_ok());
  Node n(cfg, &s);
  Status st = n.open(0);
  ASSERT_FALSE(st.is_ok());
  EXPECT_EQ(st.code(), Code::kCorruption);
  EXPECT_NE(st.message().find("accounts:bob"), std::string::npos) << st.message();
}

TEST(Node, DataDirOfAnotherNodeIsRefused) {
  MemStorage s;
  Config cfg = Config::defaults();
  {
    Node n(cfg, &s);
    ASSERT_TRUE(n.open(0).is_ok());
  }
  cfg.node_id = "other";
  Node n(cfg, &s);
  Status st = n.open(0);
  ASSERT_FALSE(st.is_ok());
  EXPECT_NE(st.message().find("belongs to node"), std::string::npos);
}

TEST(Node, KeysMoveWhenTheirKeyspaceChanges) {
  MemStorage s;
  Config cfg = Config::defaults();
  write_and_persist(cfg, s, {{"SET", "team:a", "1"}});
  KeyspaceConfig team;
  team.name = "team";
  team.prefix = "team:";
  cfg.keyspaces.push_back(team);
  {
    Node n(cfg, &s);
    ASSERT_TRUE(n.open(0).is_ok());
    EXPECT_EQ(run(n, {"GET", "team:a"}, 0), "$1\r\n1\r\n");
  }
  EXPECT_TRUE(s.get(Node::data_key("team", "team:a")).is_ok());
  EXPECT_FALSE(s.get(Node::data_key("default", "team:a")).is_ok());
}

TEST(Node, RowsOfAReplicatedKeyspaceAreRefused) {
  // A replicated keyspace keeps its data in its Raft log only; rows left by a configuration
  // in which it was local would be ignored silently, so the node refuses to start instead.
  MemStorage s;
  Config cfg = Config::defaults();
  write_and_persist(cfg, s, {{"SET", "k", "1"}});
  cfg.nodes = {PeerConfig{"n1", "127.0.0.1", 7001, 17001},
               PeerConfig{"n2", "127.0.0.1", 7002, 17002},
               PeerConfig{"n3", "127.0.0.1", 7003, 17003}};
  for (KeyspaceConfig& k : cfg.keyspaces)
    k.model = Model::kPrimary;
  Node n(cfg, &s);
  Status st = n.open(0);
  ASSERT_FALSE(st.is_ok());
  EXPECT_NE(st.message().find("replicated keyspace \"default\""), std::string::npos)
      << st.message();
}

TEST(Node, FlushallClearsStorage) {
  MemStorage s;
  Config cfg = Config::defaults();
  {
    Node n(cfg, &s);
    ASSERT_TRUE(n.open(0).is_ok());
    run(n, {"SET", "a", "1"}, 0);
    run(n, {"SET", "prefs:b", "1"}, 0);
    persist(n, s);
    run(n, {"FLUSHALL"}, 0);
    persist(n, s);
  }
  Node n(cfg, &s);
  ASSERT_TRUE(n.open(0).is_ok());
  EXPECT_EQ(n.store().total_keys(), 0u);
}

TEST(Node, NeverModeDoesNotRequestSync) {
  MemStorage s;
  Config cfg = Config::defaults();
  cfg.fsync = FsyncMode::kNever;
  Node n(cfg, &s);
  ASSERT_TRUE(n.open(0).is_ok());
  run(n, {"SET", "a", "1"}, 0);
  EXPECT_FALSE(n.take_persist().sync);
}

}  // namespace
}  // namespace rkv
