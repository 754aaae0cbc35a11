#include "leaderless/gossip.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "core/random.h"

namespace rkv::leaderless {
namespace {

using State = Gossip::State;

constexpr double kThreshold = 8;

PhiAccrual::Options hundred_ms() {
  PhiAccrual::Options o;
  o.first_interval_ms = 100;
  return o;
}

TEST(Gossip, BeatBumpsOurVersionAndSendsWhatWeKnow) {
  Gossip g(1, 3, hundred_ms());
  EXPECT_FALSE(g.started());
  g.start(77);
  EXPECT_TRUE(g.started());
  EXPECT_EQ(g.entry(1), (GossipEntry{1, 77, 0}));
  auto digest = g.beat();
  EXPECT_EQ(digest, (std::vector<GossipEntry>{{1, 77, 1}}));  // nobody else known yet
  const GossipEntry from_two[] = {{2, 5, 9}, {0, 4, 3}};
  EXPECT_TRUE(g.on_digest(2, from_two, 1000));
  digest = g.beat();
  EXPECT_EQ(digest, (std::vector<GossipEntry>{{1, 77, 2}, {0, 4, 3}, {2, 5, 9}}));
}

TEST(Gossip, NeverHeardFromIsDown) {
  Gossip g(0, 3, hundred_ms());
  g.start(1);
  EXPECT_EQ(g.state(0, 0, kThreshold), State::kUp);  // self
  EXPECT_EQ(g.phi(0, 0), 0);
  EXPECT_FALSE(g.known(1));
  EXPECT_EQ(g.state(1, 0, kThreshold), State::kDown);
  EXPECT_TRUE(std::isinf(g.phi(1, 0)));
  EXPECT_EQ(g.entry(1), (GossipEntry{1, 0, 0}));
  const GossipEntry e[] = {{1, 1, 1}};
  g.on_digest(1, e, 10);
  EXPECT_EQ(g.state(1, 10, kThreshold), State::kUp);
}

// Node 0 hears directly from 1 and 2 every 100 ms; at t = 5 s node 2 falls silent. It goes up
// -> suspect -> down, in that order and never back, while node 1 stays up throughout.
TEST(Gossip, SilentNodeGoesSuspectThenDownWhileOthersStayUp) {
  Gossip observer(0, 3, hundred_ms());
  Gossip one(1, 3, hundred_ms()), two(2, 3, hundred_ms());
  observer.start(1);
  one.start(1);
  two.start(1);
  int64_t suspect_at = -1, down_at = -1;
  for (int64_t t = 0; t <= 8000; t += 10) {
    if (t % 100 == 0) {
      observer.beat();
      observer.on_digest(1, one.beat(), t);
      if (t < 5000) observer.on_digest(2, two.beat(), t);
    }
    EXPECT_EQ(observer.state(1, t, kThreshold), State::kUp) << t;
    const State s = observer.state(2, t, kThreshold);
    if (t < 5000) {
      EXPECT_EQ(s, State::kUp) << t;
      continue;
    }
    if (s == State::kSuspect && suspect_at < 0) suspect_at = t;
    if (s == State::kDown && down_at < 0) down_at = t;
    if (down_at >= 0) {
      EXPECT_EQ(s, State::kDown) << t;
    } else if (suspect_at >= 0) {
      EXPECT_EQ(s, State::kSuspect) << t;
    }
  }
  // Last heard at 4900. With a steady 100 ms rhythm (std dev at its 100 ms floor) phi passes 4
  // about 470 ms after the last heartbeat and 8 about 620 ms after it (states sampled every
  // 10 ms).
  EXPECT_EQ(suspect_at, 5370);
  EXPECT_EQ(down_at, 5530);
}

TEST(Gossip, RestartedNodeIsNewerDespiteItsVersionReset) {
  Gossip g(0, 2, hundred_ms());
  g.start(1);
  int64_t t = 0;
  for (uint64_t v = 1; v <= 50; ++v, t += 100) {
    const GossipEntry e[] = {{1, 1000, v}};
    EXPECT_TRUE(g.on_digest(1, e, t));
  }
  EXPECT_EQ(g.detector(1).samples(), 49u);
  // Node 1 restarts with a later generation; its counter starts over.
  const GossipEntry restarted[] = {{1, 2000, 0}};
  EXPECT_TRUE(g.on_digest(1, restarted, t + 3000));
  EXPECT_EQ(g.entry(1), (GossipEntry{1, 2000, 0}));
  EXPECT_EQ(g.detector(1).samples(), 0u);  // a fresh detector: the old rhythm is void
  EXPECT_EQ(g.state(1, t + 3000, kThreshold), State::kUp);
  // The old incarnation's higher versions are now stale.
  const GossipEntry old[] = {{1, 1000, 51}};
  EXPECT_FALSE(g.on_digest(1, old, t + 3050));
  EXPECT_EQ(g.entry(1), (GossipEntry{1, 2000, 0}));
}

TEST(Gossip, StaleAndDuplicateDigestsAreIgnored) {
  Gossip g(0, 3, hundred_ms());
  g.start(1);
  const GossipEntry fresh[] = {{1, 10, 5}, {2, 20, 7}};
  EXPECT_TRUE(g.on_digest(1, fresh, 100));
  // A duplicate, an older version, an older generation: nothing new, no heartbeat, even of
  // the sender (a delayed message is no evidence it is alive now).
  const GossipEntry older[] = {{1, 10, 4}, {2, 19, 99}};
  EXPECT_FALSE(g.on_digest(1, fresh, 900));
  EXPECT_FALSE(g.on_digest(1, older, 900));
  EXPECT_EQ(g.entry(1), (GossipEntry{1, 10, 5}));
  EXPECT_EQ(g.entry(2), (GossipEntry{2, 20, 7}));
  EXPECT_EQ(g.detector(1).last_heartbeat_ms(), 100);
  EXPECT_EQ(g.detector(2).last_heartbeat_ms(), 100);
  // Partly new: only the newer entry counts.
  const GossipEntry mixed[] = {{1, 10, 5}, {2, 20, 8}};
  EXPECT_TRUE(g.on_digest(1, mixed, 1000));
  EXPECT_EQ(g.detector(1).last_heartbeat_ms(), 100);
  EXPECT_EQ(g.detector(2).last_heartbeat_ms(), 1000);
  // Newer again within the same millisecond: the entry advances, the rhythm gets no 0 ms gap.
  const GossipEntry same_ms[] = {{2, 20, 9}, {2, 20, 10}};
  EXPECT_TRUE(g.on_digest(1, same_ms, 1000));
  EXPECT_EQ(g.entry(2), (GossipEntry{2, 20, 10}));
  EXPECT_EQ(g.detector(2).samples(), 1u);
}

TEST(Gossip, NonsenseFromPeersIsIgnored) {
  Gossip g(0, 3, hundred_ms());
  g.start(5);
  const GossipEntry about_us[] = {{0, 999, 999}};
  EXPECT_FALSE(g.on_digest(1, about_us, 10));  // we are the authority on ourselves
  EXPECT_EQ(g.entry(0), (GossipEntry{0, 5, 0}));
  const GossipEntry unknown_node[] = {{3, 1, 1}, {~0u, 1, 1}};
  EXPECT_FALSE(g.on_digest(1, unknown_node, 10));
  const GossipEntry fine[] = {{1, 1, 1}};
  EXPECT_FALSE(g.on_digest(7, fine, 10));  // from an unknown index
  EXPECT_FALSE(g.on_digest(0, fine, 10));  // from ourselves
  EXPECT_FALSE(g.known(1));
  EXPECT_FALSE(g.on_digest(1, {}, 10));
}

TEST(Gossip, PickPeerIsUniformOverTheOthers) {
  Gossip g(2, 5);
  Random rnd(11);
  std::vector<int> count(5, 0);
  for (int i = 0; i < 40000; ++i)
    ++count[g.pick_peer(rnd.next())];
  EXPECT_EQ(count[2], 0);
  for (int n : {0, 1, 3, 4})
    EXPECT_NEAR(count[n], 10000, 400) << n;
  EXPECT_EQ(g.pick_peer(0), 0u);
  EXPECT_EQ(g.pick_peer(~uint64_t{0}), 4u);
  Gossip alone(0, 1);
  EXPECT_EQ(alone.pick_peer(12345), 0u);
}

TEST(Gossip, DigestRoundTrips) {
  const std::vector<GossipEntry> entries = {
      {0, 1, 2}, {4, ~uint64_t{0}, 0}, {~0u, 0, ~uint64_t{0}}, {7, 1715000000000, 123456}};
  std::string wire;
  Gossip::encode(entries, &wire);
  EXPECT_EQ(wire.size(), 5u + 20 * entries.size());
  std::vector<GossipEntry> back;
  ASSERT_TRUE(Gossip::decode(wire, &back));
  EXPECT_EQ(back, entries);
  wire.clear();
  Gossip::encode({}, &wire);
  back = entries;
  ASSERT_TRUE(Gossip::decode(wire, &back));
  EXPECT_TRUE(back.empty());
}

TEST(Gossip, MalformedDigestsAreRefused) {
  const std::vector<GossipEntry> entries = {{0, 1, 2}, {1, 3, 4}};
  std::string wire;
  Gossip::encode(entries, &wire);
  std::vector<GossipEntry> out;
  for (size_t len = 0; len < wire.size(); ++len) {  // every truncation
    EXPECT_FALSE(Gossip::decode(std::string_view(wire).substr(0, len), &out)) << len;
    EXPECT_TRUE(out.empty());
  }
  EXPECT_FALSE(Gossip::decode(wire + "x", &out));  // trailing bytes
  std::string bad_format = wire;
  bad_format[0] = 2;
  EXPECT_FALSE(Gossip::decode(bad_format, &out));
  // A count far beyond the limit is refused before anything is allocated.
  std::string huge;
  huge.push_back(1);
  huge.append("\xff\xff\xff\xff", 4);
  EXPECT_FALSE(Gossip::decode(huge, &out));
}

TEST(Gossip, DecodingRandomBytesNeverCrashes) {
  Random rnd(12);
  std::string valid;
  Gossip::encode(std::vector<GossipEntry>{{0, 1, 2}, {1, 3, 4}, {2, 5, 6}}, &valid);
  std::vector<GossipEntry> out;
  int accepted = 0;
  for (int i = 0; i < 100000; ++i) {
    std::string in;
    if (i % 2 == 0) {
      in.resize(rnd.uniform(80));
      for (char& c : in)
        c = static_cast<char>(rnd.next());
      if (!in.empty() && rnd.chance(0.5)) in[0] = 1;  // get past the format byte
    } else {                                          // a valid digest with a few bytes flipped
      in = valid;
      for (int k = 0, flips = static_cast<int>(rnd.range(1, 3)); k < flips; ++k)
        in[rnd.uniform(in.size())] = static_cast<char>(rnd.next());
    }
    if (Gossip::decode(in, &out)) {
      ++accepted;
      EXPECT_EQ(in.size(), 5 + 20 * out.size());
    }
  }
  EXPECT_GT(accepted, 0);  // flips inside the entries leave a well-formed digest
}

// Five nodes, each beating every 100 ms (at its own phase) and sending its digest to one
// random peer; messages take 1..20 ms. With push_pull, a node answers every pushed digest with
// its own (digest(), no version bump). Everything is driven by one seeded Random.
class Cluster {
 public:
  static constexpr int kNodes = 5;
  static constexpr int64_t kInterval = 100;

