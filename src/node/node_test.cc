#include "node/node.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <memory>
#include <string>
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

// While the driver cannot make writes durable (a full disk), every write a client sends is
// refused with the driver's error before it touches any state, a transaction with a write in
// it as a whole; reads are served, and writes run again once the refusal is lifted.
TEST(Node, RefusedWritesLeaveNoTrace) {
  MemStorage s;
  Node n(Config::defaults(), &s);
  ASSERT_TRUE(n.open(0).is_ok());
  run(n, {"SET", "a", "1"}, 0);
  persist(n, s);
  uint64_t seq = 0;
  auto client = [&](std::initializer_list<std::string_view> args) {
    std::vector<std::string_view> a(args);
    std::string out;
    resp::Writer w(&out, 2);
    const Dispatch d =
        n.execute(ClientRequest{1, ++seq, 2, {}, {}}, *resp::lookup_command(a[0]), a, 0, w);
    EXPECT_NE(d.kind, Dispatch::kDeferred);
    return out;
  };
  auto exec = [&](std::vector<std::vector<std::string>> commands) {
    Transaction t;
    t.commands = std::move(commands);
    std::string out;
    resp::Writer w(&out, 2);
    n.execute_transaction(ClientRequest{1, ++seq, 2, {}, {}}, std::move(t), 0, w);
    return out;
  };
  n.refuse_writes("MISCONF disk full");
  EXPECT_EQ(n.write_refusal(), "MISCONF disk full");
  EXPECT_EQ(client({"SET", "a", "2"}), "-MISCONF disk full\r\n");
  EXPECT_EQ(client({"DEL", "a"}), "-MISCONF disk full\r\n");
  EXPECT_EQ(client({"INCR", "n"}), "-MISCONF disk full\r\n");
  EXPECT_EQ(exec({{"GET", "a"}, {"SET", "b", "1"}}), "-MISCONF disk full\r\n");
  EXPECT_EQ(client({"GET", "a"}), "$1\r\n1\r\n");
  EXPECT_EQ(exec({{"GET", "a"}}), "*1\r\n$1\r\n1\r\n");
  EXPECT_FALSE(n.has_pending_persist());
  EXPECT_EQ(n.last_token(), n.durable_token());

  n.refuse_writes("");
  EXPECT_EQ(client({"SET", "a", "2"}), "+OK\r\n");
  EXPECT_TRUE(n.has_pending_persist());
}

TEST(Node, AppliedChangesFireKeyEvents) {
  MemStorage s;
  Node n(Config::defaults(), &s);
  ASSERT_TRUE(n.open(0).is_ok());
  n.watches().watch(7, 0, "a");
  n.blocked().watch(8, 0, "h");
  run(n, {"GET", "a"}, 0);
  run(n, {"SET", "b", "1"}, 0);
  EXPECT_TRUE(n.watches().take_fired().empty());
  run(n, {"SET", "a", "1"}, 0);
  EXPECT_EQ(n.watches().take_fired(), std::vector<uint64_t>{7});
  run(n, {"HSET", "h", "f", "v"}, 0);
  EXPECT_EQ(n.blocked().take_fired(), std::vector<uint64_t>{8});
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
  cfg.nodes = {PeerConfig{"n1", "127.0.0.1", 7001, 17001, ""},
               PeerConfig{"n2", "127.0.0.1", 7002, 17002, ""},
               PeerConfig{"n3", "127.0.0.1", 7003, 17003, ""}};
  for (KeyspaceConfig& k : cfg.keyspaces)
    k.model = Model::kPrimary;
  Node n(cfg, &s);
  Status st = n.open(0);
  ASSERT_FALSE(st.is_ok());
  EXPECT_NE(st.message().find("replicated keyspace \"default\""), std::string::npos)
      << st.message();
}

