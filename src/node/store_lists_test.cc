// Lists: the Store's commands at their edges (empty lists, negative and out-of-range indexes,
// counts 0, negative and huge, which error wins), WRONGTYPE, the rows a change writes, and
// restarts and snapshot images of lists.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "node/list_value.h"
#include "node/node.h"
#include "node/store.h"
#include "node/store_test_util.h"
#include "storage/storage.h"

namespace rkv {
namespace {

using test::kWrongType;

// Records the element rows a command writes: (element id -> value or "<del>").
class RowSink final : public ChangeSink {
 public:
  void on_put(uint32_t, std::string_view, const Value&) override { ++puts; }
  void on_erase(uint32_t, std::string_view, ValueType) override { ++erases; }
  void on_element(uint32_t, std::string_view, std::string_view elem,
                  const std::string* value) override {
    rows.emplace_back(std::string(elem), value ? *value : "<del>");
  }
  void on_clear(uint32_t) override {}
  std::vector<std::pair<std::string, std::string>> rows;
  int puts = 0, erases = 0;
};

class ListsTest : public ::testing::Test {
 protected:
  ListsTest() : store_(Config::defaults().keyspaces) {}
  std::string run(std::vector<std::string_view> a, int proto = 2) {
    RowSink sink;
    return run_into(sink, std::move(a), proto);
  }
  std::string run_into(ChangeSink& sink, std::vector<std::string_view> a, int proto = 2) {
    return test::exec(store_, std::move(a), proto, 0, &sink);
  }
  Store store_;
};

TEST_F(ListsTest, PushPopAndEmptyListVanishes) {
  EXPECT_EQ(run({"LLEN", "l"}), ":0\r\n");
  EXPECT_EQ(run({"LPOP", "l"}), "$-1\r\n");
  EXPECT_EQ(run({"LPOP", "l", "2"}), "*-1\r\n");
  EXPECT_EQ(run({"LPOP", "l", "2"}, 3), "_\r\n");
  EXPECT_EQ(run({"LPUSHX", "l", "a"}), ":0\r\n");
  EXPECT_EQ(run({"RPUSH", "l", "a", "b", "c"}), ":3\r\n");
  EXPECT_EQ(run({"LPUSH", "l", "z", "y"}), ":5\r\n");
  EXPECT_EQ(run({"RPUSHX", "l", "d"}), ":6\r\n");
  EXPECT_EQ(run({"LRANGE", "l", "0", "-1"}),
            "*6\r\n$1\r\ny\r\n$1\r\nz\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n");
  EXPECT_EQ(run({"LPOP", "l", "0"}), "*0\r\n");
  EXPECT_EQ(run({"LPOP", "l", "-1"}), "-ERR value is out of range, must be positive\r\n");
  EXPECT_EQ(run({"LPOP", "l", "x"}), "-ERR value is out of range, must be positive\r\n");
  EXPECT_EQ(run({"LPOP", "l", "1", "2"}), "-ERR wrong number of arguments for 'lpop' command\r\n");
  EXPECT_EQ(run({"LPOP", "l", "2"}), "*2\r\n$1\r\ny\r\n$1\r\nz\r\n");
  EXPECT_EQ(run({"RPOP", "l"}), "$1\r\nd\r\n");
  EXPECT_EQ(run({"RPOP", "l", "9223372036854775807"}), "*3\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\na\r\n");
  EXPECT_EQ(run({"EXISTS", "l"}), ":0\r\n");
  EXPECT_EQ(run({"LPOP", "l", "0"}), "*-1\r\n");  // the key is looked up before the count
}

TEST_F(ListsTest, IndexesRangesAndErrors) {
  run({"RPUSH", "l", "a", "b", "c", "d"});
  EXPECT_EQ(run({"LINDEX", "l", "-1"}), "$1\r\nd\r\n");
  EXPECT_EQ(run({"LINDEX", "l", "4"}), "$-1\r\n");
  EXPECT_EQ(run({"LINDEX", "l", "-5"}), "$-1\r\n");
  EXPECT_EQ(run({"LINDEX", "l", "x"}), "-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(run({"LINDEX", "nokey", "x"}), "$-1\r\n");  // the key first
  EXPECT_EQ(run({"LRANGE", "l", "-2", "100"}), "*2\r\n$1\r\nc\r\n$1\r\nd\r\n");
  EXPECT_EQ(run({"LRANGE", "l", "3", "1"}), "*0\r\n");
  EXPECT_EQ(run({"LRANGE", "l", "-100", "0"}), "*1\r\n$1\r\na\r\n");
  EXPECT_EQ(run({"LRANGE", "nokey", "x", "1"}), "-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(run({"LSET", "l", "4", "x"}), "-ERR index out of range\r\n");
  EXPECT_EQ(run({"LSET", "l", "-4", "A"}), "+OK\r\n");
  EXPECT_EQ(run({"LSET", "nokey", "0", "x"}), "-ERR no such key\r\n");
  EXPECT_EQ(run({"LINSERT", "l", "middle", "a", "x"}), "-ERR syntax error\r\n");
  EXPECT_EQ(run({"LINSERT", "l", "before", "zz", "x"}), ":-1\r\n");
  EXPECT_EQ(run({"LINSERT", "nokey", "before", "zz", "x"}), ":0\r\n");
  EXPECT_EQ(run({"LINSERT", "l", "AFTER", "c", "c2"}), ":5\r\n");
  EXPECT_EQ(run({"LINSERT", "l", "before", "A", "0"}), ":6\r\n");
  EXPECT_EQ(run({"LRANGE", "l", "0", "-1"}),
            "*6\r\n$1\r\n0\r\n$1\r\nA\r\n$1\r\nb\r\n$1\r\nc\r\n$2\r\nc2\r\n$1\r\nd\r\n");
  EXPECT_EQ(run({"LTRIM", "l", "1", "-2"}), "+OK\r\n");
  EXPECT_EQ(run({"LRANGE", "l", "0", "-1"}), "*4\r\n$1\r\nA\r\n$1\r\nb\r\n$1\r\nc\r\n$2\r\nc2\r\n");
  EXPECT_EQ(run({"LTRIM", "l", "5", "10"}), "+OK\r\n");
  EXPECT_EQ(run({"EXISTS", "l"}), ":0\r\n");
}

TEST_F(ListsTest, LremAndLpos) {
  run({"RPUSH", "l", "a", "b", "a", "c", "a", "b"});
  EXPECT_EQ(run({"LPOS", "l", "a"}), ":0\r\n");
  EXPECT_EQ(run({"LPOS", "l", "a", "RANK", "-1"}), ":4\r\n");
  EXPECT_EQ(run({"LPOS", "l", "a", "RANK", "2", "COUNT", "0"}), "*2\r\n:2\r\n:4\r\n");
  EXPECT_EQ(run({"LPOS", "l", "a", "COUNT", "2", "MAXLEN", "3"}), "*2\r\n:0\r\n:2\r\n");
  EXPECT_EQ(run({"LPOS", "l", "a", "RANK", "-2", "COUNT", "5"}), "*2\r\n:2\r\n:0\r\n");
  EXPECT_EQ(run({"LPOS", "l", "zz"}), "$-1\r\n");
  EXPECT_EQ(run({"LPOS", "l", "zz", "COUNT", "1"}), "*0\r\n");
  EXPECT_EQ(run({"LPOS", "nokey", "a", "COUNT", "1"}), "*0\r\n");
  EXPECT_EQ(run({"LPOS", "l", "a", "RANK", "0"}),
            "-ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... "
            "or use negative to start from the end of the list\r\n");
  EXPECT_EQ(run({"LPOS", "l", "a", "COUNT", "-1"}), "-ERR COUNT can't be negative\r\n");
  EXPECT_EQ(run({"LPOS", "l", "a", "MAXLEN", "x"}), "-ERR MAXLEN can't be negative\r\n");
  EXPECT_EQ(run({"LPOS", "l", "a", "RANK"}), "-ERR syntax error\r\n");
  EXPECT_EQ(run({"LREM", "l", "-1", "a"}), ":1\r\n");
  EXPECT_EQ(run({"LREM", "l", "0", "b"}), ":2\r\n");
  EXPECT_EQ(run({"LRANGE", "l", "0", "-1"}), "*3\r\n$1\r\na\r\n$1\r\na\r\n$1\r\nc\r\n");
  EXPECT_EQ(run({"LREM", "l", "x", "b"}), "-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(run({"LREM", "l", "0", "a"}), ":2\r\n");
  EXPECT_EQ(run({"LREM", "l", "1", "c"}), ":1\r\n");
  EXPECT_EQ(run({"EXISTS", "l"}), ":0\r\n");
}

TEST_F(ListsTest, MoveRotateAndMpop) {
  run({"RPUSH", "l", "a", "b", "c"});
  EXPECT_EQ(run({"LMOVE", "l", "l", "LEFT", "RIGHT"}), "$1\r\na\r\n");  // rotation
  EXPECT_EQ(run({"LRANGE", "l", "0", "-1"}), "*3\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\na\r\n");
  EXPECT_EQ(run({"RPOPLPUSH", "l", "m"}), "$1\r\na\r\n");
  EXPECT_EQ(run({"LMOVE", "nokey", "m", "left", "left"}), "$-1\r\n");
  EXPECT_EQ(run({"LMOVE", "l", "m", "up", "left"}), "-ERR syntax error\r\n");
  run({"SET", "s", "x"});
  EXPECT_EQ(run({"LMOVE", "l", "s", "left", "left"}), kWrongType);
  EXPECT_EQ(run({"LMOVE", "nokey", "s", "left", "left"}), "$-1\r\n");
  EXPECT_EQ(run({"LLEN", "l"}), ":2\r\n");  // nothing popped before the error
  run({"RPUSH", "one", "x"});
  EXPECT_EQ(run({"LMOVE", "one", "one", "right", "left"}), "$1\r\nx\r\n");
  EXPECT_EQ(run({"LLEN", "one"}), ":1\r\n");
  EXPECT_EQ(run({"LMPOP", "2", "nokey", "l", "RIGHT", "COUNT", "5"}),
            "*2\r\n$1\r\nl\r\n*2\r\n$1\r\nc\r\n$1\r\nb\r\n");
  EXPECT_EQ(run({"LMPOP", "1", "l", "left"}), "*-1\r\n");
  EXPECT_EQ(run({"LMPOP", "1", "l", "left"}, 3), "_\r\n");
  EXPECT_EQ(run({"LMPOP", "0", "l", "left"}), "-ERR numkeys should be greater than 0\r\n");
  EXPECT_EQ(run({"LMPOP", "2", "l", "left"}), "-ERR syntax error\r\n");
  EXPECT_EQ(run({"LMPOP", "1", "m", "left", "COUNT", "0"}),
            "-ERR count should be greater than 0\r\n");
  EXPECT_EQ(run({"LMPOP", "1", "m", "left", "COUNT", "1", "COUNT", "1"}), "-ERR syntax error\r\n");
  EXPECT_EQ(run({"LMPOP", "2", "s", "m", "left"}), kWrongType);
}

TEST_F(ListsTest, BlockingFormsAnswerAtOnceOrNil) {
  run({"RPUSH", "l", "a", "b"});
  EXPECT_EQ(run({"BLPOP", "nokey", "l", "0"}), "*2\r\n$1\r\nl\r\n$1\r\na\r\n");
  EXPECT_EQ(run({"BRPOP", "nokey", "1.5"}), "*-1\r\n");
  EXPECT_EQ(run({"BRPOP", "nokey", "1.5"}, 3), "_\r\n");
  EXPECT_EQ(run({"BLPOP", "l", "x"}), "-ERR timeout is not a float or out of range\r\n");
  EXPECT_EQ(run({"BLPOP", "l", "-1"}), "-ERR timeout is negative\r\n");
  EXPECT_EQ(run({"BLPOP", "l", "inf"}), "-ERR timeout is negative\r\n");
  EXPECT_EQ(run({"BLPOP", "l", "-0.0001"}), "*2\r\n$1\r\nl\r\n$1\r\nb\r\n");
  EXPECT_EQ(run({"BLMOVE", "nokey", "m", "left", "left", "0"}), "$-1\r\n");
  EXPECT_EQ(run({"BLMOVE", "nokey", "m", "up", "left", "x"}), "-ERR syntax error\r\n");
  EXPECT_EQ(run({"BRPOPLPUSH", "nokey", "m", "x"}),
            "-ERR timeout is not a float or out of range\r\n");
  EXPECT_EQ(run({"BLMPOP", "x", "x", "l", "left"}), "-ERR numkeys should be greater than 0\r\n");
  EXPECT_EQ(run({"BLMPOP", "x", "1", "l", "left"}),
            "-ERR timeout is not a float or out of range\r\n");
  EXPECT_EQ(run({"BLMPOP", "-1", "1", "l", "middle"}), "-ERR syntax error\r\n");
  run({"SET", "s", "x"});
  EXPECT_EQ(run({"BLPOP", "nokey", "s", "0"}), kWrongType);
  int64_t ms = -1;
  EXPECT_EQ(parse_block_timeout("0.25", 0, &ms), "");
  EXPECT_EQ(ms, 250);
  EXPECT_EQ(parse_block_timeout("0.0001", 0, &ms), "");  // rounds up: 1 ms, not forever
  EXPECT_EQ(ms, 1);
  EXPECT_EQ(parse_block_timeout("-0.0001", 0, &ms), "");  // rounds up to 0: forever
  EXPECT_EQ(ms, 0);
}

TEST_F(ListsTest, WrongTypeEverywhere) {
  run({"SET", "s", "x"});
  for (std::vector<std::string_view> c :
       std::vector<std::vector<std::string_view>>{{"LPUSH", "s", "a"},
                                                  {"RPUSHX", "s", "a"},
                                                  {"LPOP", "s"},
                                                  {"LLEN", "s"},
                                                  {"LRANGE", "s", "0", "1"},
                                                  {"LINDEX", "s", "0"},
                                                  {"LSET", "s", "0", "a"},
                                                  {"LINSERT", "s", "before", "a", "b"},
                                                  {"LREM", "s", "0", "a"},
                                                  {"LTRIM", "s", "0", "1"},
                                                  {"LPOS", "s", "a"},
                                                  {"RPOPLPUSH", "s", "d"},
                                                  {"LMPOP", "1", "s", "left"}}) {
    EXPECT_EQ(run(c), kWrongType) << c[0];
  }
  run({"RPUSH", "l", "a"});
  EXPECT_EQ(run({"GET", "l"}), kWrongType);
  EXPECT_EQ(run({"TYPE", "l"}), "+list\r\n");
  EXPECT_EQ(run({"OBJECT", "ENCODING", "l"}), "$9\r\nquicklist\r\n");
  EXPECT_EQ(run({"SCAN", "0", "TYPE", "list"}), "*2\r\n$1\r\n0\r\n*1\r\n$1\r\nl\r\n");
}

// A push or a pop writes one row; LINSERT and LREM rewrite only the shorter side.
TEST_F(ListsTest, RowsPerChange) {
  for (int i = 0; i < 100; ++i)
    run({"RPUSH", "l", std::to_string(i)});
  RowSink push;
  run_into(push, {"LPUSH", "l", "x"});
  ASSERT_EQ(push.rows.size(), 1u);
  EXPECT_EQ(push.rows[0].first, ListValue::position_id(ListValue::kFirstPosition - 1));
  RowSink pop;
  run_into(pop, {"RPOP", "l"});
  ASSERT_EQ(pop.rows.size(), 1u);
  EXPECT_EQ(pop.rows[0].second, "<del>");
  RowSink ins;  // after element "1" (index 2): it and the two before it move, one row is new
  run_into(ins, {"LINSERT", "l", "after", "1", "new"});
  EXPECT_EQ(ins.rows.size(), 4u);
  RowSink ins_tail;  // before "97" (index 99 of 101): "97" and "98" move
  run_into(ins_tail, {"LINSERT", "l", "before", "97", "new2"});
  EXPECT_EQ(ins_tail.rows.size(), 3u);
  RowSink rem;  // "new" at index 3: the three before it move, one row goes
  EXPECT_EQ(run_into(rem, {"LREM", "l", "0", "new"}), ":1\r\n");
  EXPECT_EQ(rem.rows.size(), 4u);
  RowSink set;
  run_into(set, {"LSET", "l", "50", "y"});
  EXPECT_EQ(set.rows.size(), 1u);
}

// Rows written through a real node restore the list in order, after pushes at both ends and
// middle changes, and a snapshot image round-trips it.
TEST(ListsStorage, RestartRestoresOrderAndImageRoundTrips) {
  MemStorage storage;
  Config cfg = Config::defaults();
  std::vector<std::string> expect;
  auto exec = [&](Node& n, std::vector<std::string_view> a) {
    std::string out;
    resp::Writer w(&out, 2);
    n.execute(*resp::lookup_command(a[0]), a, 0, w);
    PersistRequest p = n.take_persist();
    EXPECT_TRUE(storage.write(std::move(p.batch), false).is_ok());
    n.on_persisted(p.token);
    return out;
  };
  auto contents = [](const Store& s) {
    const KeyTable::Entry* e = s.keyspace(0).table.find("q");
    std::vector<std::string> out;
    if (!e) return out;
    e->value.coll->list->for_each_from(0, false, [&](size_t, std::string_view v) {
      out.emplace_back(v);
      return true;
    });
    return out;
  };
  {
    Node n(cfg, &storage);
    ASSERT_TRUE(n.open(0).is_ok());
    for (int i = 0; i < 2000; ++i) {
      const std::string v = "e" + std::to_string(i);
      exec(n, {i % 3 == 0 ? "LPUSH" : "RPUSH", "q", v});
    }
    exec(n, {"LINSERT", "q", "before", "e1000", "mid"});
    exec(n, {"LREM", "q", "0", "e5"});
    exec(n, {"LTRIM", "q", "3", "-4"});
    exec(n, {"LPOP", "q", "10"});
    exec(n, {"LSET", "q", "7", "seven"});
    exec(n, {"RPOPLPUSH", "q", "q"});
    expect = contents(n.store());
    ASSERT_GT(expect.size(), 1900u);
  }
  Node again(cfg, &storage);
  ASSERT_TRUE(again.open(0).is_ok());
  EXPECT_EQ(contents(again.store()), expect);
  EXPECT_EQ(again.store().keyspace(0).elements, expect.size());

  const std::string image = again.store().serialize_keyspace(0);
  Store other(cfg.keyspaces);
  NullSink none;
  ASSERT_TRUE(other.load_keyspace(0, image, none));
  EXPECT_EQ(contents(other), expect);
  EXPECT_EQ(other.keyspace(0).element_bytes, again.store().keyspace(0).element_bytes);
  // A list's positions survive the image: the next push after loading takes the next one.
  const KeyTable::Entry* a = again.store().keyspace(0).table.find("q");
  const KeyTable::Entry* b = other.keyspace(0).table.find("q");
  EXPECT_EQ(a->value.coll->list->head_position(), b->value.coll->list->head_position());
  // A deep copy (COPY) is independent of its source.
  Value copy = a->value;
  copy.coll->list->pop_front();
  EXPECT_EQ(a->value.coll->list->size(), copy.coll->list->size() + 1);
}

}  // namespace
}  // namespace rkv
