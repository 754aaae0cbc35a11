// Byte encodings the node layer owns: log entry payloads (a client command with the leader's
// clock reading) and node-to-node envelopes (Raft traffic, forwarded requests and replies).
// Every decoder is total: malformed input yields false, never a crash.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace rkv {

// A command in a replicated log entry. `now_ms` is the leader's clock when it proposed the
// command: every replica executes the command as of that time, so TTLs and expiry decisions
// are identical everywhere.
struct LoggedCommand {
  // kExpire: args are keys to expire. kMulti: a transaction (MULTI ... EXEC), applied as one
  // entry; each arg is one of its commands, encoded by encode_command (zero args: an empty
  // transaction, which still orders its WATCH check in the log). kEvict: args are keys the
  // leader evicted to stay under maxmemory (removed unconditionally, counted where proposed).
  enum Kind : uint8_t { kClient = 1, kExpire = 2, kMulti = 3, kEvict = 4 };
  Kind kind = kClient;
  uint32_t proposer = 0;  // index of the node that proposed it
  int64_t now_ms = 0;
  std::vector<std::string_view> args;  // views into the decoded buffer
};
std::string encode_logged(LoggedCommand::Kind kind, uint32_t proposer, int64_t now_ms,
                          std::span<const std::string_view> args);
bool decode_logged(std::string_view data, LoggedCommand* out);
// The second argument of a logged client command (the key, for the commands that have one),
// without decoding the rest; nullopt when there is none or the entry does not parse.
std::optional<std::string_view> logged_key(std::string_view data);

// One command (its arguments) as a byte string, and back (total: false on malformed input).
// The commands of a kMulti entry and of a relayed transaction are encoded so.
std::string encode_command(std::span<const std::string_view> args);
bool decode_command(std::string_view data, std::vector<std::string_view>* args);

// A transaction (MULTI ... EXEC) as the node runs it: the data commands queued, in order
// (arity checked), and the keys its client WATCHes. On a primary keyspace the watched keys'
// changes applied on the client's node up to log index `checked_through` were checked there
// (the client's WATCH did not fire); the leader checks the log after it (RaftGroup).
// kNotChecked: the transaction comes straight from the client's EXEC, and the keyspace's
// engine on this node sets it to what it has applied.
struct Transaction {
  static constexpr uint64_t kNotChecked = ~uint64_t{0};
  std::vector<std::vector<std::string>> commands;
  std::vector<std::string> watched;
  uint64_t checked_through = kNotChecked;
};
// A transaction relayed to the leader travels as the arguments of a forwarded request:
// "EXEC", checked_through, the number of watched keys, the watched keys, then each command
// encoded by encode_command. A client's own EXEC is never forwarded as a command.
std::vector<std::string> encode_relayed_transaction(const Transaction& t);
bool is_relayed_transaction(std::span<const std::string_view> args);
bool decode_relayed_transaction(std::span<const std::string_view> args, Transaction* out);

// Envelope tags of peer payloads.
inline constexpr char kPeerRaft = 'R';        // 'R' + raft codec bytes
inline constexpr char kPeerForward = 'F';     // a client request relayed to the leader
inline constexpr char kPeerReply = 'A';       // the leader's answer to a relayed request
inline constexpr char kPeerLeaderless = 'L';  // 'L' + leaderless engine message (engine.h header)
inline constexpr char kPeerMultiLeader =
    'M';  // 'M' + multi-leader engine message (engine.h header)

struct ForwardRequest {
  uint64_t id = 0;
  // The term in which the sender knew the receiver as leader: the receiver executes the request
  // only while it leads in that term. A delayed duplicate that reaches it after a restart (its
  // memory of executed ids is gone) or in a later term is refused, not executed again.
  uint64_t leader_term = 0;
  uint8_t proto = 2;
  uint8_t read_mode = 0;  // 0: keyspace default, else 1 + ReadMode
  std::vector<std::string_view> args;
};
std::string encode_forward(uint64_t id, uint64_t leader_term, uint8_t proto, uint8_t read_mode,
                           std::span<const std::string_view> args);
bool decode_forward(std::string_view payload, ForwardRequest* out);  // payload after the tag
std::string encode_forward_reply(uint64_t id, std::string_view reply);
bool decode_forward_reply(std::string_view payload, uint64_t* id, std::string_view* reply);

}  // namespace rkv
