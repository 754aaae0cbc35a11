// The ACL command: users and their rules, in Redis's shapes. Changes are this node's and last
// until it restarts (no ACL SAVE / LOAD: the config file's [[user]] entries are the durable
// users). A user deleted, or turned off, loses its connections at once.
#include <fmt/format.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <vector>

#include "core/assert.h"
#include "core/text.h"
#include "node/store.h"
#include "runtime/acl.h"
#include "runtime/connection.h"
#include "runtime/server.h"
#include "runtime/session.h"

namespace rkv {

namespace {

using Args = std::span<const std::string_view>;

constexpr std::string_view kHelp[] = {
    "ACL <subcommand> [<arg> ...]. Subcommands are:",
    "CAT [<category>]",
    "    The ACL categories, or the commands of one category.",
    "DELUSER <username> [<username> ...]",
    "    Removes users; their connections are closed.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Says whether the user may run the command, without running it.",
    "GETUSER <username>",
    "    A user's flags, password hashes, command, key and channel rules.",
    "GENPASS [<bits>]",
    "    A random password of 256 bits (or <bits>), in hex.",
    "LIST",
    "    Every user's rules, one line each, as a config [[user]] would hold them.",
    "SETUSER <username> <rule> [<rule> ...]",
    "    Creates a user or changes its rules, on this node until it restarts.",
    "USERS",
    "    The user names.",
    "WHOAMI",
    "    The user this connection runs as.",
    "HELP",
    "    This text.",
};

// Closes the connections running as `name` (a user deleted or turned off); the calling
// connection closes once its reply is sent.
void end_sessions_of(Server& s, Connection& caller, std::string_view name) {
  std::vector<uint64_t> ids;
  for (const ClientInfo* ci : s.clients()) {
    if (ci->user == name) ids.push_back(ci->id);
  }
  for (uint64_t id : ids) {
    if (id == caller.info().id) {
      caller.close_after_flush();
    } else {
      s.kill_client(id);
    }
  }
  if (!ids.empty()) {
    spdlog::info("ACL: closed {} connection(s) of user {}", ids.size(), name);
  }
}

void getuser(const acl::User& u, resp::Writer& w) {
  w.map(6);
  w.bulk("flags");
  const auto flags = u.flag_names();
  w.array(flags.size());
  for (const std::string& f : flags)
    w.bulk(f);
  w.bulk("passwords");
  const auto hashes = u.password_hashes();
  w.array(hashes.size());
  for (const std::string& h : hashes)
    w.bulk(h);
  w.bulk("commands");
  w.bulk(u.command_rules());
  w.bulk("keys");
  w.bulk(u.key_rules());
  w.bulk("channels");
  w.bulk(u.channel_rules());
  w.bulk("selectors");
  w.array(0);
}

void setuser(Server& s, Connection& c, Args a, resp::Writer& w) {
  const Status st = s.acl().set_user(a[2], a.subspan(3));
  if (!st.is_ok()) return w.error("ERR " + st.message());
  // Rules are not logged: they may hold passwords.
  spdlog::info("ACL SETUSER {} by client {}", sanitize(a[2], 64), c.info().id);
  if (!s.acl().find(a[2])->enabled()) end_sessions_of(s, c, a[2]);
  w.ok();
}

void deluser(Server& s, Connection& c, Args a, resp::Writer& w) {
  for (size_t i = 2; i < a.size(); ++i) {
    if (a[i] == "default") return w.error("ERR The 'default' user cannot be removed");
  }
  int64_t n = 0;
  for (size_t i = 2; i < a.size(); ++i) {
    if (!s.acl().del_user(a[i])) continue;
    ++n;
    spdlog::info("ACL DELUSER {} by client {}", sanitize(a[i], 64), c.info().id);
    end_sessions_of(s, c, a[i]);
  }
  w.integer(n);
}

void cat(Args a, resp::Writer& w) {
  if (a.size() == 2) {
    const auto cats = acl::categories();
    w.array(cats.size());
    for (std::string_view name : cats)
      w.bulk(name);
    return;
  }
  if (a.size() > 3) return w.error("ERR wrong number of arguments for 'acl|cat' command");
  const auto cats = acl::categories();
  if (std::none_of(cats.begin(), cats.end(),
                   [&](std::string_view n) { return iequals(n, a[2]); })) {
    return w.error(fmt::format("ERR Unknown category '{}'", sanitize(a[2], 64)));
  }
  const auto names = acl::commands_in(a[2]);
  w.array(names.size());
  for (std::string_view name : names)
    w.bulk(name);
}

void dryrun(Server& s, Args a, resp::Writer& w) {
  const std::shared_ptr<acl::User> u = s.acl().find(a[2]);
  if (!u) return w.error(fmt::format("ERR User '{}' not found", sanitize(a[2], 64)));
  const Args cmd = a.subspan(3);
  const resp::CommandSpec* spec = resp::lookup_command(cmd[0]);
  if (!spec) return w.error(fmt::format("ERR Command '{}' not found", sanitize(cmd[0], 64)));
  if (!resp::arity_ok(*spec, cmd.size())) {
    return w.error(fmt::format("ERR wrong number of arguments for '{}' command", spec->name));
  }
  const acl::Verdict v = acl::check(*u, *spec, cmd);
  if (v.denied == acl::Denied::kNone) return w.ok();
  w.bulk(acl::denial_text(*u, v, cmd, /*verbose=*/true));
}

void genpass(Args a, resp::Writer& w) {
  int64_t bits = 256;
  if (a.size() > 3 || (a.size() == 3 && (!parse_int64(a[2], &bits) || bits <= 0 || bits > 4096))) {
    return w.error(
        "ERR ACL GENPASS argument must be the number of bits for the output password, a positive "
        "number up to 4096");
  }
  const size_t hex_chars = static_cast<size_t>((bits + 3) / 4);
  std::vector<unsigned char> bytes((hex_chars + 1) / 2);
  RKV_ASSERT_MSG(RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) == 1,
                 "the OS random source failed");
  std::string out = acl::to_hex(bytes);
  out.resize(hex_chars);
  w.bulk(out);
}

}  // namespace

