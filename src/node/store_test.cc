#include "node/store.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/random.h"

namespace rkv {
namespace {

// Records changes so tests can assert what would be persisted.
class RecordingSink : public ChangeSink {
 public:
  std::vector<std::string> log;
  void on_put(uint32_t ks, std::string_view key, const Value& v) override {
    log.push_back("put " + std::to_string(ks) + " " + std::string(key) + "=" + v.data + "@" +
                  std::to_string(v.expire_at_ms));
  }
  void on_erase(uint32_t ks, std::string_view key) override {
    log.push_back("del " + std::to_string(ks) + " " + std::string(key));
  }
  void on_clear(uint32_t ks) override { log.push_back("clear " + std::to_string(ks)); }
};

class StoreTest : public ::testing::Test {
 protected:
  StoreTest() : store_(Config::defaults().keyspaces) {}

  std::string run(std::initializer_list<std::string_view> args, int proto = 2) {
    std::vector<std::string_view> a(args);
    const resp::CommandSpec* spec = resp::lookup_command(a[0]);
    EXPECT_NE(spec, nullptr) << a[0];
    EXPECT_TRUE(resp::arity_ok(*spec, a.size())) << a[0];
    std::string out;
    resp::Writer w(&out, proto);
    store_.execute(*spec, a, now_, w, sink_);
    return out;
  }