  Cluster(uint64_t seed, bool push_pull, PhiAccrual::Options o = hundred_ms())
      : rnd_(seed), push_pull_(push_pull) {
    for (uint32_t n = 0; n < kNodes; ++n) {
      nodes_.emplace_back(n, kNodes, o);
      nodes_.back().start(1000 + n);
      phase_.push_back(static_cast<int64_t>(rnd_.uniform(kInterval)));
      alive_.push_back(true);
    }
  }

  // Advances one millisecond: beats that are due, then messages that arrive.
  void step() {
    for (uint32_t n = 0; n < kNodes; ++n) {
      if (alive_[n] && now_ % kInterval == phase_[n])
        send(n, nodes_[n].pick_peer(rnd_.next()), nodes_[n].beat(), false);
    }
    while (!in_flight_.empty() && std::get<0>(in_flight_.begin()->first) <= now_) {
      const Message m = in_flight_.begin()->second;
      in_flight_.erase(in_flight_.begin());
      if (!alive_[m.to]) continue;
      std::vector<GossipEntry> digest;
      EXPECT_TRUE(Gossip::decode(m.wire, &digest));
      nodes_[m.to].on_digest(m.from, digest, now_);
      if (push_pull_ && !m.reply) send(m.to, m.from, nodes_[m.to].digest(), true);
    }
    ++now_;
  }

