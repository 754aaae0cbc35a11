#include "versions/dvv.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bitset>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "core/random.h"
#include "core/varint.h"

namespace rkv::versions {
namespace {

constexpr ActorId kA = (1ull << 32) | 1;  // node 1, data epoch 1
constexpr ActorId kB = (2ull << 32) | 1;
constexpr ActorId kC = (3ull << 32) | 1;

Sibling val(std::string value, uint64_t hlc = 0) {
  Sibling s;
  s.value = std::move(value);
  s.hlc = hlc;
  return s;
}

std::vector<std::string> values(const Versioned& v) {
  std::vector<std::string> out;
  for (const Sibling& s : v.siblings())
    out.push_back(s.value);
  return out;
}

std::string encoded(const Versioned& v) {
  std::string out;
  v.encode(&out);
  return out;
}

Versioned merged(Versioned a, const Versioned& b) {
  a.merge(b);
  return a;
}

using Strings = std::vector<std::string>;

// ---- the classic scenarios

TEST(Dvv, FreshObjectIsEmpty) {
  Versioned v;
  EXPECT_TRUE(v.empty());
  EXPECT_EQ(v.winner(), nullptr);
  EXPECT_TRUE(v.deleted_at(0));
  v.update(kA, {}, val("x"));
  EXPECT_FALSE(v.empty());
}

TEST(Dvv, BlindWritesAtTwoReplicasBecomeTwoSiblings) {
  Versioned a, b;
  EXPECT_EQ(a.update(kA, {}, val("x")), (Dot{kA, 1}));
  EXPECT_EQ(b.update(kB, {}, val("y")), (Dot{kB, 1}));
  a.merge(b);
  b.merge(a);
  EXPECT_EQ(a, b);
  EXPECT_EQ(values(a), (Strings{"x", "y"}));  // sorted by dot: kA < kB
  EXPECT_EQ(a.context().get(kA), 1u);
  EXPECT_EQ(a.context().get(kB), 1u);
}

TEST(Dvv, BlindWritesAtOneReplicaAreAlsoConcurrent) {
  Versioned a;
  a.update(kA, {}, val("x"));
  EXPECT_EQ(a.update(kA, {}, val("y")), (Dot{kA, 2}));
  EXPECT_EQ(values(a), (Strings{"x", "y"}));  // neither client saw the other's write
}

TEST(Dvv, WriteWithTheContextOfAReadReplacesExactlyTheSiblingsRead) {
  Versioned a, b, c;
  a.update(kA, {}, val("x"));
  b.update(kB, {}, val("y"));
  a.merge(b);
  const VersionVector read = a.context();  // the client saw {x, y}
  c.update(kC, {}, val("z"));              // concurrently, unseen by the client
  a.merge(c);
  EXPECT_EQ(values(a), (Strings{"x", "y", "z"}));
  EXPECT_EQ(a.update(kA, read, val("w")), (Dot{kA, 2}));
  EXPECT_EQ(values(a), (Strings{"w", "z"}));
  // The replicas that still hold x or y learn they were superseded.
  b.merge(a);
  c.merge(a);
  EXPECT_EQ(values(b), (Strings{"w", "z"}));
  EXPECT_EQ(b, a);
  EXPECT_EQ(c, a);
}

TEST(Dvv, WriteWithAStaleContextKeepsTheNewerConcurrentSibling) {
  Versioned a;
  a.update(kA, {}, val("v1"));
  const VersionVector read1 = a.context();  // client 1 reads v1
  const VersionVector read2 = a.context();  // client 2 reads v1
  a.update(kA, read2, val("v2"));           // client 2 replaces v1
  EXPECT_EQ(values(a), (Strings{"v2"}));
  a.update(kA, read1, val("v3"));  // client 1 never saw v2: both stay
  EXPECT_EQ(values(a), (Strings{"v2", "v3"}));
  a.update(kA, a.context(), val("v4"));  // a context naming the whole object (aliasing ok)
  EXPECT_EQ(values(a), (Strings{"v4"}));
  EXPECT_EQ(a.siblings()[0].dot, (Dot{kA, 4}));
}

TEST(Dvv, MergeDropsWhatTheOtherSideHasSupersededAndNeverResurrectsIt) {
  Versioned a, b;
  a.update(kA, {}, val("x"));
  b.merge(a);
  b.update(kB, b.context(), val("y"));  // overwrites x at another replica
  const Versioned old_a = a;
  a.merge(b);
  EXPECT_EQ(values(a), (Strings{"y"}));
  a.merge(old_a);  // a late copy of the old state changes nothing
  EXPECT_EQ(values(a), (Strings{"y"}));
  b.merge(old_a);
  EXPECT_EQ(values(b), (Strings{"y"}));
}

TEST(Dvv, MergeUnseenKeepsOutWhatThisReplicaTookAndNoLongerHolds) {
  Versioned a, b;
  b.update(kB, {}, val("x"));
  const Versioned stale = b;  // a copy of x, to arrive late
  a.merge(b);
  a.update(kA, a.context(), val("y"));  // x superseded at a ...
  Versioned forgot;                     // ... and a replica that forgot the key altogether
  VersionVector seen = a.context();
  forgot.merge_unseen(stale, seen);
  EXPECT_TRUE(forgot.siblings().empty());
  EXPECT_TRUE(forgot.context().covers({kB, 1}));
  Versioned fresh;  // what it has not taken arrives as with merge()
  fresh.merge_unseen(stale, VersionVector{});
  EXPECT_EQ(fresh, stale);
  a.merge_unseen(stale, seen);  // a sibling held here stays whatever `seen` says
  EXPECT_EQ(values(a), (Strings{"y"}));
}

TEST(Dvv, ForgetDeadDropsTombstonesAndExpiredValuesAndKeepsTheirDots) {
  Versioned a, b;
  a.update(kA, {}, val("x"));
  b.update(kB, {}, Sibling{{}, 1, true, 0, ""});  // a concurrent delete
  a.merge(b);
  ASSERT_EQ(a.siblings().size(), 2u);
  EXPECT_EQ(a.forget_dead(0), 1u);
  EXPECT_EQ(values(a), (Strings{"x"}));
  a.merge(b);  // the forgotten tombstone does not come back
  EXPECT_EQ(a.siblings().size(), 1u);
  Sibling e = val("e");
  e.expire_at_ms = 100;
  Versioned c;
  c.update(kC, {}, e);
  EXPECT_EQ(c.forget_dead(99), 0u);
  EXPECT_EQ(c.forget_dead(100), 1u);
  EXPECT_TRUE(c.siblings().empty());
  EXPECT_FALSE(c.context().empty());
}

TEST(Dvv, ContextReadAtOneReplicaSupersedesDotsTheCoordinatorHasNotSeen) {
  Versioned a, c;
  c.update(kC, {}, val("x"));
  const VersionVector read = c.context();  // the client read x at c
  a.update(kA, read, val("w"));            // and writes at a, which never saw x
  EXPECT_EQ(values(a), (Strings{"w"}));
  EXPECT_TRUE(a.context().covers({kC, 1}));
  a.merge(c);  // x arrives late: already superseded
  EXPECT_EQ(values(a), (Strings{"w"}));
  c.merge(a);
  EXPECT_EQ(c, a);
}

TEST(Dvv, NewDotIsAboveAClientContextNamingUnseenDotsOfTheCoordinator) {
  Versioned a;
  a.update(kA, {}, val("x"));
  VersionVector future;
  future.set(kA, 5);  // no genuine read produces this; the dot must still be fresh
  EXPECT_EQ(a.update(kA, future, val("y")), (Dot{kA, 6}));
  EXPECT_EQ(values(a), (Strings{"y"}));
  EXPECT_TRUE(a.well_formed());
}

TEST(Dvv, TombstonesAndExpiryDecideDeletedAt) {
  Versioned v;
  Sibling del;
  del.tombstone = true;
  v.update(kA, {}, del);
  EXPECT_TRUE(v.deleted_at(0));
  Sibling expiring = val("x");
  expiring.expire_at_ms = 1000;
  v.update(kB, {}, expiring);  // concurrent with the delete
  EXPECT_FALSE(v.deleted_at(999));
  EXPECT_TRUE(v.deleted_at(1000));  // expired at its deadline
  v.update(kC, {}, val("forever"));
  EXPECT_FALSE(v.deleted_at(1'000'000'000'000));
}

// ---- last-write-wins and the displayed winner

TEST(Dvv, WinnerIsTheGreatestByHlcThenDot) {
  Versioned v;
  v.update(kB, {}, val("b", 7));
  v.update(kA, {}, val("a", 9));
  v.update(kC, {}, val("c", 7));
  ASSERT_NE(v.winner(), nullptr);
  EXPECT_EQ(v.winner()->value, "a");
  Versioned tie;
  tie.update(kB, {}, val("b", 7));
  tie.update(kA, {}, val("a", 7));
  tie.update(kA, {}, val("a2", 7));
  EXPECT_EQ(tie.winner()->value, "b");  // equal hlc: greater actor
  Versioned same_actor;
  same_actor.update(kA, {}, val("first", 7));
  same_actor.update(kA, {}, val("second", 7));
  EXPECT_EQ(same_actor.winner()->value, "second");  // then greater counter
}

TEST(Dvv, ResolveLwwKeepsTheMaximumAndCountsTheDiscards) {
  Versioned v;
  EXPECT_EQ(v.resolve_lww(), 0u);
  v.update(kA, {}, val("a", 5));
  EXPECT_EQ(v.resolve_lww(), 0u);
  v.update(kB, {}, val("b", 8));
  v.update(kC, {}, val("c", 6));
  v.update(kA, {}, val("a2", 8));  // same hlc as b, smaller actor
  const VersionVector ctx = v.context();
  const Sibling expected = *v.winner();
  EXPECT_EQ(v.resolve_lww(), 3u);
  ASSERT_EQ(v.siblings().size(), 1u);
  EXPECT_EQ(v.siblings()[0], expected);
  EXPECT_EQ(v.siblings()[0].value, "b");
  EXPECT_EQ(v.context(), ctx);  // the discarded writes stay seen
  EXPECT_EQ(v.resolve_lww(), 0u);
}

TEST(Dvv, ResolvedDiscardsSpreadThroughMerge) {
  Versioned a, b;
  a.update(kA, {}, val("old", 1));
  b.update(kB, {}, val("new", 2));
  Versioned a_copy = a;  // a replica still holding only "old"
  a.merge(b);
  EXPECT_EQ(a.resolve_lww(), 1u);
  a_copy.merge(a);
  EXPECT_EQ(values(a_copy), (Strings{"new"}));
}

// ---- randomized histories against a reference model

// The reference model tracks causality explicitly: every write gets an index, the set of writes
// its client had seen (its past), and every replica the set of writes it knows of. The values an
// object must hold are exactly the known writes that no known write has in its past: pairwise
// concurrent by construction.
constexpr size_t kMaxWrites = 512;
using WriteSet = std::bitset<kMaxWrites>;

struct Model {
  std::vector<Sibling> writes;  // by index, with their dots
  std::map<Dot, size_t> index_of;
  std::vector<WriteSet> past;

