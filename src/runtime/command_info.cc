#include "runtime/command_info.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <string>
#include <utility>

#include "core/text.h"
#include "node/glob.h"

namespace rkv::resp {

using Args = std::span<const std::string_view>;

namespace {

constexpr std::array<std::pair<uint32_t, std::string_view>, 12> kFlagNames = {{
    {kWrite, "write"},
    {kReadonly, "readonly"},
    {kDenyOom, "denyoom"},
    {kAdmin, "admin"},
    {kNoScript, "noscript"},
    {kBlocking, "blocking"},
    {kLoading, "loading"},
    {kStale, "stale"},
    {kFast, "fast"},
    {kMovableKeys, "movablekeys"},
    {kNoAuth, "no-auth"},
    {kConnection, "connection"},  // replikv's own: acts on the connection, not on data
}};

void write_flags(uint32_t f, Writer& w) {
  size_t n = 0;
  for (const auto& [bit, name] : kFlagNames)
    n += (f & bit) ? 1 : 0;
  w.set(n);
  for (const auto& [bit, name] : kFlagNames) {
    if (f & bit) w.simple(name);
  }
}

// The flags of a command's keys, as key specs and GETKEYSANDFLAGS name them: a read-only
// command reads its keys, any other may change them.
std::array<std::string_view, 2> key_flags(const CommandSpec& c) {
  if (c.flags & kReadonly) return {"RO", "access"};
  return {"RW", "update"};
}

// Redis 7.0's key specs, derived from the key positions: the fixed range (first/last/step),
// then for a command with a numkeys argument its keys after it.
void write_key_specs(const CommandSpec& c, Writer& w) {
  const size_t at = numkeys_index(c.id);
  const size_t n = (c.first_key > 0 ? 1 : 0) + (at > 0 ? 1 : 0);
  w.array(n);
  auto spec = [&](int64_t begin, auto&& find_keys) {
    w.map(3);
    w.bulk("flags");
    const auto flags = key_flags(c);
    w.set(flags.size());
    for (std::string_view f : flags)
      w.simple(f);
    w.bulk("begin_search");
    w.map(2);
    w.bulk("type");
    w.bulk("index");
    w.bulk("spec");
    w.map(1);
    w.bulk("index");
    w.integer(begin);
    w.bulk("find_keys");
    find_keys();
  };
  if (c.first_key > 0) {
    spec(c.first_key, [&] {
      w.map(2);
      w.bulk("type");
      w.bulk("range");
      w.bulk("spec");
      w.map(3);
      w.bulk("lastkey");
      w.integer(c.last_key < 0 ? c.last_key : c.last_key - c.first_key);
      w.bulk("keystep");
      w.integer(c.step);
      w.bulk("limit");
      w.integer(0);
    });
  }
  if (at > 0) {
    spec(static_cast<int64_t>(at), [&] {
      w.map(2);
      w.bulk("type");
      w.bulk("keynum");
      w.bulk("spec");
      w.map(3);
      w.bulk("keynumidx");
      w.integer(0);
      w.bulk("firstkey");
      w.integer(1);
      w.bulk("keystep");
      w.integer(1);
    });
  }
}

void write_command_info(const CommandSpec& c, Writer& w) {
  w.array(10);
  w.bulk(c.name);
  w.integer(c.arity);
  write_flags(c.flags, w);
  w.integer(c.first_key);
  w.integer(c.last_key);
  w.integer(c.step);
  const auto cats = acl_categories(c);
  w.set(cats.size());
  for (std::string_view cat : cats)
    w.simple(fmt::format("@{}", cat));
  w.set(0);  // tips
  write_key_specs(c, w);
  const auto subs = subcommands(c.id);
  if (c.name.find('|') != std::string_view::npos) return w.array(0);
  w.array(subs.size());
  for (const CommandSpec& sub : subs)
    write_command_info(sub, w);
}

void write_command_docs(const CommandSpec& c, Writer& w) {
  w.bulk(c.name);
  const auto subs = c.name.find('|') == std::string_view::npos ? subcommands(c.id)
                                                               : std::span<const CommandSpec>{};
  w.map(subs.empty() ? 3 : 4);
  w.bulk("summary");
  w.bulk(c.summary);
  w.bulk("since");
  w.bulk(c.since);
  w.bulk("group");
  w.bulk(c.group);
  if (subs.empty()) return;
  w.bulk("subcommands");
  w.map(subs.size());
  for (const CommandSpec& sub : subs)
    write_command_docs(sub, w);
}

// A command named by COMMAND INFO/DOCS: "get", or a subcommand "config|get".
const CommandSpec* named(std::string_view name) {
  return name.find('|') == std::string_view::npos ? lookup_command(name) : lookup_subcommand(name);
}

// COMMAND LIST FILTERBY ...: whether a command passes the filter.
bool passes(const CommandSpec& c, std::string_view kind, std::string_view arg) {
  if (iequals(kind, "module")) return false;  // replikv has no modules
  if (iequals(kind, "pattern")) return glob_match(arg, c.name);
  // aclcat
  for (std::string_view cat : acl_categories(c)) {
    if (iequals(cat, arg)) return true;
  }
  return false;
}

// COMMAND GETKEYS / GETKEYSANDFLAGS cmd arg...: the keys a command would touch.
void getkeys(Args a, bool with_flags, Writer& w) {
  const Args cmd = a.subspan(2);
  const CommandSpec* c = lookup_command(cmd[0]);
  if (c && !subcommands(c->id).empty()) {
    // A container command: its subcommand says where the keys are.
    c = cmd.size() >= 2 ? lookup_subcommand(fmt::format("{}|{}", c->name, cmd[1])) : nullptr;
  }
  if (!c) return w.error("ERR Invalid command specified");
  if (!arity_ok(*c, cmd.size())) {
    return w.error("ERR Invalid number of arguments specified for command");
  }
  if (c->flags & kMovableKeys) {
    size_t first = 0, count = 0;
    movable_keys(*c, cmd, &first, &count);
    if (count == 0) return w.error("ERR Invalid arguments specified for command");
  }
  std::vector<size_t> keys;
  for_each_key(*c, cmd, [&](size_t i) { keys.push_back(i); });
  if (keys.empty()) return w.error("ERR The command has no key arguments");
  w.array(keys.size());
  for (size_t i : keys) {
    if (!with_flags) {
      w.bulk(cmd[i]);
      continue;
    }
    w.array(2);
    w.bulk(cmd[i]);
    const auto flags = key_flags(*c);
    w.set(flags.size());
    for (std::string_view f : flags)
      w.simple(f);
  }
}

constexpr std::string_view kHelp[] = {
    "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "(no subcommand)",
    "    Return details about all commands.",
    "COUNT",
    "    Return the total number of commands in this server.",
    "LIST [FILTERBY (MODULE <module-name>|ACLCAT <category>|PATTERN <pattern>)]",
    "    Return a list of all commands in this server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>",
    "    Return the keys from a full command.",
    "GETKEYSANDFLAGS <full-command>",
    "    Return the keys and the access flags from a full command.",
    "HELP",
    "    Print this help.",
};

}  // namespace

std::span<const std::string_view> acl_category_names() {
  static constexpr std::string_view kNames[] = {
      "keyspace", "read",   "write",       "set",       "sortedset",  "list",        "hash",
      "string",   "bitmap", "hyperloglog", "geo",       "stream",     "pubsub",      "admin",
      "fast",     "slow",   "blocking",    "dangerous", "connection", "transaction", "scripting",
  };
  return kNames;
}

std::vector<std::string_view> acl_categories(const CommandSpec& c) {
  const auto names = acl_category_names();
  std::vector<bool> in(names.size());
  auto set = [&](std::string_view cat, bool on = true) {
    const auto it = std::find(names.begin(), names.end(), cat);
    in[static_cast<size_t>(it - names.begin())] = on;
  };
  static constexpr std::pair<std::string_view, std::string_view> kGroups[] = {
      {"generic", "keyspace"},
      {"set", "set"},
      {"sorted-set", "sortedset"},
      {"list", "list"},
      {"hash", "hash"},
      {"string", "string"},
      {"bitmap", "bitmap"},
      {"pubsub", "pubsub"},
      {"connection", "connection"},
      {"transactions", "transaction"},
  };
  for (const auto& [group, cat] : kGroups) {
    if (c.group == group) set(cat);
  }
  if (c.flags & kReadonly) set("read");
  if (c.flags & kWrite) set("write");
  if (c.flags & kAdmin) {
    set("admin");
    set("dangerous");
  }
  set((c.flags & kFast) ? "fast" : "slow");
  if (c.flags & kBlocking) set("blocking");
  // Redis's own choices that neither the flags nor the group say.
  const std::string_view base = c.name.substr(0, c.name.find('|'));
  if (base == "command" || base == "wait") {
    set("connection");
    set("keyspace", false);
  }
  if (base == "info" || base == "keys") set("dangerous");
  if (base == "dbsize") set("keyspace");
  if (base == "flushall" || base == "flushdb") {
    set("keyspace");
    set("dangerous");
  }
  if (base == "role" || base == "lastsave") {
    set("admin");
    set("dangerous");
  }
  // Listed in Redis's order of categories (the order it lists them in).
  std::vector<std::string_view> out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (in[i]) out.push_back(names[i]);
  }
  return out;
}

