#include "sim/regions.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/assert.h"

namespace rkv::sim {

RegionLayout RegionLayout::draw(int regions, int nodes, bool lossy, Random& rng) {
  RKV_ASSERT(nodes >= 1 && nodes <= kMaxNodes);
  RKV_ASSERT(regions >= 1 && regions <= nodes);
  RegionLayout l;
  l.regions_ = regions;
  l.nodes_ = nodes;
  for (int i = 0; i < nodes; ++i)
    l.of_node_[static_cast<size_t>(i)] = i % regions;
  for (int a = 0; a < regions; ++a) {
    for (int b = a + 1; b < regions; ++b) {
      WanLink& w = l.at(a, b);
      w.base_us = static_cast<int64_t>(rng.range(kWanBaseMinUs, kWanBaseMaxUs));
      w.jitter_us = static_cast<int64_t>(rng.range(
          kWanJitterMinUs, static_cast<uint64_t>(std::max(kWanJitterMinUs, w.base_us / 4))));
      if (lossy && rng.chance(0.5)) w.loss = rng.unit() * kWanLossMax;
    }
  }
  return l;
}

const WanLink& RegionLayout::link(int a, int b) const {
  const int ra = region_of(a), rb = region_of(b);
  RKV_ASSERT(ra != rb);
  return links_[static_cast<size_t>(std::min(ra, rb) * kMaxNodes + std::max(ra, rb))];
}

uint8_t RegionLayout::members(int region) const {
  uint8_t m = 0;
  for (int i = 0; i < nodes_; ++i) {
    if (region_of(i) == region) m = static_cast<uint8_t>(m | (1u << i));
  }
  return m;
}

int64_t RegionLayout::max_one_way_us() const {
  int64_t most = 0;
  for (int a = 0; a < regions_; ++a) {
    for (int b = a + 1; b < regions_; ++b) {
      const WanLink& w = links_[static_cast<size_t>(a * kMaxNodes + b)];
      most = std::max(most, w.base_us + w.jitter_us);
    }
  }
  return most;
}

std::string RegionLayout::name(int region) {
  return fmt::format("r{}", region + 1);
}

Partition RegionLayout::cut_off(int region) const {
  RKV_ASSERT(region >= 0 && region < regions_);
  std::string inside;
  for (int i = 0; i < nodes_; ++i) {
    if (region_of(i) == region) inside += fmt::format("{}{}", inside.empty() ? "" : ",", i);
  }
  return Partition::cut_off(nodes_, members(region),
                            fmt::format("region {} {{{}}} cut off", name(region), inside));
}

void RegionLayout::drop_loss() {
  for (WanLink& w : links_)
    w.loss = 0;
}

std::string RegionLayout::describe() const {
  std::string s = fmt::format("{} region{}:", regions_, regions_ == 1 ? "" : "s");
  for (int r = 0; r < regions_; ++r) {
    std::string inside;
    for (int i = 0; i < nodes_; ++i) {
      if (region_of(i) == r) inside += fmt::format("{}{}", inside.empty() ? "" : ",", i);
    }
    s += fmt::format(" {} {{{}}}", name(r), inside);
  }
  if (regions_ == 1) return s + "; every link LAN";
  s += "; WAN (one way)";
  for (int a = 0; a < regions_; ++a) {
    for (int b = a + 1; b < regions_; ++b) {
      const WanLink& w = links_[static_cast<size_t>(a * kMaxNodes + b)];
      s += fmt::format(" {}<->{} {} ms + up to {} ms jitter, loss {:.4f};", name(a), name(b),
                       w.base_us / 1000, w.jitter_us / 1000, w.loss);
    }
  }
  s.pop_back();
  return s;
}

}  // namespace rkv::sim
