#include "resp/commands.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace rkv::resp {
namespace {

struct Expected {
  std::string_view name;
  CommandId id;
  int arity;
  int first_key, last_key, step;
};

// The Redis arities and key positions, written out independently of the table.
const std::vector<Expected>& expected_table() {
  static const std::vector<Expected> table = {
      {"ping", CommandId::kPing, -1, 0, 0, 0},
      {"echo", CommandId::kEcho, 2, 0, 0, 0},
      {"hello", CommandId::kHello, -1, 0, 0, 0},
      {"quit", CommandId::kQuit, -1, 0, 0, 0},
      {"select", CommandId::kSelect, 2, 0, 0, 0},
      {"command", CommandId::kCommand, -1, 0, 0, 0},
      {"client", CommandId::kClient, -2, 0, 0, 0},
      {"info", CommandId::kInfo, -1, 0, 0, 0},
      {"dbsize", CommandId::kDbsize, 1, 0, 0, 0},
      {"get", CommandId::kGet, 2, 1, 1, 1},
      {"set", CommandId::kSet, -3, 1, 1, 1},
      {"setnx", CommandId::kSetnx, 3, 1, 1, 1},
      {"getdel", CommandId::kGetdel, 2, 1, 1, 1},
      {"mget", CommandId::kMget, -2, 1, -1, 1},
      {"mset", CommandId::kMset, -3, 1, -1, 2},
      {"del", CommandId::kDel, -2, 1, -1, 1},
      {"exists", CommandId::kExists, -2, 1, -1, 1},
      {"incr", CommandId::kIncr, 2, 1, 1, 1},
      {"incrby", CommandId::kIncrby, 3, 1, 1, 1},
      {"decr", CommandId::kDecr, 2, 1, 1, 1},
      {"decrby", CommandId::kDecrby, 3, 1, 1, 1},
      {"append", CommandId::kAppend, 3, 1, 1, 1},
      {"strlen", CommandId::kStrlen, 2, 1, 1, 1},
      {"expire", CommandId::kExpire, -3, 1, 1, 1},
      {"pexpire", CommandId::kPexpire, -3, 1, 1, 1},
      {"ttl", CommandId::kTtl, 2, 1, 1, 1},
      {"pttl", CommandId::kPttl, 2, 1, 1, 1},
      {"persist", CommandId::kPersist, 2, 1, 1, 1},
      {"type", CommandId::kType, 2, 1, 1, 1},
      {"scan", CommandId::kScan, -2, 0, 0, 0},
      {"keys", CommandId::kKeys, 2, 0, 0, 0},
      {"flushall", CommandId::kFlushall, -1, 0, 0, 0},
      {"flushdb", CommandId::kFlushdb, -1, 0, 0, 0},
      {"setex", CommandId::kSetex, 4, 1, 1, 1},
      {"psetex", CommandId::kPsetex, 4, 1, 1, 1},
      {"getex", CommandId::kGetex, -2, 1, 1, 1},
      {"getset", CommandId::kGetset, 3, 1, 1, 1},
      {"msetnx", CommandId::kMsetnx, -3, 1, -1, 2},
      {"incrbyfloat", CommandId::kIncrbyfloat, 3, 1, 1, 1},
      {"setrange", CommandId::kSetrange, 4, 1, 1, 1},
      {"getrange", CommandId::kGetrange, 4, 1, 1, 1},
      {"substr", CommandId::kSubstr, 4, 1, 1, 1},
      {"lcs", CommandId::kLcs, -3, 1, 2, 1},
      {"setbit", CommandId::kSetbit, 4, 1, 1, 1},
      {"getbit", CommandId::kGetbit, 3, 1, 1, 1},
      {"bitcount", CommandId::kBitcount, -2, 1, 1, 1},
      {"bitpos", CommandId::kBitpos, -3, 1, 1, 1},
      {"expireat", CommandId::kExpireat, -3, 1, 1, 1},
      {"pexpireat", CommandId::kPexpireat, -3, 1, 1, 1},
      {"expiretime", CommandId::kExpiretime, 2, 1, 1, 1},
      {"pexpiretime", CommandId::kPexpiretime, 2, 1, 1, 1},
      {"rename", CommandId::kRename, 3, 1, 2, 1},
      {"renamenx", CommandId::kRenamenx, 3, 1, 2, 1},
      {"copy", CommandId::kCopy, -3, 1, 2, 1},
      {"unlink", CommandId::kUnlink, -2, 1, -1, 1},
      {"touch", CommandId::kTouch, -2, 1, -1, 1},
      {"randomkey", CommandId::kRandomkey, 1, 0, 0, 0},
      {"keyspaces", CommandId::kKeyspaces, 1, 0, 0, 0},
      {"reset", CommandId::kReset, 1, 0, 0, 0},
      {"auth", CommandId::kAuth, -2, 0, 0, 0},
      {"role", CommandId::kRole, 1, 0, 0, 0},
      {"roles", CommandId::kRoles, 1, 0, 0, 0},
      {"lostwrites", CommandId::kLostwrites, -1, 0, 0, 0},
      {"staleness", CommandId::kStaleness, -1, 0, 0, 0},
      {"readmode", CommandId::kReadmode, -1, 0, 0, 0},
      {"consistency", CommandId::kConsistency, -1, 0, 0, 0},
      {"siblings", CommandId::kSiblings, 2, 1, 1, 1},
      {"ring", CommandId::kRing, -1, 0, 0, 0},
      {"repair", CommandId::kRepair, -1, 0, 0, 0},
      {"conflicts", CommandId::kConflicts, -1, 0, 0, 0},
      {"wait", CommandId::kWait, 3, 0, 0, 0},
      {"config", CommandId::kConfig, -2, 0, 0, 0},
      {"lastsave", CommandId::kLastsave, 1, 0, 0, 0},
      {"time", CommandId::kTime, 1, 0, 0, 0},
      {"save", CommandId::kSave, 1, 0, 0, 0},
      {"bgsave", CommandId::kBgsave, -1, 0, 0, 0},
      {"shutdown", CommandId::kShutdown, -1, 0, 0, 0},
      {"hset", CommandId::kHset, -4, 1, 1, 1},
      {"hsetnx", CommandId::kHsetnx, 4, 1, 1, 1},
      {"hget", CommandId::kHget, 3, 1, 1, 1},
      {"hmget", CommandId::kHmget, -3, 1, 1, 1},
      {"hmset", CommandId::kHmset, -4, 1, 1, 1},
      {"hdel", CommandId::kHdel, -3, 1, 1, 1},
      {"hexists", CommandId::kHexists, 3, 1, 1, 1},
      {"hlen", CommandId::kHlen, 2, 1, 1, 1},
      {"hstrlen", CommandId::kHstrlen, 3, 1, 1, 1},
      {"hkeys", CommandId::kHkeys, 2, 1, 1, 1},
      {"hvals", CommandId::kHvals, 2, 1, 1, 1},
      {"hgetall", CommandId::kHgetall, 2, 1, 1, 1},
      {"hincrby", CommandId::kHincrby, 4, 1, 1, 1},
      {"hincrbyfloat", CommandId::kHincrbyfloat, 4, 1, 1, 1},
      {"hrandfield", CommandId::kHrandfield, -2, 1, 1, 1},
      {"hscan", CommandId::kHscan, -3, 1, 1, 1},
      {"sadd", CommandId::kSadd, -3, 1, 1, 1},
      {"srem", CommandId::kSrem, -3, 1, 1, 1},
      {"sismember", CommandId::kSismember, 3, 1, 1, 1},
      {"smismember", CommandId::kSmismember, -3, 1, 1, 1},
      {"smembers", CommandId::kSmembers, 2, 1, 1, 1},
      {"scard", CommandId::kScard, 2, 1, 1, 1},
      {"spop", CommandId::kSpop, -2, 1, 1, 1},
      {"srandmember", CommandId::kSrandmember, -2, 1, 1, 1},
      {"smove", CommandId::kSmove, 4, 1, 2, 1},
      {"sinter", CommandId::kSinter, -2, 1, -1, 1},
      {"sunion", CommandId::kSunion, -2, 1, -1, 1},
      {"sdiff", CommandId::kSdiff, -2, 1, -1, 1},
      {"sinterstore", CommandId::kSinterstore, -3, 1, -1, 1},
      {"sunionstore", CommandId::kSunionstore, -3, 1, -1, 1},
      {"sdiffstore", CommandId::kSdiffstore, -3, 1, -1, 1},
      {"sintercard", CommandId::kSintercard, -3, 0, 0, 0},
      {"sscan", CommandId::kSscan, -3, 1, 1, 1},
      {"object", CommandId::kObject, -2, 0, 0, 0},
      {"multi", CommandId::kMulti, 1, 0, 0, 0},
      {"exec", CommandId::kExec, 1, 0, 0, 0},
      {"discard", CommandId::kDiscard, 1, 0, 0, 0},
      {"watch", CommandId::kWatch, -2, 1, -1, 1},
      {"unwatch", CommandId::kUnwatch, 1, 0, 0, 0},
      {"zadd", CommandId::kZadd, -4, 1, 1, 1},
      {"zincrby", CommandId::kZincrby, 4, 1, 1, 1},
      {"zscore", CommandId::kZscore, 3, 1, 1, 1},
      {"zmscore", CommandId::kZmscore, -3, 1, 1, 1},
      {"zrank", CommandId::kZrank, 3, 1, 1, 1},
      {"zrevrank", CommandId::kZrevrank, 3, 1, 1, 1},
      {"zcard", CommandId::kZcard, 2, 1, 1, 1},
      {"zcount", CommandId::kZcount, 4, 1, 1, 1},
      {"zlexcount", CommandId::kZlexcount, 4, 1, 1, 1},
      {"zrange", CommandId::kZrange, -4, 1, 1, 1},
      {"zrangestore", CommandId::kZrangestore, -5, 1, 2, 1},
      {"zrevrange", CommandId::kZrevrange, -4, 1, 1, 1},
      {"zrangebyscore", CommandId::kZrangebyscore, -4, 1, 1, 1},
      {"zrevrangebyscore", CommandId::kZrevrangebyscore, -4, 1, 1, 1},
      {"zrangebylex", CommandId::kZrangebylex, -4, 1, 1, 1},
      {"zrevrangebylex", CommandId::kZrevrangebylex, -4, 1, 1, 1},
      {"zrem", CommandId::kZrem, -3, 1, 1, 1},
      {"zremrangebyrank", CommandId::kZremrangebyrank, 4, 1, 1, 1},
      {"zremrangebyscore", CommandId::kZremrangebyscore, 4, 1, 1, 1},
      {"zremrangebylex", CommandId::kZremrangebylex, 4, 1, 1, 1},
      {"zpopmin", CommandId::kZpopmin, -2, 1, 1, 1},
      {"zpopmax", CommandId::kZpopmax, -2, 1, 1, 1},
      {"zrandmember", CommandId::kZrandmember, -2, 1, 1, 1},
      {"zunion", CommandId::kZunion, -3, 0, 0, 0},
      {"zinter", CommandId::kZinter, -3, 0, 0, 0},
      {"zdiff", CommandId::kZdiff, -3, 0, 0, 0},
      {"zunionstore", CommandId::kZunionstore, -4, 1, 1, 1},
      {"zinterstore", CommandId::kZinterstore, -4, 1, 1, 1},
      {"zdiffstore", CommandId::kZdiffstore, -4, 1, 1, 1},
      {"zintercard", CommandId::kZintercard, -3, 0, 0, 0},
      {"zscan", CommandId::kZscan, -3, 1, 1, 1},
      {"lpush", CommandId::kLpush, -3, 1, 1, 1},
      {"rpush", CommandId::kRpush, -3, 1, 1, 1},
      {"lpushx", CommandId::kLpushx, -3, 1, 1, 1},
      {"rpushx", CommandId::kRpushx, -3, 1, 1, 1},
      {"lpop", CommandId::kLpop, -2, 1, 1, 1},
      {"rpop", CommandId::kRpop, -2, 1, 1, 1},
      {"llen", CommandId::kLlen, 2, 1, 1, 1},
      {"lrange", CommandId::kLrange, 4, 1, 1, 1},
      {"lindex", CommandId::kLindex, 3, 1, 1, 1},
      {"lset", CommandId::kLset, 4, 1, 1, 1},
      {"linsert", CommandId::kLinsert, 5, 1, 1, 1},
      {"lrem", CommandId::kLrem, 4, 1, 1, 1},
      {"ltrim", CommandId::kLtrim, 4, 1, 1, 1},
      {"lpos", CommandId::kLpos, -3, 1, 1, 1},
      {"lmove", CommandId::kLmove, 5, 1, 2, 1},
      {"rpoplpush", CommandId::kRpoplpush, 3, 1, 2, 1},
      {"lmpop", CommandId::kLmpop, -4, 0, 0, 0},
      {"blpop", CommandId::kBlpop, -3, 1, -2, 1},
      {"brpop", CommandId::kBrpop, -3, 1, -2, 1},
      {"blmove", CommandId::kBlmove, 6, 1, 2, 1},
      {"brpoplpush", CommandId::kBrpoplpush, 4, 1, 2, 1},
      {"blmpop", CommandId::kBlmpop, -5, 0, 0, 0},
      {"acl", CommandId::kAcl, -2, 0, 0, 0},
  };
  return table;
}

TEST(Commands, EveryCommandIdHasOneEntryInIdOrder) {
  const auto all = all_commands();
  ASSERT_EQ(all.size(), static_cast<size_t>(CommandId::kCount_));
  ASSERT_EQ(expected_table().size(), all.size());
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(static_cast<size_t>(all[i].id), i) << all[i].name;
  }
}

