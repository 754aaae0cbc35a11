// Test harness for the Raft core: an in-memory cluster driven entirely by the test — no sleeps,
// no real time, no threads. Each node persists through log_store onto its own MemStorage (which
// survives crash()), applies entries to a toy state machine (index -> data), and its messages go
// into one FIFO network queue that the test delivers, drops, duplicates or reorders at will.
// The InvariantChecker runs after every event.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/checksum.h"
#include "core/random.h"
#include "raft/invariants.h"
#include "raft/log_store.h"
#include "raft/raft.h"
#include "storage/storage.h"

namespace rkv::raft::testing {

inline constexpr const char* kGroup = "g";

// ---- single-node helpers (paper tests) -----------------------------------------------------

inline Config paper_config(NodeId id, std::vector<NodeId> voters) {
  Config c;
  c.id = id;
  c.voters = std::move(voters);
  c.pre_vote = false;
  c.check_quorum = false;
  return c;
}

// Runs the Ready loop as an ideal driver (everything persisted instantly) and returns the
// messages sent.
inline std::vector<Message> drain(Raft& r) {
  std::vector<Message> out;
  while (r.has_ready()) {
    Ready rd = r.ready();
    for (auto& m : rd.messages)
      out.push_back(std::move(m));
    r.advance(rd);
  }
  return out;
}

inline std::vector<Message> only(const std::vector<Message>& ms, MessageType t) {
  std::vector<Message> out;
  for (const auto& m : ms) {
    if (m.type == t) out.push_back(m);
  }
  return out;
}

inline Message make_msg(MessageType type, NodeId from, NodeId to, uint64_t term) {
  Message m;
  m.type = type;
  m.from = from;
  m.to = to;
  m.term = term;
  return m;
}

inline std::vector<Entry> make_entries(uint64_t first_index, std::vector<uint64_t> terms) {
  std::vector<Entry> out;
  for (uint64_t t : terms) {
    out.push_back(Entry{t, first_index, EntryType::kNormal, "e" + std::to_string(first_index)});
    ++first_index;
  }
  return out;
}

// A PersistentState holding a log with the given terms starting at index 1.
inline PersistentState log_with_terms(std::vector<uint64_t> terms, uint64_t term) {
  PersistentState ps;
  ps.entries = make_entries(1, std::move(terms));
  ps.hard_state.term = term;
  return ps;
}

// ---- toy state machine ---------------------------------------------------------------------

using StateMachine = std::map<uint64_t, std::string>;  // applied index -> entry data

inline std::string encode_state(const StateMachine& sm) {
  std::string out;
  for (const auto& [i, d] : sm) {
    put_u64(out, i);
    put_u32(out, static_cast<uint32_t>(d.size()));
    out.append(d);
  }
  return out;
}

inline StateMachine decode_state(std::string_view s) {
  StateMachine sm;
  while (s.size() >= 12) {
    const uint64_t i = get_u64(s.data());
    const uint32_t n = get_u32(s.data() + 8);
    sm[i] = std::string(s.substr(12, n));
    s.remove_prefix(12 + n);
  }
  return sm;
}

// ---- cluster -------------------------------------------------------------------------------

struct TestNode {
  NodeId id = 0;
  Config config;
  std::unique_ptr<MemStorage> storage;
  std::unique_ptr<Random> random;
  std::unique_ptr<Raft> raft;  // null while crashed
  StateMachine sm;
  std::vector<ReadState> reads;
  std::vector<Entry> truncated;
  uint64_t restarts = 0;
  uint64_t snapshots_installed = 0;
  std::optional<Ready> in_flight;  // async_persist: taken, not yet persisted
  bool in_flight_applied = false;  // its committed entries were applied when it was taken
};

class Cluster {
 public:
  // `initial` presets nodes' persisted state (written to their storage first).
  explicit Cluster(size_t n, uint64_t seed = 1, std::function<void(Config&)> tweak = {},
                   std::map<NodeId, PersistentState> initial = {})
      : rng_(seed) {
    std::vector<NodeId> ids;
    for (size_t i = 1; i <= n; ++i)
      ids.push_back(i);
    for (NodeId id : ids) {
      TestNode& t = nodes_[id];
      t.id = id;
      t.config.id = id;
      t.config.voters = ids;
      if (tweak) tweak(t.config);
      t.storage = std::make_unique<MemStorage>();
      t.random = std::make_unique<Random>(seed * 1000 + id);
      PersistentState ps;
      if (auto it = initial.find(id); it != initial.end()) {
        ps = it->second;
        Ready rd;
        rd.hard_state = ps.hard_state;
        rd.entries = ps.entries;
        if (ps.snapshot.meta.index > 0) rd.snapshot = std::make_shared<const Snapshot>(ps.snapshot);
        Status st = persist_ready(*t.storage, kGroup, rd);
        RKV_ASSERT(st.is_ok());
        t.sm = decode_state(ps.snapshot.data);
      }
      t.raft = std::make_unique<Raft>(t.config, *t.random, std::move(ps));
      checker.set_node(id, t.raft.get());
    }
  }

