// The command table. Entries are listed in CommandId order, so all_commands()[id] is the spec
// of `id`; a sorted index built at compile time serves the name lookup.
#include "resp/commands.h"

#include <algorithm>
#include <array>
#include <cstddef>

namespace rkv::resp {

namespace {

// Metadata of replikv's own commands follows replikv's version, not a Redis one.
constexpr std::string_view kOwn = "0.1.0";

// Shorthands for the key positions (first, last, step) used by the table.
#define RKV_NOKEYS 0, 0, 0
#define RKV_ONEKEY 1, 1, 1
#define RKV_ALLKEYS 1, -1, 1

// clang-format off
constexpr std::array<CommandSpec, static_cast<size_t>(CommandId::kCount_)> kCommands = {{
  {"ping", CommandId::kPing, -1, kFast, RKV_NOKEYS,
   "Replies PONG, or echoes the given message.", "1.0.0", "connection"},
  {"echo", CommandId::kEcho, 2, kFast, RKV_NOKEYS,
   "Replies with the given message.", "1.0.0", "connection"},
  {"hello", CommandId::kHello, -1, kNoScript | kLoading | kStale | kFast | kConnection | kNoAuth,
   RKV_NOKEYS,
   "Negotiates the protocol version (RESP2 or RESP3) and reports server details.", "6.0.0",
   "connection"},
  {"quit", CommandId::kQuit, -1, kNoScript | kLoading | kStale | kFast | kConnection | kNoAuth,
   RKV_NOKEYS,
   "Closes the connection after replying.", "1.0.0", "connection"},
  {"select", CommandId::kSelect, 2, kLoading | kStale | kFast | kConnection, RKV_NOKEYS,
   "Chooses the logical database of the connection (only 0 exists).", "1.0.0", "connection"},
  {"command", CommandId::kCommand, -1, kLoading | kStale, RKV_NOKEYS,
   "Describes the commands the server understands.", "2.8.13", "server"},
  {"client", CommandId::kClient, -2, kNoScript | kLoading | kStale | kConnection, RKV_NOKEYS,
   "Inspects or configures client connections.", "2.4.0", "connection"},
  {"info", CommandId::kInfo, -1, kLoading | kStale, RKV_NOKEYS,
   "Reports server information and statistics.", "1.0.0", "server"},
  {"dbsize", CommandId::kDbsize, 1, kReadonly | kFast, RKV_NOKEYS,
   "Counts the keys held by this node.", "1.0.0", "server"},
  {"get", CommandId::kGet, 2, kReadonly | kFast, RKV_ONEKEY,
   "Reads the string value of a key.", "1.0.0", "string"},
  {"set", CommandId::kSet, -3, kWrite | kDenyOom, RKV_ONEKEY,
   "Writes the string value of a key, with optional expiry and conditions.", "1.0.0", "string"},
  {"setnx", CommandId::kSetnx, 3, kWrite | kDenyOom | kFast, RKV_ONEKEY,
   "Writes a key only when it does not exist yet.", "1.0.0", "string"},
  {"getdel", CommandId::kGetdel, 2, kWrite | kFast, RKV_ONEKEY,
   "Reads the string value of a key and deletes the key.", "6.2.0", "string"},
  {"mget", CommandId::kMget, -2, kReadonly | kFast, RKV_ALLKEYS,
   "Reads the string values of several keys.", "1.0.0", "string"},
  {"mset", CommandId::kMset, -3, kWrite | kDenyOom, 1, -1, 2,
   "Writes several key/value pairs at once.", "1.0.1", "string"},
  {"del", CommandId::kDel, -2, kWrite, RKV_ALLKEYS,
   "Removes keys; replies with how many existed.", "1.0.0", "generic"},
  {"exists", CommandId::kExists, -2, kReadonly | kFast, RKV_ALLKEYS,
   "Counts how many of the given keys exist.", "1.0.0", "generic"},
  {"incr", CommandId::kIncr, 2, kWrite | kDenyOom | kFast, RKV_ONEKEY,
   "Adds one to the integer value of a key.", "1.0.0", "string"},
  {"incrby", CommandId::kIncrby, 3, kWrite | kDenyOom | kFast, RKV_ONEKEY,
   "Adds an amount to the integer value of a key.", "1.0.0", "string"},
  {"decr", CommandId::kDecr, 2, kWrite | kDenyOom | kFast, RKV_ONEKEY,
   "Subtracts one from the integer value of a key.", "1.0.0", "string"},
  {"decrby", CommandId::kDecrby, 3, kWrite | kDenyOom | kFast, RKV_ONEKEY,
   "Subtracts an amount from the integer value of a key.", "1.0.0", "string"},
  {"append", CommandId::kAppend, 3, kWrite | kDenyOom | kFast, RKV_ONEKEY,
   "Appends bytes to the string value of a key.", "2.0.0", "string"},
  {"strlen", CommandId::kStrlen, 2, kReadonly | kFast, RKV_ONEKEY,
   "Reports the length in bytes of the string value of a key.", "2.2.0", "string"},
  {"expire", CommandId::kExpire, -3, kWrite | kFast, RKV_ONEKEY,
   "Sets a key's time to live in seconds.", "1.0.0", "generic"},
  {"pexpire", CommandId::kPexpire, -3, kWrite | kFast, RKV_ONEKEY,
   "Sets a key's time to live in milliseconds.", "2.6.0", "generic"},
  {"ttl", CommandId::kTtl, 2, kReadonly | kFast, RKV_ONEKEY,
   "Reports a key's remaining time to live in seconds.", "1.0.0", "generic"},
  {"pttl", CommandId::kPttl, 2, kReadonly | kFast, RKV_ONEKEY,
   "Reports a key's remaining time to live in milliseconds.", "2.6.0", "generic"},
  {"persist", CommandId::kPersist, 2, kWrite | kFast, RKV_ONEKEY,
   "Removes a key's expiry.", "2.2.0", "generic"},
  {"type", CommandId::kType, 2, kReadonly | kFast, RKV_ONEKEY,
   "Reports the type of the value stored at a key.", "1.0.0", "generic"},
  {"scan", CommandId::kScan, -2, kReadonly, RKV_NOKEYS,
   "Iterates over the keys with a cursor.", "2.8.0", "generic"},
  {"keys", CommandId::kKeys, 2, kReadonly, RKV_NOKEYS,
   "Lists the keys that match a glob pattern.", "1.0.0", "generic"},
  {"flushall", CommandId::kFlushall, -1, kWrite, RKV_NOKEYS,
   "Removes every key.", "1.0.0", "server"},
  {"flushdb", CommandId::kFlushdb, -1, kWrite, RKV_NOKEYS,
   "Removes every key of the selected database.", "1.0.0", "server"},
  {"setex", CommandId::kSetex, 4, kWrite | kDenyOom, RKV_ONEKEY,
   "Writes the string value of a key with a time to live in seconds.", "2.0.0", "string"},
  {"psetex", CommandId::kPsetex, 4, kWrite | kDenyOom, RKV_ONEKEY,
   "Writes the string value of a key with a time to live in milliseconds.", "2.6.0", "string"},
  {"getex", CommandId::kGetex, -2, kWrite | kFast, RKV_ONEKEY,
   "Reads the string value of a key and optionally sets or removes its expiry.", "6.2.0",
   "string"},
  {"getset", CommandId::kGetset, 3, kWrite | kDenyOom | kFast, RKV_ONEKEY,
   "Writes the string value of a key and replies with its previous value.", "1.0.0", "string"},
  {"msetnx", CommandId::kMsetnx, -3, kWrite | kDenyOom, 1, -1, 2,
   "Writes several key/value pairs only when none of the keys exists.", "1.0.1", "string"},
  {"incrbyfloat", CommandId::kIncrbyfloat, 3, kWrite | kDenyOom | kFast, RKV_ONEKEY,
   "Adds a floating point amount to the value of a key.", "2.6.0", "string"},
  {"setrange", CommandId::kSetrange, 4, kWrite | kDenyOom, RKV_ONEKEY,
   "Overwrites part of a string value at an offset, padding with zero bytes.", "2.2.0",
   "string"},
  {"getrange", CommandId::kGetrange, 4, kReadonly, RKV_ONEKEY,
   "Reads a substring of the string value of a key.", "2.4.0", "string"},
  {"substr", CommandId::kSubstr, 4, kReadonly, RKV_ONEKEY,
   "Reads a substring of the string value of a key (old name of GETRANGE).", "1.0.0", "string"},
  {"lcs", CommandId::kLcs, -3, kReadonly, 1, 2, 1,
   "Finds the longest common subsequence of the values of two keys.", "7.0.0", "string"},
  {"setbit", CommandId::kSetbit, 4, kWrite | kDenyOom, RKV_ONEKEY,
   "Sets or clears one bit of a string value; replies with its previous value.", "2.2.0",
   "bitmap"},
  {"getbit", CommandId::kGetbit, 3, kReadonly | kFast, RKV_ONEKEY,
   "Reads one bit of a string value.", "2.2.0", "bitmap"},
  {"bitcount", CommandId::kBitcount, -2, kReadonly, RKV_ONEKEY,
   "Counts the set bits of a string value, optionally in a byte or bit range.", "2.6.0",
   "bitmap"},
  {"bitpos", CommandId::kBitpos, -3, kReadonly, RKV_ONEKEY,
   "Finds the first set or clear bit of a string value, optionally in a range.", "2.8.7",
   "bitmap"},
  {"expireat", CommandId::kExpireat, -3, kWrite | kFast, RKV_ONEKEY,
   "Sets a key's expiry as a Unix time in seconds.", "1.2.0", "generic"},
  {"pexpireat", CommandId::kPexpireat, -3, kWrite | kFast, RKV_ONEKEY,
   "Sets a key's expiry as a Unix time in milliseconds.", "2.6.0", "generic"},
  {"expiretime", CommandId::kExpiretime, 2, kReadonly | kFast, RKV_ONEKEY,
   "Reports a key's expiry as a Unix time in seconds.", "7.0.0", "generic"},
  {"pexpiretime", CommandId::kPexpiretime, 2, kReadonly | kFast, RKV_ONEKEY,
   "Reports a key's expiry as a Unix time in milliseconds.", "7.0.0", "generic"},
  {"rename", CommandId::kRename, 3, kWrite, 1, 2, 1,
   "Renames a key, replacing any key of the new name.", "1.0.0", "generic"},
  {"renamenx", CommandId::kRenamenx, 3, kWrite | kFast, 1, 2, 1,
   "Renames a key only when the new name does not exist.", "1.0.0", "generic"},
  {"copy", CommandId::kCopy, -3, kWrite | kDenyOom, 1, 2, 1,
   "Copies the value of a key (with its expiry) to another key.", "6.2.0", "generic"},
  {"unlink", CommandId::kUnlink, -2, kWrite | kFast, RKV_ALLKEYS,
   "Removes keys; replies with how many existed (same as DEL here).", "4.0.0", "generic"},
  {"touch", CommandId::kTouch, -2, kReadonly | kFast, RKV_ALLKEYS,
   "Counts how many of the given keys exist.", "3.2.1", "generic"},
  {"randomkey", CommandId::kRandomkey, 1, kReadonly, RKV_NOKEYS,
   "Replies with a key chosen at random among those this node holds.", "1.0.0", "generic"},
  {"keyspaces", CommandId::kKeyspaces, 1, kLoading | kStale | kFast, RKV_NOKEYS,
   "Lists the keyspaces with their prefixes and replication models.", kOwn, "cluster"},
  {"reset", CommandId::kReset, 1, kNoScript | kLoading | kStale | kFast | kConnection | kNoAuth,
   RKV_NOKEYS, "Returns the connection to its initial state.", "6.2.0", "connection"},
  {"auth", CommandId::kAuth, -2, kNoScript | kLoading | kStale | kFast | kConnection | kNoAuth,
   RKV_NOKEYS, "Authenticates the connection (AUTH password, AUTH user password).", "1.0.0",
   "connection"},
  {"role", CommandId::kRole, 1, kNoScript | kLoading | kStale | kFast, RKV_NOKEYS,
   "Reports this node's replication role.", "2.8.12", "server"},
  {"roles", CommandId::kRoles, 1, kNoScript | kLoading | kStale | kFast, RKV_NOKEYS,
   "Reports this node's role in each primary keyspace.", kOwn, "cluster"},
  {"lostwrites", CommandId::kLostwrites, -1, kAdmin | kLoading | kStale, RKV_NOKEYS,
   "Lists acknowledged asynchronous writes that were recorded as lost.", kOwn, "cluster"},
  {"staleness", CommandId::kStaleness, -1, kLoading | kStale | kFast | kConnection, RKV_NOKEYS,
   "Reports how stale the connection's last follower read was.", kOwn, "cluster"},
  {"readmode", CommandId::kReadmode, -1, kLoading | kStale | kFast | kConnection, RKV_NOKEYS,
   "Shows or overrides the read mode of this connection.", kOwn, "connection"},
  {"consistency", CommandId::kConsistency, -1, kLoading | kStale | kFast | kConnection,
   RKV_NOKEYS, "Shows or overrides how many replicas leaderless requests of this connection wait for.",
   kOwn, "connection"},
  {"siblings", CommandId::kSiblings, 2, kReadonly, RKV_ONEKEY,
   "Reads every concurrent version of a leaderless key with its causal context.", kOwn, "cluster"},
  {"ring", CommandId::kRing, -1, kLoading | kStale, RKV_NOKEYS,
   "Describes the hash ring of the leaderless keyspaces: token ownership and node states.", kOwn,
   "cluster"},
  {"repair", CommandId::kRepair, -1, kAdmin, RKV_NOKEYS,
   "Starts an anti-entropy pass of the leaderless keyspaces now.", kOwn, "cluster"},
  {"conflicts", CommandId::kConflicts, -1, kLoading | kStale, RKV_NOKEYS,
   "Lists recent writes of multi-leader keyspaces that last-writer-wins discarded.", kOwn,
   "cluster"},
  {"wait", CommandId::kWait, 3, kNoScript, RKV_NOKEYS,
   "Blocks until earlier writes of the connection reach a number of replicas.", "3.0.0",
   "generic"},
  {"config", CommandId::kConfig, -2, kAdmin | kNoScript | kLoading | kStale, RKV_NOKEYS,
   "Reads configuration parameters (CONFIG GET only).", "2.0.0", "server"},
  {"lastsave", CommandId::kLastsave, 1, kLoading | kStale | kFast, RKV_NOKEYS,
   "Reports the Unix time of the last successful save.", "1.0.0", "server"},
  {"time", CommandId::kTime, 1, kLoading | kStale | kFast, RKV_NOKEYS,
   "Reports the server time as seconds and microseconds.", "2.6.0", "server"},
  {"save", CommandId::kSave, 1, kAdmin | kNoScript, RKV_NOKEYS,
   "Persists the data set synchronously.", "1.0.0", "server"},
  {"bgsave", CommandId::kBgsave, -1, kAdmin | kNoScript, RKV_NOKEYS,
   "Persists the data set in the background.", "1.0.0", "server"},
  {"shutdown", CommandId::kShutdown, -1, kAdmin | kNoScript | kLoading | kStale, RKV_NOKEYS,
   "Stops the server.", "1.0.0", "server"},
  {"hset", CommandId::kHset, -4, kWrite | kDenyOom | kFast, RKV_ONEKEY,
   "Sets fields of a hash; replies with how many were new.", "2.0.0", "hash"},
  {"hsetnx", CommandId::kHsetnx, 4, kWrite | kDenyOom | kFast, RKV_ONEKEY,
   "Sets a field of a hash only when it does not exist yet.", "2.0.0", "hash"},
  {"hget", CommandId::kHget, 3, kReadonly | kFast, RKV_ONEKEY,
   "Reads the value of a field of a hash.", "2.0.0", "hash"},
  {"hmget", CommandId::kHmget, -3, kReadonly | kFast, RKV_ONEKEY,
   "Reads the values of several fields of a hash.", "2.0.0", "hash"},
  {"hmset", CommandId::kHmset, -4, kWrite | kDenyOom | kFast, RKV_ONEKEY,
   "Sets fields of a hash (replies OK).", "2.0.0", "hash"},
  {"hdel", CommandId::kHdel, -3, kWrite | kFast, RKV_ONEKEY,
   "Removes fields of a hash; replies with how many existed.", "2.0.0", "hash"},
  {"hexists", CommandId::kHexists, 3, kReadonly | kFast, RKV_ONEKEY,
   "Tells whether a field exists in a hash.", "2.0.0", "hash"},
  {"hlen", CommandId::kHlen, 2, kReadonly | kFast, RKV_ONEKEY,
   "Counts the fields of a hash.", "2.0.0", "hash"},
  {"hstrlen", CommandId::kHstrlen, 3, kReadonly | kFast, RKV_ONEKEY,
   "Reports the length of the value of a field of a hash.", "3.2.0", "hash"},
  {"hkeys", CommandId::kHkeys, 2, kReadonly, RKV_ONEKEY,
   "Lists the fields of a hash.", "2.0.0", "hash"},
  {"hvals", CommandId::kHvals, 2, kReadonly, RKV_ONEKEY,
   "Lists the values of a hash.", "2.0.0", "hash"},
  {"hgetall", CommandId::kHgetall, 2, kReadonly, RKV_ONEKEY,
   "Reads every field and value of a hash.", "2.0.0", "hash"},
  {"hincrby", CommandId::kHincrby, 4, kWrite | kDenyOom | kFast, RKV_ONEKEY,
   "Adds an integer to the value of a field of a hash.", "2.0.0", "hash"},
  {"hincrbyfloat", CommandId::kHincrbyfloat, 4, kWrite | kDenyOom | kFast, RKV_ONEKEY,
   "Adds a floating point amount to the value of a field of a hash.", "2.6.0", "hash"},
  {"hrandfield", CommandId::kHrandfield, -2, kReadonly, RKV_ONEKEY,
   "Replies with fields (optionally with values) of a hash chosen at random.", "6.2.0", "hash"},
  {"hscan", CommandId::kHscan, -3, kReadonly, RKV_ONEKEY,
   "Iterates over the fields and values of a hash with a cursor.", "2.8.0", "hash"},
  {"sadd", CommandId::kSadd, -3, kWrite | kDenyOom | kFast, RKV_ONEKEY,
   "Adds members to a set; replies with how many were new.", "1.0.0", "set"},
  {"srem", CommandId::kSrem, -3, kWrite | kFast, RKV_ONEKEY,
   "Removes members from a set; replies with how many were there.", "1.0.0", "set"},
  {"sismember", CommandId::kSismember, 3, kReadonly | kFast, RKV_ONEKEY,
   "Tells whether a value is a member of a set.", "1.0.0", "set"},
  {"smismember", CommandId::kSmismember, -3, kReadonly | kFast, RKV_ONEKEY,
   "Tells, for each of several values, whether it is a member of a set.", "6.2.0", "set"},
  {"smembers", CommandId::kSmembers, 2, kReadonly, RKV_ONEKEY,
   "Lists the members of a set.", "1.0.0", "set"},
  {"scard", CommandId::kScard, 2, kReadonly | kFast, RKV_ONEKEY,
   "Counts the members of a set.", "1.0.0", "set"},
  {"spop", CommandId::kSpop, -2, kWrite | kFast, RKV_ONEKEY,
   "Removes and replies with members of a set chosen pseudo-randomly.", "1.0.0", "set"},
  {"srandmember", CommandId::kSrandmember, -2, kReadonly, RKV_ONEKEY,
   "Replies with members of a set chosen at random.", "1.0.0", "set"},
  {"smove", CommandId::kSmove, 4, kWrite | kFast, 1, 2, 1,
   "Moves a member from one set to another.", "1.0.0", "set"},
  {"sinter", CommandId::kSinter, -2, kReadonly, RKV_ALLKEYS,
   "Replies with the intersection of sets.", "1.0.0", "set"},
  {"sunion", CommandId::kSunion, -2, kReadonly, RKV_ALLKEYS,
   "Replies with the union of sets.", "1.0.0", "set"},
  {"sdiff", CommandId::kSdiff, -2, kReadonly, RKV_ALLKEYS,
   "Replies with the difference of the first set and the others.", "1.0.0", "set"},
  {"sinterstore", CommandId::kSinterstore, -3, kWrite | kDenyOom, RKV_ALLKEYS,
   "Stores the intersection of sets in a key.", "1.0.0", "set"},
  {"sunionstore", CommandId::kSunionstore, -3, kWrite | kDenyOom, RKV_ALLKEYS,
   "Stores the union of sets in a key.", "1.0.0", "set"},
  {"sdiffstore", CommandId::kSdiffstore, -3, kWrite | kDenyOom, RKV_ALLKEYS,
   "Stores the difference of the first set and the others in a key.", "1.0.0", "set"},
  {"sintercard", CommandId::kSintercard, -3, kReadonly | kMovableKeys, RKV_NOKEYS,
   "Counts the members of the intersection of sets, up to an optional limit.", "7.0.0", "set"},
  {"sscan", CommandId::kSscan, -3, kReadonly, RKV_ONEKEY,
   "Iterates over the members of a set with a cursor.", "2.8.0", "set"},
  {"object", CommandId::kObject, -2, 0, RKV_NOKEYS,
   "A container for object introspection commands.", "2.2.3", "generic"},
  {"multi", CommandId::kMulti, 1, kNoScript | kLoading | kStale | kFast, RKV_NOKEYS,
   "Starts a transaction: the commands that follow are queued until EXEC.", "1.2.0",
   "transactions"},
  {"exec", CommandId::kExec, 1, kNoScript | kLoading | kStale, RKV_NOKEYS,
   "Runs the queued commands of a transaction as one unit.", "1.2.0", "transactions"},
  {"discard", CommandId::kDiscard, 1, kNoScript | kLoading | kStale | kFast, RKV_NOKEYS,
   "Drops the queued commands of a transaction.", "2.0.0", "transactions"},
  {"watch", CommandId::kWatch, -2, kNoScript | kLoading | kStale | kFast, RKV_ALLKEYS,
   "Makes the next EXEC abort if any of these keys changes first.", "2.2.0", "transactions"},
  {"unwatch", CommandId::kUnwatch, 1, kNoScript | kLoading | kStale | kFast, RKV_NOKEYS,
   "Forgets the keys watched by the connection.", "2.2.0", "transactions"},
  {"zadd", CommandId::kZadd, -4, kWrite | kDenyOom | kFast, RKV_ONEKEY,
   "Adds members to a sorted set or updates their scores (NX XX GT LT CH INCR).", "1.2.0", "sorted-set"},
  {"zincrby", CommandId::kZincrby, 4, kWrite | kDenyOom | kFast, RKV_ONEKEY,
   "Adds an amount to the score of a member of a sorted set.", "1.2.0", "sorted-set"},
  {"zscore", CommandId::kZscore, 3, kReadonly | kFast, RKV_ONEKEY,
   "Reads the score of a member of a sorted set.", "1.2.0", "sorted-set"},
  {"zmscore", CommandId::kZmscore, -3, kReadonly | kFast, RKV_ONEKEY,
   "Reads the scores of several members of a sorted set.", "6.2.0", "sorted-set"},
  {"zrank", CommandId::kZrank, 3, kReadonly | kFast, RKV_ONEKEY,
   "Reports the rank of a member of a sorted set, from the lowest score.", "2.0.0", "sorted-set"},
  {"zrevrank", CommandId::kZrevrank, 3, kReadonly | kFast, RKV_ONEKEY,
   "Reports the rank of a member of a sorted set, from the highest score.", "2.0.0", "sorted-set"},
  {"zcard", CommandId::kZcard, 2, kReadonly | kFast, RKV_ONEKEY,
   "Counts the members of a sorted set.", "1.2.0", "sorted-set"},
  {"zcount", CommandId::kZcount, 4, kReadonly | kFast, RKV_ONEKEY,
   "Counts the members of a sorted set within a score range.", "2.0.0", "sorted-set"},
  {"zlexcount", CommandId::kZlexcount, 4, kReadonly | kFast, RKV_ONEKEY,
   "Counts the members of a sorted set within a lexicographical range.", "2.8.9", "sorted-set"},
  {"zrange", CommandId::kZrange, -4, kReadonly, RKV_ONEKEY,
   "Replies with members of a sorted set by rank, score or lexicographical range.", "1.2.0", "sorted-set"},
  {"zrangestore", CommandId::kZrangestore, -5, kWrite | kDenyOom, 1, 2, 1,
   "Stores a range of members of a sorted set in a key.", "6.2.0", "sorted-set"},
  {"zrevrange", CommandId::kZrevrange, -4, kReadonly, RKV_ONEKEY,
   "Replies with members of a sorted set by rank, from the highest score.", "1.2.0", "sorted-set"},
  {"zrangebyscore", CommandId::kZrangebyscore, -4, kReadonly, RKV_ONEKEY,
   "Replies with members of a sorted set within a score range.", "1.0.5", "sorted-set"},
  {"zrevrangebyscore", CommandId::kZrevrangebyscore, -4, kReadonly, RKV_ONEKEY,
   "Replies with members of a sorted set within a score range, highest first.", "2.2.0", "sorted-set"},
  {"zrangebylex", CommandId::kZrangebylex, -4, kReadonly, RKV_ONEKEY,
   "Replies with members of a sorted set within a lexicographical range.", "2.8.9", "sorted-set"},
  {"zrevrangebylex", CommandId::kZrevrangebylex, -4, kReadonly, RKV_ONEKEY,
   "Replies with members of a sorted set within a lexicographical range, in reverse.", "2.8.9", "sorted-set"},
  {"zrem", CommandId::kZrem, -3, kWrite | kFast, RKV_ONEKEY,
   "Removes members from a sorted set; replies with how many were there.", "1.2.0", "sorted-set"},
  {"zremrangebyrank", CommandId::kZremrangebyrank, 4, kWrite, RKV_ONEKEY,
   "Removes the members of a sorted set within a rank range.", "2.0.0", "sorted-set"},
  {"zremrangebyscore", CommandId::kZremrangebyscore, 4, kWrite, RKV_ONEKEY,
   "Removes the members of a sorted set within a score range.", "1.2.0", "sorted-set"},
  {"zremrangebylex", CommandId::kZremrangebylex, 4, kWrite, RKV_ONEKEY,
   "Removes the members of a sorted set within a lexicographical range.", "2.8.9", "sorted-set"},
  {"zpopmin", CommandId::kZpopmin, -2, kWrite | kFast, RKV_ONEKEY,
   "Removes and replies with the members of a sorted set with the lowest scores.", "5.0.0", "sorted-set"},
  {"zpopmax", CommandId::kZpopmax, -2, kWrite | kFast, RKV_ONEKEY,
   "Removes and replies with the members of a sorted set with the highest scores.", "5.0.0", "sorted-set"},
  {"zrandmember", CommandId::kZrandmember, -2, kReadonly, RKV_ONEKEY,
   "Replies with members (optionally with scores) of a sorted set chosen at random.", "6.2.0", "sorted-set"},
  {"zunion", CommandId::kZunion, -3, kReadonly | kMovableKeys, RKV_NOKEYS,
   "Replies with the union of sorted sets.", "6.2.0", "sorted-set"},
  {"zinter", CommandId::kZinter, -3, kReadonly | kMovableKeys, RKV_NOKEYS,
   "Replies with the intersection of sorted sets.", "6.2.0", "sorted-set"},
  {"zdiff", CommandId::kZdiff, -3, kReadonly | kMovableKeys, RKV_NOKEYS,
   "Replies with the difference of the first sorted set and the others.", "6.2.0", "sorted-set"},
  {"zunionstore", CommandId::kZunionstore, -4, kWrite | kDenyOom | kMovableKeys, RKV_ONEKEY,
   "Stores the union of sorted sets in a key.", "2.0.0", "sorted-set"},
  {"zinterstore", CommandId::kZinterstore, -4, kWrite | kDenyOom | kMovableKeys, RKV_ONEKEY,
   "Stores the intersection of sorted sets in a key.", "2.0.0", "sorted-set"},
  {"zdiffstore", CommandId::kZdiffstore, -4, kWrite | kDenyOom | kMovableKeys, RKV_ONEKEY,
   "Stores the difference of the first sorted set and the others in a key.", "6.2.0", "sorted-set"},
  {"zintercard", CommandId::kZintercard, -3, kReadonly | kMovableKeys, RKV_NOKEYS,
   "Counts the members of the intersection of sorted sets, up to an optional limit.", "7.0.0", "sorted-set"},
  {"zscan", CommandId::kZscan, -3, kReadonly, RKV_ONEKEY,
   "Iterates over the members and scores of a sorted set with a cursor.", "2.8.0", "sorted-set"},
  {"lpush", CommandId::kLpush, -3, kWrite | kDenyOom | kFast, RKV_ONEKEY,
   "Prepends elements to a list, creating it when absent.", "1.0.0", "list"},
  {"rpush", CommandId::kRpush, -3, kWrite | kDenyOom | kFast, RKV_ONEKEY,
   "Appends elements to a list, creating it when absent.", "1.0.0", "list"},
  {"lpushx", CommandId::kLpushx, -3, kWrite | kDenyOom | kFast, RKV_ONEKEY,
   "Prepends elements to a list only when it exists.", "2.2.0", "list"},
  {"rpushx", CommandId::kRpushx, -3, kWrite | kDenyOom | kFast, RKV_ONEKEY,
   "Appends elements to a list only when it exists.", "2.2.0", "list"},
  {"lpop", CommandId::kLpop, -2, kWrite | kFast, RKV_ONEKEY,
   "Removes and replies with the first elements of a list.", "1.0.0", "list"},
  {"rpop", CommandId::kRpop, -2, kWrite | kFast, RKV_ONEKEY,
   "Removes and replies with the last elements of a list.", "1.0.0", "list"},
  {"llen", CommandId::kLlen, 2, kReadonly | kFast, RKV_ONEKEY,
   "Reports the length of a list.", "1.0.0", "list"},
  {"lrange", CommandId::kLrange, 4, kReadonly, RKV_ONEKEY,
   "Replies with a range of elements of a list.", "1.0.0", "list"},
  {"lindex", CommandId::kLindex, 3, kReadonly, RKV_ONEKEY,
   "Replies with the element of a list at an index.", "1.0.0", "list"},
  {"lset", CommandId::kLset, 4, kWrite | kDenyOom, RKV_ONEKEY,
   "Replaces the element of a list at an index.", "1.0.0", "list"},
  {"linsert", CommandId::kLinsert, 5, kWrite | kDenyOom, RKV_ONEKEY,
   "Inserts an element before or after another element of a list.", "2.2.0", "list"},
  {"lrem", CommandId::kLrem, 4, kWrite, RKV_ONEKEY,
   "Removes occurrences of an element from a list.", "1.0.0", "list"},
  {"ltrim", CommandId::kLtrim, 4, kWrite, RKV_ONEKEY,
   "Keeps only a range of elements of a list.", "1.0.0", "list"},
  {"lpos", CommandId::kLpos, -3, kReadonly, RKV_ONEKEY,
   "Replies with the indexes of matching elements of a list.", "6.0.6", "list"},
  {"lmove", CommandId::kLmove, 5, kWrite | kDenyOom, 1, 2, 1,
   "Moves an element from one end of a list to an end of another (or the same) list.", "6.2.0",
   "list"},
  {"rpoplpush", CommandId::kRpoplpush, 3, kWrite | kDenyOom, 1, 2, 1,
   "Moves the last element of a list to the front of another (or the same) list.", "1.2.0",
   "list"},
  {"lmpop", CommandId::kLmpop, -4, kWrite | kMovableKeys, RKV_NOKEYS,
   "Removes elements from the first non-empty list of several.", "7.0.0", "list"},
  {"blpop", CommandId::kBlpop, -3, kWrite | kNoScript | kBlocking, 1, -2, 1,
   "Removes the first element of the first non-empty list, waiting for one if all are empty.",
   "2.0.0", "list"},
  {"brpop", CommandId::kBrpop, -3, kWrite | kNoScript | kBlocking, 1, -2, 1,
   "Removes the last element of the first non-empty list, waiting for one if all are empty.",
   "2.0.0", "list"},
  {"blmove", CommandId::kBlmove, 6, kWrite | kDenyOom | kNoScript | kBlocking, 1, 2, 1,
   "Moves an element between lists, waiting for the source to have one.", "6.2.0", "list"},
  {"brpoplpush", CommandId::kBrpoplpush, 4, kWrite | kDenyOom | kNoScript | kBlocking, 1, 2, 1,
   "Moves the last element of a list to the front of another, waiting for one.", "2.2.0",
   "list"},
  {"blmpop", CommandId::kBlmpop, -5, kWrite | kBlocking | kMovableKeys, RKV_NOKEYS,
   "Removes elements from the first non-empty list of several, waiting for one.", "7.0.0",
   "list"},
  {"acl", CommandId::kAcl, -2, kLoading | kStale, RKV_NOKEYS,
   "Manages the users of this node and their permissions (ACL SETUSER, GETUSER, ...).", "6.0.0",
   "server"},
}};

// Grouped by parent, in CommandId order of the parents.
constexpr CommandSpec kSubcommands[] = {
  {"command|count", CommandId::kCommand, 2, kLoading | kStale, RKV_NOKEYS,
   "Returns a count of commands.", "2.8.13", "server"},
  {"command|docs", CommandId::kCommand, -2, kLoading | kStale, RKV_NOKEYS,
   "Returns documentary information about one, multiple or all commands.", "7.0.0", "server"},
  {"command|getkeys", CommandId::kCommand, -4, kLoading | kStale, RKV_NOKEYS,
   "Extracts the key names from an arbitrary command.", "2.8.13", "server"},
  {"command|getkeysandflags", CommandId::kCommand, -4, kLoading | kStale, RKV_NOKEYS,
   "Extracts the key names and access flags for an arbitrary command.", "7.0.0", "server"},
  {"command|help", CommandId::kCommand, 2, kLoading | kStale, RKV_NOKEYS,
   "Returns helpful text about the different subcommands.", "5.0.0", "server"},
  {"command|info", CommandId::kCommand, -2, kLoading | kStale, RKV_NOKEYS,
   "Returns information about one, multiple or all commands.", "2.8.13", "server"},
  {"command|list", CommandId::kCommand, -2, kLoading | kStale, RKV_NOKEYS,
   "Returns a list of command names.", "7.0.0", "server"},
  {"client|getname", CommandId::kClient, 2, kNoScript | kLoading | kStale | kConnection,
   RKV_NOKEYS, "Returns the name of the connection.", "2.6.9", "connection"},
  {"client|id", CommandId::kClient, 2, kNoScript | kLoading | kStale | kConnection, RKV_NOKEYS,
   "Returns the unique client ID of the connection.", "5.0.0", "connection"},
  {"client|info", CommandId::kClient, 2, kNoScript | kLoading | kStale | kConnection,
   RKV_NOKEYS, "Returns information about the connection.", "6.2.0", "connection"},
  {"client|kill", CommandId::kClient, -3, kAdmin | kNoScript | kLoading | kStale | kConnection,
   RKV_NOKEYS, "Terminates open connections.", "2.4.0", "connection"},
  {"client|list", CommandId::kClient, -2, kAdmin | kNoScript | kLoading | kStale | kConnection,
   RKV_NOKEYS, "Lists open connections.", "2.4.0", "connection"},
  {"client|no-evict", CommandId::kClient, 3,
   kAdmin | kNoScript | kLoading | kStale | kConnection, RKV_NOKEYS,
   "Sets the client eviction mode of the connection (accepted; nothing is evicted).", "7.0.0",
   "connection"},
  {"client|no-touch", CommandId::kClient, 3, kNoScript | kLoading | kStale | kConnection,
   RKV_NOKEYS, "Controls whether commands sent by the client affect the LRU/LFU of accessed keys.",
   "7.2.0", "connection"},
  {"client|setinfo", CommandId::kClient, 4, kNoScript | kLoading | kStale | kConnection,
   RKV_NOKEYS, "Sets information specific to the client or connection.", "7.2.0", "connection"},
  {"client|setname", CommandId::kClient, 3, kNoScript | kLoading | kStale | kConnection,
   RKV_NOKEYS, "Sets the connection name.", "2.6.9", "connection"},
  {"config|get", CommandId::kConfig, -3, kAdmin | kNoScript | kLoading | kStale, RKV_NOKEYS,
   "Returns the effective values of configuration parameters.", "2.0.0", "server"},
  {"config|set", CommandId::kConfig, -4, kAdmin | kNoScript | kLoading | kStale, RKV_NOKEYS,
   "Sets configuration parameters in force (maxmemory, maxmemory-policy, maxmemory-samples).",
   "2.0.0", "server"},
  {"config|resetstat", CommandId::kConfig, 2, kAdmin | kNoScript | kLoading | kStale, RKV_NOKEYS,
   "Resets the server's statistics.", "2.0.0", "server"},
  {"object|encoding", CommandId::kObject, 3, kReadonly, 2, 2, 1,
   "Returns the internal encoding of a Redis object.", "2.2.3", "generic"},
  {"object|freq", CommandId::kObject, 3, kReadonly, 2, 2, 1,
   "Returns the logarithmic access frequency counter of a Redis object.", "4.0.0", "generic"},
  {"object|idletime", CommandId::kObject, 3, kReadonly, 2, 2, 1,
   "Returns the time since the last access to a Redis object.", "2.2.3", "generic"},
  {"object|refcount", CommandId::kObject, 3, kReadonly, 2, 2, 1,
   "Returns the reference count of a value of a key.", "2.2.3", "generic"},
  {"acl|cat", CommandId::kAcl, -2, kNoScript | kLoading | kStale, RKV_NOKEYS,
   "Lists the ACL categories, or the commands inside a category.", "6.0.0", "server"},
  {"acl|deluser", CommandId::kAcl, -3, kAdmin | kNoScript | kLoading | kStale, RKV_NOKEYS,
   "Deletes users and closes the connections authenticated as them.", "6.0.0", "server"},
  {"acl|dryrun", CommandId::kAcl, -4, kAdmin | kNoScript | kLoading | kStale, RKV_NOKEYS,
   "Says whether a user may run a command, without running it.", "7.0.0", "server"},
  {"acl|genpass", CommandId::kAcl, -2, kNoScript | kLoading | kStale, RKV_NOKEYS,
   "Generates a random password.", "6.0.0", "server"},
  {"acl|getuser", CommandId::kAcl, 3, kAdmin | kNoScript | kLoading | kStale, RKV_NOKEYS,
   "Describes a user's rules (passwords as SHA-256 hashes).", "6.0.0", "server"},
  {"acl|help", CommandId::kAcl, 2, kLoading | kStale, RKV_NOKEYS,
   "Returns helpful text about the different subcommands.", "6.0.0", "server"},
  {"acl|list", CommandId::kAcl, 2, kAdmin | kNoScript | kLoading | kStale, RKV_NOKEYS,
   "Lists every user's rules in ACL file format.", "6.0.0", "server"},
  {"acl|setuser", CommandId::kAcl, -3, kAdmin | kNoScript | kLoading | kStale, RKV_NOKEYS,
   "Creates a user or changes its rules.", "6.0.0", "server"},
  {"acl|users", CommandId::kAcl, 2, kAdmin | kNoScript | kLoading | kStale, RKV_NOKEYS,
   "Lists the user names.", "6.0.0", "server"},
  {"acl|whoami", CommandId::kAcl, 2, kNoScript | kLoading | kStale, RKV_NOKEYS,
   "Returns the user the connection is authenticated as.", "6.0.0", "server"},
};
// clang-format on

#undef RKV_NOKEYS
#undef RKV_ONEKEY
#undef RKV_ALLKEYS

constexpr bool is_lower_name(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || c == '_' || c == '-')) return false;
  }
  return true;
}

