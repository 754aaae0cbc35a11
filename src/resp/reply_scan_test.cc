#include "resp/reply_scan.h"

#include <gtest/gtest.h>

#include <string>

#include "resp/writer.h"

namespace rkv::resp {
namespace {

TEST(ReplyLength, ScalarsOfBothProtocols) {
  for (std::string_view r : {"+OK\r\n", "-ERR x\r\n", ":42\r\n", "_\r\n", ",1.5\r\n", "#t\r\n",
                             "(123\r\n", "$-1\r\n", "*-1\r\n", "$0\r\n\r\n", "$3\r\na\r\n\r\n"}) {
    EXPECT_EQ(reply_length(r), r.size()) << r;
    EXPECT_EQ(reply_length(std::string(r) + "+NEXT\r\n"), r.size()) << r;
  }
}

TEST(ReplyLength, NestedAggregates) {
  std::string out;
  Writer w(&out, 3);
  w.array(3);
  w.map(1);
  w.bulk("k");
  w.set(2);
  w.integer(1);
  w.dbl(2.5);
  w.verbatim("text");
  w.null();
  EXPECT_EQ(reply_length(out), out.size());
  EXPECT_EQ(reply_length(out + ":1\r\n"), out.size());
}

TEST(ReplyLength, IncompleteOrMalformedIsZero) {
  for (std::string_view r : {"", "+OK", "$5\r\nab\r\n", "*2\r\n:1\r\n", "?\r\n", "$x\r\n",
                             "%-1\r\n", "*99999999999\r\n"}) {
    EXPECT_EQ(reply_length(r), 0u) << r;
  }
}

TEST(SplitArray, ElementsInOrder) {
  std::vector<std::string_view> e;
  ASSERT_TRUE(split_array("*3\r\n+OK\r\n*1\r\n$1\r\na\r\n:7\r\n", &e));
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0], "+OK\r\n");
  EXPECT_EQ(e[1], "*1\r\n$1\r\na\r\n");
  EXPECT_EQ(e[2], ":7\r\n");
  EXPECT_TRUE(split_array("*0\r\n", &e));
  EXPECT_TRUE(e.empty());
}

TEST(SplitArray, NotAnArray) {
  std::vector<std::string_view> e;
  EXPECT_FALSE(split_array("*-1\r\n", &e));
  EXPECT_FALSE(split_array("_\r\n", &e));
  EXPECT_FALSE(split_array("-ERR x\r\n", &e));
  EXPECT_FALSE(split_array("*2\r\n:1\r\n", &e));        // short
  EXPECT_FALSE(split_array("*1\r\n:1\r\n:2\r\n", &e));  // trailing bytes
}

}  // namespace
}  // namespace rkv::resp