  TestNode& node(NodeId id) { return nodes_.at(id); }
  Raft& raft(NodeId id) { return *nodes_.at(id).raft; }
  bool up(NodeId id) const { return nodes_.at(id).raft != nullptr; }
  std::vector<NodeId> ids() const {
    std::vector<NodeId> out;
    for (const auto& [id, n] : nodes_)
      out.push_back(id);
    return out;
  }

  // The live leader of the highest term, or 0.
  NodeId leader() const {
    NodeId best = 0;
    uint64_t term = 0;
    for (const auto& [id, n] : nodes_) {
      if (n.raft && n.raft->role() == Role::kLeader && n.raft->term() >= term) {
        best = id;
        term = n.raft->term();
      }
    }
    return best;
  }

  // ---- network ----
  void cut(NodeId a, NodeId b) {
    cut_.insert({a, b});
    cut_.insert({b, a});
  }
  void isolate(NodeId id) {
    for (NodeId o : ids()) {
      if (o != id) cut(id, o);
    }
  }
  void heal() { cut_.clear(); }
  bool link_up(NodeId from, NodeId to) const { return cut_.count({from, to}) == 0; }

  // Takes every Ready of a node as a correct driver does: persist, send, apply, advance. With
  // async_persist, a taken Ready stays in flight (the node keeps stepping meanwhile) until
  // complete(id); a crash before that loses it, as an unsynced write would be lost. Meanwhile
  // the node's partial Readies are carried out as the node layer does: the in-flight Ready's
  // committed entries are applied when it is taken (unless it brings a snapshot), then each
  // partial Ready is sent, applied and advanced at once.
  void process(NodeId id) {
    TestNode& t = nodes_.at(id);
    while (t.raft && t.raft->has_ready()) {
      if (t.in_flight) {
        if (!t.in_flight_applied || t.in_flight->soft_state || !t.raft->has_partial_ready()) {
          break;
        }
        Ready rd = t.raft->partial_ready();
        EXPECT_FALSE(rd.must_persist());
        for (const Message& m : rd.messages)
          EXPECT_TRUE(is_leader_stream(m.type)) << message_type_name(m.type);
        send_and_apply(t, rd);
        t.raft->advance(rd);
        continue;
      }
      Ready rd = t.raft->ready();
      if (async_persist) {
        t.in_flight_applied = !rd.snapshot;
        if (t.in_flight_applied) apply(t, rd);
        t.in_flight = std::move(rd);
        continue;
      }
      finish(t, rd, /*applied=*/false);
    }
    check();
  }
  bool in_flight(NodeId id) const { return nodes_.at(id).in_flight.has_value(); }
  // Completes the in-flight Ready of a node (async_persist), then takes the next one.
  void complete(NodeId id) {
    TestNode& t = nodes_.at(id);
    if (!t.raft || !t.in_flight) return;
    Ready rd = std::move(*t.in_flight);
    t.in_flight.reset();
    finish(t, rd, t.in_flight_applied);
    process(id);
  }

  void tick(NodeId id) {
    if (!up(id)) return;
    raft(id).tick();
    process(id);
  }
  void tick_all() {
    for (NodeId id : ids())
      tick(id);
  }

  // Delivers the oldest queued message. Returns false when the queue is empty.
  bool deliver_one() {
    if (net.empty()) return false;
    Message m = std::move(net.front());
    net.pop_front();
    deliver(m);
    return true;
  }
  void deliver(const Message& m) {
    if (!up(m.to) || !link_up(m.from, m.to) || (drop && drop(m))) return;
    delivered_++;
    Status s = raft(m.to).step(m);
    RKV_ASSERT_MSG(s.is_ok(), s.to_string().c_str());
    process(m.to);
  }
  void deliver_all(size_t max_msgs = 1000000) {
    for (size_t i = 0; i < max_msgs && deliver_one(); ++i) {
    }
  }

