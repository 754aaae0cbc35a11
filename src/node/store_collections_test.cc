// Hashes and sets: the Store's commands at their edges, WRONGTYPE everywhere, SPOP's
// replica-independent choice, snapshot images and restarts with large collections, and the
// bytes a single-element write costs on disk.
#include <gtest/gtest.h>

#include <algorithm>
#include <initializer_list>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "node/node.h"
#include "node/store.h"
#include "node/store_test_util.h"
#include "storage/storage.h"

namespace rkv {
namespace {

using namespace rkv::test;

using CollectionsTest = StoreTest;

TEST_F(CollectionsTest, HashBasicsAndEmptyingRemovesTheKey) {
  EXPECT_EQ(run({"HGET", "h", "f"}), "$-1\r\n");
  EXPECT_EQ(run({"HLEN", "h"}), ":0\r\n");
  EXPECT_EQ(run({"HKEYS", "h"}), "*0\r\n");
  EXPECT_EQ(run({"HGETALL", "h"}, 3), "%0\r\n");
  EXPECT_EQ(run({"HMGET", "h", "a", "b"}, 3), "*2\r\n_\r\n_\r\n");
  EXPECT_EQ(run({"HSET", "h", "a", "1", "b", "2", "a", "3"}), ":2\r\n");
  EXPECT_EQ(run({"HSET", "h", "a", "1", "b"}),
            "-ERR wrong number of arguments for 'hset' command\r\n");
  EXPECT_EQ(run({"HGET", "h", "a"}), "$1\r\n3\r\n");
  EXPECT_EQ(run({"HSETNX", "h", "a", "9"}), ":0\r\n");
  EXPECT_EQ(run({"HSETNX", "h", "c", "9"}), ":1\r\n");
  EXPECT_EQ(run({"HSTRLEN", "h", "c"}), ":1\r\n");
  EXPECT_EQ(run({"HEXISTS", "h", "zz"}), ":0\r\n");
  EXPECT_EQ(run({"HMSET", "h", "d", ""}), "+OK\r\n");
  EXPECT_EQ(run({"HLEN", "h"}), ":4\r\n");
  EXPECT_EQ(run({"TYPE", "h"}), "+hash\r\n");
  EXPECT_EQ(run({"OBJECT", "ENCODING", "h"}), "$8\r\nlistpack\r\n");
  EXPECT_EQ(run({"HDEL", "h", "a", "b", "zz"}), ":2\r\n");
  EXPECT_EQ(run({"HDEL", "h", "c", "d"}), ":2\r\n");
  EXPECT_EQ(run({"EXISTS", "h"}), ":0\r\n");  // emptied: gone
  EXPECT_EQ(store_.keyspace_weight(0), 0u);
}

TEST_F(CollectionsTest, HincrbyAndHincrbyfloatEdges) {
  EXPECT_EQ(run({"HINCRBY", "h", "n", "x"}), "-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(run({"EXISTS", "h"}), ":0\r\n");  // an error creates nothing
  EXPECT_EQ(run({"HINCRBY", "h", "n", "9223372036854775807"}), ":9223372036854775807\r\n");
  EXPECT_EQ(run({"HINCRBY", "h", "n", "1"}), "-ERR increment or decrement would overflow\r\n");
  EXPECT_EQ(run({"HINCRBY", "h", "n", "-9223372036854775807"}), ":0\r\n");
  EXPECT_EQ(run({"HSET", "h", "s", "abc", "sp", " 1"}), ":2\r\n");
  EXPECT_EQ(run({"HINCRBY", "h", "s", "1"}), "-ERR hash value is not an integer\r\n");
  EXPECT_EQ(run({"HINCRBY", "h", "sp", "1"}), "-ERR hash value is not an integer\r\n");
  EXPECT_EQ(run({"HINCRBYFLOAT", "h", "f", "10.5"}), "$4\r\n10.5\r\n");
  EXPECT_EQ(run({"HINCRBYFLOAT", "h", "f", "0.1"}), "$4\r\n10.6\r\n");
  EXPECT_EQ(run({"HINCRBYFLOAT", "h", "f", "-0.6"}), "$2\r\n10\r\n");
  EXPECT_EQ(run({"HINCRBYFLOAT", "h", "f", "-5.0e3"}), "$5\r\n-4990\r\n");
  EXPECT_EQ(run({"HINCRBYFLOAT", "h", "g", "3e2"}), "$3\r\n300\r\n");
  EXPECT_EQ(run({"HINCRBYFLOAT", "h", "g", "inf"}), "-ERR value is NaN or Infinity\r\n");
  EXPECT_EQ(run({"HINCRBYFLOAT", "h", "g", "abc"}), "-ERR value is not a valid float\r\n");
  EXPECT_EQ(run({"HINCRBYFLOAT", "h", "s", "1"}), "-ERR hash value is not a float\r\n");
  EXPECT_EQ(run({"HINCRBYFLOAT", "h", "big", "1e4932"}).substr(0, 7), "$4933\r\n");
  EXPECT_EQ(run({"HINCRBYFLOAT", "h", "big", "1.1e4932"}),
            "-ERR increment would produce NaN or Infinity\r\n");
  EXPECT_EQ(run({"HGET", "h", "f"}), "$5\r\n-4990\r\n");  // stored as the reply's text
}

TEST_F(CollectionsTest, WrongTypeEverywhere) {
  run({"HSET", "h", "f", "1"});
  run({"SADD", "s", "m"});
  run({"SET", "str", "v"});
  for (std::string_view k : {"h", "s"}) {
    for (std::vector<std::string_view> c : std::vector<std::vector<std::string_view>>{
             {"GET", k},
             {"GETDEL", k},
             {"GETEX", k},
             {"GETSET", k, "v"},
             {"SET", k, "v", "GET"},
             {"INCR", k},
             {"DECRBY", k, "2"},
             {"INCRBYFLOAT", k, "1"},
             {"APPEND", k, "x"},
             {"STRLEN", k},
             {"SETRANGE", k, "0", "x"},
             {"GETRANGE", k, "0", "1"},
             {"SETBIT", k, "1", "1"},
             {"GETBIT", k, "1"},
             {"BITCOUNT", k},
             {"BITPOS", k, "1"},
         }) {
      EXPECT_EQ(run(c), kWrongType) << c[0] << " " << k;
    }
    EXPECT_EQ(run({"LCS", k, "str"}), "-ERR The specified keys must contain string values\r\n");
    EXPECT_EQ(run({"MGET", k, "str"}), "*2\r\n$-1\r\n$1\r\nv\r\n");  // nil, as Redis
  }
  for (std::vector<std::string_view> c :
       std::vector<std::vector<std::string_view>>{{"HGET", "s", "f"},
                                                  {"HSET", "s", "f", "v"},
                                                  {"HLEN", "str"},
                                                  {"HGETALL", "s"},
                                                  {"HDEL", "str", "f"},
                                                  {"HINCRBY", "s", "f", "1"},
                                                  {"HRANDFIELD", "s"},
                                                  {"HSCAN", "s", "0"},
                                                  {"SADD", "h", "m"},
                                                  {"SREM", "str", "m"},
                                                  {"SCARD", "h"},
                                                  {"SMEMBERS", "str"},
                                                  {"SPOP", "h"},
                                                  {"SRANDMEMBER", "h", "2"},
                                                  {"SISMEMBER", "h", "m"},
                                                  {"SINTER", "s", "h"},
                                                  {"SUNIONSTORE", "d", "s", "str"},
                                                  {"SINTERCARD", "2", "s", "h"},
                                                  {"SMOVE", "s", "h", "m"},
                                                  {"SSCAN", "h", "0"}}) {
    EXPECT_EQ(run(c), kWrongType) << c[0] << " " << c[1];
  }
  EXPECT_EQ(run({"TYPE", "s"}), "+set\r\n");
  EXPECT_EQ(run({"SMOVE", "missing", "h", "m"}), ":0\r\n");  // no source: 0 before types
  // SET replaces a collection of any type, and the elements go with it.
  EXPECT_EQ(run({"SET", "h", "x"}), "+OK\r\n");
  EXPECT_EQ(run({"GET", "h"}), "$1\r\nx\r\n");
  EXPECT_EQ(store_.keyspace_weight(0), 3u + 1u);  // h, s, str and s's one member
}

TEST_F(CollectionsTest, RandomPicksWithCounts) {
  EXPECT_EQ(run({"SRANDMEMBER", "s"}), "$-1\r\n");
  EXPECT_EQ(run({"SRANDMEMBER", "s", "3"}), "*0\r\n");
  EXPECT_EQ(run({"HRANDFIELD", "h", "-3", "WITHVALUES"}), "*0\r\n");
  run({"SADD", "s", "a", "b", "c"});
  run({"HSET", "h", "f", "v"});
  EXPECT_EQ(run({"SRANDMEMBER", "s", "0"}), "*0\r\n");
  EXPECT_EQ(run({"SRANDMEMBER", "s", "-5"}).substr(0, 4), "*5\r\n");  // repeats allowed
  EXPECT_EQ(run({"SRANDMEMBER", "s", "9223372036854775807"}).substr(0, 4), "*3\r\n");
  EXPECT_EQ(run({"SRANDMEMBER", "s", "-9223372036854775808"}),
            "-ERR value is out of range, value must between -9223372036854775807 and "
            "9223372036854775807\r\n");
  EXPECT_EQ(run({"HRANDFIELD", "h", "-2", "WITHVALUES"}),
            "*4\r\n$1\r\nf\r\n$1\r\nv\r\n$1\r\nf\r\n$1\r\nv\r\n");
  EXPECT_EQ(run({"HRANDFIELD", "h", "-2", "WITHVALUES"}, 3),
            "*2\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n");
  EXPECT_EQ(run({"HRANDFIELD", "h", "-4611686018427387904", "WITHVALUES"}),
            "-ERR value is out of range\r\n");
  EXPECT_EQ(run({"HRANDFIELD", "h", "1", "BOGUS"}), "-ERR syntax error\r\n");
  // Positive counts below the size are distinct, for every proportion of the set.
  std::vector<std::string> members;
  for (int i = 0; i < 300; ++i)
    members.push_back("m" + std::to_string(i));
  std::vector<std::string_view> sadd = {"SADD", "big"};
  sadd.insert(sadd.end(), members.begin(), members.end());
  run(sadd);
  for (int count : {1, 5, 99, 101, 250, 299}) {
    const std::string reply = run({"SRANDMEMBER", "big", std::to_string(count)});
    std::set<std::string> seen;
    size_t pos = reply.find("\r\n") + 2;
    while (pos < reply.size()) {
      const size_t len_end = reply.find("\r\n", pos);
      const size_t len = std::stoul(reply.substr(pos + 1, len_end - pos - 1));
      seen.insert(reply.substr(len_end + 2, len));
      pos = len_end + 2 + len + 2;
    }
    EXPECT_EQ(seen.size(), static_cast<size_t>(count));
  }
}

TEST_F(CollectionsTest, SpopCountsAndReplies) {
  EXPECT_EQ(run({"SPOP", "s"}), "$-1\r\n");
  EXPECT_EQ(run({"SPOP", "s", "2"}, 3), "~0\r\n");
  run({"SADD", "s", "1", "2", "3"});
  EXPECT_EQ(run({"SPOP", "s", "-1"}), "-ERR value is out of range, must be positive\r\n");
  EXPECT_EQ(run({"SPOP", "s", "1", "2"}), "-ERR syntax error\r\n");
  EXPECT_EQ(run({"SPOP", "s", "0"}, 3), "~0\r\n");
  EXPECT_EQ(run({"SPOP", "s", "2"}, 3).substr(0, 4), "~2\r\n");
  EXPECT_EQ(run({"SCARD", "s"}), ":1\r\n");
  EXPECT_EQ(run({"SPOP", "s", "5"}).substr(0, 4), "*1\r\n");
  EXPECT_EQ(run({"EXISTS", "s"}), ":0\r\n");
}

// SPOP must remove the same members on every replica, whose member tables may differ in size,
// chain order and resize state (one applied the log, another loaded a snapshot image).
TEST(CollectionsDeterminism, SpopChoosesByContentNotLayout) {
  const auto ks = Config::defaults().keyspaces;
  Store a(ks), b(ks);
  std::vector<std::string> members;
  for (int i = 0; i < 5000; ++i)
    members.push_back("member-" + std::to_string(i));
  // a: inserted in order, then 4000 removed (its table shrinks in steps); b: only the
  // survivors, in reverse order, then rebuilt from an image.
  for (const std::string& m : members)
    exec(a, {"SADD", "s", m});
  for (int i = 0; i < 4000; ++i)
    exec(a, {"SREM", "s", members[static_cast<size_t>(i)]});
  for (int i = 4999; i >= 4000; --i)
    exec(b, {"SADD", "s", members[static_cast<size_t>(i)]});
  Store c(ks);
  NullSink none;
  ASSERT_TRUE(c.load_keyspace(0, b.serialize_keyspace(0), none));
  for (int64_t now = 1; now <= 40; ++now) {
    const std::string want = exec(a, {"SPOP", "s", now % 3 == 0 ? "7" : "1"}, 2, now);
    EXPECT_EQ(exec(b, {"SPOP", "s", now % 3 == 0 ? "7" : "1"}, 2, now), want) << now;
    EXPECT_EQ(exec(c, {"SPOP", "s", now % 3 == 0 ? "7" : "1"}, 2, now), want) << now;
  }
  EXPECT_EQ(dump(a), dump(b));
  EXPECT_EQ(dump(a), dump(c));
}

TEST_F(CollectionsTest, SetAlgebraAndStores) {
  run({"SADD", "a", "1", "2", "3", "x"});
  run({"SADD", "b", "2", "3", "4"});
  EXPECT_EQ(run({"SINTER", "a", "b", "missing"}, 3), "~0\r\n");
  EXPECT_EQ(run({"SINTERCARD", "2", "a", "b"}), ":2\r\n");
  EXPECT_EQ(run({"SINTERCARD", "2", "a", "b", "LIMIT", "1"}), ":1\r\n");
  EXPECT_EQ(run({"SINTERCARD", "3", "a", "b"}),
            "-ERR Number of keys can't be greater than number of args\r\n");
  EXPECT_EQ(run({"SINTERCARD", "0", "a"}), "-ERR numkeys should be greater than 0\r\n");
  EXPECT_EQ(run({"SINTERCARD", "1", "a", "LIMIT", "-1"}), "-ERR LIMIT can't be negative\r\n");
  EXPECT_EQ(run({"SDIFFSTORE", "a", "a", "b"}), ":2\r\n");  // destination among the sources
  EXPECT_EQ(run({"SISMEMBER", "a", "x"}), ":1\r\n");
  EXPECT_EQ(run({"SMISMEMBER", "a", "1", "2"}), "*2\r\n:1\r\n:0\r\n");
  EXPECT_EQ(run({"SUNIONSTORE", "u", "a", "b", "missing"}), ":5\r\n");
  run({"SET", "str", "v"});
  run({"EXPIRE", "str", "100"});
  EXPECT_EQ(run({"SINTERSTORE", "str", "a", "b"}), ":0\r\n");  // empty: the destination goes
  EXPECT_EQ(run({"EXISTS", "str"}), ":0\r\n");
  run({"SET", "str", "v"});
  run({"EXPIRE", "str", "100"});
  EXPECT_EQ(run({"SUNIONSTORE", "str", "b"}), ":3\r\n");  // overwrites a string, drops its TTL
  EXPECT_EQ(run({"TTL", "str"}), ":-1\r\n");
  EXPECT_EQ(run({"SMOVE", "a", "b", "x"}), ":1\r\n");
  EXPECT_EQ(run({"SMOVE", "a", "b", "x"}), ":0\r\n");
  EXPECT_EQ(run({"SMOVE", "b", "b", "x"}), ":1\r\n");
  EXPECT_EQ(run({"SMOVE", "a", "new", "1"}), ":1\r\n");
  EXPECT_EQ(run({"EXISTS", "a"}), ":0\r\n");  // its last member moved out
  EXPECT_EQ(run({"SMEMBERS", "new"}, 3), "~1\r\n$1\r\n1\r\n");
  EXPECT_EQ(run({"OBJECT", "ENCODING", "new"}), "$6\r\nintset\r\n");
  EXPECT_EQ(run({"OBJECT", "ENCODING", "b"}), "$9\r\nhashtable\r\n");
}

TEST_F(CollectionsTest, KeyCommandsOnCollections) {
  run({"HSET", "h", "f", "v", "g", "w"});
  EXPECT_EQ(run({"EXPIRE", "h", "100"}), ":1\r\n");
  EXPECT_EQ(run({"COPY", "h", "h2"}), ":1\r\n");
  EXPECT_EQ(run({"HSET", "h2", "f", "changed"}), ":0\r\n");
  EXPECT_EQ(run({"HGET", "h", "f"}), "$1\r\nv\r\n");  // a deep copy
  EXPECT_EQ(run({"TTL", "h2"}), ":100\r\n");
  EXPECT_EQ(run({"RENAME", "h2", "h3"}), "+OK\r\n");
  EXPECT_EQ(run({"HGET", "h3", "f"}), "$7\r\nchanged\r\n");
  EXPECT_EQ(run({"PERSIST", "h3"}), ":1\r\n");
  run({"SADD", "s", "m"});
  EXPECT_EQ(run({"SCAN", "0", "TYPE", "hash", "COUNT", "100"}).find("$1\r\ns\r\n"),
            std::string::npos);
  EXPECT_NE(run({"SCAN", "0", "TYPE", "set", "COUNT", "100"}).find("$1\r\ns\r\n"),
            std::string::npos);
  EXPECT_EQ(run({"DBSIZE"}), ":3\r\n");
  // Element bytes count in the data size (INFO, /metrics) and go with the key.
  EXPECT_EQ(store_.total_bytes(), (1 + 2 + 2) + (2 + 1 + 2 + 7) + (1 + 1));
  EXPECT_EQ(run({"DEL", "h", "h3", "s"}), ":3\r\n");
  EXPECT_EQ(store_.keyspace_weight(0), 0u);
  EXPECT_EQ(store_.total_bytes(), 0u);
}

TEST_F(CollectionsTest, ScansOfLargeCollectionsPageAndCoverEverything) {
  std::vector<std::string> fields;
  for (int i = 0; i < 1000; ++i)
    fields.push_back("f" + std::to_string(i));
  std::vector<std::string_view> hset = {"HSET", "h"};
  for (const std::string& f : fields) {
    hset.push_back(f);
    hset.push_back(f);
  }
  run(hset);
  std::set<std::string> seen;
  std::string cursor = "0";
  int calls = 0;
  do {
    const std::string reply = run({"HSCAN", "h", cursor, "COUNT", "50"});
    const size_t c0 = reply.find("$", 4);
    const size_t c1 = reply.find("\r\n", c0);
    const size_t len = std::stoul(reply.substr(c0 + 1, c1 - c0 - 1));
    cursor = reply.substr(c1 + 2, len);
    for (const std::string& f : fields) {
      if (reply.find("$" + std::to_string(f.size()) + "\r\n" + f + "\r\n") != std::string::npos) {
        seen.insert(f);
      }
    }
    // The table changes between calls: fields present throughout are still all returned.
    run({"HSET", "h", "new" + std::to_string(calls), "x"});
    ++calls;
  } while (cursor != "0" && calls < 10000);
  EXPECT_EQ(seen.size(), fields.size());
  EXPECT_GT(calls, 10);
}

// A snapshot image holds every collection whole and loads back to the same content; an image
// built while the keyspace changes shows the collections as they were when it began.
TEST(CollectionsImage, LargeCollectionsRoundTripAndBuildDuringChanges) {
  const auto ks = Config::defaults().keyspaces;
  Store a(ks);
  std::vector<std::string> args;
  for (int i = 0; i < 100000; ++i) {
    args.push_back("field:" + std::to_string(i));
    args.push_back(std::string(static_cast<size_t>(i % 50), 'v'));
  }
  std::vector<std::string_view> hset = {"HSET", "big"};
  hset.insert(hset.end(), args.begin(), args.end());
  EXPECT_EQ(exec(a, hset), ":100000\r\n");
  std::vector<std::string_view> sadd = {"SADD", "set"};
  for (size_t i = 0; i < args.size(); i += 4)
    sadd.push_back(args[i]);
  exec(a, sadd);
  exec(a, {"SET", "str", "v"});
  exec(a, {"PEXPIRE", "set", "100000"});
  EXPECT_EQ(a.keyspace_weight(0), 3u + 100000u + 50000u);

  Store b(ks);
  NullSink none;
  const std::map<std::string, std::string> before = dump(a);
  ASSERT_TRUE(b.load_keyspace(0, a.serialize_keyspace(0), none));
  EXPECT_EQ(dump(b), before);
  EXPECT_EQ(b.keyspace_weight(0), a.keyspace_weight(0));

  // Built in steps while the collections change: the image is as of its start.
  Store::ImageBuild build(a, 0);
  build.step(10);
  for (std::string_view key : {"big", "set", "str"})
    build.note_change(key);
  exec(a, {"HSET", "big", "field:0", "changed", "extra", "1"});
  exec(a, {"SREM", "set", "field:0"});
  exec(a, {"DEL", "str"});
  while (!build.step(1000)) {
  }
  Store c(ks);
  ASSERT_TRUE(c.load_keyspace(0, build.take(), none));
  EXPECT_EQ(dump(c), before);

  // A truncated or malformed image is refused and leaves the keyspace as it was.
  std::string image = a.serialize_keyspace(0);
  EXPECT_FALSE(c.load_keyspace(0, std::string_view(image).substr(0, image.size() - 3), none));
  image[8 + 4 + 3 + 8] = 9;  // the first key's type byte: no such type
  EXPECT_FALSE(c.load_keyspace(0, image, none));
  EXPECT_EQ(dump(c), before);
}

// Single node: a collection is a head row and one row per element. Restart rebuilds every
// collection from them; deleted, emptied, expired and renamed collections leave no rows.
TEST(CollectionsStorage, RestartRebuildsCollectionsFromElementRows) {
  MemStorage s;
  const Config cfg = Config::defaults();
  std::map<std::string, std::string> want;
  {
    Node n(cfg, &s);
    ASSERT_TRUE(n.open(0).is_ok());
    std::vector<std::string> args;
    for (int i = 0; i < 20000; ++i) {
      args.push_back("f" + std::to_string(i));
      args.push_back("v" + std::to_string(i));
    }
    std::vector<std::string_view> hset = {"HSET", "h"};
    hset.insert(hset.end(), args.begin(), args.end());
    node_run(n, hset);
    node_run(n, {"HDEL", "h", "f1", "f2"});
    node_run(n, {"HSET", "h", "f3", "3"});
    node_run(n, {"HINCRBY", "h", "f3", "5"});
    node_run(n, {"SADD", "s", "a", "b", "c"});
    node_run(n, {"SREM", "s", "b"});
    node_run(n, {"SADD", "accounts:s", "x"});
    node_run(n, {"SADD", "gone", "x"});
    node_run(n, {"DEL", "gone"});
    node_run(n, {"SADD", "emptied", "x"});
    node_run(n, {"SPOP", "emptied"});
    node_run(n, {"HSET", "renamed", "f", "v"});
    node_run(n, {"RENAME", "renamed", "moved"});
    node_run(n, {"HSET", "expiring", "f", "v"});
    node_run(n, {"PEXPIRE", "expiring", "500"});
    node_run(n, {"HSET", "typechange", "f", "v"});
    node_run(n, {"SET", "typechange", "now a string"});
    persist(n, s);
    want = dump(n.store(), 0);
  }
  Node n(cfg, &s);
  ASSERT_TRUE(n.open(1000).is_ok());  // "expiring" has expired meanwhile
  want.erase("expiring");
  EXPECT_EQ(dump(n.store(), 0), want);
  EXPECT_EQ(node_run(n, {"SMEMBERS", "accounts:s"}, 1000), "*1\r\n$1\r\nx\r\n");
  EXPECT_EQ(node_run(n, {"HGET", "h", "f3"}, 1000), "$1\r\n8\r\n");
  EXPECT_EQ(node_run(n, {"HGET", "moved", "f"}, 1000), "$1\r\nv\r\n");
  // Element rows left: those of h (19998), s (2), accounts:s (1), moved (1) only.
  size_t rows = 0;
  ASSERT_TRUE(s.scan("f", "g", [&](std::string_view, std::string_view) {
                 ++rows;
                 return true;
               }).is_ok());
  EXPECT_EQ(rows, 19998u + 2u + 1u + 1u);
}

// FLUSHALL removes the element rows with the heads (one range delete per prefix).
TEST(CollectionsStorage, FlushallLeavesNoElementRows) {
  MemStorage s;
  const Config cfg = Config::defaults();
  {
    Node n(cfg, &s);
    ASSERT_TRUE(n.open(0).is_ok());
    node_run(n, {"HSET", "h", "f", "v", "g", "w"});
    node_run(n, {"SADD", "accounts:s", "a", "b"});
    persist(n, s);
    node_run(n, {"FLUSHALL"});
    node_run(n, {"SADD", "after", "x"});
    persist(n, s);
  }
  size_t rows = 0;
  ASSERT_TRUE(s.scan("f", "g", [&](std::string_view, std::string_view) {
                 ++rows;
                 return true;
               }).is_ok());
  EXPECT_EQ(rows, 1u);  // after's member
  Node n(cfg, &s);
  ASSERT_TRUE(n.open(0).is_ok());
  EXPECT_EQ(n.store().total_keys(), 1u);
  EXPECT_EQ(node_run(n, {"SMEMBERS", "after"}), "*1\r\n$1\r\nx\r\n");
}

// The bytes one HSET or SADD writes do not grow with the collection: a 100,000-field hash
// costs the same per write as a 10-field one.
TEST(CollectionsStorage, BytesWrittenPerElementWriteStayConstant) {
  MemStorage s;
  Node n(Config::defaults(), &s);
  ASSERT_TRUE(n.open(0).is_ok());
  auto write_cost = [&](std::vector<std::string_view> cmd) {
    persist(n, s);
    node_run(n, cmd);
    return persist(n, s);
  };
  std::vector<std::string> args;
  for (int i = 0; i < 100000; ++i) {
    args.push_back("field:" + std::to_string(i));
    args.push_back("value:" + std::to_string(i));
  }
  std::vector<std::string_view> small = {"HSET", "small"}, big = {"HSET", "big"};
  small.insert(small.end(), args.begin(), args.begin() + 20);
  big.insert(big.end(), args.begin(), args.end());
  node_run(n, small);
  node_run(n, big);
  std::vector<std::string_view> sadd = {"SADD", "bigset"};
  for (size_t i = 0; i < args.size(); i += 2)
    sadd.push_back(args[i]);
  node_run(n, sadd);
  node_run(n, {"SADD", "smallset", "a"});
  const uint64_t small_new = write_cost({"HSET", "small", "newfield", "newvalue"});
  const uint64_t big_new = write_cost({"HSET", "big", "newfield", "newvalue"});
  const uint64_t big_update = write_cost({"HSET", "big", "field:5", "changed!"});
  const uint64_t big_incr = write_cost({"HINCRBY", "big", "counter", "1"});
  const uint64_t set_small = write_cost({"SADD", "smallset", "newmember"});
  const uint64_t set_big = write_cost({"SADD", "bigset", "newmember"});
  const uint64_t set_big_rem = write_cost({"SREM", "bigset", "field:7"});
  EXPECT_EQ(big_new + 2, small_new);  // "big" is 2 bytes shorter than "small": nothing else
  EXPECT_LT(big_new, 100u);
  EXPECT_LT(big_update, 100u);
  EXPECT_LT(big_incr, 100u);
  EXPECT_EQ(set_big + 2, set_small);  // "bigset" is 2 bytes shorter than "smallset"
  EXPECT_LT(set_big_rem, 100u);
}

}  // namespace
}  // namespace rkv