  void run_until(int64_t t) {
    while (now_ < t)
      step();
  }

  // The first time every node knows every node.
  int64_t run_until_all_known(int64_t limit) {
    while (now_ < limit) {
      step();
      bool all = true;
      for (uint32_t a = 0; a < kNodes; ++a)
        for (uint32_t b = 0; b < kNodes; ++b)
          all = all && nodes_[a].known(b);
      if (all) return now_;
    }
    return -1;
  }

  // How many beats behind `observer` is on `subject` (the subject's own count minus what the
  // observer has); -1 if it has not heard of it at all.
  int64_t lag(uint32_t observer, uint32_t subject) const {
    if (!nodes_[observer].known(subject)) return -1;
    return static_cast<int64_t>(nodes_[subject].entry(subject).version -
                                nodes_[observer].entry(subject).version);
  }

  // Over the live nodes: how many (observer, subject) pairs see a live subject as down.
  int false_downs() const {
    int count = 0;
    for (uint32_t a = 0; a < kNodes; ++a)
      for (uint32_t b = 0; b < kNodes; ++b)
        count += alive_[a] && alive_[b] && nodes_[a].state(b, now_, kThreshold) == State::kDown;
    return count;
  }

  int64_t now() const { return now_; }
  const Gossip& node(uint32_t n) const { return nodes_[n]; }
  void kill(uint32_t n) { alive_[n] = false; }

