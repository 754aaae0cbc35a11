// COMMAND and its subcommands: what the command table (commands.h) says about every command,
// in the shapes Redis 7.0 replies with, which client libraries and cluster-aware proxies read
// (arity, flags, key positions, ACL categories, key specs, subcommands). A pure function of the
// table and the arguments.
#pragma once

#include <span>
#include <string_view>
#include <vector>

#include "resp/commands.h"
#include "resp/writer.h"

namespace rkv::resp {

// COMMAND [COUNT | LIST [FILTERBY MODULE m|ACLCAT c|PATTERN p] | INFO [name...] |
// DOCS [name...] | GETKEYS cmd arg... | GETKEYSANDFLAGS cmd arg... | HELP]. args[0] is "COMMAND".
void command_command(std::span<const std::string_view> args, Writer& w);

// The ACL categories of a command ("read", "string", "fast", ...), derived from its flags and
// group as Redis assigns them, in the order of acl_category_names().
std::vector<std::string_view> acl_categories(const CommandSpec& spec);
// Every ACL category, in Redis's order (ACL CAT).
std::span<const std::string_view> acl_category_names();

}  // namespace rkv::resp
