#include "core/shared_bytes.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace rkv {
namespace {

TEST(SharedBytes, CopiesShareTheBytesAndOutliveTheOriginal) {
  std::string source("set k \0v", 8);
  SharedBytes a(source);
  source[0] = 'X';  // the bytes were copied in once
  SharedBytes b = a;
  EXPECT_EQ(a.data(), b.data());  // the same buffer
  EXPECT_EQ(b, std::string_view("set k \0v", 8));
  {
    SharedBytes c = std::move(a);
    EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty
    EXPECT_EQ(c.data(), b.data());
  }
  EXPECT_EQ(b.size(), 8u);
  b = b;  // self-assignment keeps it
  EXPECT_EQ(b.str(), std::string("set k \0v", 8));
  SharedBytes e;
  EXPECT_TRUE(e.empty());
  EXPECT_EQ(e, "");
  EXPECT_EQ(SharedBytes(""), e);
  EXPECT_NE(SharedBytes("a"), SharedBytes("b"));
  e = b;
  EXPECT_EQ(e, b);
}

// Copies may be dropped on other threads (a Ready's entries, a syncer's batch): the count is
// atomic. Run under the sanitizers, a data race or double free here fails the test.
TEST(SharedBytes, CopiesMayBeReleasedOnOtherThreads) {
  SharedBytes shared(std::string(1000, 'x'));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([copy = shared] {
      for (int i = 0; i < 10000; ++i) {
        SharedBytes again = copy;
        ASSERT_EQ(again.size(), 1000u);
      }
    });
  }
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(shared.size(), 1000u);
}

}  // namespace
}  // namespace rkv