constexpr bool table_is_well_formed() {
  for (size_t i = 0; i < kCommands.size(); ++i) {
    const CommandSpec& c = kCommands[i];
    if (static_cast<size_t>(c.id) != i || !is_lower_name(c.name) || c.arity == 0) return false;
    if (c.summary.empty() || c.since.empty() || c.group.empty()) return false;
    if ((c.flags & kWrite) && (c.flags & kReadonly)) return false;
  }
  return true;
}
static_assert(table_is_well_formed(), "command table out of CommandId order or malformed");

constexpr bool subcommands_are_well_formed() {
  for (size_t i = 0; i < std::size(kSubcommands); ++i) {
    const CommandSpec& c = kSubcommands[i];
    const std::string_view parent = kCommands[static_cast<size_t>(c.id)].name;
    if (c.name.size() <= parent.size() + 1 || c.name.substr(0, parent.size()) != parent ||
        c.name[parent.size()] != '|' || !is_lower_name(c.name.substr(parent.size() + 1))) {
      return false;
    }
    if (c.arity == 0 || c.summary.empty() || c.since.empty() || c.group.empty()) return false;
    // Grouped by parent, parents in CommandId order: subcommands() returns a contiguous run.
    if (i > 0 && kSubcommands[i - 1].id > c.id) return false;
  }
  return true;
}
static_assert(subcommands_are_well_formed(), "subcommand table malformed or out of order");