void command_command(Args a, Writer& w) {
  const auto all = all_commands();
  // COMMAND and COMMAND INFO without names: every command.
  const auto info_of_all = [&] {
    w.array(all.size());
    for (const auto& c : all)
      write_command_info(c, w);
  };
  if (a.size() == 1) return info_of_all();
  const std::string_view sub = a[1];
  const auto wrong_args = [&] {
    std::string name = sanitize(sub, 64);
    for (char& ch : name)
      ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    w.error(fmt::format("ERR wrong number of arguments for 'command|{}' command", name));
  };
  if (iequals(sub, "count")) {
    if (a.size() != 2) return wrong_args();
    return w.integer(static_cast<int64_t>(all.size()));
  }
  if (iequals(sub, "help")) {
    if (a.size() != 2) return wrong_args();
    w.array(std::size(kHelp));
    for (std::string_view line : kHelp)
      w.simple(line);
    return;
  }
  if (iequals(sub, "list")) {
    if (a.size() == 2) {
      w.array(all.size());
      for (const auto& c : all)
        w.bulk(c.name);
      return;
    }
    const bool known =
        a.size() == 5 && iequals(a[2], "filterby") &&
        (iequals(a[3], "module") || iequals(a[3], "aclcat") || iequals(a[3], "pattern"));
    if (!known) return w.error("ERR syntax error");
    std::vector<std::string_view> names;
    for (const auto& c : all) {
      if (passes(c, a[3], a[4])) names.push_back(c.name);
      // A pattern is matched against subcommands too, as Redis does.
      if (!iequals(a[3], "pattern")) continue;
      for (const CommandSpec& s : subcommands(c.id)) {
        if (passes(s, a[3], a[4])) names.push_back(s.name);
      }
    }
    w.array(names.size());
    for (std::string_view n : names)
      w.bulk(n);
    return;
  }
  if (iequals(sub, "info")) {
    if (a.size() == 2) return info_of_all();
    w.array(a.size() - 2);
    for (size_t i = 2; i < a.size(); ++i) {
      if (const CommandSpec* c = named(a[i])) {
        write_command_info(*c, w);
      } else {
        w.null_array();
      }
    }
    return;
  }
  if (iequals(sub, "docs")) {
    if (a.size() == 2) {
      w.map(all.size());
      for (const auto& c : all)
        write_command_docs(c, w);
      return;
    }
    std::vector<const CommandSpec*> found;
    for (size_t i = 2; i < a.size(); ++i) {
      if (const CommandSpec* c = named(a[i])) found.push_back(c);
    }
    w.map(found.size());
    for (const CommandSpec* c : found)
      write_command_docs(*c, w);
    return;
  }
  if (iequals(sub, "getkeys") || iequals(sub, "getkeysandflags")) {
    if (a.size() < 4) return wrong_args();
    return getkeys(a, iequals(sub, "getkeysandflags"), w);
  }
  w.error(fmt::format("ERR unknown subcommand '{}'. Try COMMAND HELP.", sanitize(sub, 64)));
}

}  // namespace rkv::resp
