// Ring: consistent hashing with virtual nodes, the placement rule of the leaderless model
// (Dynamo §4.2-4.3). Keys and tokens live on one 64-bit circle; a key belongs to the first
// token at or clockwise after its position, and its N home replicas are the first N distinct
// nodes met walking clockwise from there (its preference list). Nodes past the first N, in the
// same walk, are the fallbacks a sloppy quorum borrows when a home replica is down.
//
// Why virtual nodes: with T tokens per node each node owns many small arcs, so load evens out
// (the spread of a node's share shrinks like 1/sqrt(T)), and adding a node takes a little from
// every other node instead of a whole arc from one neighbour.
//
// Determinism: token positions depend only on the node ids (not on their order in the config),
// so every node that reads the same membership builds the same circle. Node *indexes* returned
// by the queries are positions in the `members` vector (config order), as everywhere else.
//
// A Ring is immutable after construction and holds no reference to its arguments; const
// methods are safe to call from several threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rkv::leaderless {

class Ring {
 public:
  // members: distinct node ids in config order (index = node index), at least one.
  // tokens_per_node >= 1. Token i of node "x" sits at token_hash("x", i); when two tokens land
  // on the same position, the one whose (hash, node id, i) sorts later moves to the next free
  // position clockwise (a step of 2^(64 - position_bits)).
  // position_bits (1..64) keeps only the top bits of every token hash; below 64 it exists only
  // so tests can force collisions. Total tokens must fit: members * tokens <= 2^position_bits.
  Ring(const std::vector<std::string>& members, uint32_t tokens_per_node,
       uint32_t position_bits = 64);

  // A key's position on the ring (XXH3-64 of its bytes).
  static uint64_t hash_key(std::string_view key);
  // Where token `i` of node `node` wants to sit: XXH3-64 of [u32 len][node][u32 i] (little
  // endian), before collisions are resolved.
  static uint64_t token_hash(std::string_view node, uint32_t i);

  // The key's home replicas: the first n distinct nodes clockwise from its position (n clamped
  // to the member count), first replica first. `out` is cleared first.
  void preference_list(uint64_t key_hash, size_t n, std::vector<uint32_t>* out) const;
  // Every node exactly once, in ring order from the key's position: the preference list first,
  // then the fallbacks a sloppy quorum uses, in the order it should try them.
  void walk(uint64_t key_hash, std::vector<uint32_t>* out) const;

  // Token ranges, the unit of anti-entropy. Range i = (token[i-1], token[i]] in sorted token
  // order; range 0 wraps: (token[last], 2^64) + [0, token[0]]. Every key of a range has the
  // same preference list.
  size_t range_count() const { return positions_.size(); }
  size_t range_of(uint64_t key_hash) const;
  // The preference list of every key in `range`. range < range_count().
  void range_replicas(size_t range, size_t n, std::vector<uint32_t>* out) const;
  // The token that closes `range` (its inclusive upper end) and the node that owns it.
  uint64_t range_end(size_t range) const;
  uint32_t range_owner(size_t range) const;

  // A node's share of the hash space: where it is the first replica, and where it is among the
  // n replicas (sums over nodes: 1 and min(n, members)).
  struct Ownership {
    uint32_t node;
    uint32_t tokens;
    double primary_fraction;
    double replica_fraction;
  };
  std::vector<Ownership> ownership(size_t n) const;

  size_t member_count() const { return members_.size(); }
  uint32_t tokens_per_node() const { return tokens_per_node_; }
  const std::string& member(uint32_t node) const;

  // Same members in the same order, same tokens.
  bool operator==(const Ring& other) const = default;

 private:
  // Walks tokens clockwise from range `start`, appending distinct owners until `n` are found.
  void collect(size_t start, size_t n, std::vector<uint32_t>* out) const;

  std::vector<std::string> members_;
  uint32_t tokens_per_node_;
  std::vector<uint64_t> positions_;  // sorted, distinct
  std::vector<uint32_t> owners_;     // owners_[i] owns positions_[i]
};

}  // namespace rkv::leaderless
