#include "resp/writer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

namespace rkv::resp {
namespace {

using namespace std::string_literals;

template <typename F>
std::string encode(int proto, F&& f) {
  std::string out;
  Writer w(&out, proto);
  f(w);
  return out;
}

class WriterBothProtocols : public ::testing::TestWithParam<int> {};

TEST_P(WriterBothProtocols, SharedTypesAreIdentical) {
  const int proto = GetParam();
  EXPECT_EQ(encode(proto, [](Writer& w) { w.simple("OK"); }), "+OK\r\n");
  EXPECT_EQ(encode(proto, [](Writer& w) { w.ok(); }), "+OK\r\n");
  EXPECT_EQ(encode(proto, [](Writer& w) { w.simple(""); }), "+\r\n");
  EXPECT_EQ(encode(proto, [](Writer& w) { w.error("ERR unknown command 'foo'"); }),
            "-ERR unknown command 'foo'\r\n");
  EXPECT_EQ(encode(proto, [](Writer& w) { w.integer(0); }), ":0\r\n");
  EXPECT_EQ(encode(proto, [](Writer& w) { w.integer(42); }), ":42\r\n");
  EXPECT_EQ(encode(proto, [](Writer& w) { w.integer(-7); }), ":-7\r\n");
  EXPECT_EQ(encode(proto, [](Writer& w) { w.integer(std::numeric_limits<int64_t>::min()); }),
            ":-9223372036854775808\r\n");
  EXPECT_EQ(encode(proto, [](Writer& w) { w.integer(std::numeric_limits<int64_t>::max()); }),
            ":9223372036854775807\r\n");
  EXPECT_EQ(encode(proto, [](Writer& w) { w.bulk("foo"); }), "$3\r\nfoo\r\n");
  EXPECT_EQ(encode(proto, [](Writer& w) { w.bulk(""); }), "$0\r\n\r\n");
  EXPECT_EQ(encode(proto, [](Writer& w) { w.bulk("a\r\n\0b"s); }), "$5\r\na\r\n\0b\r\n"s);
  EXPECT_EQ(encode(proto, [](Writer& w) { w.array(0); }), "*0\r\n");
  EXPECT_EQ(encode(proto, [](Writer& w) { w.array(3); }), "*3\r\n");
  EXPECT_EQ(encode(proto, [](Writer& w) { w.bulk(std::string(1000, 'x')); }),
            "$1000\r\n" + std::string(1000, 'x') + "\r\n");
}

TEST_P(WriterBothProtocols, LineBreaksInSimpleStringsBecomeSpaces) {
  const int proto = GetParam();
  EXPECT_EQ(encode(proto, [](Writer& w) { w.error("ERR bad\r\nthing\n"); }),
            "-ERR bad  thing \r\n");
  EXPECT_EQ(encode(proto, [](Writer& w) { w.simple("a\rb"); }), "+a b\r\n");
}

TEST_P(WriterBothProtocols, AppendsToExistingOutput) {
  std::string out = "prefix";
  Writer w(&out, GetParam());
  EXPECT_EQ(w.proto(), GetParam());
  w.array(2);
  w.bulk("a");
  w.integer(1);
  w.error("ERR x\ny");
  EXPECT_EQ(out, "prefix*2\r\n$1\r\na\r\n:1\r\n-ERR x y\r\n");
}

INSTANTIATE_TEST_SUITE_P(Protocols, WriterBothProtocols, ::testing::Values(2, 3));

TEST(WriterResp2, Resp3TypesDegradeLikeRedis) {
  EXPECT_EQ(encode(2, [](Writer& w) { w.null(); }), "$-1\r\n");
  EXPECT_EQ(encode(2, [](Writer& w) { w.null_array(); }), "*-1\r\n");
  EXPECT_EQ(encode(2, [](Writer& w) { w.map(2); }), "*4\r\n");
  EXPECT_EQ(encode(2, [](Writer& w) { w.map(0); }), "*0\r\n");
  EXPECT_EQ(encode(2, [](Writer& w) { w.set(3); }), "*3\r\n");
  EXPECT_EQ(encode(2, [](Writer& w) { w.push(2); }), "*2\r\n");
  EXPECT_EQ(encode(2, [](Writer& w) { w.attribute(1); }), "");
  EXPECT_EQ(encode(2, [](Writer& w) { w.boolean(true); }), ":1\r\n");
  EXPECT_EQ(encode(2, [](Writer& w) { w.boolean(false); }), ":0\r\n");
  EXPECT_EQ(encode(2, [](Writer& w) { w.dbl(1.5); }), "$3\r\n1.5\r\n");
  EXPECT_EQ(encode(2, [](Writer& w) { w.dbl(-0.25); }), "$5\r\n-0.25\r\n");
  EXPECT_EQ(encode(2, [](Writer& w) { w.dbl(3.0); }), "$1\r\n3\r\n");
  EXPECT_EQ(encode(2, [](Writer& w) { w.dbl(std::numeric_limits<double>::infinity()); }),
            "$3\r\ninf\r\n");
  EXPECT_EQ(encode(2, [](Writer& w) { w.verbatim("hello"); }), "$5\r\nhello\r\n");
  EXPECT_EQ(encode(2, [](Writer& w) { w.verbatim("# x", "mkd"); }), "$3\r\n# x\r\n");
}

TEST(WriterResp3, NativeTypes) {
  EXPECT_EQ(encode(3, [](Writer& w) { w.null(); }), "_\r\n");
  EXPECT_EQ(encode(3, [](Writer& w) { w.null_array(); }), "_\r\n");
  EXPECT_EQ(encode(3, [](Writer& w) { w.map(2); }), "%2\r\n");
  EXPECT_EQ(encode(3, [](Writer& w) { w.set(3); }), "~3\r\n");
  EXPECT_EQ(encode(3, [](Writer& w) { w.push(2); }), ">2\r\n");
  EXPECT_EQ(encode(3, [](Writer& w) { w.attribute(1); }), "|1\r\n");
  EXPECT_EQ(encode(3, [](Writer& w) { w.boolean(true); }), "#t\r\n");
  EXPECT_EQ(encode(3, [](Writer& w) { w.boolean(false); }), "#f\r\n");
  EXPECT_EQ(encode(3, [](Writer& w) { w.verbatim("hello"); }), "=9\r\ntxt:hello\r\n");
  EXPECT_EQ(encode(3, [](Writer& w) { w.verbatim("", "mkd"); }), "=4\r\nmkd:\r\n");
}

TEST(WriterResp3, Doubles) {
  EXPECT_EQ(encode(3, [](Writer& w) { w.dbl(1.5); }), ",1.5\r\n");
  EXPECT_EQ(encode(3, [](Writer& w) { w.dbl(0); }), ",0\r\n");
  EXPECT_EQ(encode(3, [](Writer& w) { w.dbl(-2); }), ",-2\r\n");
  EXPECT_EQ(encode(3, [](Writer& w) { w.dbl(0.1); }), ",0.1\r\n");
  EXPECT_EQ(encode(3, [](Writer& w) { w.dbl(1e100); }), ",1e+100\r\n");
  EXPECT_EQ(encode(3, [](Writer& w) { w.dbl(std::numeric_limits<double>::infinity()); }),
            ",inf\r\n");
  EXPECT_EQ(encode(3, [](Writer& w) { w.dbl(-std::numeric_limits<double>::infinity()); }),
            ",-inf\r\n");
  EXPECT_EQ(encode(3, [](Writer& w) { w.dbl(std::numeric_limits<double>::quiet_NaN()); }),
            ",nan\r\n");
}

TEST(WriterResp3, DoublesRoundTrip) {
  for (double d : {0.1, 1.0 / 3, 123456.789, -1e-300, std::numeric_limits<double>::max()}) {
    const std::string out = encode(3, [d](Writer& w) { w.dbl(d); });
    ASSERT_GE(out.size(), 3u);
    EXPECT_EQ(out[0], ',');
    EXPECT_EQ(std::stod(out.substr(1, out.size() - 3)), d) << out;
  }
}

TEST(WriterResp3, NestedReply) {
  std::string out;
  Writer w(&out, 3);
  w.map(2);
  w.bulk("proto");
  w.integer(3);
  w.bulk("modules");
  w.array(0);
  EXPECT_EQ(out, "%2\r\n$5\r\nproto\r\n:3\r\n$7\r\nmodules\r\n*0\r\n");
}

}  // namespace
}  // namespace rkv::resp
