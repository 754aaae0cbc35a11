// Transactions at the node level: the kMulti log entry and the relayed transaction encodings,
// local execution, one replicated entry per transaction in a primary keyspace (through the
// leader or relayed by a follower), the leader's WATCH check against entries not yet applied,
// and the undo of a whole speculative (commit = "async") transaction when leadership is lost.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "node/node.h"
#include "node/wire.h"
#include "storage/storage.h"

namespace rkv {
namespace {

Transaction txn(std::vector<std::vector<std::string>> commands,
                std::vector<std::string> watched = {}) {
  Transaction t;
  t.commands = std::move(commands);
  t.watched = std::move(watched);
  return t;
}

TEST(TransactionWire, MultiEntryRoundTrips) {
  const std::vector<std::string> cmds = {
      encode_command(std::vector<std::string_view>{"SET", "a", "1"}),
      encode_command(std::vector<std::string_view>{"INCR", "b"})};
  const std::vector<std::string_view> args(cmds.begin(), cmds.end());
  const std::string data = encode_logged(LoggedCommand::kMulti, 1, 99, args);
  LoggedCommand cmd;
  ASSERT_TRUE(decode_logged(data, &cmd));
  EXPECT_EQ(cmd.kind, LoggedCommand::kMulti);
  EXPECT_EQ(cmd.now_ms, 99);
  ASSERT_EQ(cmd.args.size(), 2u);
  std::vector<std::string_view> c;
  ASSERT_TRUE(decode_command(cmd.args[1], &c));
  EXPECT_EQ(c, (std::vector<std::string_view>{"INCR", "b"}));
  EXPECT_EQ(logged_key(data), std::nullopt);  // no single key to prefetch
  for (size_t n = 0; n < data.size(); ++n)
    EXPECT_FALSE(decode_logged(std::string_view(data).substr(0, n), &cmd)) << n;
  // An empty transaction is an entry too (its WATCH check is ordered in the log).
  ASSERT_TRUE(decode_logged(encode_logged(LoggedCommand::kMulti, 0, 1, {}), &cmd));
  EXPECT_TRUE(cmd.args.empty());
  EXPECT_FALSE(decode_command("", &c));
  EXPECT_FALSE(decode_command(std::string(4, '\0'), &c));  // zero arguments
}

TEST(TransactionWire, RelayedTransactionRoundTrips) {
  Transaction t = txn({{"SET", "a", "1"}, {"GET", "a"}}, {"a", "w"});
  t.checked_through = 42;
  const std::vector<std::string> relayed = encode_relayed_transaction(t);
  const std::vector<std::string_view> args(relayed.begin(), relayed.end());
  ASSERT_TRUE(is_relayed_transaction(args));
  Transaction back;
  ASSERT_TRUE(decode_relayed_transaction(args, &back));
  EXPECT_EQ(back.commands, t.commands);
  EXPECT_EQ(back.watched, t.watched);
  EXPECT_EQ(back.checked_through, 42u);
  std::vector<std::string_view> bad = args;
  bad[2] = "9";  // more watched keys than arguments
  EXPECT_FALSE(decode_relayed_transaction(bad, &back));
  bad = args;
  bad.back() = "junk";
  EXPECT_FALSE(decode_relayed_transaction(bad, &back));
  EXPECT_FALSE(is_relayed_transaction(std::vector<std::string_view>{"GET", "a"}));
}

std::string exec_local(Node& n, Transaction t, uint64_t* token = nullptr) {
  std::string out;
  resp::Writer w(&out, 2);
  Dispatch d = n.execute_transaction(ClientRequest{1, 1, 2, {}, {}}, std::move(t), 0, w);
  EXPECT_NE(d.kind, Dispatch::kDeferred);
  if (token) *token = d.token;
  return out;
}

TEST(TransactionNode, LocalCommandsRunInOrderAndPersistTogether) {
  MemStorage s;
  Node n(Config::defaults(), &s);
  ASSERT_TRUE(n.open(0).is_ok());
  uint64_t token = 0;
  EXPECT_EQ(
      exec_local(n, txn({{"SET", "a", "1"}, {"INCR", "a"}, {"HSET", "a", "f", "v"}, {"GET", "a"}}),
                 &token),
      "*4\r\n+OK\r\n:2\r\n-WRONGTYPE Operation against a key holding the wrong kind of "
      "value\r\n$1\r\n2\r\n");
  EXPECT_GT(token, 0u);
  PersistRequest r = n.take_persist();
  EXPECT_EQ(r.token, token);  // every change in one batch: durable together
  EXPECT_EQ(exec_local(n, txn({{"GET", "a"}}), &token), "*1\r\n$1\r\n2\r\n");
  EXPECT_EQ(token, 0u);  // a read-only transaction waits for nothing
  EXPECT_EQ(exec_local(n, txn({})), "*0\r\n");
}

// Three nodes in this process; messages are handed over directly unless cut.
class TestCluster {
 public:
  explicit TestCluster(Config cfg) {
    cfg.nodes = {PeerConfig{"n1", "127.0.0.1", 7001, 17001, ""},
                 PeerConfig{"n2", "127.0.0.1", 7002, 17002, ""},
                 PeerConfig{"n3", "127.0.0.1", 7003, 17003, ""}};
    for (size_t i = 0; i < 3; ++i) {
      Config c = cfg;
      c.node_id = cfg.nodes[i].id;
      disks_.push_back(std::make_unique<MemStorage>());
      nodes_.push_back(std::make_unique<Node>(c, disks_.back().get(), 10 + i));
      EXPECT_TRUE(nodes_.back()->open(1).is_ok());
    }
  }
  Node& node(size_t i) { return *nodes_[i]; }
  size_t index(const Node* n) const {
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (nodes_[i].get() == n) return i;
    }
    return nodes_.size();
  }
  // Messages from or to an isolated node are dropped; so are Raft messages to a lagging one
  // (it still relays requests and hears their answers).
  std::set<size_t> isolated, lagging;