  WriteSet alive(const WriteSet& known) const {
    WriteSet superseded;
    for (size_t i = 0; i < writes.size(); ++i)
      if (known.test(i)) superseded |= past[i];
    return known & ~superseded;
  }
};

struct Replica {
  ActorId actor = 0;
  Versioned obj;
  WriteSet known;
  uint64_t own_writes = 0;
};

struct Read {
  VersionVector ctx;
  WriteSet known;
};

// The LWW order of resolve_lww() and winner().
bool lww_less(const Sibling& a, const Sibling& b) {
  return std::tie(a.hlc, a.dot) < std::tie(b.hlc, b.dot);
}

// Checks one replica against the model. Without lww its siblings are exactly the alive writes;
// with lww (and hybrid clocks that respect causality) exactly the greatest write it knows of.
void check_replica(const Model& m, const Replica& r, bool lww) {
  const Versioned& v = r.obj;
  ASSERT_TRUE(v.well_formed());
  // The context stands for exactly the writes the replica knows of.
  WriteSet expanded;
  for (const auto& [actor, n] : v.context().entries()) {
    for (uint64_t c = 1; c <= n; ++c) {
      auto it = m.index_of.find(Dot{actor, c});
      ASSERT_NE(it, m.index_of.end()) << "context names a dot nobody wrote";
      expanded.set(it->second);
    }
  }
  ASSERT_EQ(expanded, r.known);
  const WriteSet alive = m.alive(r.known);
  WriteSet held;
  for (const Sibling& s : v.siblings()) {
    auto it = m.index_of.find(s.dot);
    ASSERT_NE(it, m.index_of.end());
    ASSERT_EQ(s, m.writes[it->second]);  // the content travels unchanged with its dot
    held.set(it->second);
  }
  // Siblings are pairwise concurrent writes: none is in another's past.
  for (size_t i = 0; i < m.writes.size(); ++i)
    if (held.test(i)) {
      ASSERT_TRUE((m.past[i] & held).none());
    }
  if (!lww) {
    ASSERT_EQ(held, alive) << "siblings " << held.count() << " expected " << alive.count();
    return;
  }
  const Sibling* greatest = nullptr;
  for (size_t i = 0; i < m.writes.size(); ++i) {
    if (r.known.test(i) && (!greatest || lww_less(*greatest, m.writes[i]))) greatest = &m.writes[i];
  }
  ASSERT_EQ(v.siblings().size(), greatest ? 1u : 0u);
  if (greatest) {
    ASSERT_EQ(v.siblings()[0], *greatest);
  }
}

struct HistoryStats {
  size_t writes = 0;
  size_t max_siblings = 0;
  size_t lww_discarded = 0;
};

// Replicas doing updates (blind, with a fresh read from any replica, or with a stale read) and
// one- and two-way merges, checked against the model after every step. Snapshots of replica
// states are appended to *snapshots when given.
HistoryStats run_history(uint64_t seed, int replicas, int steps, bool lww,
                         std::vector<Versioned>* snapshots = nullptr) {
  Random rng(seed);
  Model m;
  std::vector<Replica> rs(replicas);
  for (int i = 0; i < replicas; ++i)
    rs[i].actor = (static_cast<ActorId>(i + 1) << 32) | (seed % 3 + 1);
  std::vector<Read> saved;
  HistoryStats stats;
  auto resolve = [&](Replica& r) {
    if (lww) stats.lww_discarded += r.obj.resolve_lww();
  };
  for (int step = 0; step < steps; ++step) {
    Replica& r = rs[rng.uniform(replicas)];
    Replica& q = rs[rng.uniform(replicas)];
    const uint64_t op = rng.uniform(100);
    if (op < 45 && m.writes.size() < kMaxWrites) {
      Read read;  // blind by default
      const uint64_t how = rng.uniform(10);
      if (how >= 3 && (how < 7 || saved.empty())) {
        read = Read{q.obj.context(), q.known};
        if (rng.chance(0.3)) saved.push_back(read);
        if (saved.size() > 8) saved.erase(saved.begin());
      } else if (how >= 7) {
        read = saved[rng.uniform(saved.size())];
      }
      Sibling s;
      s.hlc = rng.uniform(1000);  // collisions on purpose: ties break by dot
      if (lww) {
        // The engine's hybrid clocks respect causality: a write's hlc is above those it read.
        for (size_t i = 0; i < m.writes.size(); ++i)
          if (read.known.test(i)) s.hlc = std::max(s.hlc, m.writes[i].hlc + 1 + rng.uniform(3));
      }
      s.tombstone = rng.chance(0.1);
      if (!s.tombstone) s.value = "w" + std::to_string(m.writes.size());
      if (rng.chance(0.1)) s.expire_at_ms = static_cast<int64_t>(rng.uniform(5000)) - 100;
      const Dot dot = r.obj.update(r.actor, read.ctx, s);
      EXPECT_EQ(dot, (Dot{r.actor, ++r.own_writes}));
      s.dot = dot;
      const size_t idx = m.writes.size();
      m.writes.push_back(s);
      m.index_of[dot] = idx;
      m.past.push_back(read.known);
      r.known |= read.known;
      r.known.set(idx);
      resolve(r);
      ++stats.writes;
    } else if (op < 80) {
      r.obj.merge(q.obj);
      r.known |= q.known;
      resolve(r);
    } else {
      const Versioned r_before = r.obj;
      r.obj.merge(q.obj);
      q.obj.merge(r_before);
      r.known |= q.known;
      q.known = r.known;
      resolve(r);
      resolve(q);
      EXPECT_EQ(r.obj, q.obj);
    }
    for (const Replica& x : rs) {
      check_replica(m, x, lww);
      if (::testing::Test::HasFatalFailure()) {
        ADD_FAILURE() << "seed " << seed << " step " << step;
        return stats;
      }
      stats.max_siblings = std::max(stats.max_siblings, x.obj.siblings().size());
    }
    if (snapshots && rng.chance(0.15)) snapshots->push_back(rs[rng.uniform(replicas)].obj);
  }
  // Full anti-entropy: every replica ends with the same object.
  for (int round = 0; round < 2; ++round)
    for (Replica& x : rs)
      for (Replica& y : rs) {
        x.obj.merge(y.obj);
        resolve(x);
      }
  for (const Replica& x : rs)
    EXPECT_EQ(x.obj, rs[0].obj) << "seed " << seed;
  return stats;
}

TEST(Dvv, RandomHistoriesHoldExactlyTheConcurrentWritesOfTheReferenceModel) {
  size_t max_siblings = 0;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    const HistoryStats stats = run_history(seed, 2 + static_cast<int>(seed % 4), 400, false);
    ASSERT_FALSE(HasFailure()) << "seed " << seed;
    max_siblings = std::max(max_siblings, stats.max_siblings);
  }
  EXPECT_GE(max_siblings, 4u);  // the histories do produce real concurrency
}

TEST(Dvv, RandomLwwHistoriesKeepTheGreatestKnownWriteAndConverge) {
  size_t discarded = 0;
  for (uint64_t seed = 100; seed < 130; ++seed) {
    discarded += run_history(seed, 3 + static_cast<int>(seed % 3), 300, true).lww_discarded;
    ASSERT_FALSE(HasFailure()) << "seed " << seed;
  }
  EXPECT_GT(discarded, 0u);
}

// resolve_lww() claims a discarded write was seen; merges then drop it everywhere. That is only
// right while the winner stays ahead of it, i.e. when hlcs respect causality (a write's hlc above
// every hlc in the context it was written with). Here they do not, and every value vanishes
// although no write superseded w or w2 (the engines must observe the hlcs they read and merge).
TEST(Dvv, LwwLosesEveryValueWhenHlcsContradictCausality) {
  Versioned x, y, z;
  x.update(kA, {}, val("w3", 30));
  z = x;                                    // z holds w3 only
  x.update(kA, x.context(), val("w", 20));  // w supersedes w3 with a lower hlc: the violation
  y.update(kB, {}, val("w1", 25));
  x.merge(y);
  EXPECT_EQ(x.resolve_lww(), 1u);            // x: {w1} (w discarded)
  y.update(kB, y.context(), val("w2", 26));  // y: {w2} supersedes w1
  z.merge(y);
  EXPECT_EQ(z.resolve_lww(), 1u);  // z: {w3} (w2 discarded)
  x.merge(y);                      // x: {w2}
  EXPECT_EQ(values(x), (Strings{"w2"}));
  x.merge(z);  // w2 seen and discarded by z, w3 seen and superseded by x
  EXPECT_TRUE(x.siblings().empty());
  EXPECT_FALSE(x.context().empty());
}

std::vector<Versioned> sample_objects() {
  std::vector<Versioned> out;
  for (uint64_t seed = 1; seed <= 8; ++seed)
    run_history(seed, 4, 200, false, &out);
  return out;
}

TEST(Dvv, MergeIsCommutativeAssociativeAndIdempotent) {
  const std::vector<Versioned> objs = sample_objects();
  ASSERT_GT(objs.size(), 100u);
  Random rng(3);
  for (int i = 0; i < 3000; ++i) {
    const Versioned& a = objs[rng.uniform(objs.size())];
    const Versioned& b = objs[rng.uniform(objs.size())];
    const Versioned& c = objs[rng.uniform(objs.size())];
    ASSERT_EQ(merged(a, b), merged(b, a));
    ASSERT_EQ(merged(merged(a, b), c), merged(a, merged(b, c)));
    ASSERT_EQ(merged(a, a), a);
    ASSERT_EQ(merged(merged(a, b), b), merged(a, b));
  }
}

TEST(Dvv, CoversIsTrueExactlyWhenMergingChangesNothing) {
  const std::vector<Versioned> objs = sample_objects();
  Random rng(4);
  int covering = 0;
  for (int i = 0; i < 5000; ++i) {
    const Versioned& a = objs[rng.uniform(objs.size())];
    const Versioned& b = objs[rng.uniform(objs.size())];
    const bool unchanged = merged(a, b) == a;
    ASSERT_EQ(a.covers(b), unchanged);
    ASSERT_TRUE(merged(a, b).covers(a));
    ASSERT_TRUE(merged(a, b).covers(b));
    covering += unchanged;
  }
  EXPECT_GT(covering, 100);
  EXPECT_LT(covering, 4900);
}

TEST(Dvv, MergeKeepsOneCopyOfADotWhoseContentsDisagree) {
  Versioned a, b;
  a.update(kA, {}, val("x", 1));
  b.update(kA, {}, val("y", 1));  // the same dot reused (an actor id reused after data loss)
  ASSERT_EQ(merged(a, b), merged(b, a));
  EXPECT_EQ(values(merged(a, b)), (Strings{"y"}));
  EXPECT_TRUE(merged(a, b).covers(a));
  EXPECT_FALSE(a.covers(b));
  EXPECT_TRUE(b.covers(a));
}

TEST(Dvv, DigestsAreEqualExactlyForEqualObjects) {
  const std::vector<Versioned> objs = sample_objects();
  Random rng(5);
  int equal_pairs = 0;
  for (int i = 0; i < 20000; ++i) {
    const Versioned& a = objs[rng.uniform(objs.size())];
    const Versioned& b = objs[rng.uniform(objs.size())];
    ASSERT_EQ(a == b, a.digest() == b.digest());
    equal_pairs += a == b;
  }
  EXPECT_GT(equal_pairs, 0);
  // Each field of a sibling counts.
  Versioned base;
  base.update(kA, {}, val("x", 5));
  const uint64_t d = base.digest();
  auto changed = [&](auto edit) {
    Versioned v;
    Sibling s = val("x", 5);
    edit(s);
    v.update(kA, {}, s);
    return v.digest();
  };
  EXPECT_EQ(changed([](Sibling&) {}), d);
  EXPECT_NE(changed([](Sibling& s) { s.value = "y"; }), d);
  EXPECT_NE(changed([](Sibling& s) { s.hlc = 6; }), d);
  EXPECT_NE(changed([](Sibling& s) { s.expire_at_ms = 1; }), d);
  EXPECT_NE(changed([](Sibling& s) { s.value.clear(); }), d);
  EXPECT_NE(changed([](Sibling& s) { s.value.clear(), s.tombstone = true; }), d);
  Versioned other_actor;
  other_actor.update(kB, {}, val("x", 5));
  EXPECT_NE(other_actor.digest(), d);
  // The same sibling under a context that has seen more: a different version state.
  VersionVector seen;
  seen.set(kC, 1);
  Versioned wider_context;
  wider_context.update(kA, seen, val("x", 5));
  ASSERT_EQ(wider_context.siblings(), base.siblings());
  EXPECT_NE(wider_context.digest(), d);
  // Merging nothing new keeps the digest.
  EXPECT_EQ(merged(base, Versioned{}).digest(), d);
}

// ---- encoding

TEST(Dvv, EncodeDecodeRoundTripsAndConsumesExactlyItsBytes) {
  std::vector<Versioned> objs = sample_objects();
  objs.emplace_back();
  Versioned extremes;
  Sibling s = val(std::string(300, '\0'), ~uint64_t{0});
  s.expire_at_ms = -1;
  extremes.update(~uint64_t{0}, {}, s);
  s.expire_at_ms = INT64_MIN;
  extremes.update(0, {}, s);
  objs.push_back(extremes);
  for (const Versioned& v : objs) {
    std::string bytes = encoded(v);
    const size_t size = bytes.size();
    bytes += "next";
    std::string_view in = bytes;
    Versioned out;
    out.update(kA, {}, val("sentinel"));
    ASSERT_TRUE(Versioned::decode(&in, &out));
    ASSERT_EQ(out, v);
    ASSERT_EQ(in, "next");
    ASSERT_EQ(bytes.size() - in.size(), size);
  }
}

// Hand-built encodings, to reach what encode() never writes.
struct Raw {
  std::string bytes = std::string(1, static_cast<char>(kVersionedFormat));
  Raw& context(std::initializer_list<std::pair<ActorId, uint64_t>> entries) {
    VersionVector v;
    for (const auto& [a, c] : entries)
      v.set(a, c);
    v.encode(&bytes);
    return *this;
  }
  Raw& count(uint64_t n) {
    put_varint(&bytes, n);
    return *this;
  }
  Raw& sibling(ActorId a, uint64_t c, uint8_t flags = 0, std::string value = "v") {
    put_varint(&bytes, a);
    put_varint(&bytes, c);
    put_varint(&bytes, 7);  // hlc
    bytes.push_back(static_cast<char>(flags));
    if (flags & 2) put_varint(&bytes, zigzag(0));
    if (!(flags & 1)) {
      put_varint(&bytes, value.size());
      bytes += value;
    }
    return *this;
  }
};

bool decodes(const std::string& bytes) {
  std::string_view in = bytes;
  Versioned out;
  return Versioned::decode(&in, &out);
}

TEST(Dvv, DecodeRefusesMalformedObjects) {
  EXPECT_TRUE(decodes(Raw().context({{1, 2}}).count(2).sibling(1, 1).sibling(1, 2).bytes));
  EXPECT_TRUE(decodes(Raw().context({{1, 2}}).count(1).sibling(1, 2, 1).bytes));  // tombstone
  EXPECT_FALSE(decodes(Raw().context({{1, 2}}).count(2).sibling(1, 2).sibling(1, 1).bytes));
  EXPECT_FALSE(decodes(Raw().context({{1, 2}}).count(2).sibling(1, 2).sibling(1, 2).bytes));
  EXPECT_FALSE(decodes(Raw().context({{1, 2}}).count(1).sibling(1, 0).bytes));     // counter 0
  EXPECT_FALSE(decodes(Raw().context({{1, 2}}).count(1).sibling(1, 3).bytes));     // not covered
  EXPECT_FALSE(decodes(Raw().context({{1, 2}}).count(1).sibling(2, 1).bytes));     // not covered
  EXPECT_FALSE(decodes(Raw().context({{1, 2}}).count(1).sibling(1, 1, 4).bytes));  // flag
  EXPECT_FALSE(decodes(Raw().context({{1, 2}}).count(1).sibling(1, 1, 2).bytes));  // expiry 0
  EXPECT_FALSE(decodes(Raw().context({{1, 2}}).count(1000).sibling(1, 1).bytes));
  EXPECT_FALSE(decodes(""));
  std::string wrong_format = Raw().context({}).count(0).bytes;
  EXPECT_TRUE(decodes(wrong_format));
  wrong_format[0] = 2;
  EXPECT_FALSE(decodes(wrong_format));
  // A value longer than what is left.
  std::string long_value = Raw().context({{1, 1}}).count(1).sibling(1, 1, 0, "abc").bytes;
  long_value.pop_back();
  EXPECT_FALSE(decodes(long_value));
}

TEST(Dvv, DecodeRefusesEveryTruncation) {
  Versioned v;
  Sibling s = val("hello", 12345);
  s.expire_at_ms = 99;
  v.update(kA, {}, s);
  Sibling del;
  del.tombstone = true;
  v.update(kB, {}, del);
  const std::string bytes = encoded(v);
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::string_view in(bytes.data(), n);
    Versioned out;
    EXPECT_FALSE(Versioned::decode(&in, &out)) << n;
    EXPECT_EQ(in.size(), n);
    EXPECT_TRUE(out.empty());
  }
}

