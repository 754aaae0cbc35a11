#include "node/zset_index.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace rkv {
namespace {

// A sorted set as the index sees it: members in a KeyTable (which owns them), the order in
// the index.
struct Fixture {
  KeyTable members;
  ZsetIndex index;

  void add(double score, const std::string& m) {
    bool inserted = false;
    KeyTable::Entry* e = members.upsert(m, &inserted);
    ASSERT_TRUE(inserted);
    e->value.data = encode_score(score);
    index.insert(score, e);
  }
  void remove(double score, const std::string& m) {
    ASSERT_TRUE(index.erase(score, m));
    ASSERT_TRUE(members.erase(m));
  }
};

TEST(ZsetIndex, EmptyIndex) {
  ZsetIndex idx;
  EXPECT_EQ(idx.size(), 0u);
  EXPECT_EQ(idx.first(), nullptr);
  EXPECT_EQ(idx.at(0), nullptr);
  EXPECT_FALSE(idx.erase(1, "a"));
  EXPECT_EQ(idx.count_while([](double, std::string_view) { return true; }), 0u);
  EXPECT_TRUE(idx.valid());
}

TEST(ZsetIndex, OrdersByScoreThenMemberBytes) {
  Fixture f;
  f.add(2, "b");
  f.add(1, "z");
  f.add(2, "a");
  f.add(-std::numeric_limits<double>::infinity(), "low");
  f.add(std::numeric_limits<double>::infinity(), "high");
  f.add(2, "\xff");  // bytes compare unsigned: after "b"
  std::vector<std::string> order;
  for (const ZsetIndex::Node* n = f.index.first(); n; n = n->next())
    order.emplace_back(n->member());
  EXPECT_EQ(order, (std::vector<std::string>{"low", "z", "a", "b", "\xff", "high"}));
  EXPECT_EQ(f.index.rank(2, "b"), 3u);
  EXPECT_EQ(f.index.at(4)->member(), "\xff");
  EXPECT_EQ(f.index.count_while([](double s, std::string_view) { return s < 2; }), 2u);
  EXPECT_TRUE(f.index.valid());
}

TEST(ZsetIndex, ScoreEncodingRoundTrips) {
  for (double d : {0.0, -0.0, 1.5, -3e300, std::numeric_limits<double>::infinity(),
                   -std::numeric_limits<double>::infinity(), 5e-324}) {
    double back = 0;
    ASSERT_TRUE(decode_score(encode_score(d), &back));
    EXPECT_EQ(std::signbit(back), std::signbit(d));
    EXPECT_EQ(back, d);
  }
  double x;
  EXPECT_FALSE(decode_score("short", &x));
  EXPECT_FALSE(decode_score(encode_score(std::nan("")), &x));
}

// Random inserts, erases and score changes checked against an ordered std::set after every
// operation: order, ranks, at(), count_while and the span invariant.
TEST(ZsetIndex, RandomizedAgainstModel) {
  std::mt19937_64 rng(20261202);
  Fixture f;
  std::set<std::pair<double, std::string>> model;
  std::map<std::string, double> score_of;
  for (int step = 0; step < 6000; ++step) {
    const std::string m = "m" + std::to_string(rng() % 300);
    const double score = static_cast<double>(static_cast<int>(rng() % 40) - 20) / 2;
    auto it = score_of.find(m);
    if (it != score_of.end()) {
      f.remove(it->second, m);
      model.erase({it->second, m});
      score_of.erase(it);
      if (rng() % 3 == 0) continue;  // removed for good
    }
    f.add(score, m);
    model.emplace(score, m);
    score_of[m] = score;
    if (step % 97 != 0) continue;
    ASSERT_TRUE(f.index.valid());
    ASSERT_EQ(f.index.size(), model.size());
    size_t r = 0;
    for (const auto& [s, mm] : model) {
      const ZsetIndex::Node* n = f.index.at(r);
      ASSERT_NE(n, nullptr);
      ASSERT_EQ(n->member(), mm);
      ASSERT_EQ(n->score(), s);
      ASSERT_EQ(f.index.rank(s, mm), r);
      ++r;
    }
    ASSERT_EQ(f.index.at(r), nullptr);
    const double bound = static_cast<double>(static_cast<int>(rng() % 40) - 20) / 2;
    const auto expect = static_cast<size_t>(
        std::distance(model.begin(), model.lower_bound({bound, std::string()})));
    ASSERT_EQ(f.index.count_while([&](double s, std::string_view) { return s < bound; }), expect);
  }
  // Empties completely and stays usable.
  for (const auto& [s, m] : model)
    f.remove(s, m);
  EXPECT_EQ(f.index.size(), 0u);
  EXPECT_TRUE(f.index.valid());
  f.add(1, "again");
  EXPECT_EQ(f.index.at(0)->member(), "again");
}

TEST(ZsetIndex, LargeIndexRanks) {
  Fixture f;
  constexpr int kN = 100000;
  for (int i = kN - 1; i >= 0; --i)
    f.add(i, "m" + std::to_string(i));
  EXPECT_TRUE(f.index.valid());
  for (int i = 0; i < kN; i += 997) {
    EXPECT_EQ(f.index.rank(i, "m" + std::to_string(i)), static_cast<size_t>(i));
    EXPECT_EQ(f.index.at(static_cast<size_t>(i))->score(), i);
  }
  f.index.clear();
  EXPECT_EQ(f.index.size(), 0u);
  EXPECT_TRUE(f.index.valid());
}

}  // namespace
}  // namespace rkv
