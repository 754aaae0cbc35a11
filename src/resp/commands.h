// The command table: every command replikv understands, with the metadata that COMMAND,
// COMMAND INFO, COMMAND DOCS and COMMAND COUNT report and that the node uses to check arity
// before executing. Pure data plus a case-insensitive lookup.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace rkv::resp {

enum class CommandId : uint16_t {
  kPing,
  kEcho,
  kHello,
  kQuit,
  kSelect,
  kCommand,
  kClient,
  kInfo,
  kDbsize,
  kGet,
  kSet,
  kSetnx,
  kGetdel,
  kMget,
  kMset,
  kDel,
  kExists,
  kIncr,
  kIncrby,
  kDecr,
  kDecrby,
  kAppend,
  kStrlen,
  kExpire,
  kPexpire,
  kTtl,
  kPttl,
  kPersist,
  kType,
  kScan,
  kKeys,
  kFlushall,
  kFlushdb,
  kSetex,
  kPsetex,
  kGetex,
  kGetset,
  kMsetnx,
  kIncrbyfloat,
  kSetrange,
  kGetrange,
  kSubstr,
  kLcs,
  kSetbit,
  kGetbit,
  kBitcount,
  kBitpos,
  kExpireat,
  kPexpireat,
  kExpiretime,
  kPexpiretime,
  kRename,
  kRenamenx,
  kCopy,
  kUnlink,
  kTouch,
  kRandomkey,
  kKeyspaces,
  kReset,
  kAuth,
  kRole,
  kRoles,
  kLostwrites,
  kStaleness,
  kReadmode,
  kConsistency,
  kSiblings,
  kRing,
  kRepair,
  kConflicts,
  kWait,
  kConfig,
  kLastsave,
  kTime,
  kSave,
  kBgsave,
  kShutdown,
  kHset,
  kHsetnx,
  kHget,
  kHmget,
  kHmset,
  kHdel,
  kHexists,
  kHlen,
  kHstrlen,
  kHkeys,
  kHvals,
  kHgetall,
  kHincrby,
  kHincrbyfloat,
  kHrandfield,
  kHscan,
  kSadd,
  kSrem,
  kSismember,
  kSmismember,
  kSmembers,
  kScard,
  kSpop,
  kSrandmember,
  kSmove,
  kSinter,
  kSunion,
  kSdiff,
  kSinterstore,
  kSunionstore,
  kSdiffstore,
  kSintercard,
  kSscan,
  kObject,
  kMulti,
  kExec,
  kDiscard,
  kWatch,
  kUnwatch,
  kZadd,
  kZincrby,
  kZscore,
  kZmscore,
  kZrank,
  kZrevrank,
  kZcard,
  kZcount,
  kZlexcount,
  kZrange,
  kZrangestore,
  kZrevrange,
  kZrangebyscore,
  kZrevrangebyscore,
  kZrangebylex,
  kZrevrangebylex,
  kZrem,
  kZremrangebyrank,
  kZremrangebyscore,
  kZremrangebylex,
  kZpopmin,
  kZpopmax,
  kZrandmember,
  kZunion,
  kZinter,
  kZdiff,
  kZunionstore,
  kZinterstore,
  kZdiffstore,
  kZintercard,
  kZscan,
  kLpush,
  kRpush,
  kLpushx,
  kRpushx,
  kLpop,
  kRpop,
  kLlen,
  kLrange,
  kLindex,
  kLset,
  kLinsert,
  kLrem,
  kLtrim,
  kLpos,
  kLmove,
  kRpoplpush,
  kLmpop,
  kBlpop,
  kBrpop,
  kBlmove,
  kBrpoplpush,
  kBlmpop,
  kAcl,
  kCount_  // number of commands; keep last
};