constexpr size_t compute_max_name_len() {
  size_t m = 0;
  for (const CommandSpec& c : kCommands)
    m = std::max(m, c.name.size());
  return m;
}
constexpr size_t kMaxNameLen = compute_max_name_len();

// Table positions ordered by name, for binary search.
constexpr auto kByName = [] {
  std::array<uint16_t, kCommands.size()> idx{};
  for (size_t i = 0; i < idx.size(); ++i)
    idx[i] = static_cast<uint16_t>(i);
  std::sort(idx.begin(), idx.end(),
            [](uint16_t a, uint16_t b) { return kCommands[a].name < kCommands[b].name; });
  return idx;
}();

constexpr bool names_are_unique() {
  for (size_t i = 1; i < kByName.size(); ++i) {
    if (kCommands[kByName[i - 1]].name == kCommands[kByName[i]].name) return false;
  }
  return true;
}
static_assert(names_are_unique(), "duplicate command name");

}  // namespace

const CommandSpec* lookup_command(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLen) return nullptr;
  char lower[kMaxNameLen];
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    lower[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  const std::string_view key(lower, name.size());
  const auto it =
      std::lower_bound(kByName.begin(), kByName.end(), key,
                       [](uint16_t i, std::string_view k) { return kCommands[i].name < k; });
  if (it == kByName.end() || kCommands[*it].name != key) return nullptr;
  return &kCommands[*it];
}