TEST(Commands, MetadataMatchesRedis) {
  for (const Expected& e : expected_table()) {
    const CommandSpec* spec = lookup_command(e.name);
    ASSERT_NE(spec, nullptr) << e.name;
    EXPECT_EQ(spec->name, e.name);
    EXPECT_EQ(spec->id, e.id) << e.name;
    EXPECT_EQ(spec->arity, e.arity) << e.name;
    EXPECT_EQ(spec->first_key, e.first_key) << e.name;
    EXPECT_EQ(spec->last_key, e.last_key) << e.name;
    EXPECT_EQ(spec->step, e.step) << e.name;
    EXPECT_FALSE(spec->summary.empty()) << e.name;
    EXPECT_FALSE(spec->since.empty()) << e.name;
  }
}

TEST(Commands, GroupsAreKnown) {
  const std::set<std::string_view> groups = {"string",     "bitmap",  "generic",
                                             "connection", "server",  "cluster",
                                             "hash",       "set",     "sorted-set",
                                             "list",       "transactions"};
  for (const CommandSpec& c : all_commands())
    EXPECT_TRUE(groups.count(c.group)) << c.name;
  EXPECT_EQ(lookup_command("get")->group, "string");
  EXPECT_EQ(lookup_command("del")->group, "generic");
  EXPECT_EQ(lookup_command("setbit")->group, "bitmap");
  EXPECT_EQ(lookup_command("hello")->group, "connection");
  EXPECT_EQ(lookup_command("info")->group, "server");
}

