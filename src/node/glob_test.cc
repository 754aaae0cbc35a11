#include "node/glob.h"

#include <gtest/gtest.h>

namespace rkv {
namespace {

TEST(Glob, Patterns) {
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_TRUE(glob_match("*", "anything"));
  EXPECT_TRUE(glob_match("h?llo", "hello"));
  EXPECT_FALSE(glob_match("h?llo", "hllo"));
  EXPECT_TRUE(glob_match("h*llo", "heeeello"));
  EXPECT_TRUE(glob_match("h[ae]llo", "hallo"));
  EXPECT_FALSE(glob_match("h[ae]llo", "hillo"));
  EXPECT_TRUE(glob_match("h[^e]llo", "hallo"));
  EXPECT_FALSE(glob_match("h[^e]llo", "hello"));
  EXPECT_TRUE(glob_match("h[a-b]llo", "hbllo"));
  EXPECT_FALSE(glob_match("h[a-b]llo", "hcllo"));
  EXPECT_TRUE(glob_match("h\\*llo", "h*llo"));
  EXPECT_FALSE(glob_match("h\\*llo", "hello"));
  EXPECT_TRUE(glob_match("accounts:*", "accounts:alice"));
  EXPECT_FALSE(glob_match("accounts:*", "carts:alice"));
  EXPECT_TRUE(glob_match("*a*b*c*", "xxaxxbxxcxx"));
  EXPECT_FALSE(glob_match("*a*b*c*", "xxaxxcxxbxx"));
}

TEST(Glob, PathologicalPatternIsFast) {
  std::string text(5000, 'a');
  std::string pat;
  for (int i = 0; i < 30; ++i)
    pat += "*a";
  pat += "b";
  EXPECT_FALSE(glob_match(pat, text));  // must not take exponential time
}

}  // namespace
}  // namespace rkv
