#include "leaderless/merkle.h"

#include <xxhash.h>

#include <algorithm>

#include "core/assert.h"

namespace rkv::leaderless {

namespace {

// Distinct seeds keep the three uses of XXH3 independent of each other.
constexpr uint64_t kLeafSeed = 0x6c656166;   // "leaf"
constexpr uint64_t kItemSeed = 0x6974656d;   // "item"
constexpr uint64_t kInnerSeed = 0x696e6e72;  // "innr"

// Little-endian bytes, so that every machine hashes the same input.
void store_le(uint64_t v, char* out) {
  for (int i = 0; i < 8; ++i)
    out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

uint64_t hash_pair(uint64_t a, uint64_t b, uint64_t seed) {
  char buf[16];
  store_le(a, buf);
  store_le(b, buf + 8);
  return XXH3_64bits_withSeed(buf, sizeof buf, seed);
}

}  // namespace

MerkleTree::MerkleTree(uint32_t depth) : depth_(depth) {
  RKV_ASSERT(depth >= kMinDepth && depth <= kMaxDepth);
  nodes_.assign(size_t{2} << depth, 0);
}

uint32_t MerkleTree::leaf_of(uint64_t key_hash) const {
  char buf[8];
  store_le(key_hash, buf);
  const uint64_t mixed = XXH3_64bits_withSeed(buf, sizeof buf, kLeafSeed);
  return static_cast<uint32_t>(mixed >> (64 - depth_));
}

void MerkleTree::toggle(uint64_t key_hash, uint64_t item_hash) {
  // The key takes part in the contribution so that a caller's item hash may be a bare version
  // digest: two keys trading versions still change the tree.
  update(slot(depth_, leaf_of(key_hash)), hash_pair(key_hash, item_hash, kItemSeed));
}

void MerkleTree::replace(uint64_t key_hash, uint64_t old_item, uint64_t new_item) {
  if (old_item == new_item) return;
  update(slot(depth_, leaf_of(key_hash)),
         hash_pair(key_hash, old_item, kItemSeed) ^ hash_pair(key_hash, new_item, kItemSeed));
}

void MerkleTree::update(size_t k, uint64_t delta) {
  nodes_[k] ^= delta;
  for (k >>= 1; k >= 1; k >>= 1) {
    const uint64_t left = nodes_[2 * k];
    const uint64_t right = nodes_[2 * k + 1];
    nodes_[k] = (left | right) == 0 ? 0 : hash_pair(left, right, kInnerSeed);
    ++inner_hashes_computed_;
  }
}

uint64_t MerkleTree::node_hash(uint32_t level, uint32_t index) const {
  RKV_ASSERT(level <= depth_);
  RKV_ASSERT(index < (uint64_t{1} << level));
  return nodes_[slot(level, index)];
}

std::vector<uint32_t> MerkleTree::differing(uint32_t level, std::span<const uint32_t> indexes,
                                            std::span<const uint64_t> their_hashes) const {
  std::vector<uint32_t> out;
  if (level > depth_) return out;
  const size_t count = std::min(indexes.size(), their_hashes.size());
  for (size_t i = 0; i < count; ++i) {
    if (indexes[i] >= (uint64_t{1} << level)) continue;
    if (nodes_[slot(level, indexes[i])] != their_hashes[i]) out.push_back(indexes[i]);
  }
  return out;
}

std::vector<uint32_t> MerkleTree::diff_leaves(const MerkleTree& a, const MerkleTree& b) {
  RKV_ASSERT(a.depth_ == b.depth_);
  std::vector<uint32_t> out;
  const size_t first = a.slot(a.depth_, 0);
  for (uint32_t i = 0; i < a.leaf_count(); ++i) {
    if (a.nodes_[first + i] != b.nodes_[first + i]) out.push_back(i);
  }
  return out;
}

void MerkleTree::clear() {
  std::fill(nodes_.begin(), nodes_.end(), 0);
}

}  // namespace rkv::leaderless