TEST(Commands, Flags) {
  for (const CommandSpec& c : all_commands()) {
    EXPECT_FALSE((c.flags & kWrite) && (c.flags & kReadonly)) << c.name;
    // A command that names keys either reads or writes them (WATCH only observes them).
    if (c.first_key != 0 && c.id != CommandId::kWatch) {
      EXPECT_TRUE(c.flags & (kWrite | kReadonly)) << c.name;
    }
  }
  EXPECT_TRUE(lookup_command("set")->flags & kWrite);
  EXPECT_TRUE(lookup_command("set")->flags & kDenyOom);
  EXPECT_TRUE(lookup_command("get")->flags & kReadonly);
  EXPECT_TRUE(lookup_command("get")->flags & kFast);
  EXPECT_FALSE(lookup_command("del")->flags & kFast);
  EXPECT_TRUE(lookup_command("shutdown")->flags & kAdmin);
  EXPECT_TRUE(lookup_command("hello")->flags & kConnection);
  EXPECT_TRUE(lookup_command("readmode")->flags & kConnection);
  EXPECT_FALSE(lookup_command("get")->flags & kConnection);
  EXPECT_EQ(lookup_command("getdel")->since, "6.2.0");
  EXPECT_EQ(lookup_command("hello")->since, "6.0.0");
}

