#include "node/store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <initializer_list>
#include <map>
#include <set>
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
  void on_erase(uint32_t ks, std::string_view key, ValueType) override {
    log.push_back("del " + std::to_string(ks) + " " + std::string(key));
  }
  void on_element(uint32_t ks, std::string_view key, std::string_view elem,
                  const std::string* value) override {
    log.push_back("elem " + std::to_string(ks) + " " + std::string(key) + "." + std::string(elem) +
                  (value ? "=" + *value : " del"));
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
  EXPECT_EQ(out, "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n");
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
      if (build) resp::for_each_key(*spec, a, [&](size_t i) { build->note_change(a[i]); });
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

// ---- strings and keys beyond the basics (Redis 7.0 semantics) ----------------------------

std::string bulk(std::string_view s) {
  return "$" + std::to_string(s.size()) + "\r\n" + std::string(s) + "\r\n";
}
std::string integer(int64_t v) {
  return ":" + std::to_string(v) + "\r\n";
}
std::string err(std::string_view msg) {
  return "-" + std::string(msg) + "\r\n";
}
constexpr std::string_view kNotInt = "ERR value is not an integer or out of range";

TEST_F(StoreTest, SetexAndPsetex) {
  EXPECT_EQ(run({"SETEX", "k", "10", "v"}), "+OK\r\n");
  EXPECT_EQ(run({"PTTL", "k"}), integer(10000));
  EXPECT_EQ(run({"PSETEX", "k", "1500", "w"}), "+OK\r\n");
  EXPECT_EQ(run({"PTTL", "k"}), integer(1500));
  EXPECT_EQ(run({"GET", "k"}), bulk("w"));
  EXPECT_EQ(run({"SETEX", "k", "0", "v"}), err("ERR invalid expire time in 'setex' command"));
  EXPECT_EQ(run({"SETEX", "k", "-5", "v"}), err("ERR invalid expire time in 'setex' command"));
  EXPECT_EQ(run({"PSETEX", "k", "0", "v"}), err("ERR invalid expire time in 'psetex' command"));
  EXPECT_EQ(run({"SETEX", "k", "x", "v"}), err(kNotInt));
  EXPECT_EQ(run({"SETEX", "k", "9223372036854775", "v"}),
            err("ERR invalid expire time in 'setex' command"));  // * 1000 + now overflows
  EXPECT_EQ(run({"PSETEX", "k", "9223372036854775807", "v"}),
            err("ERR invalid expire time in 'psetex' command"));
  EXPECT_EQ(run({"GET", "k"}), bulk("w"));  // refused writes changed nothing
  now_ += 1500;
  EXPECT_EQ(run({"GET", "k"}), "$-1\r\n");
}

TEST_F(StoreTest, GetexSetsOrRemovesTheExpiry) {
  EXPECT_EQ(run({"GETEX", "missing"}), "$-1\r\n");
  EXPECT_EQ(run({"GETEX", "missing", "EX", "-5"}), "$-1\r\n");  // nil before validation
  EXPECT_EQ(run({"GETEX", "missing", "BOGUS"}), err("ERR syntax error"));
  run({"SET", "k", "v"});
  EXPECT_EQ(run({"GETEX", "k"}), bulk("v"));
  EXPECT_EQ(run({"TTL", "k"}), integer(-1));
  EXPECT_EQ(run({"GETEX", "k", "EX", "10"}), bulk("v"));
  EXPECT_EQ(run({"PTTL", "k"}), integer(10000));
  EXPECT_EQ(run({"GETEX", "k", "PX", "700"}), bulk("v"));
  EXPECT_EQ(run({"PTTL", "k"}), integer(700));
  EXPECT_EQ(run({"GETEX", "k", "EXAT", std::to_string(now_ / 1000 + 20)}), bulk("v"));
  EXPECT_EQ(run({"PTTL", "k"}), integer(20000));
  EXPECT_EQ(run({"GETEX", "k", "PXAT", std::to_string(now_ + 42)}), bulk("v"));
  EXPECT_EQ(run({"PTTL", "k"}), integer(42));
  EXPECT_EQ(run({"GETEX", "k", "EX", "10", "EX", "20"}), bulk("v"));  // the last one wins
  EXPECT_EQ(run({"TTL", "k"}), integer(20));
  EXPECT_EQ(run({"GETEX", "k", "PERSIST"}), bulk("v"));
  EXPECT_EQ(run({"TTL", "k"}), integer(-1));
  EXPECT_EQ(run({"GETEX", "k", "EX", "10", "PX", "10"}), err("ERR syntax error"));
  EXPECT_EQ(run({"GETEX", "k", "EX", "10", "PERSIST"}), err("ERR syntax error"));
  EXPECT_EQ(run({"GETEX", "k", "PERSIST", "EX", "10"}), err("ERR syntax error"));
  EXPECT_EQ(run({"GETEX", "k", "KEEPTTL"}), err("ERR syntax error"));
  EXPECT_EQ(run({"GETEX", "k", "EX"}), err("ERR syntax error"));
  EXPECT_EQ(run({"GETEX", "k", "EX", "0"}), err("ERR invalid expire time in 'getex' command"));
  EXPECT_EQ(run({"GETEX", "k", "PX", "x"}), err(kNotInt));
  // An absolute time already past: the value is returned, then the key is deleted.
  sink_.log.clear();
  EXPECT_EQ(run({"GETEX", "k", "PXAT", "1"}), bulk("v"));
  EXPECT_EQ(run({"EXISTS", "k"}), integer(0));
  EXPECT_EQ(sink_.log, std::vector<std::string>{"del 0 k"});
}

TEST_F(StoreTest, GetsetReplacesValueAndExpiry) {
  EXPECT_EQ(run({"GETSET", "k", "a"}), "$-1\r\n");
  EXPECT_EQ(run({"EXPIRE", "k", "100"}), integer(1));
  EXPECT_EQ(run({"GETSET", "k", "b"}), bulk("a"));
  EXPECT_EQ(run({"GET", "k"}), bulk("b"));
  EXPECT_EQ(run({"TTL", "k"}), integer(-1));  // as SET: the expiry goes
}

TEST_F(StoreTest, MsetnxSetsAllOrNothing) {
  EXPECT_EQ(run({"MSETNX", "a", "1", "b", "2"}), integer(1));
  EXPECT_EQ(run({"MSETNX", "b", "x", "c", "3"}), integer(0));
  EXPECT_EQ(run({"MGET", "a", "b", "c"}), "*3\r\n" + bulk("1") + bulk("2") + "$-1\r\n");
  EXPECT_EQ(run({"MSETNX", "d", "1", "d", "2"}), integer(1));  // both absent: the last wins
  EXPECT_EQ(run({"GET", "d"}), bulk("2"));
  EXPECT_EQ(run({"MSETNX", "e", "1", "f"}),
            err("ERR wrong number of arguments for 'msetnx' command"));
  run({"SET", "x", "1", "PX", "10"});
  now_ += 10;  // an expired key does not count as existing
  EXPECT_EQ(run({"MSETNX", "x", "2"}), integer(1));
  EXPECT_EQ(run({"PTTL", "x"}), integer(-1));
}

TEST_F(StoreTest, IncrbyfloatFormatsAsRedis) {
  EXPECT_EQ(run({"INCRBYFLOAT", "f", "10.5"}), bulk("10.5"));
  EXPECT_EQ(run({"INCRBYFLOAT", "f", "0.1"}), bulk("10.6"));  // 17 digits, zeros trimmed
  EXPECT_EQ(run({"INCRBYFLOAT", "f", "-5.6"}), bulk("5"));
  EXPECT_EQ(run({"INCRBYFLOAT", "f", "5.0e3"}), bulk("5005"));
  EXPECT_EQ(run({"INCRBYFLOAT", "f", "0x10"}), bulk("5021"));  // strtold syntax, as Redis
  EXPECT_EQ(run({"GET", "f"}), bulk("5021"));
  EXPECT_EQ(run({"INCRBYFLOAT", "g", "3.0000000000000000001"}), bulk("3"));
  EXPECT_EQ(run({"INCRBYFLOAT", "h", "-0.0"}), bulk("0"));    // never "-0"
  EXPECT_EQ(run({"INCRBYFLOAT", "i", "1e-400"}), bulk("0"));  // a long double, not zero
  EXPECT_EQ(run({"INCRBYFLOAT", "j", "1.5e20"}), bulk("150000000000000000000"));
  EXPECT_EQ(run({"INCRBYFLOAT", "j", "abc"}), err("ERR value is not a valid float"));
  EXPECT_EQ(run({"INCRBYFLOAT", "j", " 1"}), err("ERR value is not a valid float"));
  EXPECT_EQ(run({"INCRBYFLOAT", "j", "1 "}), err("ERR value is not a valid float"));
  EXPECT_EQ(run({"INCRBYFLOAT", "j", "nan"}), err("ERR value is not a valid float"));
  EXPECT_EQ(run({"INCRBYFLOAT", "j", "1e5000"}), err("ERR value is not a valid float"));
  EXPECT_EQ(run({"INCRBYFLOAT", "j", ""}), err("ERR value is not a valid float"));
  EXPECT_EQ(run({"INCRBYFLOAT", "j", "inf"}), err("ERR increment would produce NaN or Infinity"));
  EXPECT_EQ(run({"INCRBYFLOAT", "huge", "1.1e4932"}).substr(0, 12), "$4933\r\n10999");
  EXPECT_EQ(run({"INCRBYFLOAT", "huge", "1.1e4932"}),
            err("ERR increment would produce NaN or Infinity"));
  run({"SET", "s", "abc"});
  EXPECT_EQ(run({"INCRBYFLOAT", "s", "1"}), err("ERR value is not a valid float"));
  run({"SET", "n", "5", "EX", "100"});
  EXPECT_EQ(run({"INCRBYFLOAT", "n", "1.5"}), bulk("6.5"));
  EXPECT_EQ(run({"TTL", "n"}), integer(100));  // the expiry stays
  std::string big = run({"INCRBYFLOAT", "big", "1e300"});
  EXPECT_EQ(big.substr(0, 10), "$301\r\n1000");
}

TEST_F(StoreTest, SetrangePadsWithZeroBytes) {
  EXPECT_EQ(run({"SETRANGE", "k", "3", "ab"}), integer(5));
  EXPECT_EQ(run({"GET", "k"}), bulk(std::string("\0\0\0ab", 5)));
  EXPECT_EQ(run({"SETRANGE", "k", "0", "xyz"}), integer(5));
  EXPECT_EQ(run({"GET", "k"}), bulk("xyzab"));
  EXPECT_EQ(run({"SETRANGE", "k", "1", ""}), integer(5));  // nothing to write
  EXPECT_EQ(run({"SETRANGE", "new", "10", ""}), integer(0));
  EXPECT_EQ(run({"EXISTS", "new"}), integer(0));  // and no key created
  EXPECT_EQ(run({"SETRANGE", "k", "-1", "a"}), err("ERR offset is out of range"));
  EXPECT_EQ(run({"SETRANGE", "k", "x", "a"}), err(kNotInt));
  EXPECT_EQ(run({"SETRANGE", "k", "536870912", "a"}),
            err("ERR string exceeds maximum allowed size (proto-max-bulk-len)"));
  EXPECT_EQ(run({"SETRANGE", "k", "9223372036854775807", "a"}),
            err("ERR string exceeds maximum allowed size (proto-max-bulk-len)"));
  run({"EXPIRE", "k", "100"});
  EXPECT_EQ(run({"SETRANGE", "k", "5", "!"}), integer(6));
  EXPECT_EQ(run({"TTL", "k"}), integer(100));  // the expiry stays
  EXPECT_EQ(store_.total_bytes(), 1u + 6u);    // payload accounting follows the growth
}

TEST_F(StoreTest, GetrangeAndSubstr) {
  run({"SET", "k", "Hello World"});
  EXPECT_EQ(run({"GETRANGE", "k", "0", "4"}), bulk("Hello"));
  EXPECT_EQ(run({"GETRANGE", "k", "-5", "-1"}), bulk("World"));
  EXPECT_EQ(run({"GETRANGE", "k", "0", "-1"}), bulk("Hello World"));
  EXPECT_EQ(run({"GETRANGE", "k", "6", "100"}), bulk("World"));
  EXPECT_EQ(run({"GETRANGE", "k", "-100", "1"}), bulk("He"));
  EXPECT_EQ(run({"GETRANGE", "k", "0", "-100"}), bulk("H"));  // end clamps to 0 (Redis 7.0)
  EXPECT_EQ(run({"GETRANGE", "k", "-1", "-5"}), bulk(""));
  EXPECT_EQ(run({"GETRANGE", "k", "5", "3"}), bulk(""));
  EXPECT_EQ(run({"GETRANGE", "k", "20", "30"}), bulk(""));
  EXPECT_EQ(run({"GETRANGE", "k", "-9223372036854775808", "9223372036854775807"}),
            bulk("Hello World"));
  EXPECT_EQ(run({"GETRANGE", "missing", "0", "-1"}), bulk(""));
  EXPECT_EQ(run({"GETRANGE", "k", "a", "1"}), err(kNotInt));
  EXPECT_EQ(run({"SUBSTR", "k", "1", "3"}), bulk("ell"));
  run({"SET", "e", ""});
  EXPECT_EQ(run({"GETRANGE", "e", "0", "-1"}), bulk(""));
}

TEST_F(StoreTest, LcsStringLenAndIdx) {
  run({"MSET", "a", "ohmytext", "b", "mynewtext"});
  EXPECT_EQ(run({"LCS", "a", "b"}), bulk("mytext"));
  EXPECT_EQ(run({"LCS", "a", "b", "LEN"}), integer(6));
  // The example of Redis's documentation: runs last first.
  const std::string m1 = "*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n";
  const std::string m2 = "*2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n";
  EXPECT_EQ(run({"LCS", "a", "b", "IDX"}),
            "*4\r\n" + bulk("matches") + "*2\r\n" + m1 + m2 + bulk("len") + integer(6));
  EXPECT_EQ(run({"LCS", "a", "b", "IDX"}, 3),
            "%2\r\n" + bulk("matches") + "*2\r\n" + m1 + m2 + bulk("len") + integer(6));
  EXPECT_EQ(run({"LCS", "a", "b", "IDX", "MINMATCHLEN", "4"}),
            "*4\r\n" + bulk("matches") + "*1\r\n" + m1 + bulk("len") + integer(6));
  EXPECT_EQ(run({"LCS", "a", "b", "IDX", "MINMATCHLEN", "-3", "WITHMATCHLEN"}),
            "*4\r\n" + bulk("matches") + "*2\r\n" +
                "*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n" +
                "*3\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n:2\r\n" + bulk("len") + integer(6));
  EXPECT_EQ(run({"LCS", "a", "b", "LEN", "IDX"}),
            err("ERR If you want both the length and indexes, please just use IDX."));
  EXPECT_EQ(run({"LCS", "a", "b", "MINMATCHLEN"}), err("ERR syntax error"));
  EXPECT_EQ(run({"LCS", "a", "b", "MINMATCHLEN", "x"}), err(kNotInt));
  EXPECT_EQ(run({"LCS", "a", "b", "BOGUS"}), err("ERR syntax error"));
  EXPECT_EQ(run({"LCS", "a", "missing"}), bulk(""));
  EXPECT_EQ(run({"LCS", "missing", "nope", "IDX"}),
            "*4\r\n" + bulk("matches") + "*0\r\n" + bulk("len") + integer(0));
  // The transient table is bounded by the largest value size.
  Store small(Config::defaults().keyspaces, StoreLimits{64});
  NullSink none;
  std::string out;
  resp::Writer w(&out, 2);
  std::vector<std::string_view> set = {"MSET", "a", "abcdefgh", "b", "abcdefgh"};
  small.execute(*resp::lookup_command("MSET"), set, now_, w, none);
  std::vector<std::string_view> lcs = {"LCS", "a", "b"};
  out.clear();
  small.execute(*resp::lookup_command("LCS"), lcs, now_, w, none);
  EXPECT_EQ(out, err("ERR Insufficient memory, transient memory for LCS exceeds "
                     "proto-max-bulk-len"));
}

TEST_F(StoreTest, SetbitAndGetbit) {
  EXPECT_EQ(run({"SETBIT", "b", "7", "1"}), integer(0));
  EXPECT_EQ(run({"GET", "b"}), bulk("\x01"));
  EXPECT_EQ(run({"SETBIT", "b", "7", "1"}), integer(1));
  EXPECT_EQ(run({"SETBIT", "b", "0", "1"}), integer(0));
  EXPECT_EQ(run({"GET", "b"}), bulk("\x81"));
  EXPECT_EQ(run({"SETBIT", "b", "20", "0"}), integer(0));  // grows with zero bytes
  EXPECT_EQ(run({"STRLEN", "b"}), integer(3));
  EXPECT_EQ(run({"GETBIT", "b", "0"}), integer(1));
  EXPECT_EQ(run({"GETBIT", "b", "1"}), integer(0));
  EXPECT_EQ(run({"GETBIT", "b", "7"}), integer(1));
  EXPECT_EQ(run({"GETBIT", "b", "1000"}), integer(0));
  EXPECT_EQ(run({"GETBIT", "missing", "3"}), integer(0));
  EXPECT_EQ(run({"SETBIT", "b", "7", "0"}), integer(1));
  EXPECT_EQ(run({"GETBIT", "b", "7"}), integer(0));
  EXPECT_EQ(run({"SETBIT", "z", "3", "0"}), integer(0));  // creates the key even for a 0
  EXPECT_EQ(run({"GET", "z"}), bulk(std::string("\0", 1)));
  constexpr std::string_view kOffset = "ERR bit offset is not an integer or out of range";
  constexpr std::string_view kBit = "ERR bit is not an integer or out of range";
  EXPECT_EQ(run({"SETBIT", "b", "-1", "1"}), err(kOffset));
  EXPECT_EQ(run({"SETBIT", "b", "x", "1"}), err(kOffset));
  EXPECT_EQ(run({"SETBIT", "b", "4294967296", "1"}), err(kOffset));  // 2^32: past 512 MB
  EXPECT_EQ(run({"GETBIT", "b", "4294967296"}), err(kOffset));
  EXPECT_EQ(run({"SETBIT", "b", "1", "2"}), err(kBit));
  EXPECT_EQ(run({"SETBIT", "b", "1", "-1"}), err(kBit));
  EXPECT_EQ(run({"SETBIT", "b", "1", "x"}), err(kBit));
  // The largest offset is 8 * max_value_len - 1 (2^32 - 1 with the default 512 MB).
  Store small(Config::defaults().keyspaces, StoreLimits{16});
  NullSink none;
  std::string out;
  resp::Writer w(&out, 2);
  std::vector<std::string_view> last = {"SETBIT", "k", "127", "1"};
  std::vector<std::string_view> past = {"SETBIT", "k", "128", "1"};
  small.execute(*resp::lookup_command("SETBIT"), last, now_, w, none);
  small.execute(*resp::lookup_command("SETBIT"), past, now_, w, none);
  EXPECT_EQ(out, integer(0) + err(kOffset));
}

TEST_F(StoreTest, BitcountByteAndBitRanges) {
  run({"SET", "k", "foobar"});
  EXPECT_EQ(run({"BITCOUNT", "k"}), integer(26));
  EXPECT_EQ(run({"BITCOUNT", "k", "0", "0"}), integer(4));
  EXPECT_EQ(run({"BITCOUNT", "k", "1", "1"}), integer(6));
  EXPECT_EQ(run({"BITCOUNT", "k", "1", "1", "BYTE"}), integer(6));
  EXPECT_EQ(run({"BITCOUNT", "k", "5", "30", "BIT"}), integer(17));
  EXPECT_EQ(run({"BITCOUNT", "k", "-2", "-1"}), integer(7));
  EXPECT_EQ(run({"BITCOUNT", "k", "-1", "-2"}), integer(0));
  EXPECT_EQ(run({"BITCOUNT", "k", "-1", "-2", "BOGUS"}), integer(0));  // Redis 7.0's order
  EXPECT_EQ(run({"BITCOUNT", "k", "0", "-1", "bit"}), integer(26));
  EXPECT_EQ(run({"BITCOUNT", "k", "0", "100"}), integer(26));
  EXPECT_EQ(run({"BITCOUNT", "k", "10", "20"}), integer(0));
  EXPECT_EQ(run({"BITCOUNT", "k", "47", "47", "BIT"}), integer(0));
  EXPECT_EQ(run({"BITCOUNT", "k", "46", "46", "BIT"}), integer(1));
  EXPECT_EQ(run({"BITCOUNT", "k", "0"}), err("ERR syntax error"));
  EXPECT_EQ(run({"BITCOUNT", "k", "0", "1", "BOGUS"}), err("ERR syntax error"));
  EXPECT_EQ(run({"BITCOUNT", "k", "0", "1", "BIT", "x"}), err("ERR syntax error"));
  EXPECT_EQ(run({"BITCOUNT", "k", "a", "1"}), err(kNotInt));
  EXPECT_EQ(run({"BITCOUNT", "missing", "a"}), integer(0));  // the key is looked up first
  run({"SET", "e", ""});
  EXPECT_EQ(run({"BITCOUNT", "e"}), integer(0));
  EXPECT_EQ(run({"BITCOUNT", "e", "0", "-1", "BIT"}), integer(0));
  std::string ones(100, '\xff');
  std::vector<std::string_view> set = {"SET", "ones", ones};
  std::string out;
  resp::Writer w(&out, 2);
  store_.execute(*resp::lookup_command("SET"), set, now_, w, sink_);
  EXPECT_EQ(run({"BITCOUNT", "ones"}), integer(800));
  EXPECT_EQ(run({"BITCOUNT", "ones", "3", "790", "BIT"}), integer(788));
}

TEST_F(StoreTest, BitposByteAndBitRanges) {
  run({"SET", "k", std::string_view("\xff\xf0\x00", 3)});
  EXPECT_EQ(run({"BITPOS", "k", "0"}), integer(12));
  EXPECT_EQ(run({"BITPOS", "k", "1"}), integer(0));
  EXPECT_EQ(run({"BITPOS", "k", "1", "2"}), integer(-1));
  EXPECT_EQ(run({"BITPOS", "k", "0", "2"}), integer(16));
  EXPECT_EQ(run({"BITPOS", "k", "1", "1", "-1"}), integer(8));
  EXPECT_EQ(run({"BITPOS", "k", "1", "2", "-1", "BYTE"}), integer(-1));
  EXPECT_EQ(run({"BITPOS", "k", "1", "7", "15", "BIT"}), integer(7));
  EXPECT_EQ(run({"BITPOS", "k", "0", "7", "15", "BIT"}), integer(12));
  EXPECT_EQ(run({"BITPOS", "k", "0", "0", "11", "BIT"}), integer(-1));
  EXPECT_EQ(run({"BITPOS", "k", "1", "12", "-1", "bit"}), integer(-1));
  EXPECT_EQ(run({"BITPOS", "k", "1", "-3", "-1", "BIT"}), integer(-1));
  EXPECT_EQ(run({"BITPOS", "k", "1", "5", "3"}), integer(-1));
  run({"SET", "ones", "\xff\xff"});
  EXPECT_EQ(run({"BITPOS", "ones", "0"}), integer(16));  // no end: the bit past the value
  EXPECT_EQ(run({"BITPOS", "ones", "0", "1"}), integer(16));
  EXPECT_EQ(run({"BITPOS", "ones", "0", "0", "-1"}), integer(-1));  // explicit end: none
  EXPECT_EQ(run({"BITPOS", "ones", "0", "0", "15", "BIT"}), integer(-1));
  EXPECT_EQ(run({"BITPOS", "missing", "0"}), integer(0));
  EXPECT_EQ(run({"BITPOS", "missing", "1"}), integer(-1));
  EXPECT_EQ(run({"BITPOS", "missing", "1", "x"}), integer(-1));  // the key is looked up first
  EXPECT_EQ(run({"BITPOS", "k", "2"}), err("ERR The bit argument must be 1 or 0."));
  EXPECT_EQ(run({"BITPOS", "k", "x"}), err(kNotInt));
  EXPECT_EQ(run({"BITPOS", "k", "1", "x"}), err(kNotInt));
  EXPECT_EQ(run({"BITPOS", "k", "1", "0", "BIT"}), err(kNotInt));  // BIT needs an end
  EXPECT_EQ(run({"BITPOS", "k", "1", "0", "1", "BOGUS"}), err("ERR syntax error"));
  EXPECT_EQ(run({"BITPOS", "k", "1", "0", "1", "BIT", "x"}), err("ERR syntax error"));
  run({"SET", "e", ""});
  EXPECT_EQ(run({"BITPOS", "e", "0"}), integer(-1));
  EXPECT_EQ(run({"BITPOS", "e", "1"}), integer(-1));
  // A long run is skipped a word at a time; the answer is the same.
  std::string zeros(1000, '\0');
  zeros[777] = '\x04';
  std::vector<std::string_view> set = {"SET", "z", zeros};
  std::string out;
  resp::Writer w(&out, 2);
  store_.execute(*resp::lookup_command("SET"), set, now_, w, sink_);
  EXPECT_EQ(run({"BITPOS", "z", "1"}), integer(777 * 8 + 5));
  EXPECT_EQ(run({"BITPOS", "z", "1", "10", "776"}), integer(-1));
  EXPECT_EQ(run({"BITPOS", "z", "0", "6221", "7999", "BIT"}), integer(6222));
}

// BITCOUNT and BITPOS (word-at-a-time counting and skipping, edge masks) against a bit-by-bit
// reference written from the documented semantics, over random values and ranges.
TEST_F(StoreTest, BitcountAndBitposAgreeWithABitByBitReference) {
  Random rng(7);
  auto bit_at = [](const std::string& d, int64_t i) {
    return (static_cast<unsigned char>(d[static_cast<size_t>(i >> 3)]) >> (7 - (i & 7))) & 1;
  };
  auto clamp = [](int64_t len, int64_t* s, int64_t* e) {
    if (*s < 0) *s += len;
    if (*e < 0) *e += len;
    *s = std::max<int64_t>(*s, 0);
    *e = std::max<int64_t>(*e, 0);
    if (*e >= len) *e = len - 1;
  };
  for (int round = 0; round < 3000; ++round) {
    std::string d(rng.uniform(40), '\0');
    const int style = static_cast<int>(rng.uniform(4));  // runs of zeros / ones help the skips
    for (char& c : d) {
      c = static_cast<char>(style == 0   ? rng.uniform(256)
                            : style == 1 ? (rng.uniform(20) == 0 ? rng.uniform(256) : 0)
                            : style == 2 ? (rng.uniform(20) == 0 ? rng.uniform(256) : 255)
                                         : (rng.uniform(2) ? 0 : 255));
    }
    std::vector<std::string_view> set = {"SET", "b", d};
    std::string ignored;
    resp::Writer sw(&ignored, 2);
    store_.execute(*resp::lookup_command("SET"), set, now_, sw, sink_);
    const int64_t len = static_cast<int64_t>(d.size());
    const bool bits = rng.uniform(2) == 0;
    const int64_t unit_len = bits ? len * 8 : len;
    int64_t start = static_cast<int64_t>(rng.uniform(2 * unit_len + 10)) - unit_len - 5;
    int64_t end = static_cast<int64_t>(rng.uniform(2 * unit_len + 10)) - unit_len - 5;
    const std::string s_arg = std::to_string(start), e_arg = std::to_string(end);
    const char* unit = bits ? "BIT" : "BYTE";

    // BITCOUNT b start end unit
    int64_t want = 0;
    if (!(start < 0 && end < 0 && start > end)) {
      int64_t s = start, e = end;
      clamp(unit_len, &s, &e);
      const int64_t first = bits ? s : s * 8, last = bits ? e : e * 8 + 7;
      for (int64_t i = first; s <= e && i <= last; ++i)
        want += bit_at(d, i);
    }
    ASSERT_EQ(run({"BITCOUNT", "b", s_arg, e_arg, unit}), integer(want))
        << "round " << round << " len " << len << " " << s_arg << " " << e_arg << " " << unit;

    // BITPOS b bit start end unit, and BITPOS b bit start (bytes, no end)
    for (int bit = 0; bit < 2; ++bit) {
      int64_t s = start, e = end;
      clamp(unit_len, &s, &e);
      int64_t pos = -1;
      if (s <= e) {
        const int64_t first = bits ? s : s * 8, last = bits ? e : e * 8 + 7;
        for (int64_t i = first; i <= last && pos < 0; ++i)
          if (bit_at(d, i) == bit) pos = i;
      }
      ASSERT_EQ(run({"BITPOS", "b", std::to_string(bit), s_arg, e_arg, unit}), integer(pos))
          << "round " << round << " bit " << bit << " " << s_arg << " " << e_arg << " " << unit;
      if (bits) continue;
      s = start;
      e = len - 1;
      clamp(len, &s, &e);
      pos = -1;
      if (s <= e) {
        for (int64_t i = s * 8; i <= e * 8 + 7 && pos < 0; ++i)
          if (bit_at(d, i) == bit) pos = i;
        if (pos < 0 && bit == 0) pos = (e + 1) * 8;  // no end given: zeros continue past it
      }
      ASSERT_EQ(run({"BITPOS", "b", std::to_string(bit), s_arg}), integer(pos))
          << "round " << round << " bit " << bit << " " << s_arg;
    }
  }
}

TEST_F(StoreTest, ExpireatAndExpiretime) {
  run({"SET", "k", "v"});
  EXPECT_EQ(run({"EXPIRETIME", "k"}), integer(-1));
  EXPECT_EQ(run({"PEXPIRETIME", "k"}), integer(-1));
  EXPECT_EQ(run({"EXPIRETIME", "missing"}), integer(-2));
  EXPECT_EQ(run({"PEXPIRETIME", "missing"}), integer(-2));
  EXPECT_EQ(run({"EXPIREAT", "k", "2000"}), integer(1));
  EXPECT_EQ(run({"EXPIRETIME", "k"}), integer(2000));
  EXPECT_EQ(run({"PEXPIRETIME", "k"}), integer(2'000'000));
  EXPECT_EQ(run({"PEXPIREAT", "k", "1999499"}), integer(1));
  EXPECT_EQ(run({"EXPIRETIME", "k"}), integer(1999));  // rounded to the nearest second
  EXPECT_EQ(run({"PEXPIREAT", "k", "1999500"}), integer(1));
  EXPECT_EQ(run({"EXPIRETIME", "k"}), integer(2000));
  EXPECT_EQ(run({"PEXPIREAT", "k", "9223372036854775807"}), integer(1));  // the latest time
  EXPECT_EQ(run({"PEXPIRETIME", "k"}), integer(INT64_MAX));
  EXPECT_EQ(run({"EXPIRETIME", "k"}), integer(9223372036854776));  // rounded, no overflow
  EXPECT_EQ(run({"TTL", "k"}), integer((INT64_MAX - now_) / 1000 + 1));
  EXPECT_EQ(run({"EXPIREAT", "k", "2000"}), integer(1));
  EXPECT_EQ(run({"EXPIREAT", "k", "1000", "GT"}), integer(0));
  EXPECT_EQ(run({"EXPIREAT", "k", "1500", "LT"}), integer(1));
  EXPECT_EQ(run({"EXPIREAT", "k", "1600", "NX"}), integer(0));
  EXPECT_EQ(run({"EXPIREAT", "k", "1600", "XX"}), integer(1));
  EXPECT_EQ(run({"EXPIREAT", "missing", "1600"}), integer(0));
  EXPECT_EQ(run({"EXPIREAT", "k", "x"}), err(kNotInt));
  EXPECT_EQ(run({"EXPIREAT", "k", "x", "BOGUS"}), err("ERR Unsupported option BOGUS"));
  EXPECT_EQ(run({"EXPIREAT", "k", "9223372036854776"}),
            err("ERR invalid expire time in 'expireat' command"));
  EXPECT_EQ(run({"EXPIREAT", "k", "-9223372036854776"}),
            err("ERR invalid expire time in 'expireat' command"));
  EXPECT_EQ(run({"PEXPIRE", "k", "9223372036854775807"}),
            err("ERR invalid expire time in 'pexpire' command"));
  EXPECT_EQ(run({"EXPIREAT", "k", "1600", "GT", "LT"}),
            err("ERR GT and LT options at the same time are not compatible"));
  // A time in the past (at or before now) deletes the key.
  EXPECT_EQ(run({"PEXPIREAT", "k", std::to_string(now_)}), integer(1));
  EXPECT_EQ(run({"EXISTS", "k"}), integer(0));
  run({"SET", "k", "v"});
  EXPECT_EQ(run({"EXPIREAT", "k", "-5"}), integer(1));
  EXPECT_EQ(run({"EXISTS", "k"}), integer(0));
}

TEST_F(StoreTest, RenameMovesValueAndExpiry) {
  run({"SET", "a", "1", "PX", "5000"});
  EXPECT_EQ(run({"RENAME", "a", "b"}), "+OK\r\n");
  EXPECT_EQ(run({"GET", "a"}), "$-1\r\n");
  EXPECT_EQ(run({"GET", "b"}), bulk("1"));
  EXPECT_EQ(run({"PTTL", "b"}), integer(5000));
  EXPECT_EQ(run({"RENAME", "missing", "x"}), err("ERR no such key"));
  EXPECT_EQ(run({"RENAME", "missing", "missing"}), err("ERR no such key"));
  EXPECT_EQ(run({"RENAME", "b", "b"}), "+OK\r\n");
  EXPECT_EQ(run({"RENAMENX", "b", "b"}), integer(0));
  run({"SET", "c", "3"});
  EXPECT_EQ(run({"RENAMENX", "b", "c"}), integer(0));
  EXPECT_EQ(run({"RENAME", "b", "c"}), "+OK\r\n");  // replaces c, expiry included
  EXPECT_EQ(run({"GET", "c"}), bulk("1"));
  EXPECT_EQ(run({"PTTL", "c"}), integer(5000));
  EXPECT_EQ(run({"RENAMENX", "c", "d"}), integer(1));
  EXPECT_EQ(run({"DBSIZE"}), integer(1));
  EXPECT_EQ(store_.total_expiring(), 1u);
  EXPECT_EQ(store_.total_bytes(), 2u);  // "d" + "1"
  // Across keyspaces of one store (single node): the key moves to its new keyspace.
  sink_.log.clear();
  EXPECT_EQ(run({"RENAME", "d", "accounts:d"}), "+OK\r\n");
  EXPECT_EQ(sink_.log, (std::vector<std::string>{"del 0 d", "put 1 accounts:d=1@1005000"}));
  now_ += 5000;
  EXPECT_EQ(run({"RENAME", "accounts:d", "e"}), err("ERR no such key"));  // expired
}

TEST_F(StoreTest, CopyWithReplaceAndDb) {
  run({"SET", "a", "1", "EX", "10"});
  EXPECT_EQ(run({"COPY", "a", "b"}), integer(1));
  EXPECT_EQ(run({"GET", "b"}), bulk("1"));
  EXPECT_EQ(run({"PTTL", "b"}), integer(10000));
  run({"SET", "a", "2"});
  EXPECT_EQ(run({"COPY", "a", "b"}), integer(0));
  EXPECT_EQ(run({"GET", "b"}), bulk("1"));
  EXPECT_EQ(run({"COPY", "a", "b", "REPLACE"}), integer(1));
  EXPECT_EQ(run({"GET", "b"}), bulk("2"));
  EXPECT_EQ(run({"PTTL", "b"}), integer(-1));
  EXPECT_EQ(run({"COPY", "missing", "b"}), integer(0));
  EXPECT_EQ(run({"COPY", "a", "a"}), err("ERR source and destination objects are the same"));
  EXPECT_EQ(run({"COPY", "a", "c", "DB", "0"}), integer(1));
  EXPECT_EQ(run({"COPY", "a", "d", "DB", "1"}), err("ERR DB index is out of range"));
  EXPECT_EQ(run({"COPY", "a", "d", "DB", "x"}), err(kNotInt));
  EXPECT_EQ(run({"COPY", "a", "d", "DB", "4294967296"}),
            err("ERR value is out of range, value must between -2147483648 and 2147483647"));
  EXPECT_EQ(run({"COPY", "a", "d", "DB"}), err("ERR syntax error"));
  EXPECT_EQ(run({"COPY", "a", "d", "BOGUS"}), err("ERR syntax error"));
  EXPECT_EQ(run({"GET", "a"}), bulk("2"));  // the source is untouched
}

TEST_F(StoreTest, UnlinkTouchAndRandomkey) {
  EXPECT_EQ(run({"RANDOMKEY"}), "$-1\r\n");
  EXPECT_EQ(run({"RANDOMKEY"}, 3), "_\r\n");
  run({"MSET", "a", "1", "b", "2", "accounts:c", "3"});
  EXPECT_EQ(run({"TOUCH", "a", "a", "zz"}), integer(2));
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    std::string out = run({"RANDOMKEY"});
    seen.insert(out);
  }
  EXPECT_EQ(seen, (std::set<std::string>{bulk("a"), bulk("b"), bulk("accounts:c")}));
  EXPECT_EQ(run({"UNLINK", "a", "b", "zz"}), integer(2));
  EXPECT_EQ(run({"RANDOMKEY"}), bulk("accounts:c"));
  // Expired keys are never chosen (nor erased: RANDOMKEY is a read).
  run({"SET", "x", "1", "PX", "10"});
  run({"SET", "y", "1", "PX", "10"});
  now_ += 10;
  sink_.log.clear();
  for (int i = 0; i < 50; ++i)
    EXPECT_EQ(run({"RANDOMKEY"}), bulk("accounts:c"));
  EXPECT_TRUE(sink_.log.empty());
  run({"DEL", "accounts:c"});
  EXPECT_EQ(run({"RANDOMKEY"}), "$-1\r\n");  // only expired keys left
  // The choice is a function of the calls made: two stores given the same calls agree.
  Store other(Config::defaults().keyspaces);
  Store again(Config::defaults().keyspaces);
  NullSink none;
  std::string out1, out2;
  for (Store* st : {&other, &again}) {
    std::string& out = st == &other ? out1 : out2;
    resp::Writer w(&out, 2);
    for (int i = 0; i < 100; ++i) {
      std::string k = "k" + std::to_string(i);
      std::vector<std::string_view> set = {"SET", k, "v"};
      st->execute(*resp::lookup_command("SET"), set, now_, w, none);
    }
    std::vector<std::string_view> rk = {"RANDOMKEY"};
    for (int i = 0; i < 20; ++i)
      st->execute(*resp::lookup_command("RANDOMKEY"), rk, now_, w, none);
  }
  EXPECT_EQ(out1, out2);
}

