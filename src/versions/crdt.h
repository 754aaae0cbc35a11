// Convergent per-key state for multi-leader keyspaces with conflict = "crdt" (delta-state CRDTs
// with exact dots). One CrdtObject per key; every write makes a small delta (itself a
// CrdtObject) that is joined into the local object and shipped; a peer joins it into its own.
// join() is commutative, associative and idempotent, so replicas converge whatever the order,
// duplication or grouping of the deltas they receive.
//
// A key holds cells, grouped by the Redis type they belong to (a string key has the one cell
// ""; a hash one per field; a set one per member; a sorted set one per member). A cell is:
//  * registers: writes, each under a unique dot (actor, seq, idx), with its HLC stamp and value.
//    A write removes exactly the dots its writer had seen (observed-remove) and adds its own;
//    concurrent writes all stay live, and the one with the greatest (stamp, actor) is shown.
//    A removed dot is remembered, so an add that arrives after its removal stays removed.
//  * a counter: per actor, monotonic totals of positive and negative increments (integer and
//    floating point), joined by per-actor maximum; every increment counts.
//  * a base: the counter totals the latest resets (a write or removal of the cell) had
//    observed, joined by per-actor maximum. The counter's contribution is counter - base: a
//    reset zeroes what it saw, and increments concurrent with it survive.
// A cell is present while it has a live register or a contribution. Removing a cell (HDEL,
// SREM, DEL) is a reset with no register written: add-wins against concurrent writes.
// The key's type and expiry are last-writer-wins registers (stamp, actor).
//
// Value type only: no IO, no clocks.
#pragma once

#include <compare>
#include <cstdint>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>

namespace rkv::versions {

struct CDot {
  uint64_t actor = 0;
  uint64_t seq = 0;  // the writer's origin-log seq
  uint32_t idx = 0;  // which write of that entry
  auto operator<=>(const CDot&) const = default;
};

struct Totals {
  int64_t p = 0, n = 0;   // integer increments: sum of positive, of |negative|
  double fp = 0, fn = 0;  // floating point ones
  bool operator==(const Totals&) const = default;
  void join(const Totals& o);
};

struct Cell {
  struct Write {
    uint64_t hlc = 0;
    std::string value;
    bool operator==(const Write&) const = default;
  };
  std::map<CDot, Write> live;
  std::set<CDot> removed;
  // By (actor, the writer's origin-log seq when the actor started this counter): a counter
  // whose object was collected everywhere starts anew under a new key, so that a replica that
  // has not collected it yet does not take the new totals for old ones.
  using CounterKey = std::pair<uint64_t, uint64_t>;
  std::map<CounterKey, Totals> counter;
  std::map<CounterKey, Totals> base;

  bool operator==(const Cell&) const = default;
  void join(const Cell& o);
  bool present() const;
  // The register shown: the live write with the greatest (hlc, actor); nullptr when none.
  const Write* shown() const;
  // Counter contribution (counter - base), integer and floating-point parts; `floats`: some
  // floating-point increment contributes.
  void contribution(int64_t* ints, double* floats, bool* has_floats) const;
  // One cell alone (the stored form of a key's object is a row per cell); decode consumes
  // from *in and is total.
  void encode(std::string* out) const;
  static bool decode(std::string_view* in, Cell* out);
  // Live writes other than the shown one (concurrent register writes).
  size_t concurrent() const { return live.empty() ? 0 : live.size() - 1; }
};

struct Stamped {
  uint64_t hlc = 0, actor = 0;
  int64_t value = 0;
  bool operator==(const Stamped&) const = default;
  void join(const Stamped& o) {
    if (o.hlc > hlc || (o.hlc == hlc && o.actor > actor)) *this = o;
  }
};

class CrdtObject {
 public:
  // Cells by type tag (the node's ValueType numbering) then element.
  std::map<uint8_t, std::map<std::string, Cell, std::less<>>> cells;
  Stamped type;    // value: the type tag shown
  Stamped expiry;  // value: absolute expiry ms, 0 = none

  bool operator==(const CrdtObject&) const = default;
  void join(const CrdtObject& o);
  // Some cell of the shown type is present.
  bool present() const;
  const std::map<std::string, Cell, std::less<>>* shown_cells() const;

  // --- deltas (each also applied to *this, so that the next sees it) ---
  // Writes `value` to a cell: removes the live dots seen here, resets the counter.
  CrdtObject write(uint8_t t, std::string_view elem, std::string value, CDot dot, uint64_t hlc);
  // Removes a cell (observed-remove, counter reset).
  CrdtObject remove(uint8_t t, std::string_view elem);
  // Removes every cell of every type.
  CrdtObject remove_all();
  // Adds to a cell's counter under `actor` (its latest counter there; a new one started at
  // `seq` when it has none).
  CrdtObject increment(uint8_t t, std::string_view elem, uint64_t actor, uint64_t seq, int64_t by);
  CrdtObject increment_float(uint8_t t, std::string_view elem, uint64_t actor, uint64_t seq,
                             double by);
  CrdtObject set_type(uint8_t t, uint64_t hlc, uint64_t actor);
  CrdtObject set_expiry(int64_t at_ms, uint64_t hlc, uint64_t actor);

  void encode(std::string* out) const;
  // Total: false on malformed input.
  static bool decode(std::string_view in, CrdtObject* out);

 private:
  template <typename Add>
  CrdtObject add_to_counter(uint8_t t, std::string_view elem, uint64_t actor, uint64_t seq,
                            Add add);

 public:
  // The type and expiry registers alone.
  void encode_head(std::string* out) const;
  bool decode_head(std::string_view* in);
};

}  // namespace rkv::versions
