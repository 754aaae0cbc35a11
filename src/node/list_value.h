// ListValue: the elements of a list, in order. A sequence of chunks, each a byte buffer of packed
// entries (varint length, bytes, the length again as a backward varint), so that a short
// element costs its bytes plus two or three, and a chunk is walked in either direction:
//  * push and pop at both ends are O(1) amortized: a chunk keeps free room in front of its
//    first entry (filled by pushes at the front, left by pops there), and a full end chunk
//    starts a new one;
//  * indexing (LINDEX, LSET, LINSERT, LRANGE's start) walks whole chunks by their counts, from
//    the nearer end, then entries inside one chunk: O(n / entries per chunk + chunk bytes);
//  * a chunk holds up to kChunkBytes of entries (one larger element gets a chunk of its own);
//    an insert that overfills one splits it, a removal that leaves it small merges it with a
//    neighbour.
//
// Positions. Every element has a position: element i is at head_position() + i, so positions
// are consecutive, a push at the front takes head - 1 and one at the back tail + 1. They are the
// order keys of the list's storage rows (position_id: 8 bytes big-endian, so byte order is
// numeric order), which is why a push or pop changes exactly one row. insert and erase move the
// elements on one side of the change by one position; the caller says which side (and rewrites
// their rows).
//
// Not thread-safe. Copyable (deep).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rkv {

class ListValue {
 public:
  // Bytes of entries a chunk holds before a new one starts (list-max-listpack-size -1's 4 KB).
  static constexpr size_t kChunkBytes = 4096;
  // The first element's position in a new list: the middle of the range, so that either end
  // can grow by 2^63 pushes.
  static constexpr uint64_t kFirstPosition = 1ull << 63;

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // Sum of the elements' lengths.
  size_t payload_bytes() const { return bytes_; }
  uint64_t head_position() const { return head_; }
  uint64_t position(size_t i) const { return head_ + i; }
  // The storage order key of a position, and its inverse (false when `id` is not one).
  static std::string position_id(uint64_t pos);
  static bool parse_position_id(std::string_view id, uint64_t* pos);
  // Sets the position of the first element. Precondition: the list is empty (restore).
  void set_head_position(uint64_t pos);

  void push_front(std::string_view v);
  void push_back(std::string_view v);
  // Preconditions: not empty.
  std::string pop_front();
  std::string pop_back();
  // Removes the first (last) n elements. Precondition: n <= size().
  void drop_front(size_t n);
  void drop_back(size_t n);

  // Element i; the view is valid until the list changes. Precondition: i < size().
  std::string_view at(size_t i) const;
  // Replaces element i (its position stays).
  void set(size_t i, std::string_view v);
  // Inserts v as element i (0 <= i <= size()). front_moves: the elements before it move one
  // position down (the head's position decreases); otherwise those from i on move up.
  void insert(size_t i, std::string_view v, bool front_moves);
  // Removes element i. front_moves: the elements before it move one position up; otherwise
  // those after it move down.
  void erase(size_t i, bool front_moves);

  // Calls fn(index, element) for elements from index `from` towards the tail (reverse: towards
  // the head) while fn returns true. Precondition: from < size() unless the list is empty.
  template <typename Fn>
  void for_each_from(size_t from, bool reverse, Fn&& fn) const {
    if (size_ == 0) return;
    Cursor c = locate(from);
    size_t i = from;
    while (fn(i, entry_at(c))) {
      if (reverse ? i == 0 : i + 1 == size_) return;
      reverse ? step_back(&c) : step_forward(&c);
      reverse ? --i : ++i;
    }
  }

  // Checks the structure (counts, sizes, encodings); for tests.
  bool valid() const;
  size_t chunk_count() const { return chunks_.size(); }

 private:
  struct Chunk {
    std::string buf;     // [begin, size) holds the entries; [0, begin) is free room
    uint32_t begin = 0;  // offset of the first entry
    uint32_t count = 0;  // entries
    size_t used() const { return buf.size() - begin; }
  };
  // The chunks in order: a vector with free slots at both ends, so that a chunk is added or
  // removed at either end in O(1) amortized (std::deque's fixed 512-byte blocks would cost a
  // short list more than its elements). Inserting or erasing a chunk inside moves the chunks
  // after it (a split or merge, which costs O(chunk bytes) anyway).
  class Chunks {
   public:
    size_t size() const { return n_; }
    bool empty() const { return n_ == 0; }
    Chunk& operator[](size_t i) { return v_[b_ + i]; }
    const Chunk& operator[](size_t i) const { return v_[b_ + i]; }
    Chunk& front() { return v_[b_]; }
    Chunk& back() { return v_[b_ + n_ - 1]; }
    void emplace_back();
    void emplace_front();
    void pop_front();
    void pop_back();
    void insert_at(size_t i, Chunk c);
    void erase_at(size_t i);

   private:
    // Moves the chunks to a new vector with free slots on both sides.
    void regrow();
    std::vector<Chunk> v_;
    size_t b_ = 0;  // slot of the first chunk
    size_t n_ = 0;  // chunks
  };
  // An entry: the chunk's index and the entry's offset in its buffer.
  struct Cursor {
    size_t chunk;
    size_t off;
  };

  Cursor locate(size_t i) const;
  std::string_view entry_at(Cursor c) const;
  void step_forward(Cursor* c) const;
  void step_back(Cursor* c) const;
  // Splits chunk ci in two when it is over kChunkBytes and holds more than one entry.
  void split_if_full(size_t ci);
  // Merges chunk ci into a neighbour when both together are small; removes it when empty.
  void tidy(size_t ci);

  Chunks chunks_;
  size_t size_ = 0;
  size_t bytes_ = 0;
  uint64_t head_ = kFirstPosition;
};

}  // namespace rkv