 private:
  struct Message {
    uint32_t from, to;
    std::string wire;
    bool reply;
  };

  void send(uint32_t from, uint32_t to, const std::vector<GossipEntry>& digest, bool reply) {
    std::string wire;
    Gossip::encode(digest, &wire);
    const int64_t at = now_ + static_cast<int64_t>(rnd_.range(1, 20));
    in_flight_.emplace(std::make_tuple(at, seq_++), Message{from, to, std::move(wire), reply});
  }

  Random rnd_;
  bool push_pull_;
  std::vector<Gossip> nodes_;
  std::vector<int64_t> phase_;
  std::vector<bool> alive_;
  std::map<std::tuple<int64_t, uint64_t>, Message> in_flight_;
  uint64_t seq_ = 0;
  int64_t now_ = 0;
};

struct Spread {
  int64_t all_known_at = 0;  // worst over the seeds
  int64_t max_lag = 0;       // beats, worst over the seeds
  double mean_lag = 0;       // beats, worst over the seeds
  int false_downs = 0;       // (observer, subject, ms) samples, summed over the seeds
};

// 20 seeded clusters, 10 s each after everyone knows everyone.
Spread measure_spread(bool push_pull, PhiAccrual::Options o = hundred_ms()) {
  Spread s;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    Cluster c(seed, push_pull, o);
    const int64_t known = c.run_until_all_known(5000);
    EXPECT_GE(known, 0) << seed;
    s.all_known_at = std::max(s.all_known_at, known);
    double sum = 0;
    int samples = 0;
    while (c.now() < known + 10000) {
      c.step();
      s.false_downs += c.false_downs();
      for (uint32_t a = 0; a < Cluster::kNodes; ++a) {
        for (uint32_t b = 0; b < Cluster::kNodes; ++b) {
          if (a == b) continue;
          s.max_lag = std::max(s.max_lag, c.lag(a, b));
          sum += static_cast<double>(c.lag(a, b));
          ++samples;
        }
      }
    }
    s.mean_lag = std::max(s.mean_lag, sum / samples);
  }
  return s;
}

// The bounds are the worst figures measured over 300 seeds (10 s each): push-pull, everyone
// knows everyone by 400 ms, the worst lag is 6 beats, the mean 0.72 beats, and no live node
// was ever seen as down at threshold 8.
TEST(Gossip, HeartbeatsReachEveryNodeWithinAFewRounds) {
  const Spread s = measure_spread(/*push_pull=*/true);
  EXPECT_LE(s.all_known_at, 4 * Cluster::kInterval);
  EXPECT_LE(s.max_lag, 6);
  EXPECT_LT(s.mean_lag, 0.8);
  EXPECT_EQ(s.false_downs, 0);
}

// Push alone is about twice as slow (300 seeds: everyone known by 1108 ms, worst lag 13 beats,
// mean 1.45), and silences of a second are then common enough that with the default options
// (no acceptable pause, 100 ms std dev floor) live nodes are seen as down 0.06% of the time.
// acceptable_pause_ms = 500 removed every false down over the 300 seeds.
TEST(Gossip, PushOnlyGossipIsSlowerAndNeedsAnAcceptablePause) {
  PhiAccrual::Options o = hundred_ms();
  o.acceptable_pause_ms = 500;
  const Spread s = measure_spread(/*push_pull=*/false, o);
  EXPECT_LE(s.all_known_at, 12 * Cluster::kInterval);
  EXPECT_LE(s.max_lag, 13);
  EXPECT_LT(s.mean_lag, 1.5);
  EXPECT_EQ(s.false_downs, 0);
}

// Push-pull, default options: a killed node is down everywhere within about a second (300
// seeds: 540..1022 ms), and no live node is ever seen as down.
TEST(Gossip, ClusterAgreesADeadNodeIsDownAndTheRestAreUp) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    Cluster c(seed, /*push_pull=*/true);
    c.run_until(3000);
    c.kill(4);
    const int64_t killed_at = c.now();
    std::vector<int64_t> down_at(Cluster::kNodes, -1);
    int false_downs = 0;
    while (c.now() < killed_at + 3000) {
      c.step();
      false_downs += c.false_downs();
      for (uint32_t a = 0; a < 4; ++a) {
        if (down_at[a] < 0 && c.node(a).state(4, c.now(), kThreshold) == State::kDown)
          down_at[a] = c.now();
      }
    }
    EXPECT_EQ(false_downs, 0) << seed;
    for (uint32_t a = 0; a < 4; ++a) {
      EXPECT_GE(down_at[a], killed_at + 500) << seed << " " << a;
      EXPECT_LE(down_at[a], killed_at + 1100) << seed << " " << a;
    }
  }
}

}  // namespace
}  // namespace rkv::leaderless
