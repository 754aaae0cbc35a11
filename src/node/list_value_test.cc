#include "node/list_value.h"

#include <gtest/gtest.h>

#include <deque>
#include <random>
#include <string>

namespace rkv {
namespace {

std::vector<std::string> contents(const ListValue& l) {
  std::vector<std::string> out;
  l.for_each_from(0, false, [&](size_t, std::string_view v) {
    out.emplace_back(v);
    return true;
  });
  return out;
}

TEST(ListValue, PushPopBothEndsKeepPositions) {
  ListValue l;
  l.push_back("b");
  l.push_front("a");
  l.push_back("c");
  EXPECT_EQ(l.size(), 3u);
  EXPECT_EQ(l.head_position(), ListValue::kFirstPosition - 1);
  EXPECT_EQ(l.at(0), "a");
  EXPECT_EQ(l.at(2), "c");
  EXPECT_EQ(l.pop_front(), "a");
  EXPECT_EQ(l.head_position(), ListValue::kFirstPosition);
  EXPECT_EQ(l.pop_back(), "c");
  EXPECT_EQ(l.pop_back(), "b");
  EXPECT_TRUE(l.empty());
  EXPECT_TRUE(l.valid());
}

TEST(ListValue, PositionIdsSortAsNumbers) {
  const uint64_t ps[] = {0,
                         1,
                         255,
                         256,
                         ListValue::kFirstPosition - 1,
                         ListValue::kFirstPosition,
                         ListValue::kFirstPosition + 1,
                         ~0ull};
  for (size_t i = 0; i + 1 < std::size(ps); ++i) {
    EXPECT_LT(ListValue::position_id(ps[i]), ListValue::position_id(ps[i + 1]));
    uint64_t back;
    ASSERT_TRUE(ListValue::parse_position_id(ListValue::position_id(ps[i]), &back));
    EXPECT_EQ(back, ps[i]);
  }
  uint64_t p;
  EXPECT_FALSE(ListValue::parse_position_id("short", &p));
}

TEST(ListValue, LargeElementsAndVarintLengths) {
  ListValue l;
  for (size_t len : {0u, 1u, 127u, 128u, 16383u, 16384u, 100000u})
    l.push_back(std::string(len, 'x'));
  l.push_front(std::string(20000, 'y'));
  EXPECT_TRUE(l.valid());
  EXPECT_EQ(l.at(0).size(), 20000u);
  EXPECT_EQ(l.at(7).size(), 100000u);
  EXPECT_EQ(l.at(3).size(), 127u);
  std::string walked;
  l.for_each_from(7, true, [&](size_t i, std::string_view v) {
    walked += std::to_string(i) + ":" + std::to_string(v.size()) + " ";
    return true;
  });
  EXPECT_EQ(walked, "7:100000 6:16384 5:16383 4:128 3:127 2:1 1:0 0:20000 ");
}

// Random operations against std::deque, checking content, positions and structure.
TEST(ListValue, RandomizedAgainstDeque) {
  std::mt19937_64 rng(17);
  for (int round = 0; round < 40; ++round) {
    ListValue l;
    std::deque<std::string> ref;
    uint64_t head = ListValue::kFirstPosition;
    // Odd rounds: short elements only, so that lists span many chunks.
    const bool short_only = round % 2 == 1;
    auto rand_elem = [&] {
      const size_t len = !short_only && rng() % 8 == 0 ? rng() % 3000 : rng() % 20;
      return std::string(len, static_cast<char>('a' + rng() % 26)) + std::to_string(rng() % 1000);
    };
    for (int step = 0; step < (short_only ? 6000 : 3000); ++step) {
      const int op = static_cast<int>(rng() % 12);
      const size_t n = ref.size();
      if (op <= 2) {
        const std::string v = rand_elem();
        l.push_back(v);
        ref.push_back(v);
      } else if (op <= 4) {
        const std::string v = rand_elem();
        l.push_front(v);
        ref.push_front(v);
        --head;
      } else if (op == 5 && n > 0) {
        ASSERT_EQ(l.pop_front(), ref.front());
        ref.pop_front();
        ++head;
      } else if (op == 6 && n > 0) {
        ASSERT_EQ(l.pop_back(), ref.back());
        ref.pop_back();
      } else if (op == 7) {
        const size_t i = rng() % (n + 1);
        const bool front = rng() % 2 == 0;
        const std::string v = rand_elem();
        l.insert(i, v, front);
        ref.insert(ref.begin() + static_cast<std::ptrdiff_t>(i), v);
        if (front) --head;
      } else if (op == 8 && n > 0) {
        const size_t i = rng() % n;
        const bool front = rng() % 2 == 0;
        l.erase(i, front);
        ref.erase(ref.begin() + static_cast<std::ptrdiff_t>(i));
        if (front) ++head;
      } else if (op == 9 && n > 0) {
        const size_t i = rng() % n;
        const std::string v = rand_elem();
        l.set(i, v);
        ref[i] = v;
      } else if (op == 10 && n > 0) {
        const size_t k = rng() % (n + 1);
        if (rng() % 2) {
          l.drop_front(k);
          ref.erase(ref.begin(), ref.begin() + static_cast<std::ptrdiff_t>(k));
          head += k;
        } else {
          l.drop_back(k);
          ref.erase(ref.end() - static_cast<std::ptrdiff_t>(k), ref.end());
        }
      } else if (op == 11 && n > 0) {
        const size_t i = rng() % n;
        ASSERT_EQ(l.at(i), ref[i]);
      }
      ASSERT_EQ(l.size(), ref.size());
      if (ref.empty()) {
        head = l.head_position();
      } else {
        ASSERT_EQ(l.head_position(), head);
      }
      if (step % 97 == 0) {
        ASSERT_TRUE(l.valid());
        ASSERT_EQ(contents(l), std::vector<std::string>(ref.begin(), ref.end()));
        ListValue copy = l;
        ASSERT_EQ(contents(copy), contents(l));
      }
    }
    ASSERT_TRUE(l.valid());
    ASSERT_EQ(contents(l), std::vector<std::string>(ref.begin(), ref.end()));
  }
}

TEST(ListValue, QueueOfManySmallElementsStaysCompact) {
  ListValue l;
  for (int i = 0; i < 100000; ++i)
    l.push_front("element-" + std::to_string(i));
  // ~15 bytes per entry: a chunk holds a few hundred, and chunks stay nearly full.
  EXPECT_LT(l.chunk_count(), 100000u * 17 / ListValue::kChunkBytes + 2);
  for (int i = 0; i < 100000; ++i)
    ASSERT_EQ(l.pop_back(), "element-" + std::to_string(i));
  EXPECT_EQ(l.chunk_count(), 0u);
}

}  // namespace
}  // namespace rkv
