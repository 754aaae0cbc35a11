// Partition shapes over a cluster of at most kMaxNodes nodes. A Partition says, for every
// ordered pair (from, to), whether a message can cross the link; links are one-way so that
// asymmetric cuts are expressible. Pure functions of their inputs and the Random they are given.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "core/random.h"

namespace rkv::sim {

inline constexpr int kMaxNodes = 7;

enum class PartitionShape : unsigned char {
  kIsolateOne,     // one node cut off from every other, both ways
  kMajoritySplit,  // a minority and a majority side
  kBridge,         // two halves that reach each other only through one bridge node
  kRing,           // nodes on a ring reach only their neighbours: overlapping majorities (n >= 5)
  kOneWay,         // one node can send but not receive, or receive but not send
  kCount_
};
inline constexpr int kShapeCount = static_cast<int>(PartitionShape::kCount_);
const char* shape_name(PartitionShape s);

class Partition {
 public:
  // Everyone reaches everyone.
  static Partition healed(int nodes);
  // Every node alone: no link works either way. Not one of the drawn shapes (adding one would
  // change every seed's draw); the multi-leader nemesis picks it, where every node writing on
  // its own is the scenario that matters.
  static Partition all_alone(int nodes);
  // The nodes of `members` (bit i: node i) cut off from every other node, both ways; links
  // inside each side work. Not a drawn shape either: the multi-leader nemesis cuts a whole
  // region off with it (sim/regions.h).
  static Partition cut_off(int nodes, uint8_t members, std::string description);
  // A random instance of `shape` (node choice and sides drawn from `rng`).
  static Partition make(PartitionShape shape, int nodes, Random& rng);

  bool can_send(int from, int to) const { return (reach_[from] >> to) & 1u; }
  bool is_healed() const;
  int nodes() const { return nodes_; }
  // e.g. "bridge: {0,3} <-2-> {1,4}" — printed in the run log.
  const std::string& description() const { return description_; }

 private:
  void cut(int from, int to) { reach_[from] &= static_cast<uint8_t>(~(1u << to)); }
  void cut_both(int a, int b) {
    cut(a, b);
    cut(b, a);
  }

  int nodes_ = 0;
  std::array<uint8_t, kMaxNodes> reach_{};  // bit j of reach_[i]: i can send to j
  std::string description_ = "healed";
};

}  // namespace rkv::sim
