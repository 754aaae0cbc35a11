#include "node/zset_index.h"

#include <cmath>
#include <cstring>
#include <new>

#include "core/assert.h"
#include "core/checksum.h"

namespace rkv {

std::string encode_score(double score) {
  uint64_t bits;
  std::memcpy(&bits, &score, sizeof(bits));
  std::string out;
  put_u64(out, bits);
  return out;
}

bool decode_score(std::string_view bytes, double* score) {
  if (bytes.size() != 8) return false;
  const uint64_t bits = get_u64(bytes.data());
  std::memcpy(score, &bits, sizeof(bits));
  return !std::isnan(*score);
}

// A node and its levels are one allocation: the Node header, then `height` Levels.
ZsetIndex::Node* ZsetIndex::make_node(int height, double score, const Member* m) {
  static_assert(sizeof(Node) % alignof(Node::Level) == 0);
  void* raw = ::operator new(sizeof(Node) + sizeof(Node::Level) * static_cast<size_t>(height));
  Node* n = new (raw) Node();
  n->score_ = score;
  n->member_ = m;
  n->height_ = static_cast<uint32_t>(height);
  for (int i = 0; i < height; ++i)
    new (&n->levels()[i]) Node::Level{nullptr, 0};
  return n;
}

void ZsetIndex::free_node(Node* n) {
  n->~Node();
  ::operator delete(static_cast<void*>(n));
}

ZsetIndex::ZsetIndex() : head_(make_node(kMaxHeight, 0, nullptr)) {}

ZsetIndex::~ZsetIndex() {
  clear();
  free_node(head_);
}

void ZsetIndex::clear() {
  Node* x = head_->levels()[0].next;
  while (x) {
    Node* nx = x->levels()[0].next;
    free_node(x);
    x = nx;
  }
  for (int i = 0; i < kMaxHeight; ++i)
    head_->levels()[i] = {nullptr, 0};
  size_ = 0;
  height_ = 1;
}

int ZsetIndex::random_height() {
  // xorshift64; two bits per level: p = 1/4.
  uint64_t r = random_state_;
  r ^= r << 13;
  r ^= r >> 7;
  r ^= r << 17;
  random_state_ = r;
  int h = 1;
  while (h < kMaxHeight && (r & 3) == 0) {
    ++h;
    r >>= 2;
  }
  return h;
}

void ZsetIndex::insert(double score, const Member* m) {
  RKV_ASSERT(!std::isnan(score));
  const std::string_view member = m->key.view();
  Node* update[kMaxHeight];
  size_t rank[kMaxHeight];
  Node* x = head_;
  for (int i = height_ - 1; i >= 0; --i) {
    rank[i] = i == height_ - 1 ? 0 : rank[i + 1];
    while (Node* nx = x->levels()[i].next) {
      if (!less(nx->score_, nx->member(), score, member)) break;
      rank[i] += x->levels()[i].span;
      x = nx;
    }
    update[i] = x;
  }
  const int h = random_height();
  for (int i = height_; i < h; ++i) {
    rank[i] = 0;
    update[i] = head_;
  }
  if (h > height_) height_ = h;
  Node* n = make_node(h, score, m);
  for (int i = 0; i < h; ++i) {
    Node::Level& prev = update[i]->levels()[i];
    n->levels()[i].next = prev.next;
    n->levels()[i].span = prev.span - (rank[0] - rank[i]);
    prev.next = n;
    prev.span = rank[0] - rank[i] + 1;
  }
  for (int i = h; i < height_; ++i)
    update[i]->levels()[i].span++;
  ++size_;
}

bool ZsetIndex::erase(double score, std::string_view member) {
  Node* update[kMaxHeight];
  Node* x = head_;
  for (int i = height_ - 1; i >= 0; --i) {
    while (Node* nx = x->levels()[i].next) {
      if (!less(nx->score_, nx->member(), score, member)) break;
      x = nx;
    }
    update[i] = x;
  }
  x = x->levels()[0].next;
  if (!x || x->score_ != score || x->member() != member) return false;
  for (int i = 0; i < height_; ++i) {
    Node::Level& prev = update[i]->levels()[i];
    if (prev.next == x) {
      prev.span += x->levels()[i].span - 1;
      prev.next = x->levels()[i].next;
    } else {
      prev.span -= 1;
    }
  }
  while (height_ > 1 && head_->levels()[height_ - 1].next == nullptr)
    --height_;
  free_node(x);
  --size_;
  return true;
}

const ZsetIndex::Node* ZsetIndex::at(size_t rank) const {
  if (rank >= size_) return nullptr;
  const size_t target = rank + 1;  // the head is rank 0 in span arithmetic
  const Node* x = head_;
  size_t walked = 0;
  for (int i = height_ - 1; i >= 0; --i) {
    while (const Node* nx = x->levels()[i].next) {
      if (walked + x->levels()[i].span > target) break;
      walked += x->levels()[i].span;
      x = nx;
    }
    if (walked == target) return x;
  }
  RKV_ASSERT_MSG(false, "zset index spans are inconsistent");
  return nullptr;
}

bool ZsetIndex::valid() const {
  // Level 0 is the order; each higher level's span equals the level-0 distance it covers.
  size_t n = 0;
  for (const Node *x = first(), *prev = nullptr; x; prev = x, x = x->next()) {
    if (prev && !less(prev->score_, prev->member(), x->score_, x->member())) return false;
    ++n;
  }
  if (n != size_) return false;
  for (int i = 0; i < height_; ++i) {
    size_t pos = 0;  // rank of x in level-0 terms (head = 0)
    const Node* x = head_;
    while (const Node* nx = x->levels()[i].next) {
      size_t steps = 0;
      for (const Node* y = x; y != nx; y = y->levels()[0].next)
        ++steps;
      if (steps != x->levels()[i].span) return false;
      pos += steps;
      x = nx;
    }
    if (pos > size_) return false;
  }
  for (int i = height_; i < kMaxHeight; ++i) {
    if (head_->levels()[i].next) return false;
  }
  return true;
}

}  // namespace rkv