  void settle() {
    for (int round = 0; round < 50; ++round) {
      bool moved = false;
      for (size_t i = 0; i < nodes_.size(); ++i) {
        Node& n = *nodes_[i];
        n.pump(now_);
        if (n.has_pending_persist()) {
          PersistRequest r = n.take_persist();
          EXPECT_TRUE(disks_[i]->write(r.batch, r.sync).is_ok());
          n.on_persisted(r.token);
          moved = true;
        }
        for (PeerSend& m : n.take_sends()) {
          moved = true;
          if (isolated.count(i) || isolated.count(m.to)) continue;
          if (lagging.count(m.to) && m.payload[0] == kPeerRaft) continue;
          nodes_[m.to]->on_peer_message(static_cast<uint32_t>(i), m.payload, now_);
        }
        for (DeferredReply& r : n.take_replies())
          replies_[{i, r.seq}] = std::move(r.bytes);
      }
      if (!moved) return;
    }
  }
  void tick_all() {
    now_ += 10;
    for (auto& n : nodes_)
      n->tick(now_);
    settle();
  }
  Node* leader() {
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (!isolated.count(i) && nodes_[i]->raft_group(0)->role() == raft::Role::kLeader) {
        return nodes_[i].get();
      }
    }
    return nullptr;
  }
  Node* elect() {
    for (int i = 0; i < 500 && leader() == nullptr; ++i)
      tick_all();
    return leader();
  }
  // Runs a command or a transaction on node n and returns its reply once there is one.
  std::string run(Node& n, const std::vector<std::string>& cmd) {
    return submit(n, [&](const ClientRequest& req, resp::Writer& w) {
      std::vector<std::string_view> a(cmd.begin(), cmd.end());
      return n.execute(req, *resp::lookup_command(a[0]), a, now_, w);
    });
  }
  std::string exec(Node& n, Transaction t) {
    return submit(n, [&](const ClientRequest& req, resp::Writer& w) {
      return n.execute_transaction(req, std::move(t), now_, w);
    });
  }
  std::optional<std::string> value(size_t i, const std::string& key) {
    const KeyTable::Entry* e = nodes_[i]->store().keyspace(0).table.find(key);
    return e ? std::optional<std::string>(e->value.data) : std::nullopt;
  }