// The flags redis-server 7.0 reports in COMMAND INFO for the hash and set commands (and
// OBJECT, a container command with no flags of its own).
TEST(Commands, CollectionFlagsMatchRedis) {
  const std::vector<std::pair<std::string_view, uint32_t>> want = {
      {"hset", kWrite | kDenyOom | kFast},
      {"hsetnx", kWrite | kDenyOom | kFast},
      {"hget", kReadonly | kFast},
      {"hmget", kReadonly | kFast},
      {"hmset", kWrite | kDenyOom | kFast},
      {"hdel", kWrite | kFast},
      {"hexists", kReadonly | kFast},
      {"hlen", kReadonly | kFast},
      {"hstrlen", kReadonly | kFast},
      {"hkeys", kReadonly},
      {"hvals", kReadonly},
      {"hgetall", kReadonly},
      {"hincrby", kWrite | kDenyOom | kFast},
      {"hincrbyfloat", kWrite | kDenyOom | kFast},
      {"hrandfield", kReadonly},
      {"hscan", kReadonly},
      {"sadd", kWrite | kDenyOom | kFast},
      {"srem", kWrite | kFast},
      {"sismember", kReadonly | kFast},
      {"smismember", kReadonly | kFast},
      {"smembers", kReadonly},
      {"scard", kReadonly | kFast},
      {"spop", kWrite | kFast},
      {"srandmember", kReadonly},
      {"smove", kWrite | kFast},
      {"sinter", kReadonly},
      {"sunion", kReadonly},
      {"sdiff", kReadonly},
      {"sinterstore", kWrite | kDenyOom},
      {"sunionstore", kWrite | kDenyOom},
      {"sdiffstore", kWrite | kDenyOom},
      {"sintercard", kReadonly | kMovableKeys},
      {"sscan", kReadonly},
      {"object", 0},
      {"zadd", kWrite | kDenyOom | kFast},
      {"zincrby", kWrite | kDenyOom | kFast},
      {"zscore", kReadonly | kFast},
      {"zmscore", kReadonly | kFast},
      {"zrank", kReadonly | kFast},
      {"zrevrank", kReadonly | kFast},
      {"zcard", kReadonly | kFast},
      {"zcount", kReadonly | kFast},
      {"zlexcount", kReadonly | kFast},
      {"zrange", kReadonly},
      {"zrangestore", kWrite | kDenyOom},
      {"zrevrange", kReadonly},
      {"zrangebyscore", kReadonly},
      {"zrevrangebyscore", kReadonly},
      {"zrangebylex", kReadonly},
      {"zrevrangebylex", kReadonly},
      {"zrem", kWrite | kFast},
      {"zremrangebyrank", kWrite},
      {"zremrangebyscore", kWrite},
      {"zremrangebylex", kWrite},
      {"zpopmin", kWrite | kFast},
      {"zpopmax", kWrite | kFast},
      {"zrandmember", kReadonly},
      {"zunion", kReadonly | kMovableKeys},
      {"zinter", kReadonly | kMovableKeys},
      {"zdiff", kReadonly | kMovableKeys},
      {"zunionstore", kWrite | kDenyOom | kMovableKeys},
      {"zinterstore", kWrite | kDenyOom | kMovableKeys},
      {"zdiffstore", kWrite | kDenyOom | kMovableKeys},
      {"zintercard", kReadonly | kMovableKeys},
      {"zscan", kReadonly},
      {"lpush", kWrite | kDenyOom | kFast},
      {"rpush", kWrite | kDenyOom | kFast},
      {"lpushx", kWrite | kDenyOom | kFast},
      {"rpushx", kWrite | kDenyOom | kFast},
      {"lpop", kWrite | kFast},
      {"rpop", kWrite | kFast},
      {"llen", kReadonly | kFast},
      {"lrange", kReadonly},
      {"lindex", kReadonly},
      {"lset", kWrite | kDenyOom},
      {"linsert", kWrite | kDenyOom},
      {"lrem", kWrite},
      {"ltrim", kWrite},
      {"lpos", kReadonly},
      {"lmove", kWrite | kDenyOom},
      {"rpoplpush", kWrite | kDenyOom},
      {"lmpop", kWrite | kMovableKeys},
      {"blpop", kWrite | kNoScript | kBlocking},
      {"brpop", kWrite | kNoScript | kBlocking},
      {"blmove", kWrite | kDenyOom | kNoScript | kBlocking},
      {"brpoplpush", kWrite | kDenyOom | kNoScript | kBlocking},
      {"blmpop", kWrite | kBlocking | kMovableKeys},
  };
  for (const auto& [name, flags] : want)
    EXPECT_EQ(lookup_command(name)->flags, flags) << name;
}

