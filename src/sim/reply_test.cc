#include "sim/reply.h"

#include <gtest/gtest.h>

namespace rkv::sim {
namespace {

TEST(Reply, Scalars) {
  EXPECT_EQ(parse_reply("+OK\r\n").kind, Reply::kSimple);
  EXPECT_EQ(parse_reply("+OK\r\n").text, "OK");
  Reply e = parse_reply("-TRYAGAIN no leader\r\n");
  EXPECT_EQ(e.kind, Reply::kError);
  EXPECT_EQ(e.text, "TRYAGAIN no leader");
  Reply i = parse_reply(":-42\r\n");
  EXPECT_EQ(i.kind, Reply::kInteger);
  EXPECT_EQ(i.integer, -42);
  EXPECT_EQ(parse_reply("$-1\r\n").kind, Reply::kNull);
  EXPECT_EQ(parse_reply("_\r\n").kind, Reply::kNull);
}

TEST(Reply, BulkMayHoldCrLf) {
  Reply b = parse_reply("$5\r\na\r\nbc\r\n");
  EXPECT_EQ(b.kind, Reply::kBulk);
  EXPECT_EQ(b.text, "a\r\nbc");
}

TEST(Reply, Arrays) {
  Reply a = parse_reply("*3\r\n$1\r\nx\r\n:7\r\n*-1\r\n");
  ASSERT_EQ(a.kind, Reply::kArray);
  ASSERT_EQ(a.elements.size(), 3u);
  EXPECT_EQ(a.elements[0].text, "x");
  EXPECT_EQ(a.elements[1].integer, 7);
  EXPECT_EQ(a.elements[2].kind, Reply::kNull);
}

TEST(Reply, MalformedIsInvalid) {
  for (const char* bad :
       {"", "+OK", ":12x\r\n", "$5\r\nab\r\n", "*2\r\n:1\r\n", "?\r\n", "$abc\r\n"}) {
    EXPECT_EQ(parse_reply(bad).kind, Reply::kInvalid) << bad;
  }
}

}  // namespace
}  // namespace rkv::sim