void cmd_acl(Server& s, Connection& c, Args a, resp::Writer& w) {
  const std::string_view sub = a[1];
  const resp::CommandSpec* spec = nullptr;
  for (const resp::CommandSpec& cand : resp::subcommands(resp::CommandId::kAcl)) {
    if (iequals(cand.name.substr(4), sub)) spec = &cand;
  }
  if (!spec) {
    if (iequals(sub, "load") || iequals(sub, "save") || iequals(sub, "log")) {
      return w.error(fmt::format(
          "ERR ACL {} is not supported: users come from the config file's [[user]] entries and "
          "ACL SETUSER (this node only, until it restarts)",
          upper(sub)));
    }
    return w.error(fmt::format("ERR unknown subcommand '{}'. Try ACL HELP.", sanitize(sub, 64)));
  }
  if (!resp::arity_ok(*spec, a.size())) {
    return w.error(fmt::format("ERR wrong number of arguments for '{}' command", spec->name));
  }
  const std::string_view name = spec->name.substr(4);
  if (name == "whoami") return w.bulk(c.user().name());
  if (name == "users") {
    w.array(s.acl().users().size());
    for (const auto& [n, u] : s.acl().users())
      w.bulk(n);
    return;
  }
  if (name == "list") {
    w.array(s.acl().users().size());
    for (const auto& [n, u] : s.acl().users())
      w.bulk(u->describe());
    return;
  }
  if (name == "getuser") {
    const std::shared_ptr<acl::User> u = s.acl().find(a[2]);
    return u ? getuser(*u, w) : w.null();
  }
  if (name == "setuser") return setuser(s, c, a, w);
  if (name == "deluser") return deluser(s, c, a, w);
  if (name == "cat") return cat(a, w);
  if (name == "dryrun") return dryrun(s, a, w);
  if (name == "genpass") return genpass(a, w);
  RKV_ASSERT(name == "help");
  w.array(std::size(kHelp));
  for (std::string_view line : kHelp)
    w.simple(line);
}

}  // namespace rkv