TEST(Dvv, DecodeOfGarbageAndMutatedEncodingsNeverCrashes) {
  std::vector<Versioned> objs = sample_objects();
  Random rng(31);
  int accepted = 0;
  for (int i = 0; i < 6000; ++i) {
    std::string bytes;
    if (i % 2 == 0) {  // random bytes behind a valid format byte, biased towards small values
      bytes.push_back(static_cast<char>(kVersionedFormat));
      bytes.resize(1 + rng.uniform(40));
      for (size_t j = 1; j < bytes.size(); ++j)
        bytes[j] = static_cast<char>(rng.chance(0.6) ? rng.uniform(4) : rng.uniform(256));
    } else {  // a valid encoding with a few bytes flipped, cut or inserted
      bytes = encoded(objs[rng.uniform(objs.size())]);
      for (uint64_t k = rng.range(1, 3); k > 0; --k) {
        const size_t at = rng.uniform(bytes.size());
        switch (rng.uniform(3)) {
          case 0:
            bytes[at] = static_cast<char>(bytes[at] ^ (1 << rng.uniform(8)));
            break;
          case 1:
            bytes.resize(at);
            break;
          default:
            bytes.insert(at, 1, static_cast<char>(rng.uniform(256)));
            break;
        }
        if (bytes.empty()) break;
      }
    }
    std::string_view in = bytes;
    Versioned out;
    if (!Versioned::decode(&in, &out)) {
      ASSERT_EQ(in.size(), bytes.size());
      continue;
    }
    ++accepted;
    ASSERT_TRUE(out.well_formed());
    ASSERT_EQ(encoded(out), bytes.substr(0, bytes.size() - in.size()));  // canonical
  }
  EXPECT_GT(accepted, 50);
}

}  // namespace
}  // namespace rkv::versions
