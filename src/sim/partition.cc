#include "sim/partition.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>
#include <vector>

namespace rkv::sim {
namespace {

std::vector<int> shuffled(int n, Random& rng) {
  std::vector<int> v(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i)
    v[static_cast<size_t>(i)] = i;
  for (size_t i = v.size(); i > 1; --i)
    std::swap(v[i - 1], v[rng.uniform(i)]);
  return v;
}

std::string set_text(const std::vector<int>& v, size_t begin, size_t end) {
  std::string s = "{";
  for (size_t i = begin; i < end; ++i) {
    if (i > begin) s += ",";
    s += std::to_string(v[i]);
  }
  return s + "}";
}

}  // namespace

const char* shape_name(PartitionShape s) {
  switch (s) {
    case PartitionShape::kIsolateOne:
      return "isolate";
    case PartitionShape::kMajoritySplit:
      return "split";
    case PartitionShape::kBridge:
      return "bridge";
    case PartitionShape::kRing:
      return "ring";
    case PartitionShape::kOneWay:
      return "one-way";
    case PartitionShape::kCount_:
      break;
  }
  return "?";
}

Partition Partition::healed(int nodes) {
  RKV_ASSERT(nodes >= 1 && nodes <= kMaxNodes);
  Partition p;
  p.nodes_ = nodes;
  for (int i = 0; i < nodes; ++i)
    p.reach_[static_cast<size_t>(i)] = static_cast<uint8_t>((1u << nodes) - 1);
  return p;
}

Partition Partition::all_alone(int nodes) {
  Partition p = healed(nodes);
  for (int i = 0; i < nodes; ++i) {
    for (int j = 0; j < nodes; ++j) {
      if (i != j) p.cut(i, j);
    }
  }
  p.description_ = "every node alone";
  return p;
}

Partition Partition::cut_off(int nodes, uint8_t members, std::string description) {
  Partition p = healed(nodes);
  for (int i = 0; i < nodes; ++i) {
    for (int j = 0; j < nodes; ++j) {
      if (((members >> i) & 1u) != ((members >> j) & 1u)) p.cut(i, j);
    }
  }
  p.description_ = std::move(description);
  return p;
}

bool Partition::is_healed() const {
  for (int i = 0; i < nodes_; ++i) {
    if (reach_[static_cast<size_t>(i)] != static_cast<uint8_t>((1u << nodes_) - 1)) return false;
  }
  return true;
}

Partition Partition::make(PartitionShape shape, int n, Random& rng) {
  Partition p = healed(n);
  if (n < 2) return p;
  const std::vector<int> v = shuffled(n, rng);
  const auto sz = static_cast<size_t>(n);
  switch (shape) {
    case PartitionShape::kIsolateOne: {
      for (int j = 0; j < n; ++j) {
        if (j != v[0]) p.cut_both(v[0], j);
      }
      p.description_ = fmt::format("isolate {}", v[0]);
      break;
    }
    case PartitionShape::kMajoritySplit: {
      const size_t minority = rng.range(1, sz / 2);  // 1 .. floor(n/2) nodes
      for (size_t a = 0; a < minority; ++a) {
        for (size_t b = minority; b < sz; ++b)
          p.cut_both(v[a], v[b]);
      }
      p.description_ =
          fmt::format("split {} | {}", set_text(v, 0, minority), set_text(v, minority, sz));
      break;
    }
    case PartitionShape::kBridge: {
      if (n < 3) return make(PartitionShape::kIsolateOne, n, rng);
      // v[0] is the bridge; the rest split into two halves that cannot talk directly.
      const size_t mid = 1 + (sz - 1) / 2;
      for (size_t a = 1; a < mid; ++a) {
        for (size_t b = mid; b < sz; ++b)
          p.cut_both(v[a], v[b]);
      }
      p.description_ =
          fmt::format("bridge {} <-{}-> {}", set_text(v, 1, mid), v[0], set_text(v, mid, sz));
      break;
    }
    case PartitionShape::kRing: {
      if (n < 5) return make(PartitionShape::kBridge, n, rng);
      // Ring order v[0], v[1], ...: each node reaches the nodes within ring distance d, the
      // smallest d for which that is a majority (itself included). Neighbours' majorities
      // overlap but differ, so no single majority is fully connected.
      const size_t d = ((sz / 2) + 1) / 2;
      for (size_t a = 0; a < sz; ++a) {
        for (size_t b = 0; b < sz; ++b) {
          const size_t dist = std::min((a + sz - b) % sz, (b + sz - a) % sz);
          if (dist > d) p.cut(v[a], v[b]);
        }
      }
      p.description_ = "ring " + set_text(v, 0, sz);
      break;
    }
    case PartitionShape::kOneWay: {
      const bool inbound = rng.chance(0.5);
      for (int j = 0; j < n; ++j) {
        if (j == v[0]) continue;
        if (inbound) {
          p.cut(j, v[0]);
        } else {
          p.cut(v[0], j);
        }
      }
      p.description_ = fmt::format("one-way: {} {}", v[0],
                                   inbound ? "hears nobody (sends fine)" : "is heard by nobody");
      break;
    }
    case PartitionShape::kCount_:
      break;
  }
  return p;
}

}  // namespace rkv::sim