enum CommandFlag : uint32_t {
  kWrite = 1u << 0,
  kReadonly = 1u << 1,
  kFast = 1u << 2,
  kAdmin = 1u << 3,
  kNoScript = 1u << 4,
  kLoading = 1u << 5,
  kStale = 1u << 6,
  kConnection = 1u << 7,  // acts on the connection, not on data
  kDenyOom = 1u << 8,
  kNoAuth = 1u << 10,  // allowed before the connection authenticated
  // Some keys are found by reading the command (a numkeys argument), not from first/last/step
  // alone (which name only the fixed keys, such as a destination, as Redis reports them): see
  // for_each_key.
  kMovableKeys = 1u << 9,
  // May block the client until a key it names changes (BLPOP, BLMOVE, ...): the runtime parks
  // the connection when the command's non-blocking form finds nothing (see connection.cc).
  kBlocking = 1u << 11,
};

struct CommandSpec {
  std::string_view name;  // lower case, as COMMAND reports it
  CommandId id;
  int arity;  // Redis convention: N exact, -N at least N (name counts)
  uint32_t flags;
  int first_key, last_key, step;  // key positions, Redis convention (last -1 = to the end)
  std::string_view summary;       // for COMMAND DOCS
  std::string_view since;         // Redis version whose semantics we follow
  std::string_view group;         // "string", "bitmap", "generic", "connection", "server",
                                  // "cluster"
};

// nullptr when unknown. Case-insensitive, allocation-free.
const CommandSpec* lookup_command(std::string_view name);
std::span<const CommandSpec> all_commands();

// The subcommands of a command that has them (ACL, CLIENT, COMMAND, CONFIG, OBJECT), each with its
// own arity (counting the command's name and the subcommand's), flags and key positions, named
// "parent|sub" as COMMAND INFO lists them; their `id` is the parent's. Empty for the rest.
std::span<const CommandSpec> subcommands(CommandId parent);
// A subcommand by its full name ("config|get"), case-insensitive; nullptr when unknown.
const CommandSpec* lookup_subcommand(std::string_view full_name);
// True when argc (name included) satisfies spec.arity.
inline bool arity_ok(const CommandSpec& spec, size_t argc) {
  return spec.arity >= 0 ? argc == static_cast<size_t>(spec.arity)
                         : argc >= static_cast<size_t>(-spec.arity);
}

// The index of a kMovableKeys command's numkeys argument (its keys follow it): 1 (SINTERCARD,
// ZUNION, ZINTER, ZDIFF, ZINTERCARD, LMPOP) or 2, after a destination key (ZUNIONSTORE,
// ZINTERSTORE, ZDIFFSTORE) or a timeout (BLMPOP); 0 for a command without one.
size_t numkeys_index(CommandId id);

// Where the keys after a kMovableKeys command's numkeys argument are: *first and *count (0 when
// malformed: the command's own checks reject it).
// Where the keys of a kMovableKeys command are: *first and *count (0 when malformed: the
// command's own checks reject it): numkeys at argument 1 (SINTERCARD, LMPOP) or 2 (BLMPOP),
// the keys right after it.
void movable_keys(const CommandSpec& spec, std::span<const std::string_view> args, size_t* first,
                  size_t* count);

// Calls fn(i) for the index of every key argument of a command: those of first/last/step (a
// kMovableKeys command's are its fixed keys, such as a destination), then a kMovableKeys
// command's keys after numkeys.
template <typename Fn>
void for_each_key(const CommandSpec& spec, std::span<const std::string_view> args, Fn&& fn) {
  const size_t argc = args.size();
  if (spec.first_key > 0) {
    const size_t last =
        spec.last_key < 0 ? argc + spec.last_key : static_cast<size_t>(spec.last_key);
    const size_t step = spec.step > 0 ? static_cast<size_t>(spec.step) : 1;
    for (size_t i = static_cast<size_t>(spec.first_key); i <= last && i < argc; i += step)
      fn(i);
  }
  if (spec.flags & kMovableKeys) {
    size_t first = 0, count = 0;
    movable_keys(spec, args, &first, &count);
    for (size_t i = first; i < first + count && i < argc; ++i)
      fn(i);
  }
}

}  // namespace rkv::resp
