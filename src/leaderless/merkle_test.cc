#include "leaderless/merkle.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "core/random.h"

namespace rkv::leaderless {
namespace {

struct Item {
  uint64_t key_hash;
  uint64_t item_hash;
};

std::vector<Item> random_items(uint64_t seed, size_t count) {
  Random rnd(seed);
  std::vector<Item> items(count);
  for (Item& it : items)
    it = {rnd.next(), rnd.next()};
  return items;
}

// The replica-to-replica exchange, run locally: starting at the root, ask for the children of
// every differing node until the leaves.
std::vector<uint32_t> descend(const MerkleTree& mine, const MerkleTree& theirs) {
  std::vector<uint32_t> frontier = {0};
  for (uint32_t level = 0;; ++level) {
    std::vector<uint64_t> their_hashes;
    for (uint32_t i : frontier)
      their_hashes.push_back(theirs.node_hash(level, i));
    std::vector<uint32_t> diff = mine.differing(level, frontier, their_hashes);
    if (level == mine.depth() || diff.empty()) return diff;
    frontier.clear();
    for (uint32_t i : diff) {
      frontier.push_back(2 * i);
      frontier.push_back(2 * i + 1);
    }
  }
}

TEST(Merkle, EmptyTreesHashToZero) {
  MerkleTree a(10), b(4);
  EXPECT_EQ(a.root(), 0u);
  EXPECT_EQ(b.root(), 0u);
  EXPECT_EQ(a.depth(), 10u);
  EXPECT_EQ(a.leaf_count(), 1024u);
  EXPECT_EQ(MerkleTree().depth(), 10u);
}

TEST(Merkle, InsertionOrderDoesNotMatter) {
  auto items = random_items(1, 5000);
  MerkleTree a, b;
  for (const Item& it : items)
    a.toggle(it.key_hash, it.item_hash);
  std::reverse(items.begin(), items.end());
  std::swap(items[10], items[4000]);
  for (const Item& it : items)
    b.toggle(it.key_hash, it.item_hash);
  EXPECT_NE(a.root(), 0u);
  EXPECT_EQ(a.root(), b.root());
  EXPECT_TRUE(MerkleTree::diff_leaves(a, b).empty());
}

TEST(Merkle, OneChangedItemDiffersInExactlyItsLeafAndItsAncestors) {
  const auto items = random_items(2, 3000);
  MerkleTree a, b;
  for (const Item& it : items) {
    a.toggle(it.key_hash, it.item_hash);
    b.toggle(it.key_hash, it.item_hash);
  }
  // A new version of one key on b: remove the old item, add the new one.
  const Item& changed = items[1234];
  b.toggle(changed.key_hash, changed.item_hash);
  b.toggle(changed.key_hash, changed.item_hash ^ 1);
  const uint32_t leaf = b.leaf_of(changed.key_hash);
  EXPECT_EQ(MerkleTree::diff_leaves(a, b), std::vector<uint32_t>{leaf});
  EXPECT_NE(a.root(), b.root());
  for (uint32_t level = 0; level <= a.depth(); ++level) {
    const uint32_t ancestor = leaf >> (a.depth() - level);
    EXPECT_NE(a.node_hash(level, ancestor), b.node_hash(level, ancestor)) << level;
    if (level > 0) {  // its sibling is untouched
      EXPECT_EQ(a.node_hash(level, ancestor ^ 1), b.node_hash(level, ancestor ^ 1)) << level;
    }
  }
  EXPECT_EQ(descend(a, b), std::vector<uint32_t>{leaf});
  // Back to the old version: equal again.
  b.toggle(changed.key_hash, changed.item_hash ^ 1);
  b.toggle(changed.key_hash, changed.item_hash);
  EXPECT_EQ(a.root(), b.root());
}

TEST(Merkle, DescendingExchangeFindsTheSameLeavesAsAFullScan) {
  Random rnd(3);
  for (size_t changes : {1, 2, 10, 100, 3000}) {
    const auto items = random_items(changes, 5000);
    MerkleTree a(8), b(8);
    for (const Item& it : items) {
      a.toggle(it.key_hash, it.item_hash);
      b.toggle(it.key_hash, it.item_hash);
    }
    for (size_t c = 0; c < changes; ++c) {
      switch (rnd.uniform(3)) {
        case 0:  // a key only b has
          b.toggle(rnd.next(), rnd.next());
          break;
        case 1: {  // a key b lost
          const Item& it = items[rnd.uniform(items.size())];
          b.toggle(it.key_hash, it.item_hash);
          break;
        }
        default: {  // a key at another version on a
          const Item& it = items[rnd.uniform(items.size())];
          a.toggle(it.key_hash, it.item_hash);
          a.toggle(it.key_hash, rnd.next());
        }
      }
    }
    const auto full = MerkleTree::diff_leaves(a, b);
    EXPECT_FALSE(full.empty());
    auto walked = descend(a, b);
    std::sort(walked.begin(), walked.end());
    EXPECT_EQ(walked, full) << changes;
    EXPECT_EQ(descend(b, a), full) << changes;  // already sorted: the walk keeps index order
  }
}

TEST(Merkle, RemovingEverythingReturnsToTheEmptyRoot) {
  auto items = random_items(4, 10000);
  MerkleTree t;
  for (const Item& it : items)
    t.toggle(it.key_hash, it.item_hash);
  EXPECT_NE(t.root(), 0u);
  Random rnd(5);
  for (size_t i = items.size() - 1; i > 0; --i)  // remove in a shuffled order
    std::swap(items[i], items[rnd.uniform(i + 1)]);
  for (const Item& it : items)
    t.toggle(it.key_hash, it.item_hash);
  EXPECT_EQ(t.root(), 0u);
  EXPECT_TRUE(MerkleTree::diff_leaves(t, MerkleTree()).empty());
}

TEST(Merkle, ClearEmptiesTheTree) {
  MerkleTree t(6);
  for (const Item& it : random_items(6, 100))
    t.toggle(it.key_hash, it.item_hash);
  t.clear();
  EXPECT_EQ(t.root(), 0u);
  for (uint32_t i = 0; i < t.leaf_count(); ++i)
    EXPECT_EQ(t.node_hash(6, i), 0u);
}

TEST(Merkle, KeysSwappingVersionsStillChangeTheTree) {
  // The key takes part in an item's contribution, so a bare version digest is enough.
  MerkleTree a(1), b(1);
  a.toggle(100, 7);
  a.toggle(200, 8);
  b.toggle(100, 8);
  b.toggle(200, 7);
  EXPECT_NE(a.root(), b.root());
}

TEST(Merkle, KeysOfOneNarrowTokenRangeSpreadOverEveryLeaf) {
  // 50000 keys whose hashes share their top 40 bits, as the keys of one small range would.
  MerkleTree t(10);
  std::vector<int> per_leaf(t.leaf_count(), 0);
  const uint64_t base = 0x123456789a000000ull;
  for (uint64_t i = 0; i < 50000; ++i)
    ++per_leaf[t.leaf_of(base + i)];
  const auto [lo, hi] = std::minmax_element(per_leaf.begin(), per_leaf.end());
  EXPECT_GT(*lo, 20);  // mean ~49
  EXPECT_LT(*hi, 90);
}

// After 100k items, one change and a root() cost one hash per level above the leaf: O(depth),
// not O(leaves).
TEST(Merkle, ChangeCostsOneHashPerLevel) {
  MerkleTree t(16);
  for (const Item& it : random_items(7, 100000))
    t.toggle(it.key_hash, it.item_hash);
  const uint64_t before = t.inner_hashes_computed();
  t.toggle(42, 43);
  const uint64_t root = t.root();
  EXPECT_EQ(t.inner_hashes_computed() - before, t.depth());
  // Asking again costs nothing.
  EXPECT_EQ(t.root(), root);
  EXPECT_EQ(t.node_hash(0, 0), root);
  EXPECT_EQ(t.inner_hashes_computed() - before, t.depth());
}

TEST(Merkle, DifferingIsTotalOnBadInput) {
  MerkleTree t(3);
  t.toggle(1, 2);
  const uint32_t leaf = t.leaf_of(1);
  const std::vector<uint32_t> idx = {leaf, 8, 1000, ~0u};
  const std::vector<uint64_t> zeros = {0, 0, 0, 0};
  EXPECT_EQ(t.differing(3, idx, zeros), std::vector<uint32_t>{leaf});  // out of range skipped
  EXPECT_TRUE(t.differing(4, idx, zeros).empty());                     // level beyond depth
  EXPECT_TRUE(t.differing(~0u, idx, zeros).empty());
  const std::vector<uint64_t> one = {0};
  EXPECT_EQ(t.differing(3, idx, one), std::vector<uint32_t>{leaf});  // lengths differ
  EXPECT_TRUE(t.differing(3, {}, one).empty());
  EXPECT_EQ(t.differing(0, std::vector<uint32_t>{0}, one), std::vector<uint32_t>{0});
  const std::vector<uint64_t> same = {t.root()};
  EXPECT_TRUE(t.differing(0, std::vector<uint32_t>{0}, same).empty());
}

TEST(Merkle, DepthBoundsAreAccepted) {
  MerkleTree small(MerkleTree::kMinDepth);
  MerkleTree large(MerkleTree::kMaxDepth);
  small.toggle(9, 9);
  large.toggle(9, 9);
  EXPECT_LT(small.leaf_of(9), 2u);
  EXPECT_LT(large.leaf_of(9), 1u << 20);
  EXPECT_NE(small.root(), 0u);
  EXPECT_NE(large.root(), 0u);
}

TEST(MerkleDeathTest, DepthOutOfRangeIsABug) {
  EXPECT_DEATH({ MerkleTree t(0); }, "assertion failed");
  EXPECT_DEATH({ MerkleTree t(21); }, "assertion failed");
}

TEST(Merkle, ReplaceEqualsTwoToggles) {
  auto items = random_items(7, 2000);
  MerkleTree a, b;
  for (const Item& it : items) {
    a.toggle(it.key_hash, it.item_hash);
    b.toggle(it.key_hash, it.item_hash);
  }
  for (size_t i = 0; i < items.size(); i += 3) {
    const uint64_t next = items[i].item_hash * 0x9E3779B97F4A7C15ull + 1;
    a.toggle(items[i].key_hash, items[i].item_hash);
    a.toggle(items[i].key_hash, next);
    b.replace(items[i].key_hash, items[i].item_hash, next);
  }
  EXPECT_EQ(a.root(), b.root());
  EXPECT_TRUE(MerkleTree::diff_leaves(a, b).empty());
  const uint64_t before = b.root();
  b.replace(items[0].key_hash, 5, 5);  // no change
  EXPECT_EQ(b.root(), before);
}

}  // namespace
}  // namespace rkv::leaderless
