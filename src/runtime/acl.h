// ACL users: named users with hashed passwords and permissions on commands and keys, written in
// Redis's rule language (ACL SETUSER arguments, one ACL-file line). Pure: no sockets, clocks,
// randomness or disk; the runtime owns one Table per node and asks check() before running a
// command (Connection::dispatch). Loop thread only.
//
// What a rule means (Redis 7's, see docs/configuration.md):
//   on | off                      the user may (not) authenticate
//   >pw  <pw  #sha256  !sha256    add / remove a password, by clear text or by its SHA-256 (hex)
//   nopass | resetpass            any password works | no password works (and nopass is cleared)
//   ~glob  %R~glob  %W~glob       keys matching glob: read and write | read only | write only
//   allkeys (~*) | resetkeys      every key | no key
//   +cmd  -cmd  +cmd|sub  +@cat  -@cat  allcommands (+@all)  nocommands (-@all)
//   &glob  allchannels  resetchannels   accepted and shown, without effect (no pub/sub here)
//   reset                         resetpass resetkeys resetchannels off -@all
// Only password hashes are kept: a clear-text password never outlives the rule that named it.
//
// Cost on the request path: User::unrestricted() (every command on every key, as the default
// user) is one load and one branch; check() is for the others.
#pragma once

#include <array>
#include <bitset>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/status.h"
#include "resp/commands.h"

namespace rkv::acl {

// Top-level commands and subcommands, each with its own permission bit.
inline constexpr size_t kMaxCommands = 512;
inline constexpr size_t kMaxPasswordLen = 4096;
inline constexpr size_t kMaxUserNameLen = 256;
inline constexpr size_t kMaxRulesPerUser = 4096;  // patterns, passwords and command rules each

using PasswordHash = std::array<unsigned char, 32>;  // SHA-256

PasswordHash hash_password(std::string_view password);
// Lower-case hex of bytes (a password hash, random bytes).
std::string to_hex(std::span<const unsigned char> bytes);

// Key permissions of a pattern, and what a command needs on one of its keys.
enum KeyPerm : uint8_t { kKeyRead = 1, kKeyWrite = 2, kKeyReadWrite = 3 };

struct KeyPattern {
  uint8_t perms = kKeyReadWrite;
  std::string glob;
};

class User {
 public:
  // A new user as Redis creates one: off, no password, no keys, no channels, no commands.
  explicit User(std::string name);

  const std::string& name() const { return name_; }
  bool enabled() const { return enabled_; }
  bool nopass() const { return nopass_; }
  // Every command on every key: nothing to check per command.
  bool unrestricted() const { return all_commands_ && all_keys_; }

  // Applies one rule. On error (Redis's text, without the "ERR Error in ..." frame) the user
  // may be partly changed: Table::set_user applies rules to a copy.
  Status apply(std::string_view rule);
  // True when `password` is one of the user's, or the user is nopass. Time does not depend on
  // how much of a hash matched.
  bool password_ok(std::string_view password) const;

  // ACL LIST's line: "user alice on #<sha256> ~prefs:* resetchannels -@all +@read".
  std::string describe() const;
  // ACL GETUSER's fields.
  std::vector<std::string> flag_names() const;       // "on"/"off", "nopass", "sanitize-payload"...
  std::vector<std::string> password_hashes() const;  // hex
  std::string command_rules() const;                 // "+@all", "-@all +@read -get"
  std::string key_rules() const;                     // "~*", "~prefs:* %R~accounts:*", ""
  std::string channel_rules() const;                 // "&*", "" (resetchannels)

  bool command_allowed(size_t index) const { return all_commands_ || allowed_[index]; }
  bool key_allowed(std::string_view key, uint8_t need) const;

 private:
  Status apply_password_rule(std::string_view rule);
  Status apply_command_rule(std::string_view rule);
  Status add_key_pattern(std::string_view rule);
  void set_commands(bool all);
  void set_bits(size_t index, bool on);
  void note_command_rule(std::string rule);

  std::string name_;
  bool enabled_ = false;
  bool nopass_ = false;
  int sanitize_payload_ = 0;  // 0: never said, 1: sanitize-payload, -1: skip-sanitize-payload
  std::vector<PasswordHash> passwords_;
  bool all_keys_ = false;
  std::vector<KeyPattern> keys_;
  bool all_channels_ = false;
  std::vector<std::string> channels_;
  bool all_commands_ = false;  // every bit of allowed_ set
  std::bitset<kMaxCommands> allowed_;
  bool base_all_commands_ = false;          // the last "+@all" / "-@all" (or its synonym)
  std::vector<std::string> command_rules_;  // applied after that base, in order
};

enum class Denied : uint8_t { kNone, kCommand, kKey };

struct Verdict {
  Denied denied = Denied::kNone;
  std::string_view command;  // the name checked: "get", "config|get"
  size_t key_arg = 0;        // kKey: the argument index of the key refused
};

// Whether `user` may run the command `spec` (looked up from args[0]) with `args`. Commands
// allowed before authentication (AUTH, HELLO, QUIT, RESET) are always allowed. For a command
// with subcommands the subcommand named by args[1] is checked, else the command itself.
Verdict check(const User& user, const resp::CommandSpec& spec,
              std::span<const std::string_view> args);

// Redis's NOPERM texts (without the "NOPERM " prefix): "User alice has no permissions to run
// the 'set' command", "No permissions to access a key" (verbose, as ACL DRYRUN says it: "User
// alice has no permissions to access the 'k' key").
std::string denial_text(const User& user, const Verdict& v, std::span<const std::string_view> args,
                        bool verbose);

// What a command needs on its key at args[i]: kKeyRead, kKeyWrite, both, or 0 (the command looks
// only at whether the key exists or its size, as Redis's key specs without "access": any
// pattern of the user that matches the key will do).
uint8_t key_need(const resp::CommandSpec& spec, std::span<const std::string_view> args, size_t i);

// The categories, in Redis's order (ACL CAT), and the commands in one ("get", "config|get").
std::span<const std::string_view> categories();
// Empty when the category is unknown (the caller tells an unknown category from an empty one
// with categories()).
std::vector<std::string_view> commands_in(std::string_view category);

// "Usernames can't contain spaces or null characters" (and no control characters here).
bool valid_user_name(std::string_view name);

class Table {
 public:
  // Holds `default`: on, nopass, every key, channel and command.
  Table();
  // The table a node starts with: `requirepass` sets the default user's password, then every
  // [[user]] of the config applies its rules (a [[user]] named "default" changes that user).
  // Errors name the entry: "bad.toml:7: user \"alice\": rule '+nosuch': Unknown command ...".
  static Result<Table> from_config(const Config& config);

  // nullptr when there is no such user. Connections hold the pointer: a user changed by
  // set_user is changed in place.
  std::shared_ptr<User> find(std::string_view name) const;
  const std::shared_ptr<User>& default_user() const { return default_; }
  // Creates or changes a user. Either every rule applies or none does; the error says which
  // rule failed, in Redis's words ("Error in ACL SETUSER modifier '+x': Unknown command or
  // category name in ACL"). A password in a failed rule is not repeated.
  Status set_user(std::string_view name, std::span<const std::string_view> rules);
  // Removes a user; false when there is none. The caller refuses to remove `default`.
  bool del_user(std::string_view name);
  const std::map<std::string, std::shared_ptr<User>, std::less<>>& users() const { return users_; }

 private:
  std::map<std::string, std::shared_ptr<User>, std::less<>> users_;  // by name, sorted
  std::shared_ptr<User> default_;
};

}  // namespace rkv::acl
