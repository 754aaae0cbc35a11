#include "node/wire.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace rkv {
namespace {

TEST(Wire, LoggedCommandRoundTripsAndNamesItsKey) {
  std::vector<std::string_view> args = {"SET", "user:1", "v"};
  std::string data = encode_logged(LoggedCommand::kClient, 2, 1234, args);
  LoggedCommand cmd;
  ASSERT_TRUE(decode_logged(data, &cmd));
  EXPECT_EQ(cmd.kind, LoggedCommand::kClient);
  EXPECT_EQ(cmd.proposer, 2u);
  EXPECT_EQ(cmd.now_ms, 1234);
  EXPECT_EQ(cmd.args, args);
  EXPECT_EQ(logged_key(data), std::optional<std::string_view>("user:1"));

  // No key: a one-argument command, an expiry entry, and every truncation of a valid entry.
  std::vector<std::string_view> ping = {"PING"};
  EXPECT_EQ(logged_key(encode_logged(LoggedCommand::kClient, 1, 0, ping)), std::nullopt);
  EXPECT_EQ(logged_key(encode_logged(LoggedCommand::kExpire, 1, 0, args)), std::nullopt);
  for (size_t n = 0; n < data.size() - 1; ++n) {
    auto k = logged_key(std::string_view(data).substr(0, n));
    EXPECT_TRUE(!k || *k == "user:1") << n;  // the key is only named once it is all there
    EXPECT_FALSE(decode_logged(std::string_view(data).substr(0, n), &cmd)) << n;
  }
}

}  // namespace
}  // namespace rkv