TEST(Commands, MovableKeys) {
  const CommandSpec& sc = *lookup_command("sintercard");
  std::vector<std::string_view> args = {"sintercard", "2", "a", "b", "LIMIT", "1"};
  std::vector<size_t> keys;
  for_each_key(sc, args, [&](size_t i) { keys.push_back(i); });
  EXPECT_EQ(keys, (std::vector<size_t>{2, 3}));
  for (std::vector<std::string_view> bad : {std::vector<std::string_view>{"sintercard", "0", "a"},
                                            {"sintercard", "x", "a"},
                                            {"sintercard", "3", "a", "b"}}) {
    keys.clear();
    for_each_key(sc, bad, [&](size_t i) { keys.push_back(i); });
    EXPECT_TRUE(keys.empty()) << bad[1];
  }
}

// ZUNIONSTORE and its kin: the destination, then the keys numkeys (argument 2) counts.
TEST(Commands, MovableKeysAfterADestination) {
  const CommandSpec& zs = *lookup_command("zunionstore");
  std::vector<size_t> keys;
  std::vector<std::string_view> args = {"zunionstore", "d", "2", "a", "b", "WEIGHTS", "1", "2"};
  for_each_key(zs, args, [&](size_t i) { keys.push_back(i); });
  EXPECT_EQ(keys, (std::vector<size_t>{1, 3, 4}));
  keys.clear();
  std::vector<std::string_view> bad = {"zunionstore", "d", "9", "a"};
  for_each_key(zs, bad, [&](size_t i) { keys.push_back(i); });
  EXPECT_EQ(keys, (std::vector<size_t>{1}));  // the command's own check rejects it
  keys.clear();
  std::vector<std::string_view> zunion = {"zunion", "2", "a", "b", "WITHSCORES"};
  for_each_key(*lookup_command("zunion"), zunion, [&](size_t i) { keys.push_back(i); });
  EXPECT_EQ(keys, (std::vector<size_t>{2, 3}));
}