size_t numkeys_index(CommandId id) {
  switch (id) {
    case CommandId::kSintercard:
    case CommandId::kZintercard:
    case CommandId::kZunion:
    case CommandId::kZinter:
    case CommandId::kZdiff:
    case CommandId::kLmpop:
      return 1;
    case CommandId::kZunionstore:
    case CommandId::kZinterstore:
    case CommandId::kZdiffstore:
      return 2;  // after the destination
    case CommandId::kBlmpop:
      return 2;  // after the timeout
    default:
      return 0;
  }
}

void movable_keys(const CommandSpec& spec, std::span<const std::string_view> args, size_t* first,
                  size_t* count) {
  *first = 0;
  *count = 0;
  const size_t at = numkeys_index(spec.id);
  if (at == 0 || args.size() < at + 2) return;
  const std::string_view n = args[at];
  if (n.empty() || n.size() > 18) return;
  size_t v = 0;
  for (char c : n) {
    if (c < '0' || c > '9') return;
    v = v * 10 + static_cast<size_t>(c - '0');
  }
  if (v == 0 || v > args.size() - at - 1) return;
  *first = at + 1;
  *count = v;
}

std::span<const CommandSpec> all_commands() {
  return kCommands;
}

std::span<const CommandSpec> subcommands(CommandId parent) {
  const CommandSpec* b = std::begin(kSubcommands);
  const CommandSpec* e = std::end(kSubcommands);
  const CommandSpec* lo =
      std::lower_bound(b, e, parent, [](const CommandSpec& c, CommandId p) { return c.id < p; });
  const CommandSpec* hi = lo;
  while (hi != e && hi->id == parent)
    ++hi;
  return {lo, static_cast<size_t>(hi - lo)};
}

const CommandSpec* lookup_subcommand(std::string_view full_name) {
  for (const CommandSpec& c : kSubcommands) {
    if (c.name.size() != full_name.size()) continue;
    bool same = true;
    for (size_t i = 0; i < c.name.size() && same; ++i) {
      const char ch = full_name[i];
      same = c.name[i] == ((ch >= 'A' && ch <= 'Z') ? static_cast<char>(ch - 'A' + 'a') : ch);
    }
    if (same) return &c;
  }
  return nullptr;
}

}  // namespace rkv::resp
