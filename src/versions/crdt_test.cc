#include "versions/crdt.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace rkv::versions {
namespace {

constexpr uint8_t kStr = 0, kSet = 2;

// One replica: an object, its actor, and the deltas it made (in order).
struct Replica {
  explicit Replica(uint64_t a) : actor(a) {}
  uint64_t actor;
  CrdtObject obj;
  uint64_t seq = 0, hlc = 0;
  std::vector<CrdtObject> made;
  CDot dot() { return CDot{actor, ++seq, 0}; }
};

TEST(Crdt, EveryIncrementCountsAcrossReplicas) {
  Replica a(1), b(2);
  for (int i = 0; i < 5; ++i)
    a.made.push_back(a.obj.increment(kStr, "", a.actor, 1, 1));
  for (int i = 0; i < 3; ++i)
    b.made.push_back(b.obj.increment(kStr, "", b.actor, 1, -2));
  for (auto& d : b.made)
    a.obj.join(d);
  for (auto& d : a.made)
    b.obj.join(d);
  EXPECT_EQ(a.obj, b.obj);
  int64_t i;
  double f;
  bool hf;
  a.obj.cells[kStr][""].contribution(&i, &f, &hf);
  EXPECT_EQ(i, 5 - 6);
  EXPECT_FALSE(hf);
}

TEST(Crdt, AWriteResetsTheIncrementsItSawAndConcurrentOnesSurvive) {
  Replica a(1), b(2);
  auto inc = a.obj.increment(kStr, "", a.actor, 1, 10);
  b.obj.join(inc);
  auto set = b.obj.write(kStr, "", "5", b.dot(), 100);   // saw +10
  auto inc2 = a.obj.increment(kStr, "", a.actor, 1, 1);  // concurrent with the SET
  a.obj.join(set);
  b.obj.join(inc2);
  EXPECT_EQ(a.obj, b.obj);
  const Cell& c = a.obj.cells[kStr][""];
  int64_t i;
  double f;
  bool hf;
  c.contribution(&i, &f, &hf);
  EXPECT_EQ(c.shown()->value, "5");
  EXPECT_EQ(i, 1);  // 5 + 1: the increment the SET did not see
}

// A key deleted and collected on one replica starts its counters anew; a replica that still
// holds the old (reset) counter adds the new one instead of taking it for the old.
TEST(Crdt, ACounterStartedAfterCollectionIsNotMistakenForTheOld) {
  Replica a(1), b(2);
  for (int i = 0; i < 5; ++i)
    b.obj.join(a.obj.increment(kStr, "", a.actor, 1, 1));
  b.obj.join(a.obj.remove_all());
  a.obj = CrdtObject();  // collected on a, not yet on b
  auto inc = a.obj.increment(kStr, "", a.actor, 9, 1);
  b.obj.join(inc);
  int64_t i;
  double f;
  bool hf;
  b.obj.cells[kStr][""].contribution(&i, &f, &hf);
  EXPECT_EQ(i, 1);
}

TEST(Crdt, AddWinsOverAConcurrentRemoveAndRemovesOnlyWhatWasSeen) {
  Replica a(1), b(2);
  auto add1 = a.obj.write(kSet, "m", "", a.dot(), 1);
  b.obj.join(add1);
  auto rem = b.obj.remove(kSet, "m");                  // removes add1
  auto add2 = a.obj.write(kSet, "m", "", a.dot(), 2);  // concurrent re-add... saw add1
  // add2 removed add1 itself and adds a new dot the remove never saw: the member stays.
  a.obj.join(rem);
  b.obj.join(add2);
  EXPECT_EQ(a.obj, b.obj);
  EXPECT_TRUE(a.obj.cells[kSet]["m"].present());
  // A remove that arrives before the add it removes still wins over that add.
  Replica c(3);
  c.obj.join(rem);
  c.obj.join(add1);
  EXPECT_FALSE(c.obj.cells[kSet]["m"].present());
}

TEST(Crdt, ConcurrentRegisterWritesShowTheNewestStamp) {
  Replica a(1), b(2);
  auto wa = a.obj.write(kStr, "", "from-a", a.dot(), 200);
  auto wb = b.obj.write(kStr, "", "from-b", b.dot(), 100);
  a.obj.join(wb);
  b.obj.join(wa);
  EXPECT_EQ(a.obj, b.obj);
  EXPECT_EQ(a.obj.cells[kStr][""].shown()->value, "from-a");
  EXPECT_EQ(a.obj.cells[kStr][""].concurrent(), 1u);
}

CrdtObject random_op(Replica& r, std::mt19937_64& rng) {
  const std::string elems[] = {"", "x", "y"};
  const std::string& e = elems[rng() % 3];
  const uint8_t t = rng() % 2 ? kStr : kSet;
  r.hlc += 1 + rng() % 3;
  switch (rng() % 7) {
    case 0:
    case 1:
      return r.obj.write(t, e, "v" + std::to_string(rng() % 5), r.dot(), r.hlc);
    case 2:
      return r.obj.remove(t, e);
    case 3:
      return r.obj.increment(t, e, r.actor, ++r.seq, static_cast<int64_t>(rng() % 7) - 3);
    case 4:
      return r.obj.increment_float(t, e, r.actor, ++r.seq,
                                   static_cast<double>(rng() % 5) / 4 - 0.5);
    case 5:
      return r.obj.set_type(t, r.hlc, r.actor);
    default:
      return rng() % 4 ? r.obj.set_expiry(static_cast<int64_t>(rng() % 100), r.hlc, r.actor)
                       : r.obj.remove_all();
  }
}

// Random operations on three replicas, each also receiving some of the others' deltas as it
// goes (so later deltas observe earlier ones); then every replica gets every delta in its own
// random order, with duplicates and some deltas merged into groups first: one state.
TEST(Crdt, RandomHistoriesConvergeWhateverTheDeliveryOrder) {
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    std::mt19937_64 rng(seed);
    std::vector<Replica> rs = {Replica(1), Replica(2), Replica(3)};
    std::vector<CrdtObject> all;
    for (int step = 0; step < 40; ++step) {
      Replica& r = rs[rng() % 3];
      CrdtObject d = random_op(r, rng);
      all.push_back(d);
      if (rng() % 3 == 0) rs[rng() % 3].obj.join(all[rng() % all.size()]);
    }
    std::vector<CrdtObject> finals;
    for (Replica& r : rs) {
      std::vector<CrdtObject> order = all;
      std::shuffle(order.begin(), order.end(), rng);
      for (size_t i = 0; i + 1 < order.size(); i += 1 + rng() % 3) {
        CrdtObject group = order[i];  // grouped: joined together before delivery
        group.join(order[i + 1]);
        r.obj.join(group);
      }
      for (const CrdtObject& d : order)
        r.obj.join(d);
      r.obj.join(order[rng() % order.size()]);  // a duplicate
      finals.push_back(r.obj);
    }
    ASSERT_EQ(finals[0], finals[1]) << "seed " << seed;
    ASSERT_EQ(finals[1], finals[2]) << "seed " << seed;
    // And join's laws on states directly.
    CrdtObject a = rs[0].obj, b = rs[1].obj, c = all[seed % all.size()];
    CrdtObject ab = a, ba = b;
    ab.join(b);
    ba.join(a);
    ASSERT_EQ(ab, ba);
    CrdtObject ab_c = ab, a_bc = a, bc = b;
    ab_c.join(c);
    bc.join(c);
    a_bc.join(bc);
    ASSERT_EQ(ab_c, a_bc);
    CrdtObject aa = a;
    aa.join(a);
    ASSERT_EQ(aa, a);
    // Encoding round-trips.
    std::string bytes;
    finals[0].encode(&bytes);
    CrdtObject back;
    ASSERT_TRUE(CrdtObject::decode(bytes, &back));
    ASSERT_EQ(back, finals[0]);
  }
}

TEST(Crdt, DecodeRefusesGarbage) {
  Replica a(1);
  a.obj.write(kSet, "m", "", a.dot(), 5);
  a.obj.increment(kStr, "", 1, 2, 3);
  std::string bytes;
  a.obj.encode(&bytes);
  CrdtObject out;
  for (size_t n = 0; n < bytes.size(); ++n)
    EXPECT_FALSE(CrdtObject::decode(std::string_view(bytes).substr(0, n), &out)) << n;
  std::mt19937 rng(3);
  for (int i = 0; i < 3000; ++i) {
    std::string c = bytes;
    c[rng() % c.size()] = static_cast<char>(rng());
    (void)CrdtObject::decode(c, &out);
  }
}

}  // namespace
}  // namespace rkv::versions