  // Ticks `id` alone (delivering everything after each tick) until it leads. The others do
  // not tick, so nobody else times out.
  bool elect(NodeId id) {
    for (int i = 0; i < 10 * raft(id).config().election_tick; ++i) {
      if (raft(id).role() == Role::kLeader) return true;
      tick(id);
      deliver_all();
    }
    return raft(id).role() == Role::kLeader;
  }

  Result<uint64_t> propose(NodeId id, std::string data) {
    auto r = raft(id).propose(std::move(data));
    process(id);
    return r;
  }

  // Heartbeat rounds: ticks the leader heartbeat_tick times and delivers everything.
  void settle(int rounds = 3) {
    for (int i = 0; i < rounds; ++i) {
      NodeId l = leader();
      if (l != 0) tick(l);
      deliver_all();
    }
  }

  void crash(NodeId id) {
    TestNode& t = nodes_.at(id);
    t.raft.reset();
    t.in_flight.reset();  // never reached the disk
    t.sm.clear();
    t.reads.clear();
    checker.set_node(id, nullptr);
  }
  void restart(NodeId id) {
    TestNode& t = nodes_.at(id);
    RKV_ASSERT(!t.raft);
    auto restored = load(*t.storage, kGroup);
    RKV_ASSERT_MSG(restored.is_ok(), restored.status().to_string().c_str());
    t.sm = decode_state(restored->state.snapshot.data);
    t.raft = std::make_unique<Raft>(t.config, *t.random, std::move(restored->state));
    t.restarts++;
    checker.set_node(id, t.raft.get());
    process(id);
  }

  bool async_persist = false;
  // Compacts a node's log whenever it has applied this many entries past its snapshot (0: off).
  size_t compact_every = 0;

  Status violation() const { return violation_; }
  uint64_t sent() const { return sent_; }
  uint64_t delivered() const { return delivered_; }

  std::deque<Message> net;
  std::function<bool(const Message&)> drop;  // true: drop this message
  InvariantChecker checker;

 private:
  // Steps 2-3 of the contract for a Ready without a snapshot.
  void send_and_apply(TestNode& t, Ready& rd) {
    send(rd);
    apply(t, rd);
  }
  void send(Ready& rd) {
    for (auto& m : rd.messages) {
      sent_++;
      net.push_back(std::move(m));
    }
    rd.messages.clear();
  }
  void apply(TestNode& t, const Ready& rd) {
    for (const Entry& e : rd.committed_entries) {
      t.sm[e.index] = e.data;
      note(checker.record_applied(t.id, e));
    }
    for (const auto& r : rd.read_states)
      t.reads.push_back(r);
  }
  void finish(TestNode& t, Ready& rd, bool applied) {
    Status s = persist_ready(*t.storage, kGroup, rd);
    RKV_ASSERT_MSG(s.is_ok(), s.to_string().c_str());
    send(rd);
    if (rd.snapshot) {
      t.sm = decode_state(rd.snapshot->data);
      t.snapshots_installed++;
    }
    if (!applied) apply(t, rd);
    for (const auto& e : rd.truncated)
      t.truncated.push_back(e);
    t.raft->advance(rd);
    maybe_compact(t);
  }

  void note(Status s) {
    if (violation_.is_ok() && !s.is_ok()) violation_ = std::move(s);
  }
  void check() { note(checker.check()); }
  void maybe_compact(TestNode& t) {
    if (compact_every == 0) return;
    const RaftLog& log = t.raft->log();
    if (log.applied() >= t.raft->snapshot().meta.index + compact_every &&
        log.applied() <= log.stable()) {
      StateMachine upto;
      for (const auto& [i, d] : t.sm) {
        if (i <= log.applied()) upto[i] = d;
      }
      Status s = t.raft->compact(log.applied(), encode_state(upto));
      RKV_ASSERT(s.is_ok());
    }
  }

  Random rng_;
  std::map<NodeId, TestNode> nodes_;
  std::set<std::pair<NodeId, NodeId>> cut_;
  Status violation_;
  uint64_t sent_ = 0;
  uint64_t delivered_ = 0;
};

}  // namespace rkv::raft::testing