 private:
  template <typename Fn>
  std::string submit(Node& n, Fn&& fn) {
    ClientRequest req{7, ++seq_, 2, {}, {}};
    std::string out;
    resp::Writer w(&out, 2);
    Dispatch d = fn(req, w);
    settle();
    if (d.kind != Dispatch::kDeferred) return out;
    for (int i = 0; i < 200; ++i) {
      auto it = replies_.find({index(&n), req.seq});
      if (it != replies_.end()) return it->second;
      tick_all();
    }
    return "(no reply)";
  }

  std::vector<std::unique_ptr<MemStorage>> disks_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::map<std::pair<size_t, uint64_t>, std::string> replies_;
  int64_t now_ = 1;
  uint64_t seq_ = 0;
};

TEST(TransactionPrimary, OneEntryAppliedAlikeOnEveryReplica) {
  TestCluster c(Config::defaults());
  Node* l = c.elect();
  ASSERT_NE(l, nullptr);
  const uint64_t before = l->raft_group(0)->last_index();
  EXPECT_EQ(c.exec(*l, txn({{"SET", "a", "5"}, {"INCRBY", "a", "2"}, {"GET", "a"}, {"INCR", "b"}})),
            "*4\r\n+OK\r\n:7\r\n$1\r\n7\r\n:1\r\n");
  EXPECT_EQ(l->raft_group(0)->last_index(), before + 1);  // the whole transaction: one entry
  c.tick_all();
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(c.value(i, "a"), "7") << i;
    EXPECT_EQ(c.value(i, "b"), "1") << i;
  }
}

TEST(TransactionPrimary, FollowerRelaysTheWholeTransaction) {
  TestCluster c(Config::defaults());
  Node* l = c.elect();
  ASSERT_NE(l, nullptr);
  Node& f = c.node((c.index(l) + 1) % 3);
  const uint64_t before = l->raft_group(0)->last_index();
  EXPECT_EQ(c.exec(f, txn({{"SET", "x", "1"}, {"APPEND", "x", "2"}})), "*2\r\n+OK\r\n:2\r\n");
  EXPECT_EQ(l->raft_group(0)->last_index(), before + 1);
  c.tick_all();
  for (size_t i = 0; i < 3; ++i)
    EXPECT_EQ(c.value(i, "x"), "12") << i;
}

TEST(TransactionPrimary, LeaderAbortsOnAWatchedKeyChangedInItsLogNotYetApplied) {
  TestCluster c(Config::defaults());
  Node* l = c.elect();
  ASSERT_NE(l, nullptr);
  // A write proposed but not applied yet (no pump in between): the client's WATCH has not
  // fired, but the write is ahead of the transaction in the log.
  std::vector<std::string_view> set = {"SET", "w", "other"};
  std::string out;
  resp::Writer w(&out, 2);
  l->execute(ClientRequest{9, 1, 2, {}, {}}, *resp::lookup_command("SET"), set, 1, w);
  EXPECT_EQ(c.exec(*l, txn({{"SET", "w", "mine"}}, {"w"})), "*-1\r\n");
  c.tick_all();
  EXPECT_EQ(c.value(0, "w"), "other");
  // Nothing in flight: it runs.
  EXPECT_EQ(c.exec(*l, txn({{"SET", "w", "mine"}}, {"w"})), "*1\r\n+OK\r\n");
}