namespace {

// Three nodes in this process (messages handed over directly, disks always in time) take
// `writes` SETs of new keys with values of `value_size` bytes through the leader; returns the
// leader's snapshot index each time it changed.
std::vector<uint64_t> images_while_writing(Config cfg, size_t value_size, int writes) {
  cfg.nodes = {PeerConfig{"n1", "127.0.0.1", 7001, 17001, ""},
               PeerConfig{"n2", "127.0.0.1", 7002, 17002, ""},
               PeerConfig{"n3", "127.0.0.1", 7003, 17003, ""}};
  std::vector<std::unique_ptr<MemStorage>> disks;
  std::vector<std::unique_ptr<Node>> nodes;
  for (int i = 0; i < 3; ++i) {
    Config c = cfg;
    c.node_id = cfg.nodes[static_cast<size_t>(i)].id;
    disks.push_back(std::make_unique<MemStorage>());
    nodes.push_back(std::make_unique<Node>(c, disks.back().get(), 10 + static_cast<uint64_t>(i)));
    EXPECT_TRUE(nodes.back()->open(1).is_ok());
  }
  int64_t now = 1;
  auto settle = [&] {
    for (int round = 0; round < 20; ++round) {
      bool moved = false;
      for (int i = 0; i < 3; ++i) {
        Node& n = *nodes[static_cast<size_t>(i)];
        n.pump(now);
        if (n.has_pending_persist()) {
          persist(n, *disks[static_cast<size_t>(i)]);
          moved = true;
        }
        for (PeerSend& m : n.take_sends()) {
          nodes[m.to]->on_peer_message(static_cast<uint32_t>(i), m.payload, now);
          moved = true;
        }
        n.take_replies();
      }
      if (!moved) return;
    }
  };
  auto tick_all = [&] {
    now += 10;
    for (auto& n : nodes)
      n->tick(now);
    settle();
  };
  auto leader = [&]() -> Node* {
    for (auto& n : nodes) {
      if (n->raft_group(0)->role() == raft::Role::kLeader) return n.get();
    }
    return nullptr;
  };
  for (int i = 0; i < 300 && leader() == nullptr; ++i)
    tick_all();
  Node* l = leader();
  if (l == nullptr) {
    ADD_FAILURE() << "no leader";
    return {};
  }
  std::vector<uint64_t> images;
  const std::string value(value_size, 'v');
  for (int i = 0; i < writes; ++i) {
    const std::string key = "k" + std::to_string(i);
    std::vector<std::string_view> a{"SET", key, value};
    std::string out;
    resp::Writer w(&out, 2);
    ClientRequest req{1, static_cast<uint64_t>(i + 1), 2, std::nullopt, std::nullopt};
    l->execute(req, *resp::lookup_command("SET"), a, now, w);
    settle();
    if (i % 10 == 0) tick_all();
    const uint64_t idx = l->raft_group(0)->snapshot().meta.index;
    if (images.empty() || images.back() != idx) images.push_back(idx);
  }
  EXPECT_EQ(leader(), l);
  return images;
}

}  // namespace

// A keyspace that only ever grows (every write a new key) still has its log compacted again
// and again: the next image is due after as many entries as it had keys when the last one
// began. (Counted in the keys of the moment, the next image never came.)
TEST(Node, LogOfAGrowingKeyspaceIsCompactedAgainAndAgain) {
  Config cfg = Config::defaults();
  cfg.raft.snapshot_min_entries = 100;
  cfg.raft.snapshot_catchup_entries = 0;
  const std::vector<uint64_t> images = images_while_writing(cfg, 1, 3000);
  // About 100-125 entries, then about twice as many each time: 5 images or more by 3000.
  EXPECT_GE(images.size(), 5u);
  EXPECT_GE(images.back(), 1000u);
}

// Large values: the log's bytes bring the next image long before its entry count does, so the
// log held in memory stays near snapshot_log_bytes (and an eighth of maxmemory when set).
TEST(Node, LogOfLargeValuesIsCompactedByItsBytes) {
  Config cfg = Config::defaults();  // snapshot_min_entries 20000: the count alone never comes
  cfg.raft.snapshot_log_bytes = 256 << 10;
  const std::vector<uint64_t> by_setting = images_while_writing(cfg, 1024, 2000);
  // 256 KiB is about 230 entries of 1 KiB: an image every 230 entries, about 8 by 2000.
  EXPECT_GE(by_setting.size(), 7u);
  EXPECT_LE(by_setting.size(), 10u);
  cfg.raft.snapshot_log_bytes = 64ull << 20;
  cfg.memory.maxmemory = 2 << 20;  // an eighth: 256 KiB again
  const std::vector<uint64_t> by_limit = images_while_writing(cfg, 1024, 2000);
  EXPECT_GE(by_limit.size(), 7u);
  cfg.memory.maxmemory = 0;
  EXPECT_EQ(images_while_writing(cfg, 1024, 2000).size(), 1u);  // the index 0 it started at
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
