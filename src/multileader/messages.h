// The multi-leader engine's peer messages and their byte encoding. Every message starts with
// the engine header (the keyspace name, node/engine.h's put_engine_header, written by the
// caller), then one type byte and the type's fields. Decoding is total: garbage from a peer
// yields false, never a crash.
//
// Three messages carry the whole protocol:
//  * kStatus: the sender's actor and its *durable* applied vector (for each origin, the highest
//    entry of that origin's log it holds on disk). It is the acknowledgement (a peer's cursor
//    in my origin log is its applied[me]) and the input of tombstone collection (an entry
//    every member holds is stable).
//  * kEntries: a run of the sender's own origin log, in order.
//  * kState: part `part` (0, 1, ...) of a state transfer (a peer too far behind for the log):
//    stamped key images; the last part carries the sender's applied vector as of the
//    transfer's start, which the receiver takes only if it got every part in order.
//  * kStatus with `resend`: the receiver saw a gap in the sender's run (a lost or overtaken
//    message) and asks it to go back to its cursor now rather than after retransmit_ms.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rkv::multileader {

enum class MsgType : uint8_t { kStatus = 1, kEntries = 2, kState = 3 };

// (actor, seq) pairs, sorted by actor, one per actor.
using AppliedVector = std::vector<std::pair<uint64_t, uint64_t>>;
uint64_t applied_of(const AppliedVector& v, uint64_t actor);

// One key's state as a write left it: its stamp (hybrid logical clock reading, then the
// writer's actor: the last-writer-wins order) and its value image (Store::key_image), or a
// tombstone. `seq`: its place in the writer's origin log (0 in a state transfer).
struct Item {
  uint64_t seq = 0;
  std::string key;
  uint64_t hlc = 0;
  uint64_t actor = 0;
  bool tomb = false;
  std::string image;  // empty for a tombstone
};

struct Msg {
  MsgType type = MsgType::kStatus;
  uint64_t actor = 0;       // the sender's actor
  AppliedVector applied;    // kStatus; kState when `last`
  std::vector<Item> items;  // kEntries (consecutive seqs of the sender's log), kState
  uint64_t transfer = 0;    // kState: the transfer's id
  uint64_t part = 0;        // kState: which part
  bool last = false;        // kState: the transfer's last part
  bool resend = false;      // kStatus: resend from my cursor
};

// Appends the message after whatever the caller wrote (the engine header).
void encode(const Msg& m, std::string* out);
bool decode(std::string_view in, Msg* out);

// An item as one origin-log record (seq, key, hlc, tomb, image; the actor is the log's owner).
std::string encode_log_record(const Item& it);
bool decode_log_record(std::string_view in, uint64_t actor, Item* out);
// Bytes an item adds to a message (for batching).
size_t encoded_size(const Item& it);

// An applied vector alone (stored as the engine's cursor record).
std::string encode_applied(const AppliedVector& v);
bool decode_applied(std::string_view in, AppliedVector* out);

}  // namespace rkv::multileader
