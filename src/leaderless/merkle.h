// MerkleTree: a hash tree over the items (key, version) of one token range, kept current as
// writes land, so that two replicas of the range can find what differs between them by
// exchanging a few hashes per level instead of every key (Dynamo §4.7 anti-entropy).
//
// Shape: a complete binary tree of fixed depth d; 2^d leaves, each holding the XOR of the
// (mixed) item hashes of the keys that fall in it. A key's leaf is picked by a mix of its key
// hash, not its position on the ring: the keys of one token range share their top bits, and
// the mix still spreads them over every leaf. An inner node is a hash of its two children
// (0 when both are 0, so an empty subtree, and the empty tree, hash to 0).
//
// Why XOR at the leaves: adding and removing an item are the same toggle and commute, so the
// tree is a pure function of the set of items, whatever the order of the writes, and a change
// costs O(d) (one leaf plus its ancestors), never a rescan of the range.
//
// Contents are portable: every hash is computed from explicit little-endian bytes or plain
// integer arithmetic, so replicas on different machines agree.
//
// Exchange protocol (the caller's): both sides compare roots; while some nodes differ, one side
// sends its hashes of the children (2i, 2i+1 at level+1) of the nodes that differed, the other
// answers with differing(); at level d the differing leaves name the keys to exchange (those
// whose leaf_of() is among them).
//
// Not thread-safe; a MerkleTree is owned by one engine.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace rkv::leaderless {

class MerkleTree {
 public:
  static constexpr uint32_t kMinDepth = 1;
  static constexpr uint32_t kMaxDepth = 20;  // 2^20 leaves, 16 MiB of hashes

  // 2^depth leaves; depth in [kMinDepth, kMaxDepth].
  explicit MerkleTree(uint32_t depth = 10);

  uint32_t depth() const { return depth_; }
  uint32_t leaf_count() const { return uint32_t{1} << depth_; }

  // The leaf a key falls in.
  uint32_t leaf_of(uint64_t key_hash) const;

  // Adds or removes one item's contribution (the same XOR toggle). item_hash should combine the
  // key and its version digest (e.g. XXH3 of both), so that the same key at two versions
  // contributes differently. Changing a key's version = toggle(k, old_item); toggle(k,
  // new_item). O(depth).
  void toggle(uint64_t key_hash, uint64_t item_hash);
  // toggle(key_hash, old_item) then toggle(key_hash, new_item), in one pass up the tree.
  void replace(uint64_t key_hash, uint64_t old_item, uint64_t new_item);

  // The root hash; 0 for an empty tree. O(1): the tree is updated eagerly by toggle().
  uint64_t root() const { return nodes_[1]; }

  // level 0 = root, level depth = leaves; index < 2^level.
  uint64_t node_hash(uint32_t level, uint32_t index) const;

  // One step of the descending exchange: the other side's hashes of the nodes `indexes` at
  // `level`; returns, in input order, the indexes whose hash differs from ours. Total on input
  // from the network: a level beyond depth() or an index out of range is skipped (a confused
  // peer learns nothing and crashes nothing); if the spans differ in length, the extra tail of
  // the longer one is ignored.
  std::vector<uint32_t> differing(uint32_t level, std::span<const uint32_t> indexes,
                                  std::span<const uint64_t> their_hashes) const;

  // Every leaf whose hash differs, ascending, by a full scan of the leaves (O(2^depth)). For
  // tests and local comparison; replicas use differing() level by level. Same depth required.
  static std::vector<uint32_t> diff_leaves(const MerkleTree& a, const MerkleTree& b);

  // Back to the empty tree.
  void clear();

  // Inner-node hashes computed since construction: lets tests check that a change costs O(depth).
  uint64_t inner_hashes_computed() const { return inner_hashes_computed_; }

 private:
  // Heap layout: nodes_[1] is the root, children of k are 2k and 2k+1; the node at (level, i)
  // is nodes_[2^level + i]; nodes_[0] is unused.
  size_t slot(uint32_t level, uint32_t index) const { return (size_t{1} << level) + index; }
  // XORs delta into the leaf at heap slot k and recomputes its ancestors.
  void update(size_t k, uint64_t delta);

  uint32_t depth_;
  std::vector<uint64_t> nodes_;
  uint64_t inner_hashes_computed_ = 0;
};

}  // namespace rkv::leaderless
