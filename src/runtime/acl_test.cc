// ACL users: one test per kind of rule, the check on commands and keys, the table's atomic
// SETUSER, and the config entries.
#include "runtime/acl.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace rkv::acl {
namespace {

using resp::lookup_command;

// Applies rules to a fresh user; fails the test on a refused rule.
User user_with(std::vector<std::string_view> rules) {
  User u("alice");
  for (std::string_view r : rules) {
    const Status st = u.apply(r);
    EXPECT_TRUE(st.is_ok()) << r << ": " << st.message();
  }
  return u;
}

Verdict check_args(const User& u, std::vector<std::string_view> args) {
  const resp::CommandSpec* spec = lookup_command(args[0]);
  EXPECT_NE(spec, nullptr) << args[0];
  return check(u, *spec, args);
}

bool may(const User& u, std::vector<std::string_view> args) {
  return check_args(u, std::move(args)).denied == Denied::kNone;
}

TEST(AclHash, Sha256OfKnownText) {
  EXPECT_EQ(to_hex(hash_password("pw")),
            "30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4");
  EXPECT_EQ(to_hex(hash_password("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(AclUser, NewUserIsOffWithoutPermissions) {
  User u("bob");
  EXPECT_FALSE(u.enabled());
  EXPECT_FALSE(u.unrestricted());
  EXPECT_FALSE(u.password_ok(""));
  EXPECT_EQ(u.describe(), "user bob off resetchannels -@all");
  EXPECT_EQ(check_args(u, {"get", "k"}).denied, Denied::kCommand);
}

TEST(AclUser, DefaultUserIsUnrestricted) {
  Table t;
  const User& d = *t.default_user();
  EXPECT_TRUE(d.unrestricted());
  EXPECT_TRUE(d.nopass());
  EXPECT_TRUE(d.password_ok("anything"));
  EXPECT_EQ(d.describe(), "user default on nopass ~* &* +@all");
  EXPECT_TRUE(may(d, {"set", "k", "v"}));
  EXPECT_TRUE(may(d, {"config", "get", "port"}));
}

TEST(AclUser, PasswordsAreKeptOnlyAsHashes) {
  User u =
      user_with({"on", ">pw", "#e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"});
  EXPECT_TRUE(u.password_ok("pw"));
  EXPECT_TRUE(u.password_ok(""));
  EXPECT_FALSE(u.password_ok("pW"));
  EXPECT_EQ(u.describe().find("pw "), std::string::npos);
  EXPECT_EQ(u.password_hashes().size(), 2u);
  EXPECT_TRUE(u.apply("<pw").is_ok());
  EXPECT_FALSE(u.password_ok("pw"));
  EXPECT_TRUE(u.apply("!e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855").is_ok());
  EXPECT_FALSE(u.password_ok(""));
  EXPECT_EQ(u.apply("<pw").message(),
            "The password you are trying to remove from the user does not exist");
  EXPECT_FALSE(u.apply("#ABC").is_ok());
  EXPECT_FALSE(u.apply("#" + std::string(64, 'A')).is_ok());  // lower case only
}

TEST(AclUser, NopassAndResetpass) {
  User u = user_with({"on", ">pw", "nopass"});
  EXPECT_TRUE(u.nopass());
  EXPECT_TRUE(u.password_hashes().empty());
  EXPECT_TRUE(u.password_ok("whatever"));
  ASSERT_TRUE(u.apply(">x").is_ok());  // a password ends nopass
  EXPECT_FALSE(u.nopass());
  EXPECT_FALSE(u.password_ok("whatever"));
  ASSERT_TRUE(u.apply("resetpass").is_ok());
  EXPECT_FALSE(u.password_ok("x"));
  EXPECT_FALSE(u.password_ok(""));
}

TEST(AclUser, CommandRulesAndCategories) {
  User u = user_with({"on", "allkeys", "+@read", "-get", "+config|get", "+set"});
  EXPECT_TRUE(may(u, {"mget", "a", "b"}));
  EXPECT_EQ(check_args(u, {"get", "a"}).denied, Denied::kCommand);
  EXPECT_TRUE(may(u, {"set", "a", "1"}));
  EXPECT_FALSE(may(u, {"del", "a"}));
  EXPECT_TRUE(may(u, {"config", "get", "port"}));
  const Verdict v = check_args(u, {"config", "resetstat"});
  EXPECT_EQ(v.denied, Denied::kCommand);
  EXPECT_EQ(v.command, "config|resetstat");
  EXPECT_EQ(u.command_rules(), "-@all +@read -get +config|get +set");
  // A later rule about the same command replaces the earlier one in the description.
  ASSERT_TRUE(u.apply("+get").is_ok());
  EXPECT_EQ(u.command_rules(), "-@all +@read +config|get +set +get");
  ASSERT_TRUE(u.apply("allcommands").is_ok());
  EXPECT_TRUE(u.unrestricted());
  EXPECT_EQ(u.command_rules(), "+@all");
  ASSERT_TRUE(u.apply("-@admin").is_ok());
  EXPECT_FALSE(may(u, {"config", "get", "port"}));
  EXPECT_TRUE(may(u, {"get", "a"}));
  ASSERT_TRUE(u.apply("nocommands").is_ok());
  EXPECT_FALSE(may(u, {"get", "a"}));
  EXPECT_EQ(u.apply("+nosuch").message(), "Unknown command or category name in ACL");
  EXPECT_EQ(u.apply("+@nosuch").message(), "Unknown command or category name in ACL");
  EXPECT_EQ(u.apply("+config|nosuch").message(), "Unknown command or category name in ACL");
}

TEST(AclUser, ParentRuleCoversSubcommands) {
  User u = user_with({"on", "+config"});
  EXPECT_TRUE(may(u, {"config", "get", "x"}));
  EXPECT_TRUE(may(u, {"config", "resetstat"}));
  ASSERT_TRUE(u.apply("-config|resetstat").is_ok());
  EXPECT_FALSE(may(u, {"config", "resetstat"}));
  EXPECT_TRUE(may(u, {"config", "get", "x"}));
}

TEST(AclUser, NoAuthCommandsAreAlwaysAllowed) {
  User u = user_with({"on"});
  EXPECT_TRUE(may(u, {"auth", "x", "y"}));
  EXPECT_TRUE(may(u, {"hello", "3"}));
  EXPECT_TRUE(may(u, {"quit"}));
  EXPECT_TRUE(may(u, {"reset"}));
  EXPECT_FALSE(may(u, {"ping"}));
}

TEST(AclUser, KeyPatternsDecideKeys) {
  User u = user_with({"on", "+@all", "~prefs:*"});
  EXPECT_TRUE(may(u, {"set", "prefs:a", "1"}));
  EXPECT_TRUE(may(u, {"get", "prefs:a"}));
  const Verdict v = check_args(u, {"mget", "prefs:a", "accounts:b"});
  EXPECT_EQ(v.denied, Denied::kKey);
  EXPECT_EQ(v.key_arg, 2u);
  EXPECT_FALSE(may(u, {"del", "other"}));
  // Keyless commands are not limited by patterns (as in Redis).
  EXPECT_TRUE(may(u, {"keys", "*"}));
  EXPECT_TRUE(may(u, {"dbsize"}));
  // Movable keys (numkeys) are checked too.
  EXPECT_FALSE(may(u, {"zunionstore", "prefs:d", "2", "prefs:a", "x"}));
  EXPECT_TRUE(may(u, {"zunionstore", "prefs:d", "2", "prefs:a", "prefs:b"}));
}

TEST(AclUser, ReadOnlyAndWriteOnlyPatterns) {
  User u = user_with({"on", "+@all", "%R~accounts:*", "%W~log:*"});
  EXPECT_TRUE(may(u, {"get", "accounts:a"}));
  EXPECT_TRUE(may(u, {"hgetall", "accounts:a"}));
  EXPECT_FALSE(may(u, {"set", "accounts:a", "1"}));
  EXPECT_FALSE(may(u, {"incr", "accounts:a"}));
  EXPECT_FALSE(may(u, {"del", "accounts:a"}));
  // Write-only: blind writes pass, anything that reads the value does not.
  EXPECT_TRUE(may(u, {"set", "log:1", "x"}));
  EXPECT_TRUE(may(u, {"rpush", "log:l", "x"}));
  EXPECT_TRUE(may(u, {"del", "log:1"}));
  EXPECT_FALSE(may(u, {"set", "log:1", "x", "GET"}));
  EXPECT_FALSE(may(u, {"get", "log:1"}));
  EXPECT_FALSE(may(u, {"incr", "log:1"}));
  EXPECT_FALSE(may(u, {"lpop", "log:l"}));
  // Existence and size need no value access: any matching pattern will do.
  EXPECT_TRUE(may(u, {"exists", "log:1"}));
  EXPECT_TRUE(may(u, {"llen", "log:l"}));
  EXPECT_FALSE(may(u, {"exists", "other"}));
  // A store command reads its sources and writes its destination.
  EXPECT_TRUE(may(u, {"sunionstore", "log:s", "accounts:a", "accounts:b"}));
  EXPECT_FALSE(may(u, {"sunionstore", "accounts:s", "accounts:a"}));
  EXPECT_TRUE(may(u, {"copy", "accounts:a", "log:c"}));
  EXPECT_EQ(u.key_rules(), "%R~accounts:* %W~log:*");
  // Both permissions on one pattern, by two rules, become one read-write pattern.
  ASSERT_TRUE(u.apply("%W~accounts:*").is_ok());
  EXPECT_TRUE(may(u, {"incr", "accounts:a"}));
  EXPECT_EQ(u.key_rules(), "~accounts:* %W~log:*");
}

TEST(AclUser, AllkeysAndResetkeys) {
  User u = user_with({"on", "+@all", "~a*"});
  EXPECT_FALSE(u.unrestricted());
  ASSERT_TRUE(u.apply("~*").is_ok());
  EXPECT_TRUE(u.unrestricted());
  EXPECT_EQ(u.key_rules(), "~*");
  EXPECT_EQ(u.apply("~b*").message().rfind("Adding a pattern after the * pattern", 0), 0u);
  EXPECT_FALSE(u.apply("%R~b*").is_ok());
  ASSERT_TRUE(u.apply("resetkeys").is_ok());
  EXPECT_FALSE(may(u, {"get", "a"}));
  EXPECT_EQ(u.key_rules(), "");
  ASSERT_TRUE(u.apply("allkeys").is_ok());
  EXPECT_TRUE(may(u, {"get", "a"}));
  EXPECT_FALSE(u.apply("%X~a").is_ok());
  EXPECT_FALSE(u.apply("%R").is_ok());
}

TEST(AclUser, ResetAndOtherFlags) {
  User u = user_with({"on", ">pw", "~*", "&*", "+@all"});
  ASSERT_TRUE(u.apply("reset").is_ok());
  EXPECT_EQ(u.describe(), "user alice off sanitize-payload resetchannels -@all");
  EXPECT_FALSE(u.password_ok("pw"));
  EXPECT_EQ(u.apply("bogus").message(), "Syntax error");
  EXPECT_EQ(u.apply("").message(), "Syntax error");
  EXPECT_FALSE(u.apply("(~x +get)").is_ok());
  EXPECT_TRUE(u.apply("ON").is_ok());  // keywords are case-insensitive
  EXPECT_TRUE(u.enabled());
}

TEST(AclUser, DescribeListsEverything) {
  User u = user_with({"on", ">pw", "~prefs:*", "%R~accounts:*", "+@read", "-get"});
  EXPECT_EQ(u.describe(),
            "user alice on #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 "
            "~prefs:* %R~accounts:* resetchannels -@all +@read -get");
}

TEST(AclCheck, KeyNeedFollowsRedisKeySpecs) {
  auto need = [](std::vector<std::string_view> args, size_t i) {
    return key_need(*lookup_command(args[0]), args, i);
  };
  EXPECT_EQ(need({"get", "k"}, 1), kKeyRead);
  EXPECT_EQ(need({"incr", "k"}, 1), kKeyReadWrite);
  EXPECT_EQ(need({"set", "k", "v"}, 1), kKeyWrite);
  EXPECT_EQ(need({"set", "k", "v", "get"}, 1), kKeyReadWrite);
  EXPECT_EQ(need({"exists", "k"}, 1), 0);
  EXPECT_EQ(need({"rename", "a", "b"}, 1), kKeyReadWrite);
  EXPECT_EQ(need({"rename", "a", "b"}, 2), kKeyWrite);
  EXPECT_EQ(need({"copy", "a", "b"}, 1), kKeyRead);
  EXPECT_EQ(need({"copy", "a", "b"}, 2), kKeyWrite);
  EXPECT_EQ(need({"lmove", "a", "b", "left", "right"}, 2), kKeyWrite);
}

TEST(AclCheck, DenialTextsAreRedis) {
  User u = user_with({"on", "+get", "~a*"});
  std::vector<std::string_view> args{"set", "a", "1"};
  Verdict v = check_args(u, args);
  EXPECT_EQ(denial_text(u, v, args, false),
            "User alice has no permissions to run the 'set' command");
  args = {"get", "b"};
  v = check_args(u, args);
  EXPECT_EQ(denial_text(u, v, args, false), "No permissions to access a key");
  EXPECT_EQ(denial_text(u, v, args, true), "User alice has no permissions to access the 'b' key");
}

TEST(AclCategories, RedisListAndMembers) {
  const auto cats = categories();
  ASSERT_EQ(cats.size(), 21u);
  EXPECT_EQ(cats.front(), "keyspace");
  const auto strings = commands_in("string");
  EXPECT_NE(std::find(strings.begin(), strings.end(), "get"), strings.end());
  EXPECT_EQ(std::find(strings.begin(), strings.end(), "hget"), strings.end());
  const auto admin = commands_in("admin");
  EXPECT_NE(std::find(admin.begin(), admin.end(), "acl|setuser"), admin.end());
  EXPECT_EQ(std::find(admin.begin(), admin.end(), "acl|whoami"), admin.end());
  EXPECT_TRUE(commands_in("nosuch").empty());
}

TEST(AclTable, SetUserIsAtomic) {
  Table t;
  const std::string_view good[] = {"on", ">pw", "~k*", "+get"};
  ASSERT_TRUE(t.set_user("alice", good).is_ok());
  auto alice = t.find("alice");
  ASSERT_NE(alice, nullptr);
  const std::string before = alice->describe();
  const std::string_view bad[] = {"+set", ">secret2", "+nosuch"};
  const Status st = t.set_user("alice", bad);
  EXPECT_EQ(st.message(),
            "Error in ACL SETUSER modifier '+nosuch': Unknown command or category name in ACL");
  EXPECT_EQ(alice->describe(), before);  // nothing of the failed call applied
  // A refused password rule is not echoed.
  const std::string_view bad_pass[] = {"<notthere"};
  EXPECT_EQ(t.set_user("alice", bad_pass).message().find("notthere"), std::string::npos);
  // Changes are made in place: holders of the user see them.
  const std::string_view more[] = {"+set"};
  ASSERT_TRUE(t.set_user("alice", more).is_ok());
  EXPECT_TRUE(may(*alice, {"set", "k1", "v"}));
  EXPECT_FALSE(t.set_user("bad name", good).is_ok());
  // A refused new user is not created.
  EXPECT_FALSE(t.set_user("carol", bad).is_ok());
  EXPECT_EQ(t.find("carol"), nullptr);
}

TEST(AclTable, DelUser) {
  Table t;
  const std::string_view rules[] = {"on"};
  ASSERT_TRUE(t.set_user("bob", rules).is_ok());
  EXPECT_EQ(t.users().size(), 2u);
  EXPECT_TRUE(t.del_user("bob"));
  EXPECT_FALSE(t.del_user("bob"));
  EXPECT_EQ(t.find("bob"), nullptr);
}

TEST(AclTable, FromConfig) {
  Config c;
  c.requirepass = "topsecret";
  c.users.push_back(UserConfig{"alice", {"on", ">pw", "~prefs:*", "+@read"}, "x.toml:3"});
  c.users.push_back(UserConfig{"default", {"-@dangerous"}, "x.toml:7"});
  auto t = Table::from_config(c);
  ASSERT_TRUE(t.is_ok()) << t.status().message();
  const auto d = t->default_user();
  EXPECT_FALSE(d->nopass());
  EXPECT_TRUE(d->password_ok("topsecret"));
  EXPECT_FALSE(d->unrestricted());
  EXPECT_TRUE(t->find("alice")->password_ok("pw"));

  c.users.push_back(UserConfig{"bob", {"on", "+nosuch"}, "x.toml:11"});
  auto bad = Table::from_config(c);
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().message(),
            "x.toml:11: user \"bob\": Error in ACL SETUSER modifier '+nosuch': Unknown command or "
            "category name in ACL");
  c.users.back() = UserConfig{"bob", {"on", "<leaked"}, "x.toml:11"};
  bad = Table::from_config(c);
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().message().find("leaked"), std::string::npos);
  EXPECT_EQ(bad.status().message().find("topsecret"), std::string::npos);
}

}  // namespace
}  // namespace rkv::acl