  Store store_;
  RecordingSink sink_;
  int64_t now_ = 1'000'000;
};

TEST_F(StoreTest, RoutesByLongestPrefix) {
  EXPECT_EQ(store_.keyspace(store_.route("accounts:alice")).config.name, "accounts");
  EXPECT_EQ(store_.keyspace(store_.route("carts:1")).config.name, "carts");
  EXPECT_EQ(store_.keyspace(store_.route("prefs:x")).config.name, "prefs");
  EXPECT_EQ(store_.keyspace(store_.route("accounts")).config.name, "default");
  EXPECT_EQ(store_.keyspace(store_.route("other")).config.name, "default");
}

TEST_F(StoreTest, GetSetBasics) {
  EXPECT_EQ(run({"GET", "k"}), "$-1\r\n");
  EXPECT_EQ(run({"GET", "k"}, 3), "_\r\n");
  EXPECT_EQ(run({"SET", "k", "v"}), "+OK\r\n");
  EXPECT_EQ(run({"GET", "k"}), "$1\r\nv\r\n");
  EXPECT_EQ(run({"SET", "k", "v2", "NX"}), "$-1\r\n");
  EXPECT_EQ(run({"SET", "k2", "v", "XX"}), "$-1\r\n");
  EXPECT_EQ(run({"SET", "k", "v3", "XX", "GET"}), "$1\r\nv\r\n");
  EXPECT_EQ(run({"GET", "k"}), "$2\r\nv3\r\n");
  EXPECT_EQ(run({"SET", "k", "x", "NX", "XX"}), "-ERR syntax error\r\n");
  EXPECT_EQ(run({"SET", "k", "x", "BOGUS"}), "-ERR syntax error\r\n");
  EXPECT_EQ(run({"SETNX", "k", "x"}), ":0\r\n");
  EXPECT_EQ(run({"SETNX", "n", "x"}), ":1\r\n");
  EXPECT_EQ(run({"GETDEL", "n"}), "$1\r\nx\r\n");
  EXPECT_EQ(run({"GETDEL", "n"}), "$-1\r\n");
  EXPECT_EQ(run({"STRLEN", "k"}), ":2\r\n");
  EXPECT_EQ(run({"TYPE", "k"}), "+string\r\n");
  EXPECT_EQ(run({"TYPE", "nope"}), "+none\r\n");
}

TEST_F(StoreTest, ExpiryOptionsAndTtl) {
  EXPECT_EQ(run({"SET", "k", "v", "EX", "10"}), "+OK\r\n");
  EXPECT_EQ(run({"TTL", "k"}), ":10\r\n");
  EXPECT_EQ(run({"PTTL", "k"}), ":10000\r\n");
  EXPECT_EQ(run({"SET", "k", "v2", "KEEPTTL"}), "+OK\r\n");
  EXPECT_EQ(run({"PTTL", "k"}), ":10000\r\n");
  EXPECT_EQ(run({"SET", "k", "v3"}), "+OK\r\n");
  EXPECT_EQ(run({"TTL", "k"}), ":-1\r\n");
  EXPECT_EQ(run({"TTL", "missing"}), ":-2\r\n");
  EXPECT_EQ(run({"SET", "k", "v", "EX", "0"}), "-ERR invalid expire time in 'set' command\r\n");
  EXPECT_EQ(run({"SET", "k", "v", "EX", "abc"}),
            "-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(run({"SET", "k", "v", "EX", "10", "PX", "5"}), "-ERR syntax error\r\n");
  EXPECT_EQ(run({"SET", "k", "v", "EX", "10", "KEEPTTL"}), "-ERR syntax error\r\n");
  EXPECT_EQ(run({"SET", "p", "v", "PXAT", std::to_string(now_ + 500).c_str()}), "+OK\r\n");
  EXPECT_EQ(run({"PTTL", "p"}), ":500\r\n");
  now_ += 500;
  EXPECT_EQ(run({"GET", "p"}), "$-1\r\n");  // lazily expired on access
  EXPECT_EQ(sink_.log.back(), "del 0 p");
}

TEST_F(StoreTest, ExpireFamilyFlags) {
  run({"SET", "k", "v"});
  EXPECT_EQ(run({"EXPIRE", "k", "100", "XX"}), ":0\r\n");
  EXPECT_EQ(run({"EXPIRE", "k", "100", "NX"}), ":1\r\n");
  EXPECT_EQ(run({"EXPIRE", "k", "50", "GT"}), ":0\r\n");
  EXPECT_EQ(run({"EXPIRE", "k", "200", "GT"}), ":1\r\n");
  EXPECT_EQ(run({"EXPIRE", "k", "300", "LT"}), ":0\r\n");
  EXPECT_EQ(run({"PEXPIRE", "k", "1500", "LT"}), ":1\r\n");
  EXPECT_EQ(run({"PTTL", "k"}), ":1500\r\n");
  EXPECT_EQ(run({"PERSIST", "k"}), ":1\r\n");
  EXPECT_EQ(run({"PERSIST", "k"}), ":0\r\n");
  EXPECT_EQ(run({"EXPIRE", "k", "10", "NX", "XX"}),
            "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n");
  EXPECT_EQ(run({"EXPIRE", "missing", "10"}), ":0\r\n");
  EXPECT_EQ(run({"EXPIRE", "k", "-1"}), ":1\r\n");  // a past time deletes the key
  EXPECT_EQ(run({"EXISTS", "k"}), ":0\r\n");
  EXPECT_EQ(run({"EXPIRE", "k", "9223372036854775807"}),
            "-ERR invalid expire time in 'expire' command\r\n");
}

TEST_F(StoreTest, ActiveSweepRemovesExpiredKeys) {
  run({"SET", "a", "1", "PX", "100"});
  run({"SET", "b", "1", "PX", "300"});
  run({"SET", "c", "1"});
  EXPECT_EQ(store_.total_expiring(), 2u);
  now_ += 150;
  EXPECT_EQ(store_.sweep_expired(now_, 100, sink_), 1u);
  EXPECT_EQ(store_.total_keys(), 2u);
  now_ += 1000;
  EXPECT_EQ(store_.sweep_expired(now_, 100, sink_), 1u);
  EXPECT_EQ(store_.total_keys(), 1u);
  EXPECT_EQ(store_.total_expired(), 2u);
}

TEST_F(StoreTest, CountersFollowRedisRules) {
  EXPECT_EQ(run({"INCR", "c"}), ":1\r\n");
  EXPECT_EQ(run({"INCRBY", "c", "41"}), ":42\r\n");
  EXPECT_EQ(run({"DECR", "c"}), ":41\r\n");
  EXPECT_EQ(run({"DECRBY", "c", "-9"}), ":50\r\n");
  EXPECT_EQ(run({"INCRBY", "c", "x"}), "-ERR value is not an integer or out of range\r\n");
  run({"SET", "s", "abc"});
  EXPECT_EQ(run({"INCR", "s"}), "-ERR value is not an integer or out of range\r\n");
  run({"SET", "s", " 1"});
  EXPECT_EQ(run({"INCR", "s"}), "-ERR value is not an integer or out of range\r\n");
  run({"SET", "big", "9223372036854775807"});
  EXPECT_EQ(run({"INCR", "big"}), "-ERR increment or decrement would overflow\r\n");
  run({"SET", "small", "-9223372036854775808"});
  EXPECT_EQ(run({"DECR", "small"}), "-ERR increment or decrement would overflow\r\n");
  EXPECT_EQ(run({"DECRBY", "c", "-9223372036854775808"}), "-ERR decrement would overflow\r\n");
}

TEST_F(StoreTest, MultiKeyCommands) {
  EXPECT_EQ(run({"MSET", "a", "1", "accounts:b", "2"}), "+OK\r\n");
  EXPECT_EQ(run({"MGET", "a", "accounts:b", "zz"}), "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$-1\r\n");
  EXPECT_EQ(run({"MSET", "a", "1", "b"}), "-ERR wrong number of arguments for 'mset' command\r\n");
  EXPECT_EQ(run({"EXISTS", "a", "a", "zz"}), ":2\r\n");
  EXPECT_EQ(run({"DEL", "a", "accounts:b", "zz"}), ":2\r\n");
  EXPECT_EQ(run({"DBSIZE"}), ":0\r\n");
}

TEST_F(StoreTest, AppendAndLimits) {
  EXPECT_EQ(run({"APPEND", "k", "ab"}), ":2\r\n");
  EXPECT_EQ(run({"APPEND", "k", "cd"}), ":4\r\n");
  EXPECT_EQ(run({"GET", "k"}), "$4\r\nabcd\r\n");
  Store small(Config::defaults().keyspaces, StoreLimits{4});
  std::string out;
  resp::Writer w(&out, 2);
  std::vector<std::string_view> a = {"APPEND", "k", "abcde"};
  small.execute(*resp::lookup_command("APPEND"), a, 0, w, sink_);
  EXPECT_EQ(out, "-ERR string exceeds maximum allowed size\r\n");
}

TEST_F(StoreTest, ScanReturnsEveryKeyAcrossKeyspaces) {
  std::set<std::string> want;
  for (int i = 0; i < 300; ++i) {
    std::string k = (i % 3 == 0 ? "accounts:" : i % 3 == 1 ? "prefs:" : "") + std::to_string(i);
    want.insert(k);
    std::vector<std::string_view> a = {"SET", k, "v"};
    std::string out;
    resp::Writer w(&out, 2);
    store_.execute(*resp::lookup_command("SET"), a, now_, w, sink_);
  }
  std::set<std::string> seen;
  std::string cursor = "0";
  int calls = 0;
  do {
    std::string out = run({"SCAN", cursor, "COUNT", "20"});
    // Parse "*2\r\n$N\r\n<cursor>\r\n*M\r\n($L\r\n<key>\r\n)*"
    size_t p = out.find("\r\n", 4);
    size_t cstart = p + 2, cend = out.find("\r\n", cstart);
    cursor = out.substr(cstart, cend - cstart);
    size_t q = out.find("\r\n", cend + 2);
    size_t pos = q + 2;
    while (pos < out.size()) {
      size_t le = out.find("\r\n", pos);
      size_t len = std::stoul(out.substr(pos + 1, le - pos - 1));
      seen.insert(out.substr(le + 2, len));
      pos = le + 2 + len + 2;
    }
    ++calls;
  } while (cursor != "0" && calls < 1000);
  EXPECT_EQ(seen, want);
  EXPECT_GT(calls, 5);
  EXPECT_EQ(run({"SCAN", "abc"}), "-ERR invalid cursor\r\n");
  std::string m = run({"SCAN", "0", "MATCH", "accounts:1*", "COUNT", "1000"});
  EXPECT_NE(m.find("accounts:12"), std::string::npos);
  EXPECT_EQ(m.find("prefs:"), std::string::npos);
}

TEST_F(StoreTest, KeysAndFlushall) {
  run({"SET", "user:1", "a"});
  run({"SET", "user:2", "a"});
  run({"SET", "other", "a"});
  std::string out = run({"KEYS", "user:*"});
  EXPECT_EQ(out.substr(0, 4), "*2\r\n");
  EXPECT_EQ(run({"FLUSHALL"}), "+OK\r\n");
  EXPECT_EQ(run({"DBSIZE"}), ":0\r\n");
  EXPECT_EQ(run({"FLUSHALL", "bogus"}), "-ERR syntax error\r\n");
}

TEST_F(StoreTest, KeyspacesDescribesModels) {
  std::string out = run({"KEYSPACES"}, 3);
  EXPECT_EQ(out.substr(0, 4), "*4\r\n");
  EXPECT_NE(out.find("multi-leader"), std::string::npos);
  EXPECT_NE(out.find("leaderless"), std::string::npos);
  EXPECT_NE(out.find("quorum"), std::string::npos);
}

TEST_F(StoreTest, ChangesAreReportedInOrder) {
  sink_.log.clear();
  run({"SET", "accounts:a", "1", "PXAT", "5000000"});
  run({"DEL", "accounts:a"});
  run({"FLUSHALL"});
  ASSERT_GE(sink_.log.size(), 3u);
  EXPECT_EQ(sink_.log[0], "put 1 accounts:a=1@5000000");
  EXPECT_EQ(sink_.log[1], "del 1 accounts:a");
  EXPECT_EQ(sink_.log[2], "clear 0");
}

TEST_F(StoreTest, ImageAsOfShowsOverriddenKeysAsTheyWere) {
  run({"SET", "a", "now"});
  run({"SET", "b", "new"});  // did not exist at the image's point
  run({"SET", "c", "same"});
  // "a" had another value, "b" was absent, "d" existed and has been deleted since.
  Store::KeyOverrides as_of;
  as_of.emplace("a", Value{"then", 0});
  as_of.emplace("b", std::nullopt);
  as_of.emplace("d", Value{"gone", 5'000'000});
  std::string image = store_.serialize_keyspace(0, &as_of);

  Store other(Config::defaults().keyspaces);
  NullSink none;
  ASSERT_TRUE(other.load_keyspace(0, image, none));
  EXPECT_EQ(other.total_keys(), 3u);
  std::string out;
  for (const char* key : {"a", "b", "c", "d"}) {
    std::vector<std::string_view> get{"GET", key};
    resp::Writer w(&out, 2);
    other.execute(*resp::lookup_command("GET"), get, now_, w, none);
  }
  EXPECT_EQ(out, "$4\r\nthen\r\n$-1\r\n$4\r\nsame\r\n$4\r\ngone\r\n");
  // Without overrides the image is the keyspace as it is.
  ASSERT_TRUE(other.load_keyspace(0, store_.serialize_keyspace(0), none));
  EXPECT_EQ(other.total_keys(), 3u);
}

// The contents of keyspace `ks` of a store, key -> (value, expiry).
std::map<std::string, std::pair<std::string, int64_t>> contents(const Store& st, uint32_t ks) {
  std::map<std::string, std::pair<std::string, int64_t>> out;
  st.keyspace(ks).table.for_each([&](const KeyTable::Entry& e) {
    out[e.key.str()] = {e.value.data, e.value.expire_at_ms};
  });
  return out;
}

// An image built a few entries at a time while keys are written, deleted, given TTLs, expired
// and created (enough to resize the table twice over) equals the keyspace as it was when the
// build began, and loads as exactly that; a build of the same keyspace in one go equals it too.
TEST_F(StoreTest, ImageBuiltWhileTheKeyspaceChangesShowsItWhereTheBuildBegan) {
  for (uint64_t seed : {1u, 2u, 3u}) {
    Store st(Config::defaults().keyspaces);
    Random rng(seed);
    NullSink none;
    int64_t now = 1'000'000;
    auto exec = [&](Store::ImageBuild* build, std::vector<std::string> args) {
      std::vector<std::string_view> a(args.begin(), args.end());
      const resp::CommandSpec* spec = resp::lookup_command(a[0]);
      if (build) resp::for_each_key(*spec, a.size(), [&](size_t i) { build->note_change(a[i]); });
      std::string out;
      resp::Writer w(&out, 2);
      st.execute(*spec, a, now, w, none);
    };
    for (int i = 0; i < 3000; ++i) {
      exec(nullptr, {"SET", "k" + std::to_string(i), "v" + std::to_string(i)});
      if (i % 7 == 0) exec(nullptr, {"PEXPIRE", "k" + std::to_string(i), "500"});
    }
    const auto at_start = contents(st, 0);
    Store::ImageBuild build(st, 0);
    int steps = 0;
    while (!build.step(64)) {
      ++steps;
      for (int j = 0; j < 40; ++j) {
        const std::string key = "k" + std::to_string(rng.uniform(12000));
        switch (rng.uniform(4)) {
          case 0:
            exec(&build, {"SET", key, "new" + std::to_string(steps)});
            break;
          case 1:
            exec(&build, {"DEL", key});
            break;
          case 2:
            exec(&build, {"PEXPIRE", key, std::to_string(rng.uniform(1000))});
            break;
          default:
            exec(&build, {"INCR", "c" + std::to_string(rng.uniform(5000))});
        }
      }
      now += 7;  // keys with a TTL expire meanwhile (read or written: erased)
    }
    EXPECT_GT(steps, 30);
    const std::string image = build.take();
    Store loaded(Config::defaults().keyspaces);
    ASSERT_TRUE(loaded.load_keyspace(0, image, none));
    EXPECT_EQ(contents(loaded, 0), at_start) << "seed " << seed;
  }
}

TEST(ParseInt64, StrictLikeRedis) {
  int64_t v;
  EXPECT_TRUE(parse_int64("0", &v));
  EXPECT_TRUE(parse_int64("-9223372036854775808", &v));
  EXPECT_EQ(v, INT64_MIN);
  EXPECT_FALSE(parse_int64("9223372036854775808", &v));
  EXPECT_FALSE(parse_int64("007", &v));
  EXPECT_FALSE(parse_int64("-0", &v));
  EXPECT_FALSE(parse_int64("+1", &v));
  EXPECT_FALSE(parse_int64("1 ", &v));
  EXPECT_FALSE(parse_int64("", &v));
  EXPECT_FALSE(parse_int64("-", &v));
}

}  // namespace
}  // namespace rkv