TEST(Commands, MovableKeysOfListPops) {
  std::vector<size_t> keys;
  const std::vector<std::string_view> lmpop = {"lmpop", "2", "a", "b", "LEFT", "COUNT", "3"};
  for_each_key(*lookup_command("lmpop"), lmpop, [&](size_t i) { keys.push_back(i); });
  EXPECT_EQ(keys, (std::vector<size_t>{2, 3}));
  keys.clear();
  const std::vector<std::string_view> blmpop = {"blmpop", "0", "2", "a", "b", "RIGHT"};
  for_each_key(*lookup_command("blmpop"), blmpop, [&](size_t i) { keys.push_back(i); });
  EXPECT_EQ(keys, (std::vector<size_t>{3, 4}));
  keys.clear();
  const std::vector<std::string_view> blpop = {"blpop", "a", "b", "0"};
  for_each_key(*lookup_command("blpop"), blpop, [&](size_t i) { keys.push_back(i); });
  EXPECT_EQ(keys, (std::vector<size_t>{1, 2}));
}

TEST(Commands, LookupIsCaseInsensitive) {
  EXPECT_EQ(lookup_command("GET")->id, CommandId::kGet);
  EXPECT_EQ(lookup_command("gEt")->id, CommandId::kGet);
  EXPECT_EQ(lookup_command("LostWrites")->id, CommandId::kLostwrites);
  for (const CommandSpec& c : all_commands()) {
    std::string upper(c.name);
    for (char& ch : upper)
      ch = static_cast<char>(ch - 'a' + 'A');
    EXPECT_EQ(lookup_command(upper), &c) << upper;
  }
}

TEST(Commands, UnknownNames) {
  EXPECT_EQ(lookup_command(""), nullptr);
  EXPECT_EQ(lookup_command("ge"), nullptr);
  EXPECT_EQ(lookup_command("gett"), nullptr);
  EXPECT_EQ(lookup_command("hsetx"), nullptr);
  EXPECT_EQ(lookup_command(std::string_view("get\0", 4)), nullptr);
  EXPECT_EQ(lookup_command("lostwritesx"), nullptr);
  EXPECT_EQ(lookup_command(std::string(10000, 'a')), nullptr);
  EXPECT_EQ(lookup_command("{et"), nullptr);  // only A-Z are folded
  EXPECT_EQ(lookup_command("GET "), nullptr);
  EXPECT_EQ(lookup_command("g\xc5t"), nullptr);
}

TEST(Commands, ArityCheck) {
  const CommandSpec& get = *lookup_command("get");
  EXPECT_FALSE(arity_ok(get, 1));
  EXPECT_TRUE(arity_ok(get, 2));
  EXPECT_FALSE(arity_ok(get, 3));
  const CommandSpec& set = *lookup_command("set");
  EXPECT_FALSE(arity_ok(set, 2));
  EXPECT_TRUE(arity_ok(set, 3));
  EXPECT_TRUE(arity_ok(set, 7));
  const CommandSpec& ping = *lookup_command("ping");
  EXPECT_TRUE(arity_ok(ping, 1));
  EXPECT_TRUE(arity_ok(ping, 2));
}

}  // namespace
}  // namespace rkv::resp