// SET follows Redis's parse order: a syntax error wins over a bad expiry, and a repeated
// expiry option replaces the earlier one.
TEST_F(StoreTest, SetOptionsParseAsRedis) {
  EXPECT_EQ(run({"SET", "k", "v", "EX", "10", "EX", "20"}), "+OK\r\n");
  EXPECT_EQ(run({"TTL", "k"}), integer(20));
  EXPECT_EQ(run({"SET", "k", "v", "EX", "abc", "BOGUS"}), err("ERR syntax error"));
  EXPECT_EQ(run({"SET", "k", "v", "PX", "0", "NX"}),
            err("ERR invalid expire time in 'set' command"));
  EXPECT_EQ(run({"SET", "k", "v", "KEEPTTL", "KEEPTTL"}), "+OK\r\n");
  EXPECT_EQ(run({"TTL", "k"}), integer(20));
  EXPECT_EQ(run({"SET", "k", "v", "EXAT", "9223372036854776"}),
            err("ERR invalid expire time in 'set' command"));
}

// A replicated keyspace changes only through its log: reads (GETRANGE, BITCOUNT, LCS, ...)
// treat an expired key as absent without erasing it.
TEST_F(StoreTest, ReadsOfReplicatedKeyspacesEraseNothing) {
  store_.set_replicated(1, true);
  run({"SET", "accounts:a", "abc", "PX", "10"});
  now_ += 10;
  sink_.log.clear();
  EXPECT_EQ(run({"GETRANGE", "accounts:a", "0", "-1"}), bulk(""));
  EXPECT_EQ(run({"BITCOUNT", "accounts:a"}), integer(0));
  EXPECT_EQ(run({"LCS", "accounts:a", "accounts:a"}), bulk(""));
  EXPECT_EQ(run({"EXPIRETIME", "accounts:a"}), integer(-2));
  EXPECT_EQ(run({"TOUCH", "accounts:a"}), integer(0));
  EXPECT_EQ(run({"RANDOMKEY"}), "$-1\r\n");
  EXPECT_TRUE(sink_.log.empty());
  EXPECT_EQ(store_.total_keys(), 1u);
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
