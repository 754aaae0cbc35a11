// KeyTable: the in-memory map from key to value for one keyspace. A chained hash table with a
// power-of-two bucket array, written here (rather than std::unordered_map) for two reasons:
//  * SCAN's guarantee: a full iteration returns every key present from start to end, even if
//    the table grows or shrinks between calls. The cursor walks buckets in reverse-binary
//    order, which stays valid across power-of-two resizes (the classic incremental-scan trick).
//  * Determinism: iteration order depends only on the keys and the operation sequence (XXH3
//    hash, no seed, no pointers), so the simulator's runs reproduce.
//  * No stop-the-world resize: growing or shrinking moves the entries to the new bucket array a
//    few buckets at a time (with every insert and erase, and with rehash_step), as Redis's dict
//    does; meanwhile lookups check both arrays. No single operation touches more than a few
//    dozen buckets, however large the table.
// Not thread-safe; owned by one node's event loop.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/assert.h"

namespace rkv {

// The type of a key's value. A string keeps its bytes in Value::data; every other type keeps
// its elements in a Collection. The tag is what storage rows and snapshot images record, so
// sorted sets and lists (and, later, CRDT variants, each a type of its own) take the next
// numbers without changing any format. Never renumber.
enum class ValueType : uint8_t { kString = 0, kHash = 1, kSet = 2, kZset = 3, kList = 4 };

// The name TYPE reports ("string", "hash", ...).
std::string_view type_name(ValueType t);

struct Collection;
class ListValue;
class ZsetIndex;

// A key's value. Copying copies a collection's elements (deep); moving moves the pointer.
struct Value {
  std::string data;                  // a string's bytes; a hash field's value; empty for the rest
  int64_t expire_at_ms = 0;          // absolute, on the node's clock; 0 = never expires
  std::unique_ptr<Collection> coll;  // the elements of a hash or set; null for a string

  Value();
  Value(std::string d, int64_t expire_at);
  explicit Value(ValueType t);  // an empty collection of type t (not kString)
  ~Value();
  Value(const Value& o);
  Value& operator=(const Value& o);
  Value(Value&& o) noexcept;
  Value& operator=(Value&& o) noexcept;

  ValueType type() const;
  bool is_string() const { return coll == nullptr; }
};

class KeyTable {
 public:
  // An entry's key: up to kInline bytes inside the entry itself, so that find's comparison
  // reads the cache line it already loaded for the hash; longer keys on the heap.
  class Key {
   public:
    Key() = default;
    ~Key() {
      if (size_ > kInline) delete[] heap();
    }
    Key(const Key&) = delete;
    Key& operator=(const Key&) = delete;

    void assign(std::string_view k);
    const char* data() const { return size_ > kInline ? heap() : buf_; }
    size_t size() const { return size_; }
    std::string_view view() const { return {data(), size_}; }
    operator std::string_view() const { return view(); }
    std::string str() const { return std::string(view()); }
    friend bool operator==(const Key& a, std::string_view b) { return a.view() == b; }

    // 24 bits the owner keeps beside the key at no cost in size (they fill what would be the
    // inline buffer's last bytes): a keyspace's table keeps each key's access clock or LFU
    // counter there for eviction (node/eviction.h); a collection's elements leave them 0.
    uint32_t meta() const { return meta_[0] | (meta_[1] << 8) | (uint32_t{meta_[2]} << 16); }
    void set_meta(uint32_t m) {
      meta_[0] = static_cast<uint8_t>(m);
      meta_[1] = static_cast<uint8_t>(m >> 8);
      meta_[2] = static_cast<uint8_t>(m >> 16);
    }

    static constexpr uint32_t kInline = 25;

   private:
    char* heap() const {
      char* p;
      std::memcpy(&p, buf_, sizeof(p));
      return p;
    }
    uint32_t size_ = 0;
    uint8_t meta_[3] = {0, 0, 0};
    char buf_[kInline];  // the key, or (longer keys) a pointer to it
  };
  static_assert(sizeof(Key) == 32, "a key stays half a cache line: hash + next + key = 48");

  struct Entry {
    uint64_t hash;
    std::unique_ptr<Entry> next;
    Key key;  // right after hash: find touches one cache line per entry it passes
    Value value;
  };

