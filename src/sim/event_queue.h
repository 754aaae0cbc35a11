// The simulator's discrete-event queue: events run in (time, sequence) order, where the
// sequence number is assigned at scheduling time. Two events at the same simulated time run in
// the order they were scheduled, so a run is a pure function of the seed: no pointer, hash or
// container iteration order can leak into it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "core/assert.h"

namespace rkv::sim {

enum class EventKind : uint8_t {
  kTick,           // node: a tick of its clock
  kDeliver,        // node: a peer message arrives (from, data)
  kDiskDone,       // node: a persist batch is on disk (a = token, b = sync)
  kRequest,        // node: a client's request arrives (a = client, b = op serial)
  kReply,          // client a: the reply to op serial b arrives (data)
  kClientTimeout,  // client a: op serial b has waited too long
  kClientStart,    // client a: time to issue its next operation
  kNemesis,        // the fault injector acts
  kRestart,        // node: restart after a crash
  kResume,         // node: a pause ends
  kPartitionEnd,   // the partition numbered a heals
  kCrash,          // node: a targeted crash (generation = incarnation it targets)
  kBlobDone,       // node: its blob op numbered a is carried out (an image written or removed)
  kDiskFull,       // a disk of a node fills up (the disk-full fault injector acts)
  kPersistRetry,   // node: a batch its full disk refused is tried again
};

struct Event {
  int64_t time = 0;  // simulated microseconds
  uint64_t seq = 0;
  EventKind kind = EventKind::kTick;
  uint8_t node = 0;
  uint8_t from = 0;
  uint32_t generation = 0;  // node incarnation the event belongs to (ticks, disk)
  uint64_t a = 0;
  uint64_t b = 0;
  std::string data;
};

class EventQueue {
 public:
  // Schedules `e` at e.time (>= now). Returns its sequence number.
  uint64_t push(Event e) {
    RKV_ASSERT(e.time >= now_);
    e.seq = next_seq_++;
    heap_.push_back(std::move(e));
    std::push_heap(heap_.begin(), heap_.end(), Later{});
    return heap_.back().seq;
  }
  bool empty() const { return heap_.empty(); }
  size_t size() const { return heap_.size(); }
  int64_t next_time() const { return heap_.front().time; }
  int64_t now() const { return now_; }

  // Removes the earliest event into *out and advances now to its time.
  void pop(Event* out) {
    std::pop_heap(heap_.begin(), heap_.end(), Later{});
    *out = std::move(heap_.back());
    heap_.pop_back();
    now_ = out->time;
  }

 private:
  struct Later {
    bool operator()(const Event& x, const Event& y) const {
      return x.time != y.time ? x.time > y.time : x.seq > y.seq;
    }
  };
  std::vector<Event> heap_;
  uint64_t next_seq_ = 0;
  int64_t now_ = 0;
};

}  // namespace rkv::sim
