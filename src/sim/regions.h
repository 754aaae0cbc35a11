// Where the simulated nodes stand (multi-leader runs): nodes are spread over regions
// round-robin; nodes of one region talk at LAN distance (the seed's FaultMix delays), nodes of
// two regions at WAN distance: a base one-way delay of tens to hundreds of ms drawn per pair
// of regions, jitter on top, and some loss. Pure: a function of its inputs and the Random it is
// given, so a seed draws the same layout every time.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>

#include "core/random.h"
#include "sim/partition.h"

namespace rkv::sim {

// Bounds of a WAN link's draw (one way).
inline constexpr int64_t kWanBaseMinUs = 20'000, kWanBaseMaxUs = 250'000;
inline constexpr int64_t kWanJitterMinUs = 1'000;  // jitter is up to a quarter of the base
inline constexpr double kWanLossMax = 0.02;

// One link between two regions, the same both ways.
struct WanLink {
  int64_t base_us = 0;    // every message waits this long
  int64_t jitter_us = 0;  // plus uniform [0, jitter_us]; the link stays FIFO (like TCP)
  double loss = 0;        // chance a message is lost (a fault: stops when the run heals)
};

class RegionLayout {
 public:
  // One region holding every node: every link is a LAN link.
  RegionLayout() = default;
  // `regions` regions (1..nodes) over `nodes` nodes, node i in region i % regions; each pair
  // of regions gets a WAN link drawn from `rng`, lossy only when `lossy`.
  static RegionLayout draw(int regions, int nodes, bool lossy, Random& rng);

  int count() const { return regions_; }
  int region_of(int node) const { return of_node_[static_cast<size_t>(node)]; }
  bool same_region(int a, int b) const { return region_of(a) == region_of(b); }
  // The link between the regions of nodes `a` and `b` (in different regions).
  const WanLink& link(int a, int b) const;
  // Bit i set: node i lives in `region`.
  uint8_t members(int region) const;
  // The longest one-way WAN delay a message can take (base plus jitter); 0 with one region.
  int64_t max_one_way_us() const;
  // "r1", "r2", ...: the names the nodes' configs declare.
  static std::string name(int region);
  // The whole region `region` cut off from every other, both ways (a partition shape).
  Partition cut_off(int region) const;
  // Ends the loss on every WAN link (the run heals).
  void drop_loss();
  // "2 regions: r1 {0,2} r2 {1}; WAN r1<->r2 87 ms + up to 12 ms jitter, loss 0.0100".
  std::string describe() const;

 private:
  WanLink& at(int ra, int rb) {
    return links_[static_cast<size_t>(std::min(ra, rb) * kMaxNodes + std::max(ra, rb))];
  }

  int regions_ = 1, nodes_ = 0;
  std::array<int, kMaxNodes> of_node_{};
  std::array<WanLink, kMaxNodes * kMaxNodes> links_{};  // [low * kMaxNodes + high] region
};

}  // namespace rkv::sim
