// codec: Raft messages on the wire (protobuf, raft_messages.proto). Decoding is total: any byte
// string yields either a well-formed Message or Corruption, never a crash or an exception.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"
#include "raft/types.h"

namespace rkv::raft {

// Largest encoded message decode() accepts; bigger inputs are refused as ResourceExhausted.
// Senders keep messages far below it (max_bytes_per_msg, snapshot_chunk_bytes).
inline constexpr size_t kMaxEncodedMessageBytes = 64u << 20;

struct Envelope {
  std::string group;  // the Raft group (keyspace) the message belongs to
  Message message;
};

// `prefix` (a caller's framing tag) is written first, so the encoding needs no second copy.
std::string encode_message(std::string_view group, const Message& m, std::string_view prefix = {});
Result<Envelope> decode_message(std::string_view bytes);

}  // namespace rkv::raft
