#include "multileader/messages.h"

#include <gtest/gtest.h>

#include <random>

namespace rkv::multileader {
namespace {

Item item(uint64_t seq, std::string key, bool tomb = false) {
  Item it;
  it.seq = seq;
  it.key = std::move(key);
  it.hlc = 1000 + seq;
  it.actor = 7;
  it.tomb = tomb;
  if (!tomb) it.image = "image-" + std::to_string(seq);
  return it;
}

TEST(MultiLeaderMessages, RoundTrips) {
  Msg st;
  st.type = MsgType::kStatus;
  st.actor = 7;
  st.applied = {{3, 10}, {7, 2}};
  std::string b;
  encode(st, &b);
  Msg got;
  ASSERT_TRUE(decode(b, &got));
  EXPECT_EQ(got.applied, st.applied);

  Msg en;
  en.type = MsgType::kEntries;
  en.actor = 7;
  en.items = {item(4, "a"), item(5, "b", true), item(6, "")};
  b.clear();
  encode(en, &b);
  ASSERT_TRUE(decode(b, &got));
  ASSERT_EQ(got.items.size(), 3u);
  EXPECT_EQ(got.items[1].key, "b");
  EXPECT_TRUE(got.items[1].tomb);
  EXPECT_EQ(got.items[2].image, "image-6");
  EXPECT_EQ(got.items[0].actor, 7u);

  Msg sx;
  sx.type = MsgType::kState;
  sx.actor = 7;
  sx.transfer = 99;
  sx.last = true;
  sx.applied = {{7, 6}};
  sx.items = {item(0, "k")};
  sx.items[0].actor = 3;
  b.clear();
  encode(sx, &b);
  ASSERT_TRUE(decode(b, &got));
  EXPECT_TRUE(got.last);
  EXPECT_EQ(got.transfer, 99u);
  EXPECT_EQ(got.items[0].actor, 3u);
  EXPECT_EQ(got.applied, sx.applied);
}

TEST(MultiLeaderMessages, RefusesRunsOutOfOrderAndUnsortedVectors) {
  Msg en;
  en.type = MsgType::kEntries;
  en.actor = 7;
  en.items = {item(4, "a"), item(6, "b")};
  std::string b;
  encode(en, &b);
  Msg got;
  EXPECT_FALSE(decode(b, &got));
  Msg st;
  st.actor = 7;
  st.applied = {{7, 1}, {3, 1}};
  b.clear();
  encode(st, &b);
  EXPECT_FALSE(decode(b, &got));
}

// Every truncation and random byte flips of valid messages decode to false or to a message, never
// crash (the fuzz target does the same at scale).
TEST(MultiLeaderMessages, GarbageIsRefusedNotTrusted) {
  Msg en;
  en.type = MsgType::kEntries;
  en.actor = 9;
  en.items = {item(1, "a"), item(2, "bb", true), item(3, "ccc")};
  std::string b;
  encode(en, &b);
  Msg got;
  for (size_t n = 0; n < b.size(); ++n)
    EXPECT_FALSE(decode(std::string_view(b).substr(0, n), &got)) << n;
  std::mt19937 rng(5);
  for (int i = 0; i < 2000; ++i) {
    std::string c = b;
    c[rng() % c.size()] = static_cast<char>(rng());
    (void)decode(c, &got);
  }
  Item rec;
  EXPECT_TRUE(decode_log_record(encode_log_record(item(3, "x")), 9, &rec));
  EXPECT_EQ(rec.actor, 9u);
  EXPECT_FALSE(decode_log_record("\x01", 9, &rec));
}

}  // namespace
}  // namespace rkv::multileader
