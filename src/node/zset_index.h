// ZsetIndex: the order of a sorted set's members by (score, member bytes), with O(log n)
// expected insert, erase, rank and range lookups. A skiplist whose links carry spans (how many
// elements a link skips), so that the rank of an element is the sum of the spans walked to it.
//
// The member bytes are not copied: each node points to the member's entry in the sorted set's
// member table (Collection::elems), which owns the member and its encoded score. Contract: an
// entry stays in the index only while it is in the table (entries never move while they live);
// whoever erases a member from the table erases it from the index first.
//
// Memory: a node is 24 bytes plus 16 per level; levels are drawn with p = 1/4, so 1.33 levels
// on average (about 45 bytes a member). There are no backward links: a reverse range is the
// forward range of the mirrored ranks, written from its end.
//
// The levels are drawn from the index's own fixed-seed generator: the shape is a function of
// the operation sequence only (and no reply depends on the shape).
// Not thread-safe; owned by the sorted set's Collection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "node/key_table.h"

namespace rkv {

// A score as stored in a member entry's value and in storage rows: the double's 8 bytes (its
// bit pattern, little-endian), so that every replica and every restore reads back the same
// double, -0 and infinities included.
std::string encode_score(double score);
// False when `bytes` is not an encoded score (wrong size, or a NaN).
bool decode_score(std::string_view bytes, double* score);

// A member and its score as read from a sorted set (the member viewed in place).
struct ZItem {
  std::string_view member;
  double score;
};

class ZsetIndex {
 public:
  using Member = KeyTable::Entry;  // the member is Member::key
  static constexpr int kMaxHeight = 24;

  class Node {
   public:
    double score() const { return score_; }
    std::string_view member() const { return member_->key.view(); }
    const Member* entry() const { return member_; }
    // The next node in order, nullptr after the last.
    const Node* next() const { return levels()[0].next; }

   private:
    friend class ZsetIndex;
    struct Level {
      Node* next;
      size_t span;  // elements this link advances by (meaningless when next is null)
    };
    Level* levels() { return reinterpret_cast<Level*>(this + 1); }
    const Level* levels() const { return reinterpret_cast<const Level*>(this + 1); }
    double score_;
    const Member* member_;
    uint32_t height_;
  };

  ZsetIndex();
  ~ZsetIndex();
  ZsetIndex(const ZsetIndex&) = delete;
  ZsetIndex& operator=(const ZsetIndex&) = delete;

  size_t size() const { return size_; }
  // Precondition: no element with m's member is in the index.
  void insert(double score, const Member* m);
  // Removes (score, member); false when absent.
  bool erase(double score, std::string_view member);
  void clear();

  // How many elements come first in order while before(score, member) holds. Precondition:
  // `before` holds for a prefix of the order and not after it (e.g. "score < 5").
  template <typename Pred>
  size_t count_while(Pred&& before) const {
    const Node* x = head_;
    size_t n = 0;
    for (int i = height_ - 1; i >= 0; --i) {
      while (const Node* nx = x->levels()[i].next) {
        if (!before(nx->score_, nx->member())) break;
        n += x->levels()[i].span;
        x = nx;
      }
    }
    return n;
  }
  // The 0-based rank of (score, member) if present: the number of elements before it.
  size_t rank(double score, std::string_view member) const {
    return count_while([&](double s, std::string_view m) { return less(s, m, score, member); });
  }
  // The element at 0-based `rank`; nullptr when rank >= size().
  const Node* at(size_t rank) const;
  const Node* first() const { return head_->levels()[0].next; }

  // The order: by score, then by member bytes (unsigned).
  static bool less(double s1, std::string_view m1, double s2, std::string_view m2) {
    return s1 < s2 || (s1 == s2 && m1 < m2);
  }

  // Checks the links, spans and order (tests).
  bool valid() const;

 private:
  static Node* make_node(int height, double score, const Member* m);
  static void free_node(Node* n);
  int random_height();

  Node* head_;
  size_t size_ = 0;
  int height_ = 1;
  uint64_t random_state_ = 0x2545F4914F6CDD1Dull;
};

}  // namespace rkv