TEST(TransactionPrimary, RelayedWatchIsCheckedPastTheFollowersAppliedIndex) {
  TestCluster c(Config::defaults());
  Node* l = c.elect();
  ASSERT_NE(l, nullptr);
  const size_t fi = (c.index(l) + 1) % 3;
  c.lagging.insert(fi);  // the follower stops receiving the log, not answers it relays
  EXPECT_EQ(c.run(*l, {"SET", "w", "changed"}), "+OK\r\n");
  EXPECT_EQ(c.value(fi, "w"), std::nullopt);  // not applied there: its WATCH did not fire
  EXPECT_EQ(c.exec(c.node(fi), txn({{"SET", "w", "mine"}}, {"w"})), "*-1\r\n");
  // A transaction not watching it runs, relayed.
  EXPECT_EQ(c.exec(c.node(fi), txn({{"SET", "z", "1"}}, {"other"})), "*1\r\n+OK\r\n");
  c.lagging.clear();
  for (int i = 0; i < 100 && c.value(fi, "w") != "changed"; ++i)
    c.tick_all();
  EXPECT_EQ(c.value(fi, "w"), "changed");
  EXPECT_EQ(c.value(fi, "z"), "1");
}

TEST(TransactionPrimary, AsyncSpeculativeTransactionIsUndoneWhole) {
  Config cfg = Config::defaults();
  cfg.keyspaces[0].commit = CommitMode::kAsync;
  TestCluster c(cfg);
  Node* l = c.elect();
  ASSERT_NE(l, nullptr);
  const size_t li = c.index(l);
  EXPECT_EQ(c.run(*l, {"SET", "a", "0"}), "+OK\r\n");
  c.tick_all();
  // Cut off, the leader still executes (speculates) and acknowledges the transaction once it
  // is in its own log; nobody else ever gets it.
  c.isolated.insert(li);
  EXPECT_EQ(c.exec(*l, txn({{"INCR", "a"}, {"SET", "b", "1"}, {"INCR", "a"}})),
            "*3\r\n:1\r\n+OK\r\n:2\r\n");
  EXPECT_EQ(c.value(li, "a"), "2");
  EXPECT_EQ(c.value(li, "b"), "1");
  l->watches().watch(99, 0, "b");  // a client WATCHes the speculative value
  Node* nl = nullptr;
  for (int i = 0; i < 500 && (nl == nullptr || nl == l); ++i) {
    c.tick_all();
    nl = c.leader();
  }
  ASSERT_NE(nl, nullptr);
  ASSERT_NE(nl, l);
  c.isolated.clear();
  for (int i = 0; i < 100; ++i)
    c.tick_all();
  ASSERT_NE(l->raft_group(0)->role(), raft::Role::kLeader);
  const std::vector<uint64_t> fired = l->watches().take_fired();
  EXPECT_NE(std::find(fired.begin(), fired.end(), 99u), fired.end());  // the undo changed it
  for (size_t i = 0; i < 3; ++i) {  // gone whole: neither key keeps a part of it
    EXPECT_EQ(c.value(i, "a"), "0") << i;
    EXPECT_EQ(c.value(i, "b"), std::nullopt) << i;
  }
  ASSERT_EQ(l->lost_writes().size(), 1u);
  EXPECT_EQ(l->lost_writes()[0].command, "MULTI; INCR a; SET b 1; INCR a; EXEC");
}

TEST(TransactionPrimary, KeyspaceRules) {
  Config cfg = Config::defaults();
  KeyspaceConfig other = cfg.keyspaces[0];
  other.name = "acc";
  other.prefix = "acc:";
  cfg.keyspaces.push_back(other);
  TestCluster c(cfg);
  Node& n = c.node(0);
  int64_t ks = -1;
  std::vector<std::string_view> set_a = {"SET", "a", "1"}, set_acc = {"SET", "acc:x", "1"},
                                dbsize = {"DBSIZE"};
  EXPECT_EQ(n.admit_to_transaction(*resp::lookup_command("SET"), set_a, &ks), "");
  EXPECT_EQ(ks, 0);
  EXPECT_EQ(n.admit_to_transaction(*resp::lookup_command("SET"), set_acc, &ks).substr(0, 9),
            "CROSSSLOT");
  EXPECT_NE(n.admit_to_transaction(*resp::lookup_command("DBSIZE"), dbsize, &ks), "");
  ASSERT_NE(c.elect(), nullptr);
  EXPECT_EQ(c.exec(n, txn({{"SET", "acc:x", "1"}}, {"a"})).substr(0, 10), "-CROSSSLOT");
}

}  // namespace
}  // namespace rkv
