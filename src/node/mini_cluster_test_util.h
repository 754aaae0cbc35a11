// MiniCluster: an in-process cluster for engine tests. Nodes on MemStorage, messages
// delivered in order (or dropped towards nodes marked down, or across cut links), every batch
// persisted at once. Deterministic; the simulator explores the interleavings, engine tests pin
// the mechanisms one by one.
#pragma once

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "node/node.h"
#include "storage/storage.h"

namespace rkv {

// A cluster config with the `default` keyspace and `name` (prefix "name:") of `model`; the
// caller sets the rest of the keyspace (keyspaces[1]) and the settings.
inline Config two_keyspaces(const std::string& name, Model model) {
  Config base;
  KeyspaceConfig def;
  def.name = "default";
  KeyspaceConfig ks;
  ks.name = name;
  ks.prefix = name + ":";
  ks.model = model;
  base.keyspaces = {def, ks};
  return base;
}

class MiniClusterClock final : public MonotonicClock {
 public:
  int64_t now_ms() const override { return now; }
  int64_t now = 1000;
};

class MiniCluster {
 public:
  // `base`: keyspaces and settings; its node list is filled in here (n1..nN).
  MiniCluster(int nodes, Config base) : base_(std::move(base)) {
    base_.nodes.clear();
    for (int i = 0; i < nodes; ++i) {
      PeerConfig p;
      p.id = "n" + std::to_string(i + 1);
      p.port = static_cast<uint16_t>(7000 + i);
      base_.nodes.push_back(p);
    }
    for (int i = 0; i < nodes; ++i) {
      storages_.push_back(std::make_unique<MemStorage>());
      nodes_.emplace_back();
      start(i);
    }
  }
  virtual ~MiniCluster() = default;

  void start(int i) {
    Config c = base_;
    c.node_id = base_.nodes[static_cast<size_t>(i)].id;
    nodes_[static_cast<size_t>(i)] = std::make_unique<Node>(
        c, storages_[static_cast<size_t>(i)].get(), 100 + static_cast<uint64_t>(i), &clock_);
    ASSERT_TRUE(nodes_[static_cast<size_t>(i)]->open(wall()).is_ok());
  }
  void wipe(int i) { storages_[static_cast<size_t>(i)] = std::make_unique<MemStorage>(); }

  int64_t wall() const { return 1'700'000'000'000 + clock_.now; }
  Node& node(int i) { return *nodes_[static_cast<size_t>(i)]; }

  // Delivers every message and persists every batch until nothing moves.
  void settle() {
    for (int round = 0; round < 10000; ++round) {
      bool moved = false;
      for (size_t i = 0; i < nodes_.size(); ++i) {
        Node& n = *nodes_[i];
        n.pump(wall());
        if (!held_disks_.count(static_cast<int>(i)) && n.has_pending_persist()) {
          PersistRequest r = n.take_persist();
          ASSERT_TRUE(storages_[i]->write(r.batch, r.sync).is_ok());
          n.on_persisted(r.token);
          moved = true;
        }
        for (auto& s : n.take_sends()) {
          if (!down_.count(static_cast<int>(i)) && !down_.count(static_cast<int>(s.to)) &&
              !cut_.count({static_cast<int>(i), static_cast<int>(s.to)})) {
            inflight_.push_back({static_cast<uint32_t>(i), s.to, std::move(s.payload)});
          }
          moved = true;
        }
        for (auto& r : n.take_replies())
          replies_[r.client_id] = std::move(r.bytes);
      }
      while (!inflight_.empty()) {
        auto m = std::move(inflight_.front());
        inflight_.pop_front();
        if (!down_.count(static_cast<int>(m.to))) {
          node(static_cast<int>(m.to)).on_peer_message(m.from, m.payload, wall());
        }
        moved = true;
      }
      if (!moved) return;
    }
    FAIL() << "the cluster does not settle";
  }

  // Lets `ms` of time pass in ticks of 10 ms, settling after each.
  void advance(int64_t ms) {
    for (int64_t t = 0; t < ms; t += 10) {
      clock_.now += 10;
      for (size_t i = 0; i < nodes_.size(); ++i) {
        if (!down_.count(static_cast<int>(i))) nodes_[i]->tick(wall());
      }
      settle();
    }
  }

  // Runs a command on node i and settles; returns the reply (RESP2 bytes).
  std::string run(int i, std::vector<std::string> args,
                  std::optional<Consistency> c = std::nullopt) {
    std::vector<std::string_view> a(args.begin(), args.end());
    ClientRequest req;
    req.client_id = ++next_client_;
    req.seq = 1;
    req.consistency = c;
    std::string out;
    resp::Writer w(&out, 2);
    Dispatch d = node(i).execute(req, *resp::lookup_command(a[0]), a, wall(), w);
    settle();
    if (d.kind != Dispatch::kDeferred) return out;
    for (int k = 0; k < 300 && !replies_.count(req.client_id); ++k)
      advance(10);
    auto it = replies_.find(req.client_id);
    return it == replies_.end() ? "<no reply>" : it->second;
  }

  void set_down(int i, bool down) {
    if (down) {
      down_.insert(i);
    } else {
      down_.erase(i);
    }
  }
  void cut(int a, int b) {
    cut_.insert({a, b});
    cut_.insert({b, a});
  }
  void heal() { cut_.clear(); }
  // A held disk writes nothing: the node's batches wait (as behind a slow or full disk).
  void hold_disk(int i, bool held) {
    if (held) {
      held_disks_.insert(i);
    } else {
      held_disks_.erase(i);
    }
  }

 protected:
  struct InFlight {
    uint32_t from, to;
    std::string payload;
  };
  Config base_;
  MiniClusterClock clock_;
  std::vector<std::unique_ptr<MemStorage>> storages_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::deque<InFlight> inflight_;
  std::map<uint64_t, std::string> replies_;
  std::set<int> down_, held_disks_;
  std::set<std::pair<int, int>> cut_;
  uint64_t next_client_ = 0;
};

}  // namespace rkv