  // A bucket array: the head link of each chain. Allocated zeroed by the allocator (calloc):
  // a large array comes from fresh pages the kernel zeroes as they are first touched, so that
  // starting a resize costs no pass over the new array in one step (an array of 8M buckets
  // took 35 ms to value-initialize, longer on a loaded machine, at each doubling past millions
  // of keys). A null std::unique_ptr is all zero bits here (checked below). Destroyed only
  // once its chains are unlinked (KeyTable::clear, a finished resize): it frees the array only.
  class Buckets {
   public:
    Buckets() = default;
    explicit Buckets(size_t n);
    ~Buckets() { std::free(heads_); }
    Buckets(const Buckets&) = delete;
    Buckets& operator=(const Buckets&) = delete;
    Buckets(Buckets&& o) noexcept : heads_(o.heads_), n_(o.n_) {
      o.heads_ = nullptr;
      o.n_ = 0;
    }
    Buckets& operator=(Buckets&& o) noexcept {
      std::swap(heads_, o.heads_);
      std::swap(n_, o.n_);
      return *this;
    }
    size_t size() const { return n_; }
    bool empty() const { return n_ == 0; }
    std::unique_ptr<Entry>& operator[](size_t i) { return heads_[i]; }
    const std::unique_ptr<Entry>& operator[](size_t i) const { return heads_[i]; }
    std::unique_ptr<Entry>* begin() { return heads_; }
    std::unique_ptr<Entry>* end() { return heads_ + n_; }

   private:
    std::unique_ptr<Entry>* heads_ = nullptr;
    size_t n_ = 0;
  };

  KeyTable();
  ~KeyTable();
  KeyTable(const KeyTable&) = delete;
  KeyTable& operator=(const KeyTable&) = delete;

  static uint64_t hash_of(std::string_view key);

  Entry* find(std::string_view key);
  const Entry* find(std::string_view key) const { return const_cast<KeyTable*>(this)->find(key); }
  // Cache hints for a find(key) that comes soon (both harmless if the table changes meanwhile):
  // prefetch_bucket asks for the key's bucket slot; prefetch_entry, issued once that slot is
  // likely cached, for the first entry it points to.
  // (While a resize is under way they hint the new array only.)
  void prefetch_bucket(std::string_view key) const {
    __builtin_prefetch(&buckets_[hash_of(key) & (buckets_.size() - 1)]);
  }
  void prefetch_entry(std::string_view key) const {
    const Entry* e = buckets_[hash_of(key) & (buckets_.size() - 1)].get();
    if (e != nullptr) __builtin_prefetch(e);
  }
  // The third step, once the entry is likely cached: the key's value bytes.
  void prefetch_value(std::string_view key) const {
    const uint64_t h = hash_of(key);
    for (const Entry* e = buckets_[h & (buckets_.size() - 1)].get(); e; e = e->next.get()) {
      if (e->hash == h) {
        __builtin_prefetch(e->value.data.data());
        return;
      }
    }
  }
  // Returns the entry for key, inserting an empty value if absent (*inserted tells which).
  Entry* upsert(std::string_view key, bool* inserted);
  bool erase(std::string_view key);
  void clear();
  size_t size() const { return size_; }
  // The bucket array new entries go to (the target of a resize under way).
  size_t bucket_count() const { return buckets_.size(); }
  bool rehashing() const { return !old_.empty(); }
  // Moves up to `max_buckets` buckets of a resize under way; returns true while one remains.
  bool rehash_step(size_t max_buckets);

  // Visits the entries of at least one bucket starting at `cursor` (0 to begin), calling fn for
  // each; returns the cursor for the next call, 0 when the iteration is complete. fn must not
  // insert or erase.
  template <typename Fn>
  uint64_t scan(uint64_t cursor, Fn&& fn) const {
    if (size_ == 0) return 0;
    auto visit = [&](const Buckets& t, uint64_t i) {
      for (const Entry* e = t[i].get(); e; e = e->next.get())
        fn(*e);
    };
    // Increments the reversed cursor over `mask`'s bits: walks buckets so that a resize never
    // skips any.
    auto next = [](uint64_t c, uint64_t mask) {
      c |= ~mask;
      c = reverse_bits(c);
      ++c;
      return reverse_bits(c);
    };
    if (!rehashing()) {
      visit(buckets_, cursor & (buckets_.size() - 1));
      return next(cursor, buckets_.size() - 1);
    }
    // Mid-resize: the cursor's bucket in the smaller array, then every bucket of the larger
    // one that it expands to (the entries of one may still be in either).
    const bool grow = buckets_.size() > old_.size();
    const auto& small = grow ? old_ : buckets_;
    const auto& large = grow ? buckets_ : old_;
    const uint64_t m0 = small.size() - 1, m1 = large.size() - 1;
    visit(small, cursor & m0);
    do {
      visit(large, cursor & m1);
      cursor = next(cursor, m1);
    } while ((cursor & (m0 ^ m1)) != 0);
    return cursor;
  }

