#include "core/checksum.h"

#include <gtest/gtest.h>

namespace rkv {
namespace {

TEST(Checksum, SealRoundTrips) {
  std::string rec = seal("hello world");
  std::string_view payload;
  ASSERT_TRUE(unseal(rec, &payload));
  EXPECT_EQ(payload, "hello world");
}

TEST(Checksum, SealInPlaceEqualsSeal) {
  for (std::string payload : {std::string(), std::string("x"), std::string(1000, 'y')}) {
    std::string out;
    seal_begin(&out);
    out.append(payload);
    seal_end(&out);
    EXPECT_EQ(out, seal(payload));
  }
}

TEST(Checksum, OfPiecesEqualsOfTheirJoin) {
  std::string data;
  for (int i = 0; i < 5000; ++i)
    data.push_back(static_cast<char>(i * 7 + i / 13));
  // Cuts at every boundary the streaming state handles differently (stripes, blocks).
  for (size_t a : {0, 1, 16, 63, 64, 65, 240, 241, 1024, 1025, 4999, 5000}) {
    for (size_t b : {a, a + 1, a + 200, size_t{5000}}) {
      if (b < a || b > data.size()) continue;
      std::string_view v(data);
      const std::string_view pieces[] = {v.substr(0, a), v.substr(a, b - a), v.substr(b)};
      EXPECT_EQ(checksum64(std::span<const std::string_view>(pieces)), checksum64(v))
          << a << " " << b;
      Checksum64Stream stream;
      for (std::string_view p : pieces)
        stream.update(p);
      EXPECT_EQ(stream.digest(), checksum64(v)) << a << " " << b;
    }
  }
  const std::string_view one[] = {"abc"};
  EXPECT_EQ(checksum64(std::span<const std::string_view>(one)), checksum64("abc"));
}

TEST(Checksum, DetectsEveryFlippedBitAndTruncation) {
  std::string rec = seal("some payload bytes");
  std::string_view payload;
  for (size_t i = 0; i < rec.size() * 8; ++i) {
    std::string bad = rec;
    bad[i / 8] = static_cast<char>(bad[i / 8] ^ (1 << (i % 8)));
    EXPECT_FALSE(unseal(bad, &payload)) << "bit " << i;
  }
  for (size_t n = 0; n < rec.size(); ++n) {
    EXPECT_FALSE(unseal(std::string_view(rec).substr(0, n), &payload)) << "length " << n;
  }
}

TEST(Checksum, BigEndianKeysSortNumerically) {
  std::string a, b;
  put_u64_be(a, 255);
  put_u64_be(b, 256);
  EXPECT_LT(a, b);
  EXPECT_EQ(get_u64_be(b.data()), 256u);
  std::string c;
  put_u32(c, 0xdeadbeef);
  EXPECT_EQ(get_u32(c.data()), 0xdeadbeefu);
}

}  // namespace
}  // namespace rkv
