// The leaderless engine's peer messages and their byte encoding. Every message starts with the
// engine header (the keyspace name, see node/engine.h's put_engine_header, written by the
// caller) followed by one type byte and the fields of the type. Decoding is total: garbage from
// a peer yields false, never a crash, and never an object that fails Versioned's own checks.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "versions/dvv.h"

namespace rkv::leaderless {

enum class MsgType : uint8_t {
  kWrite = 1,            // store this object (replica write, hint, repair, hand-off)
  kWriteAck = 2,         // the write is durable
  kRead = 3,             // send me your version of the key
  kReadReply = 4,        // my version (empty object: I have none)
  kGossip = 5,           // heartbeat digest (Gossip::encode)
  kCoordinate = 6,       // coordinate this client write for me (I am not one of its replicas)
  kCoordinateReply = 7,  // the client reply (RESP bytes) to a kCoordinate
  kSyncRequest = 8,      // anti-entropy: my Merkle leaves of a token range
  kSyncResponse = 9,     // the differing leaves and my objects under them
  kSyncPush = 10,        // the requester's objects under the differing leaves
  kBatch = 11,           // several messages to one peer: varint-length-prefixed bodies
  kList = 12,            // send me your keys matching payload (a glob) in `range` (kAllRanges: all)
  kListReply = 13,       // some of them, values left out; ok: the last part
};

// kList's range when every range the receiver replicates is asked for.
inline constexpr uint32_t kAllRanges = UINT32_MAX;

// What a kWrite is for: acknowledged the same way, counted apart in the metrics.
enum class WriteKind : uint8_t { kReplica = 0, kHint = 1, kRepair = 2, kHandoff = 3, kSync = 4 };

struct KeyedObject {
  std::string key;
  versions::Versioned object;
};

struct Msg {
  MsgType type = MsgType::kWrite;
  uint64_t id = 0;  // request id chosen by the sender; echoed by replies
  // kWrite
  WriteKind kind = WriteKind::kReplica;
  int32_t hint_for = -1;  // kHint: the home replica (node index) the object is meant for
  // kWrite, kRead, kReadReply
  std::string key;
  versions::Versioned object;
  // kWriteAck: false when the replica refused (hint bounds); kReadReply: true; kListReply: last
  bool ok = true;
  // kGossip: raw digest bytes; kCoordinateReply: RESP bytes; kList: the pattern
  std::string payload;
  // kCoordinate
  uint64_t generation = 0;  // the receiver's incarnation (gossip generation) the sender knows
  uint64_t stamp = 0;       // the sender's HLC reading when its client sent the write
  uint8_t consistency = 0;
  uint8_t proto = 2;
  std::vector<std::string> args;
  // kSync*, kList
  uint32_t range = 0;
  std::vector<uint64_t> leaf_hashes;  // kSyncRequest: every leaf of the range's tree
  std::vector<uint32_t> leaves;       // kSyncResponse / kSyncPush: the differing leaves
  std::vector<KeyedObject> objects;   // kSyncResponse / kSyncPush / kListReply
};

// Appends the encoding of `m` (after the engine header) to `out`.
void encode(const Msg& m, std::string* out);
// Decodes a message body (after the engine header). A kBatch body is not a Msg: see below.
bool decode(std::string_view in, Msg* out);

// A batch: every message an engine sends one peer in one round travels in one payload.
// append_to_batch starts the batch (type byte) when `out` holds no message yet (`*count` 0).
void append_to_batch(const Msg& m, std::string* out, size_t* count);
// Splits a kBatch body into its messages' bodies (each then given to decode). False when the
// body is not a well-formed batch; `parts` holds what was read before the damage.
bool split_batch(std::string_view in, std::vector<std::string_view>* parts);

}  // namespace rkv::leaderless
