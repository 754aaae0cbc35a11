// IndexQueue: values keyed by Raft log index, added in increasing index order (a leader's
// proposals) and mostly taken from the front (entries become durable and apply in order). A
// deque searched by bisection: no tree node to allocate, balance and free per entry.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <utility>

#include "core/assert.h"

namespace rkv {

template <typename T>
class IndexQueue {
 public:
  using Item = std::pair<uint64_t, T>;

  bool empty() const { return items_.empty(); }
  size_t size() const { return items_.size(); }
  const Item& back() const { return items_.back(); }
  auto begin() { return items_.begin(); }
  auto end() { return items_.end(); }
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }
  auto rbegin() { return items_.rbegin(); }
  auto rend() { return items_.rend(); }
  void clear() { items_.clear(); }

  // Requires an index above every index held.
  void push_back(uint64_t index, T value) {
    RKV_ASSERT_MSG(items_.empty() || items_.back().first < index,
                   "IndexQueue indexes must increase");
    items_.emplace_back(index, std::move(value));
  }

  // The item at `index`, or nullptr.
  Item* find(uint64_t index) {
    if (!items_.empty() && items_.front().first == index) return &items_.front();
    auto it = lower(index);
    return it != items_.end() && it->first == index ? &*it : nullptr;
  }

  // Removes the item at `index`, if there is one.
  void erase(uint64_t index) {
    if (items_.empty()) return;
    if (items_.front().first == index) {
      items_.pop_front();
      return;
    }
    auto it = lower(index);
    if (it != items_.end() && it->first == index) items_.erase(it);
  }

 private:
  typename std::deque<Item>::iterator lower(uint64_t index) {
    return std::lower_bound(items_.begin(), items_.end(), index,
                            [](const Item& item, uint64_t i) { return item.first < i; });
  }

  std::deque<Item> items_;
};

}  // namespace rkv
