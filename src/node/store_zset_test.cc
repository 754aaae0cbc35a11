// Sorted sets: the Store's commands at their edges (empty, negative and out-of-range ranks,
// infinities, exclusive and lex ranges, LIMIT, WITHSCORES, NaN and option conflicts), replies
// in RESP2 and RESP3, WRONGTYPE, and the sorted set's life in images, copies and restarts.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "node/node.h"
#include "node/store.h"
#include "node/store_test_util.h"
#include "storage/storage.h"

namespace rkv {
namespace {

using namespace rkv::test;

class ZsetTest : public StoreTest {
 protected:
  // A reply's bulk strings joined by spaces (flat arrays only), for readable expectations.
  std::string words(std::vector<std::string_view> a, int proto = 2) {
    const std::string r = run(std::move(a), proto);
    std::string out;
    size_t p = 0;
    while ((p = r.find('$', p)) != std::string::npos) {
      const size_t nl = r.find("\r\n", p);
      const size_t len = std::stoul(r.substr(p + 1, nl - p - 1));
      if (!out.empty()) out += ' ';
      out += r.substr(nl + 2, len);
      p = nl + 2 + len;
    }
    return out;
  }
};

TEST_F(ZsetTest, AddScoreRankAndEmptyKey) {
  EXPECT_EQ(run({"ZCARD", "z"}), ":0\r\n");
  EXPECT_EQ(run({"ZSCORE", "z", "a"}), "$-1\r\n");
  EXPECT_EQ(run({"ZRANK", "z", "a"}), "$-1\r\n");
  EXPECT_EQ(run({"ZRANGE", "z", "0", "-1"}), "*0\r\n");
  EXPECT_EQ(run({"ZMSCORE", "z", "a", "b"}, 3), "*2\r\n_\r\n_\r\n");
  EXPECT_EQ(run({"ZADD", "z", "1", "a", "2", "b", "1.5", "c", "1", "a"}), ":3\r\n");
  EXPECT_EQ(run({"TYPE", "z"}), "+zset\r\n");
  EXPECT_EQ(run({"ZSCORE", "z", "c"}), "$3\r\n1.5\r\n");
  EXPECT_EQ(run({"ZSCORE", "z", "c"}, 3), ",1.5\r\n");
  EXPECT_EQ(run({"ZRANK", "z", "b"}), ":2\r\n");
  EXPECT_EQ(run({"ZREVRANK", "z", "b"}), ":0\r\n");
  EXPECT_EQ(words({"ZRANGE", "z", "0", "-1", "WITHSCORES"}), "a 1 c 1.5 b 2");
  EXPECT_EQ(run({"ZRANGE", "z", "0", "0", "WITHSCORES"}, 3), "*1\r\n*2\r\n$1\r\na\r\n,1\r\n");
  // Redis 7.0 prints scores with %.17g.
  EXPECT_EQ(run({"ZADD", "z", "0.1", "d"}), ":1\r\n");
  EXPECT_EQ(words({"ZSCORE", "z", "d"}), "0.10000000000000001");
  EXPECT_EQ(run({"ZREM", "z", "a", "b", "c", "d", "x"}), ":4\r\n");
  EXPECT_EQ(run({"EXISTS", "z"}), ":0\r\n");  // emptied: the key is gone
}

TEST_F(ZsetTest, ZaddOptionsAndTheirConflicts) {
  EXPECT_EQ(run({"ZADD", "z", "NX", "XX", "1", "a"}),
            "-ERR XX and NX options at the same time are not compatible\r\n");
  EXPECT_EQ(run({"ZADD", "z", "GT", "LT", "1", "a"}),
            "-ERR GT, LT, and/or NX options at the same time are not compatible\r\n");
  EXPECT_EQ(run({"ZADD", "z", "NX", "GT", "1", "a"}),
            "-ERR GT, LT, and/or NX options at the same time are not compatible\r\n");
  EXPECT_EQ(run({"ZADD", "z", "INCR", "1", "a", "2", "b"}),
            "-ERR INCR option supports a single increment-element pair\r\n");
  EXPECT_EQ(run({"ZADD", "z", "1", "a", "2"}), "-ERR syntax error\r\n");
  EXPECT_EQ(run({"ZADD", "z", "CH", "NX"}), "-ERR syntax error\r\n");  // no pair after options
  EXPECT_EQ(run({"ZADD", "z", "x", "a"}), "-ERR value is not a valid float\r\n");
  EXPECT_EQ(run({"ZADD", "z", "nan", "a"}), "-ERR value is not a valid float\r\n");
  EXPECT_EQ(run({"ZADD", "z", "1e400", "a"}), "-ERR value is not a valid float\r\n");
  EXPECT_EQ(run({"ZADD", "z", " 1", "a"}), "-ERR value is not a valid float\r\n");
  EXPECT_EQ(run({"ZADD", "z", "XX", "1", "a"}), ":0\r\n");
  EXPECT_EQ(run({"EXISTS", "z"}), ":0\r\n");
  EXPECT_EQ(run({"ZADD", "z", "XX", "INCR", "1", "a"}), "$-1\r\n");
  EXPECT_EQ(run({"ZADD", "z", "1", "a", "5", "b"}), ":2\r\n");
  EXPECT_EQ(run({"ZADD", "z", "CH", "1", "a", "6", "b", "0", "c"}), ":2\r\n");
  EXPECT_EQ(run({"ZADD", "z", "GT", "CH", "0", "a", "7", "b"}), ":1\r\n");
  EXPECT_EQ(words({"ZSCORE", "z", "a"}), "1");
  EXPECT_EQ(run({"ZADD", "z", "LT", "CH", "-1", "a", "9", "b"}), ":1\r\n");
  EXPECT_EQ(words({"ZSCORE", "z", "a"}), "-1");
  EXPECT_EQ(run({"ZADD", "z", "NX", "INCR", "5", "a"}), "$-1\r\n");
  EXPECT_EQ(run({"ZADD", "z", "GT", "INCR", "-5", "a"}), "$-1\r\n");
  EXPECT_EQ(words({"ZADD", "z", "INCR", "2.5", "a"}), "1.5");
  EXPECT_EQ(run({"ZADD", "z", "inf", "i"}), ":1\r\n");
  EXPECT_EQ(run({"ZSCORE", "z", "i"}, 3), ",inf\r\n");
  EXPECT_EQ(run({"ZINCRBY", "z", "-inf", "i"}), "-ERR resulting score is not a number (NaN)\r\n");
  EXPECT_EQ(run({"ZINCRBY", "z", "abc", "i"}), "-ERR value is not a valid float\r\n");
  EXPECT_EQ(run({"ZINCRBY", "z", "1", "new"}), "$1\r\n1\r\n");
  EXPECT_EQ(run({"ZINCRBY", "z", "1e308", "new"}), "$6\r\n1e+308\r\n");
  EXPECT_EQ(run({"ZINCRBY", "z", "1e308", "new"}), "$3\r\ninf\r\n");  // overflow: inf, as Redis
}

TEST_F(ZsetTest, RankRangesWithNegativeAndOutOfRangeIndexes) {
  run({"ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"});
  EXPECT_EQ(words({"ZRANGE", "z", "-2", "-1"}), "c d");
  EXPECT_EQ(words({"ZRANGE", "z", "-100", "1"}), "a b");
  EXPECT_EQ(words({"ZRANGE", "z", "2", "100"}), "c d");
  EXPECT_EQ(run({"ZRANGE", "z", "3", "2"}), "*0\r\n");
  EXPECT_EQ(run({"ZRANGE", "z", "4", "10"}), "*0\r\n");
  EXPECT_EQ(run({"ZRANGE", "z", "0", "-9223372036854775808"}), "*0\r\n");
  EXPECT_EQ(words({"ZREVRANGE", "z", "0", "1"}), "d c");
  EXPECT_EQ(words({"ZRANGE", "z", "0", "1", "REV"}), "d c");
  EXPECT_EQ(words({"ZREVRANGE", "z", "-1", "-1", "WITHSCORES"}), "a 1");
  EXPECT_EQ(run({"ZRANGE", "z", "a", "1"}), "-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(run({"ZRANGE", "z", "0", "1", "LIMIT", "0", "1"}),
            "-ERR syntax error, LIMIT is only supported in combination with either BYSCORE or "
            "BYLEX\r\n");
  EXPECT_EQ(words({"ZRANGE", "z", "0", "1", "LIMIT", "5", "-1"}), "a b");  // count -1: no LIMIT
  EXPECT_EQ(run({"ZRANGE", "z", "0", "1", "REV", "REV"}), "-ERR syntax error\r\n");
  EXPECT_EQ(run({"ZREVRANGE", "z", "0", "1", "REV"}), "-ERR syntax error\r\n");
  EXPECT_EQ(run({"ZRANGE", "z", "(1", "2", "BYLEX", "WITHSCORES"}),
            "-ERR syntax error, WITHSCORES not supported in combination with BYLEX\r\n");
}

TEST_F(ZsetTest, ScoreRangesExclusiveInfiniteAndLimit) {
  run({"ZADD", "z", "-inf", "lo", "1", "a", "2", "b", "2", "c", "3", "d", "inf", "hi"});
  EXPECT_EQ(words({"ZRANGEBYSCORE", "z", "-inf", "+inf"}), "lo a b c d hi");
  EXPECT_EQ(words({"ZRANGEBYSCORE", "z", "(1", "(3"}), "b c");
  EXPECT_EQ(words({"ZRANGEBYSCORE", "z", "2", "2"}), "b c");
  EXPECT_EQ(run({"ZRANGEBYSCORE", "z", "(2", "2"}), "*0\r\n");
  EXPECT_EQ(run({"ZRANGEBYSCORE", "z", "3", "1"}), "*0\r\n");
  EXPECT_EQ(words({"ZREVRANGEBYSCORE", "z", "3", "(1"}), "d c b");
  EXPECT_EQ(words({"ZRANGE", "z", "(1", "inf", "BYSCORE", "REV"}), "");  // REV: max first
  EXPECT_EQ(words({"ZRANGE", "z", "inf", "(1", "BYSCORE", "REV", "LIMIT", "1", "2"}), "d c");
  EXPECT_EQ(words({"ZRANGEBYSCORE", "z", "-inf", "inf", "LIMIT", "1", "2"}), "a b");
  EXPECT_EQ(words({"ZRANGEBYSCORE", "z", "-inf", "inf", "LIMIT", "4", "-1"}), "d hi");
  EXPECT_EQ(run({"ZRANGEBYSCORE", "z", "-inf", "inf", "LIMIT", "-1", "5"}), "*0\r\n");
  EXPECT_EQ(run({"ZRANGEBYSCORE", "z", "-inf", "inf", "LIMIT", "0", "0"}), "*0\r\n");
  EXPECT_EQ(words({"ZRANGEBYSCORE", "z", "-inf", "inf", "LIMIT", "5", "9223372036854775807"}),
            "hi");
  EXPECT_EQ(run({"ZRANGEBYSCORE", "z", "-inf", "inf", "LIMIT", "99", "1"}), "*0\r\n");
  EXPECT_EQ(words({"ZRANGEBYSCORE", "z", "inf", "inf", "WITHSCORES"}), "hi inf");
  EXPECT_EQ(run({"ZRANGEBYSCORE", "z", "x", "1"}), "-ERR min or max is not a float\r\n");
  EXPECT_EQ(run({"ZRANGEBYSCORE", "z", "(nan", "1"}), "-ERR min or max is not a float\r\n");
  EXPECT_EQ(run({"ZCOUNT", "z", "(1", "3"}), ":3\r\n");
  EXPECT_EQ(run({"ZCOUNT", "z", "-inf", "(-inf"}), ":0\r\n");
  EXPECT_EQ(run({"ZCOUNT", "missing", "1", "x"}), "-ERR min or max is not a float\r\n");
  EXPECT_EQ(run({"ZRANGEBYSCORE", "z", "0", "5", "LIMIT", "x", "1"}),
            "-ERR value is not an integer or out of range\r\n");
}

TEST_F(ZsetTest, LexRanges) {
  run({"ZADD", "z", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e"});
  EXPECT_EQ(words({"ZRANGEBYLEX", "z", "-", "+"}), "a b c d e");
  EXPECT_EQ(words({"ZRANGEBYLEX", "z", "[b", "(d"}), "b c");
  EXPECT_EQ(words({"ZREVRANGEBYLEX", "z", "(d", "[b"}), "c b");
  EXPECT_EQ(words({"ZRANGEBYLEX", "z", "-", "+", "LIMIT", "1", "2"}), "b c");
  EXPECT_EQ(words({"ZRANGE", "z", "+", "[c", "BYLEX", "REV", "LIMIT", "0", "2"}), "e d");
  EXPECT_EQ(run({"ZRANGEBYLEX", "z", "+", "-"}), "*0\r\n");
  EXPECT_EQ(run({"ZRANGEBYLEX", "z", "(c", "[c"}), "*0\r\n");
  EXPECT_EQ(run({"ZLEXCOUNT", "z", "(a", "[d"}), ":3\r\n");
  EXPECT_EQ(run({"ZLEXCOUNT", "z", "a", "[d"}), "-ERR min or max not valid string range item\r\n");
  EXPECT_EQ(run({"ZLEXCOUNT", "z", "-x", "+"}), "-ERR min or max not valid string range item\r\n");
  EXPECT_EQ(run({"ZREMRANGEBYLEX", "z", "[b", "[c"}), ":2\r\n");
  EXPECT_EQ(words({"ZRANGE", "z", "0", "-1"}), "a d e");
  // Scores that differ: the walk of a small Redis sorted set, from the content alone.
  run({"ZADD", "m", "1", "b", "2", "a", "3", "c"});
  EXPECT_EQ(words({"ZRANGEBYLEX", "m", "[b", "+"}), "b a c");
  EXPECT_EQ(run({"ZLEXCOUNT", "m", "[b", "+"}), ":3\r\n");
}

TEST_F(ZsetTest, RemoveRangesAndPops) {
  run({"ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e"});
  EXPECT_EQ(run({"ZREMRANGEBYRANK", "z", "-2", "-1"}), ":2\r\n");
  EXPECT_EQ(run({"ZREMRANGEBYRANK", "z", "5", "9"}), ":0\r\n");
  EXPECT_EQ(run({"ZREMRANGEBYSCORE", "z", "(1", "2"}), ":1\r\n");
  EXPECT_EQ(words({"ZRANGE", "z", "0", "-1"}), "a c");
  EXPECT_EQ(run({"ZREMRANGEBYSCORE", "missing", "1", "2"}), ":0\r\n");
  EXPECT_EQ(words({"ZPOPMAX", "z"}), "c 3");
  EXPECT_EQ(run({"ZPOPMIN", "z", "0"}), "*0\r\n");
  EXPECT_EQ(run({"ZPOPMIN", "z", "-1"}), "-ERR value is out of range, must be positive\r\n");
  EXPECT_EQ(run({"ZPOPMIN", "z", "1", "2"}), "-ERR syntax error\r\n");
  EXPECT_EQ(run({"ZPOPMIN", "z", "10"}, 3), "*1\r\n*2\r\n$1\r\na\r\n,1\r\n");
  EXPECT_EQ(run({"EXISTS", "z"}), ":0\r\n");
  EXPECT_EQ(run({"ZPOPMIN", "z"}), "*0\r\n");
  run({"ZADD", "z", "1", "a", "2", "b", "3", "c"});
  EXPECT_EQ(run({"ZPOPMIN", "z"}, 3), "*2\r\n$1\r\na\r\n,1\r\n");  // no count: flat
  EXPECT_EQ(words({"ZPOPMAX", "z", "9223372036854775807"}), "c 3 b 2");
}

TEST_F(ZsetTest, AlgebraWeightsAggregateAndStores) {
  run({"ZADD", "x", "1", "a", "2", "b", "3", "c"});
  run({"ZADD", "y", "10", "b", "20", "c", "30", "d"});
  run({"SADD", "s", "c", "e"});
  EXPECT_EQ(words({"ZUNION", "2", "x", "y", "WITHSCORES"}), "a 1 b 12 c 23 d 30");
  EXPECT_EQ(words({"ZINTER", "2", "x", "y", "WEIGHTS", "2", "1", "AGGREGATE", "MAX", "WITHSCORES"}),
            "b 10 c 20");
  EXPECT_EQ(words({"ZINTER", "3", "x", "y", "s", "WITHSCORES"}), "c 24");  // a set scores 1
  EXPECT_EQ(words({"ZDIFF", "2", "x", "y", "WITHSCORES"}), "a 1");
  EXPECT_EQ(words({"ZUNION", "2", "x", "missing"}), "a b c");
  EXPECT_EQ(run({"ZUNION", "0", "x"}),
            "-ERR at least 1 input key is needed for 'zunion' command\r\n");
  EXPECT_EQ(run({"ZUNION", "3", "x", "y"}), "-ERR syntax error\r\n");
  EXPECT_EQ(run({"ZUNION", "1", "x", "WEIGHTS", "z"}), "-ERR weight value is not a float\r\n");
  EXPECT_EQ(run({"ZUNION", "1", "x", "AGGREGATE", "avg"}), "-ERR syntax error\r\n");
  EXPECT_EQ(run({"ZDIFF", "1", "x", "WEIGHTS", "1"}), "-ERR syntax error\r\n");
  EXPECT_EQ(run({"ZUNIONSTORE", "x", "1", "x", "WITHSCORES"}), "-ERR syntax error\r\n");
  // inf * 0 is 0, inf + -inf is 0, as in Redis.
  run({"ZADD", "inf", "inf", "m"});
  run({"ZADD", "ninf", "-inf", "m"});
  EXPECT_EQ(words({"ZUNION", "2", "inf", "ninf", "WITHSCORES"}), "m 0");
  EXPECT_EQ(words({"ZUNION", "1", "inf", "WEIGHTS", "0", "WITHSCORES"}), "m 0");
  // ZINTER leaves a later source's inf * 0 NaN: a sum turns it into 0, MAX ignores it.
  EXPECT_EQ(words({"ZINTER", "2", "inf", "inf", "WEIGHTS", "1", "0", "WITHSCORES"}), "m 0");
  EXPECT_EQ(
      words({"ZINTER", "2", "inf", "inf", "WEIGHTS", "1", "0", "AGGREGATE", "MAX", "WITHSCORES"}),
      "m inf");
  EXPECT_EQ(run({"ZUNIONSTORE", "dst", "2", "x", "y"}), ":4\r\n");
  EXPECT_EQ(words({"ZRANGE", "dst", "0", "-1", "WITHSCORES"}), "a 1 b 12 c 23 d 30");
  EXPECT_EQ(run({"ZINTERSTORE", "x", "2", "x", "y"}), ":2\r\n");  // a source as destination
  EXPECT_EQ(words({"ZRANGE", "x", "0", "-1"}), "b c");
  EXPECT_EQ(run({"ZDIFFSTORE", "dst", "2", "x", "x"}), ":0\r\n");
  EXPECT_EQ(run({"EXISTS", "dst"}), ":0\r\n");
  EXPECT_EQ(run({"ZRANGESTORE", "r", "y", "(10", "+inf", "BYSCORE"}), ":2\r\n");
  EXPECT_EQ(words({"ZRANGE", "r", "0", "-1"}), "c d");
  EXPECT_EQ(run({"ZRANGESTORE", "r", "missing", "0", "-1"}), ":0\r\n");
  EXPECT_EQ(run({"EXISTS", "r"}), ":0\r\n");
  EXPECT_EQ(run({"ZINTERCARD", "2", "y", "s"}), ":1\r\n");
  EXPECT_EQ(run({"ZINTERCARD", "1", "y", "LIMIT", "2"}), ":2\r\n");
  EXPECT_EQ(run({"ZINTERCARD", "0", "y"}),
            "-ERR at least 1 input key is needed for 'zintercard' command\r\n");
  EXPECT_EQ(run({"ZINTERCARD", "1", "y", "LIMIT", "x"}), "-ERR LIMIT can't be negative\r\n");
}

TEST_F(ZsetTest, WrongTypeAndTypeMixing) {
  run({"SET", "str", "v"});
  for (std::vector<std::string_view> cmd :
       std::vector<std::vector<std::string_view>>{{"ZADD", "str", "1", "a"},
                                                  {"ZINCRBY", "str", "1", "a"},
                                                  {"ZSCORE", "str", "a"},
                                                  {"ZRANGE", "str", "0", "1"},
                                                  {"ZRANGESTORE", "d", "str", "0", "1"},
                                                  {"ZREM", "str", "a"},
                                                  {"ZPOPMIN", "str"},
                                                  {"ZCARD", "str"},
                                                  {"ZCOUNT", "str", "0", "1"},
                                                  {"ZRANDMEMBER", "str"},
                                                  {"ZUNION", "1", "str"},
                                                  {"ZINTERCARD", "1", "str"},
                                                  {"ZSCAN", "str", "0"}}) {
    EXPECT_EQ(run(cmd), kWrongType) << cmd[0];
  }
  run({"ZADD", "z", "1", "a"});
  EXPECT_EQ(run({"GET", "z"}), kWrongType);
  EXPECT_EQ(run({"SADD", "z", "a"}), kWrongType);
  EXPECT_EQ(run({"SINTERCARD", "1", "z"}), kWrongType);  // sets only
  // Errors in the arguments win over the key's type, as in Redis.
  EXPECT_EQ(run({"ZADD", "str", "1", "a", "2"}), "-ERR syntax error\r\n");
  EXPECT_EQ(run({"ZRANGEBYSCORE", "str", "x", "1"}), "-ERR min or max is not a float\r\n");
}

TEST_F(ZsetTest, RandomMembersScanAndEncoding) {
  EXPECT_EQ(run({"ZRANDMEMBER", "z"}), "$-1\r\n");
  EXPECT_EQ(run({"ZRANDMEMBER", "z", "3"}), "*0\r\n");
  run({"ZADD", "z", "1", "a", "2", "b", "3", "c"});
  EXPECT_EQ(run({"ZRANDMEMBER", "z", "5", "WITHSCORES"}, 3).substr(0, 4), "*3\r\n");
  EXPECT_EQ(run({"ZRANDMEMBER", "z", "-5"}).substr(0, 4), "*5\r\n");
  EXPECT_EQ(run({"ZRANDMEMBER", "z", "1", "WITHVALUES"}), "-ERR syntax error\r\n");
  EXPECT_EQ(run({"ZRANDMEMBER", "z", "-9223372036854775807", "WITHSCORES"}),
            "-ERR value is out of range\r\n");
  EXPECT_EQ(words({"ZSCAN", "z", "0"}), "0 a 1 b 2 c 3");  // small: whole, in order
  EXPECT_EQ(words({"OBJECT", "ENCODING", "z"}), "listpack");
  const auto args = zadd_pairs(300, [](int i) { return std::to_string(i); });
  EXPECT_EQ(run(command({"ZADD", "big"}, args)), ":300\r\n");
  EXPECT_EQ(words({"OBJECT", "ENCODING", "big"}), "skiplist");
  // A large set pages; every member comes back at least once.
  std::set<std::string> seen;
  std::string cursor = "0";
  do {
    const std::string r = words({"ZSCAN", "big", cursor, "COUNT", "7"});
    std::vector<std::string> parts;
    size_t p = 0, q;
    while ((q = r.find(' ', p)) != std::string::npos) {
      parts.push_back(r.substr(p, q - p));
      p = q + 1;
    }
    parts.push_back(r.substr(p));
    cursor = parts[0];
    for (size_t i = 1; i + 1 < parts.size(); i += 2)
      seen.insert(parts[i]);
  } while (cursor != "0");
  EXPECT_EQ(seen.size(), 300u);
}

TEST_F(ZsetTest, KeyCommandsCopyRenameExpire) {
  run({"ZADD", "z", "1", "a", "2", "b"});
  EXPECT_EQ(run({"COPY", "z", "c"}), ":1\r\n");
  run({"ZADD", "c", "0", "b"});  // the copy is deep: the original keeps its order
  EXPECT_EQ(words({"ZRANGE", "z", "0", "-1"}), "a b");
  EXPECT_EQ(words({"ZRANGE", "c", "0", "-1"}), "b a");
  EXPECT_EQ(run({"RENAME", "z", "r"}), "+OK\r\n");
  EXPECT_EQ(words({"ZRANGE", "r", "0", "-1", "WITHSCORES"}), "a 1 b 2");
  EXPECT_EQ(words({"SCAN", "0", "TYPE", "zset", "COUNT", "100"}).substr(0, 1), "0");
  EXPECT_EQ(run({"PEXPIRE", "r", "10"}), ":1\r\n");
  EXPECT_EQ(exec(store_, {"ZCARD", "r"}, 2, 100), ":0\r\n");
}

// An image and a load give back the same members, scores and order; a deep copy too.
TEST(ZsetImage, RoundTripsThroughImagesAndRestarts) {
  Store a(Config::defaults().keyspaces);
  const auto args = zadd_pairs(5000, [](int i) {
    return i % 3 == 0 ? std::string("-0") : std::to_string((i * 7919) % 1000) + ".25";
  });
  exec(a, command({"ZADD", "z"}, args));
  exec(a, {"ZADD", "small", "inf", "x", "-inf", "y"});
  Store b(Config::defaults().keyspaces);
  NullSink none;
  ASSERT_TRUE(b.load_keyspace(0, a.serialize_keyspace(0), none));
  EXPECT_EQ(dump(b), dump(a));
  EXPECT_EQ(exec(b, {"ZRANGE", "z", "100", "102", "WITHSCORES"}),
            exec(a, {"ZRANGE", "z", "100", "102", "WITHSCORES"}));
  EXPECT_EQ(exec(b, {"ZSCORE", "z", "m0"}), "$1\r\n0\r\n");  // -0 is kept as 0
}

TEST(ZsetStorage, RestartRebuildsSortedSetsAndWritesStayPerMember) {
  MemStorage s;
  std::map<std::string, std::string> want;
  const auto args = zadd_pairs(20000, [](int i) { return std::to_string(i % 100); });
  {
    Node n(Config::defaults(), &s);
    ASSERT_TRUE(n.open(0).is_ok());
    node_run(n, command({"ZADD", "z"}, args));
    node_run(n, {"ZINCRBY", "z", "0.5", "m7"});
    node_run(n, {"ZREM", "z", "m8"});
    node_run(n, {"ZPOPMIN", "z", "3"});
    node_run(n, {"ZADD", "gone", "1", "x"});
    node_run(n, {"ZPOPMAX", "gone"});
    node_run(n, {"ZUNIONSTORE", "u", "1", "z", "WEIGHTS", "2"});
    persist(n, s);
    const uint64_t one = [&] {
      node_run(n, {"ZADD", "z", "12345", "m9"});
      return persist(n, s);
    }();
    EXPECT_LT(one, 100u);
    want = dump(n.store(), 0);
  }
  Node n(Config::defaults(), &s);
  ASSERT_TRUE(n.open(0).is_ok());
  EXPECT_EQ(dump(n.store(), 0), want);
  EXPECT_EQ(node_run(n, {"ZSCORE", "z", "m7"}), "$3\r\n7.5\r\n");
  EXPECT_EQ(node_run(n, {"ZRANK", "z", "m9"}), ":19995\r\n");
}

}  // namespace
}  // namespace rkv
