// The client commands of a keyspace whose keys are versions::Versioned objects (dotted version
// vectors), shared by the engines that keep them: leaderless keyspaces, and multi-leader
// keyspaces with conflict = "siblings". Both offer the same strings-only command set with the
// same replies; they differ in where the objects live and when a write is acknowledged, which
// stays with each engine. Pure functions: no engine state, no IO.
//
// Replies:
//   GET key / MGET key...   the visible value: the newest live sibling by (hlc, dot), or nil
//   EXISTS key...           how many keys have a visible value
//   TTL / PTTL key          of the visible value (-2: none, -1: no expiry)
//   SIBLINGS key            [context, [[value|nil, hlc, dot, expire_at_ms], ...]]: every sibling
//                           (tombstones and expired values as nil), sorted by dot, and the causal
//                           context to pass to SET ... CONTEXT
//   SET key value [EX s|PX ms|EXAT s|PXAT ms] [CONTEXT ctx]   +OK
//   DEL key...              how many keys had a visible value
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "resp/commands.h"
#include "resp/writer.h"
#include "versions/dvv.h"

namespace rkv::versioned {

enum class Command : uint8_t { kGet, kMget, kExists, kTtl, kPttl, kSiblings, kSet, kDel };

// The command a versioned keyspace runs for `id`; nullopt: it refuses it (refusal()).
std::optional<Command> command_of(resp::CommandId id);
// The error for a command the keyspace does not run. `where` names the keyspace, e.g.
// "leaderless keyspace 'prefs'".
std::string refusal(const resp::CommandSpec& spec, std::string_view where);

// Neither a tombstone nor expired at now_ms.
bool live(const versions::Sibling& s, int64_t now_ms);
// The sibling a plain read shows: the newest live one by (hlc, dot); nullptr when none. A
// newer tombstone hides older live siblings only when it causally follows them (then merge
// dropped them already); live siblings concurrent with a delete stay visible.
const versions::Sibling* visible(const versions::Versioned& o, int64_t now_ms);

// Writes the reply of a read command (kGet .. kSiblings) over `keys` keys, `object(i)` being
// key i's object (nullptr: none).
void reply_read(Command c, size_t keys,
                const std::function<const versions::Versioned*(size_t)>& object, int64_t now_ms,
                resp::Writer& w);

// A write as its command asked for it: the new sibling (value, expiry, or a tombstone; its
// dot and hlc are the engine's to set) and the causal context the client passed (empty: none).
struct Write {
  versions::Sibling sibling;
  versions::VersionVector context;
};
// Parses SET (args[0..]: SET key value options...) or DEL (a tombstone; no options). False
// with *error set to the reply when malformed; `where` names the keyspace as for refusal().
bool parse_write(Command c, std::span<const std::string_view> args, int64_t now_ms,
                 size_t max_value_len, std::string_view where, Write* out, std::string* error);

// A clock reading for a write replacing `obj`'s versions: `hlc`, raised above every sibling's,
// so that the order GET shows never puts a version above one that causally follows it.
uint64_t stamp_above(const versions::Versioned& obj, uint64_t hlc);

}  // namespace rkv::versioned