  // Visits every entry, in bucket order, asking for the entries and their values a few buckets
  // ahead (a walk over a large table is a cache miss per entry and per value otherwise). fn
  // must not insert or erase.
  template <typename Fn>
  void for_each(Fn&& fn) const {
    for_each_in(old_, migrated_, fn);
    for_each_in(buckets_, 0, fn);
  }

  // Sampling (eviction): visits the entries of consecutive buckets starting at bucket
  // `start` (taken modulo the array's size; both arrays while a resize is under way), until fn
  // returned true `want` times or `max_buckets` buckets were passed. Deterministic for a given
  // `start`. fn must not insert or erase.
  template <typename Fn>
  void sample(uint64_t start, size_t want, size_t max_buckets, Fn&& fn) const {
    if (size_ == 0 || want == 0) return;
    size_t taken = 0;
    auto walk = [&](const Buckets& t) {
      const size_t mask = t.size() - 1;
      for (size_t n = 0; n < max_buckets && n <= mask && taken < want; ++n) {
        for (const Entry* e = t[(start + n) & mask].get(); e && taken < want; e = e->next.get())
          taken += fn(*e) ? 1 : 0;
      }
    };
    if (rehashing()) walk(old_);
    walk(buckets_);
  }

  // Bytes held by keys and values (not counting table overhead), for INFO and /metrics.
  size_t payload_bytes() const { return payload_bytes_; }
  void adjust_payload(int64_t delta) { payload_bytes_ += delta; }

  // v with its 64 bits in reverse order: scan cursors count in it, and the order of reversed
  // hashes is the order scan visits entries in, whatever the table's size.
  static uint64_t reverse_bits(uint64_t v);

 private:
  // Starts moving the entries to an array of `new_buckets` (none while a move is under way).
  void start_resize(size_t new_buckets);
  void maybe_resize();
  template <typename Fn>
  static void for_each_in(const Buckets& t, size_t from, Fn& fn) {
    constexpr size_t kEntryAhead = 16, kValueAhead = 8;
    const size_t n = t.size();
    for (size_t i = from; i < n; ++i) {
      if (i + kEntryAhead < n) {
        if (const Entry* e = t[i + kEntryAhead].get()) __builtin_prefetch(e);
      }
      if (i + kValueAhead < n) {
        if (const Entry* e = t[i + kValueAhead].get()) __builtin_prefetch(e->value.data.data());
      }
      for (const Entry* e = t[i].get(); e; e = e->next.get())
        fn(*e);
    }
  }
  // The link holding key's entry (in either array), or the empty link of the new array's
  // bucket where it would go.
  std::unique_ptr<Entry>* locate(std::string_view key, uint64_t h);

  Buckets buckets_;
  // While a resize is under way: the previous array, whose buckets below migrated_ are empty.
  Buckets old_;
  size_t migrated_ = 0;
  size_t size_ = 0;
  size_t payload_bytes_ = 0;
};

// The elements of a hash (field -> Entry::value.data), a set (member -> empty value) or a
// sorted set (member -> its score, encode_score's 8 bytes), in a KeyTable of their own:
// SCAN-style cursors (HSCAN, SSCAN, ZSCAN) keep their guarantee while the collection changes,
// iteration is deterministic, and resizing is incremental. Entry::value's expiry and coll are
// unused for elements. A sorted set also has `index`, the members in score order (it points
// into `elems`: a member leaves the index before it leaves the table). A list keeps its
// elements in a ListValue instead (`list`, null for every other type).
struct Collection {
  explicit Collection(ValueType t);
  ~Collection();
  Collection(const Collection&) = delete;
  Collection& operator=(const Collection&) = delete;
  // Rebuilds `index` from the scores in `elems` (after elements were added to the table
  // directly: a copy, an image load). Precondition: type is kZset.
  void rebuild_index();
  size_t size() const;           // elements
  size_t payload_bytes() const;  // bytes of the elements (and hash values)

  ValueType type;
  KeyTable elems;                    // hash, set, sorted set
  std::unique_ptr<ZsetIndex> index;  // sorted set
  std::unique_ptr<ListValue> list;   // list
};

}  // namespace rkv
