#include "runtime/command_info.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace rkv::resp {
namespace {

std::string run(std::vector<std::string_view> args, int proto = 2) {
  std::string out;
  Writer w(&out, proto);
  command_command(args, w);
  return out;
}

TEST(CommandInfo, InfoOfACommandHasRedisSevenShape) {
  const std::string r = run({"COMMAND", "INFO", "get"});
  EXPECT_EQ(r.rfind("*1\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n"
                    "*3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n",
                    0),
            0u)
      << r;
  // One key spec: the key at index 1, a range of one.
  EXPECT_NE(r.find("$4\r\ntype\r\n$5\r\nrange\r\n"), std::string::npos) << r;
  EXPECT_NE(r.find("+RO\r\n+access\r\n"), std::string::npos) << r;
  EXPECT_EQ(run({"COMMAND", "INFO", "nosuch"}), "*1\r\n*-1\r\n");
}

TEST(CommandInfo, SubcommandsAreListedAndNamed) {
  const std::string r = run({"COMMAND", "INFO", "config"});
  EXPECT_NE(r.find("$10\r\nconfig|get\r\n:-3\r\n"), std::string::npos) << r;
  EXPECT_NE(r.find("$16\r\nconfig|resetstat\r\n:2\r\n"), std::string::npos) << r;
  const std::string sub = run({"COMMAND", "INFO", "OBJECT|encoding"});
  EXPECT_EQ(sub.rfind("*1\r\n*10\r\n$15\r\nobject|encoding\r\n:3\r\n", 0), 0u) << sub;
  EXPECT_NE(run({"COMMAND", "DOCS", "client"}).find("subcommands"), std::string::npos);
  for (const CommandSpec& c : all_commands()) {
    for (const CommandSpec& s : subcommands(c.id)) {
      EXPECT_EQ(lookup_subcommand(s.name), &s) << s.name;
      EXPECT_EQ(s.name.substr(0, c.name.size() + 1), std::string(c.name) + "|");
    }
  }
}

TEST(CommandInfo, GetKeys) {
  EXPECT_EQ(run({"COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2"}),
            "*2\r\n$1\r\na\r\n$1\r\nb\r\n");
  EXPECT_EQ(run({"COMMAND", "GETKEYS", "sintercard", "2", "x", "y", "LIMIT", "1"}),
            "*2\r\n$1\r\nx\r\n$1\r\ny\r\n");
  EXPECT_EQ(run({"COMMAND", "GETKEYS", "OBJECT", "ENCODING", "k"}), "*1\r\n$1\r\nk\r\n");
  EXPECT_EQ(run({"COMMAND", "GETKEYS", "PING", "x"}), "-ERR The command has no key arguments\r\n");
  EXPECT_EQ(run({"COMMAND", "GETKEYS", "nosuch", "a"}), "-ERR Invalid command specified\r\n");
  EXPECT_EQ(run({"COMMAND", "GETKEYS", "GET", "a", "b"}),
            "-ERR Invalid number of arguments specified for command\r\n");
  EXPECT_EQ(run({"COMMAND", "GETKEYS", "GET"}),
            "-ERR wrong number of arguments for 'command|getkeys' command\r\n");
  EXPECT_EQ(run({"COMMAND", "GETKEYSANDFLAGS", "SET", "k", "v"}),
            "*1\r\n*2\r\n$1\r\nk\r\n*2\r\n+RW\r\n+update\r\n");
}

// Every command with key positions names its keys from its shortest valid form.
TEST(CommandInfo, EveryKeyedCommandYieldsItsKeys) {
  for (const CommandSpec& c : all_commands()) {
    if (c.first_key <= 0 && !(c.flags & kMovableKeys)) continue;
    const size_t argc = static_cast<size_t>(c.arity < 0 ? -c.arity : c.arity);
    std::vector<std::string> storage{std::string(c.name)};
    for (size_t i = 1; i < argc; ++i)
      storage.push_back(numkeys_index(c.id) == i ? "1" : "k" + std::to_string(i));
    std::vector<std::string_view> args{"COMMAND", "GETKEYS"};
    for (const std::string& s : storage)
      args.push_back(s);
    const std::string r = run(args);
    EXPECT_EQ(r[0], '*') << c.name << ": " << r;
  }
}

TEST(CommandInfo, ListFilterBy) {
  const std::string hash = run({"COMMAND", "LIST", "FILTERBY", "ACLCAT", "hash"});
  EXPECT_NE(hash.find("$4\r\nhset\r\n"), std::string::npos);
  EXPECT_EQ(hash.find("$3\r\nget\r\n"), std::string::npos);
  const std::string pat = run({"COMMAND", "LIST", "FILTERBY", "PATTERN", "client*"});
  EXPECT_NE(pat.find("client|setname"), std::string::npos) << pat;
  EXPECT_EQ(run({"COMMAND", "LIST", "FILTERBY", "MODULE", "x"}), "*0\r\n");
  EXPECT_EQ(run({"COMMAND", "LIST", "FILTERBY", "BOGUS", "x"}), "-ERR syntax error\r\n");
  EXPECT_EQ(run({"COMMAND", "NOPE"}), "-ERR unknown subcommand 'NOPE'. Try COMMAND HELP.\r\n");
}

TEST(CommandInfo, EveryCommandHasADataCategoryOrIsAServerCommand) {
  for (const CommandSpec& c : all_commands()) {
    const auto cats = acl_categories(c);
    ASSERT_GE(cats.size(), 1u) << c.name;
    const bool data = c.group != "server" && c.group != "cluster";
    if (data) {
      EXPECT_GE(cats.size(), 2u) << c.name;
    }
  }
}

}  // namespace
}  // namespace rkv::resp
