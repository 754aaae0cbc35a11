#include "runtime/acl.h"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>

#include "core/assert.h"
#include "core/text.h"
#include "node/glob.h"
#include "runtime/command_info.h"

namespace rkv::acl {

using resp::CommandId;
using resp::CommandSpec;
using Args = std::span<const std::string_view>;

namespace {

int category_index(std::string_view name) {
  const auto names = resp::acl_category_names();
  for (size_t i = 0; i < names.size(); ++i) {
    if (iequals(names[i], name)) return static_cast<int>(i);
  }
  return -1;
}

// Every command and subcommand with its permission bit and categories. Top-level commands take
// bits [0, kCount_) by CommandId; each parent's subcommands follow, from sub_base[parent] on.
struct Catalog {
  std::vector<const CommandSpec*> specs;
  std::vector<uint32_t> categories;  // by bit: 1 << category_index
  std::array<uint16_t, static_cast<size_t>(CommandId::kCount_)> sub_base{};
  std::array<bool, static_cast<size_t>(CommandId::kCount_)> has_subs{};

  Catalog() {
    for (const CommandSpec& c : resp::all_commands())
      add(c);
    for (const CommandSpec& c : resp::all_commands()) {
      sub_base[static_cast<size_t>(c.id)] = static_cast<uint16_t>(specs.size());
      has_subs[static_cast<size_t>(c.id)] = !resp::subcommands(c.id).empty();
      for (const CommandSpec& s : resp::subcommands(c.id))
        add(s);
    }
    RKV_ASSERT_MSG(specs.size() <= kMaxCommands, "raise acl::kMaxCommands");
    RKV_ASSERT_MSG(resp::acl_category_names().size() <= 32, "category bits are a uint32_t");
  }
  void add(const CommandSpec& c) {
    uint32_t bits = 0;
    for (std::string_view cat : resp::acl_categories(c)) {
      const int i = category_index(cat);
      RKV_ASSERT_MSG(i >= 0, "a command's category is not an ACL category");
      bits |= 1u << i;
    }
    specs.push_back(&c);
    categories.push_back(bits);
  }
  size_t size() const { return specs.size(); }
  size_t index_of_sub(const CommandSpec& sub) const {
    const auto subs = resp::subcommands(sub.id);
    return sub_base[static_cast<size_t>(sub.id)] + static_cast<size_t>(&sub - subs.data());
  }
  // The spec a rule names: "get" or "config|get"; nullptr when unknown.
  const CommandSpec* named(std::string_view name, size_t* index) const {
    if (name.find('|') == std::string_view::npos) {
      const CommandSpec* c = resp::lookup_command(name);
      if (c) *index = static_cast<size_t>(c->id);
      return c;
    }
    const CommandSpec* s = resp::lookup_subcommand(name);
    if (s) *index = index_of_sub(*s);
    return s;
  }
};

const Catalog& catalog() {
  static const Catalog c;
  return c;
}

bool is_lower_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool parse_hex_hash(std::string_view hex, PasswordHash* out) {
  if (hex.size() != 64 || !is_lower_hex(hex)) return false;
  auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  for (size_t i = 0; i < out->size(); ++i)
    (*out)[i] = static_cast<unsigned char>(nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]));
  return true;
}

bool has_space(std::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return c == ' ' || c == '\0' || c == '\r' || c == '\n'; });
}

constexpr std::string_view kHashError =
    "The password hash must be exactly 64 characters and contain only lowercase hexadecimal "
    "characters";
constexpr std::string_view kNoSuchPassword =
    "The password you are trying to remove from the user does not exist";
constexpr std::string_view kAfterAllKeys =
    "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have "
    "any effect. Try 'resetkeys' to start with an empty list of patterns";
constexpr std::string_view kAfterAllChannels =
    "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not "
    "have any effect. Try 'resetchannels' to start with an empty list of channels";
constexpr std::string_view kUnknownCommand = "Unknown command or category name in ACL";
constexpr std::string_view kSyntax = "Syntax error";

Status rule_error(std::string_view what) {
  return Status::invalid_argument(std::string(what));
}

// How a rule is echoed in an error: a clear-text password is not.
std::string shown_rule(std::string_view rule) {
  if (!rule.empty() && (rule[0] == '>' || rule[0] == '<')) return std::string(1, rule[0]) + "***";
  return sanitize(rule, 128);
}

}  // namespace

PasswordHash hash_password(std::string_view password) {
  PasswordHash h{};
  unsigned int n = 0;
  const int ok = EVP_Digest(password.data(), password.size(), h.data(), &n, EVP_sha256(), nullptr);
  RKV_ASSERT_MSG(ok == 1 && n == h.size(), "SHA-256 failed");
  return h;
}

std::string to_hex(std::span<const unsigned char> bytes) {
  return rkv::to_hex(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

bool valid_user_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxUserNameLen) return false;
  return std::none_of(name.begin(), name.end(),
                      [](char c) { return static_cast<unsigned char>(c) <= ' ' || c == 127; });
}

// --- User ---------------------------------------------------------------------------------

User::User(std::string name) : name_(std::move(name)) {}

void User::set_bits(size_t index, bool on) {
  allowed_[index] = on;
  // A parent's rule covers its subcommands.
  const Catalog& cat = catalog();
  if (index < static_cast<size_t>(CommandId::kCount_)) {
    const auto subs = resp::subcommands(static_cast<CommandId>(index));
    for (size_t k = 0; k < subs.size(); ++k)
      allowed_[cat.sub_base[index] + k] = on;
  }
}

void User::set_commands(bool all) {
  allowed_.reset();
  if (all) {
    for (size_t i = 0; i < catalog().size(); ++i)
      allowed_[i] = true;
  }
  command_rules_.clear();
  base_all_commands_ = all;
  all_commands_ = all;
}

void User::note_command_rule(std::string rule) {
  // A later rule about the same command replaces an earlier one (categories accumulate).
  if (rule[1] != '@') {
    std::erase_if(command_rules_, [&](const std::string& r) {
      return r[1] != '@' && std::string_view(r).substr(1) == std::string_view(rule).substr(1);
    });
  }
  command_rules_.push_back(std::move(rule));
}

Status User::apply_command_rule(std::string_view rule) {
  const bool allow = rule[0] == '+';
  std::string name(rule.substr(1));
  for (char& c : name)
    c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  if (name == "@all") {
    set_commands(allow);
  } else if (name.size() > 1 && name[0] == '@') {
    const int ci = category_index(std::string_view(name).substr(1));
    if (ci < 0) return rule_error(kUnknownCommand);
    const Catalog& cat = catalog();
    for (size_t i = 0; i < cat.size(); ++i) {
      if (cat.categories[i] & (1u << ci)) allowed_[i] = allow;
    }
    if (command_rules_.size() >= kMaxRulesPerUser) return rule_error("Too many command rules");
    note_command_rule(std::string(1, rule[0]) + name);
  } else {
    size_t index = 0;
    if (!catalog().named(name, &index)) return rule_error(kUnknownCommand);
    set_bits(index, allow);
    if (command_rules_.size() >= kMaxRulesPerUser) return rule_error("Too many command rules");
    note_command_rule(std::string(1, rule[0]) + name);
  }
  all_commands_ = allowed_.count() == catalog().size();
  return Status::ok();
}

Status User::add_key_pattern(std::string_view rule) {
  if (all_keys_) return rule_error(kAfterAllKeys);
  uint8_t perms = kKeyReadWrite;
  size_t at = 1;
  if (rule[0] == '%') {
    perms = 0;
    for (; at < rule.size() && rule[at] != '~'; ++at) {
      const char c = static_cast<char>(rule[at] & ~0x20);  // upper case
      if (c == 'R') {
        perms |= kKeyRead;
      } else if (c == 'W') {
        perms |= kKeyWrite;
      } else {
        return rule_error(kSyntax);
      }
    }
    if (perms == 0 || at == rule.size()) return rule_error(kSyntax);
    ++at;  // past '~'
  }
  const std::string_view glob = rule.substr(at);
  if (has_space(glob)) return rule_error(kSyntax);
  if (glob == "*" && perms == kKeyReadWrite) {
    all_keys_ = true;
    keys_.clear();
    return Status::ok();
  }
  for (KeyPattern& p : keys_) {
    if (p.glob == glob) {
      p.perms |= perms;
      return Status::ok();
    }
  }
  if (keys_.size() >= kMaxRulesPerUser) return rule_error("Too many key patterns");
  keys_.push_back(KeyPattern{perms, std::string(glob)});
  return Status::ok();
}

Status User::apply_password_rule(std::string_view rule) {
  // >clear-text and <clear-text, or #sha256 and !sha256 in hex.
  const char op = rule[0];
  PasswordHash h;
  if (op == '>' || op == '<') {
    if (rule.size() - 1 > kMaxPasswordLen) return rule_error("The password is too long");
    h = hash_password(rule.substr(1));
  } else if (!parse_hex_hash(rule.substr(1), &h)) {
    return rule_error(kHashError);
  }
  const auto it = std::find(passwords_.begin(), passwords_.end(), h);
  if (op == '<' || op == '!') {
    if (it == passwords_.end()) return rule_error(kNoSuchPassword);
    passwords_.erase(it);
    return Status::ok();
  }
  if (it == passwords_.end()) {
    if (passwords_.size() >= kMaxRulesPerUser) return rule_error("Too many passwords");
    passwords_.push_back(h);
  }
  nopass_ = false;
  return Status::ok();
}

Status User::apply(std::string_view rule) {
  if (rule.empty()) return rule_error(kSyntax);
  auto is = [&](std::string_view word) { return iequals(rule, word); };
  const char op = rule[0];
  if (is("on")) {
    enabled_ = true;
  } else if (is("off")) {
    enabled_ = false;
  } else if (is("nopass")) {
    nopass_ = true;
    passwords_.clear();
  } else if (is("resetpass")) {
    nopass_ = false;
    passwords_.clear();
  } else if (op == '>' || op == '#' || op == '<' || op == '!') {
    RKV_RETURN_IF_ERROR(apply_password_rule(rule));
  } else if (is("allkeys")) {
    all_keys_ = true;
    keys_.clear();
  } else if (is("resetkeys")) {
    all_keys_ = false;
    keys_.clear();
  } else if (op == '~' || op == '%') {
    RKV_RETURN_IF_ERROR(add_key_pattern(rule));
  } else if (is("allchannels") || rule == "&*") {
    all_channels_ = true;
    channels_.clear();
  } else if (is("resetchannels")) {
    all_channels_ = false;
    channels_.clear();
  } else if (op == '&') {
    if (all_channels_) return rule_error(kAfterAllChannels);
    if (has_space(rule.substr(1))) return rule_error(kSyntax);
    if (channels_.size() >= kMaxRulesPerUser) return rule_error("Too many channel patterns");
    channels_.emplace_back(rule.substr(1));
  } else if (is("allcommands")) {
    set_commands(true);
  } else if (is("nocommands")) {
    set_commands(false);
  } else if ((op == '+' || op == '-') && rule.size() > 1) {
    RKV_RETURN_IF_ERROR(apply_command_rule(rule));
  } else if (is("sanitize-payload")) {
    sanitize_payload_ = 1;
  } else if (is("skip-sanitize-payload")) {
    sanitize_payload_ = -1;
  } else if (is("clearselectors")) {
    // No selectors exist here: nothing to clear.
  } else if (is("reset")) {
    for (std::string_view r : {"resetpass", "resetkeys", "resetchannels", "off", "-@all"})
      RKV_RETURN_IF_ERROR(apply(r));
    sanitize_payload_ = 1;
  } else if (op == '(') {
    return rule_error("Selectors are not supported");
  } else {
    return rule_error(kSyntax);
  }
  return Status::ok();
}

bool User::password_ok(std::string_view password) const {
  if (nopass_) return true;
  const PasswordHash h = hash_password(password);
  bool ok = false;
  for (const PasswordHash& p : passwords_)
    ok |= CRYPTO_memcmp(p.data(), h.data(), h.size()) == 0;
  return ok;
}

bool User::key_allowed(std::string_view key, uint8_t need) const {
  if (all_keys_) return true;
  for (const KeyPattern& p : keys_) {
    if ((p.perms & need) == need && glob_match(p.glob, key)) return true;
  }
  return false;
}

std::vector<std::string> User::flag_names() const {
  std::vector<std::string> out{enabled_ ? "on" : "off"};
  if (nopass_) out.emplace_back("nopass");
  if (sanitize_payload_ > 0) out.emplace_back("sanitize-payload");
  if (sanitize_payload_ < 0) out.emplace_back("skip-sanitize-payload");
  return out;
}

std::vector<std::string> User::password_hashes() const {
  std::vector<std::string> out;
  for (const PasswordHash& p : passwords_)
    out.push_back(to_hex(p));
  return out;
}

std::string User::command_rules() const {
  std::string out = base_all_commands_ ? "+@all" : "-@all";
  for (const std::string& r : command_rules_)
    out += " " + r;
  return out;
}

std::string User::key_rules() const {
  if (all_keys_) return "~*";
  std::string out;
  for (const KeyPattern& p : keys_) {
    if (!out.empty()) out += ' ';
    out += p.perms == kKeyRead ? "%R~" : p.perms == kKeyWrite ? "%W~" : "~";
    out += p.glob;
  }
  return out;
}

std::string User::channel_rules() const {
  if (all_channels_) return "&*";
  std::string out;
  for (const std::string& c : channels_) {
    if (!out.empty()) out += ' ';
    out += "&" + c;
  }
  return out;
}

std::string User::describe() const {
  std::string out = "user " + name_;
  for (const std::string& f : flag_names())
    out += " " + f;
  for (const PasswordHash& p : passwords_)
    out += " #" + to_hex(p);
  if (const std::string k = key_rules(); !k.empty()) out += " " + k;
  out += all_channels_ ? " &*" : " resetchannels";
  if (!all_channels_ && !channels_.empty()) out += " " + channel_rules();
  out += " " + command_rules();
  return out;
}

// --- Checking a command -------------------------------------------------------------------

uint8_t key_need(const CommandSpec& c, Args a, size_t i) {
  switch (c.id) {
    // Existence, type, sizes: Redis's key specs give no "access" (no value is read).
    case CommandId::kExists:
    case CommandId::kStrlen:
    case CommandId::kType:
    case CommandId::kTouch:
    case CommandId::kHexists:
    case CommandId::kHlen:
    case CommandId::kHstrlen:
    case CommandId::kSismember:
    case CommandId::kScard:
    case CommandId::kZcard:
    case CommandId::kLlen:
    case CommandId::kWatch:
      return 0;
    // Writes that answer nothing read from the value (counts, OK): write permission alone.
    case CommandId::kSetnx:
    case CommandId::kMset:
    case CommandId::kMsetnx:
    case CommandId::kSetex:
    case CommandId::kPsetex:
    case CommandId::kDel:
    case CommandId::kUnlink:
    case CommandId::kAppend:
    case CommandId::kSetrange:
    case CommandId::kExpire:
    case CommandId::kPexpire:
    case CommandId::kExpireat:
    case CommandId::kPexpireat:
    case CommandId::kPersist:
    case CommandId::kHset:
    case CommandId::kHsetnx:
    case CommandId::kHmset:
    case CommandId::kHdel:
    case CommandId::kSadd:
    case CommandId::kSrem:
    case CommandId::kZadd:
    case CommandId::kZrem:
    case CommandId::kZremrangebyrank:
    case CommandId::kZremrangebyscore:
    case CommandId::kZremrangebylex:
    case CommandId::kLpush:
    case CommandId::kRpush:
    case CommandId::kLpushx:
    case CommandId::kRpushx:
    case CommandId::kLset:
    case CommandId::kLinsert:
    case CommandId::kLrem:
    case CommandId::kLtrim:
      return kKeyWrite;
    case CommandId::kSet:  // SET ... GET also reads the old value
      for (size_t k = 3; k < a.size(); ++k) {
        if (iequals(a[k], "get")) return kKeyReadWrite;
      }
      return kKeyWrite;
    // A destination written from sources read.
    case CommandId::kSinterstore:
    case CommandId::kSunionstore:
    case CommandId::kSdiffstore:
    case CommandId::kZrangestore:
    case CommandId::kZunionstore:
    case CommandId::kZinterstore:
    case CommandId::kZdiffstore:
      return i == 1 ? kKeyWrite : kKeyRead;
    case CommandId::kCopy:  // COPY source destination
      return i == 1 ? kKeyRead : kKeyWrite;
    // A source read and emptied, a destination written.
    case CommandId::kRename:
    case CommandId::kRenamenx:
    case CommandId::kSmove:
    case CommandId::kLmove:
    case CommandId::kRpoplpush:
    case CommandId::kBlmove:
    case CommandId::kBrpoplpush:
      return i == 1 ? kKeyReadWrite : kKeyWrite;
    default:
      if (c.flags & resp::kWrite) return kKeyReadWrite;
      return kKeyRead;
  }
}

Verdict check(const User& u, const CommandSpec& spec, Args args) {
  if (spec.flags & resp::kNoAuth) return {};
  const CommandSpec* c = &spec;
  size_t index = static_cast<size_t>(spec.id);
  if (args.size() >= 2 && catalog().has_subs[index]) {
    const auto subs = resp::subcommands(spec.id);
    for (size_t k = 0; k < subs.size(); ++k) {
      const std::string_view sub = subs[k].name.substr(spec.name.size() + 1);
      if (iequals(sub, args[1])) {
        c = &subs[k];
        index = catalog().sub_base[static_cast<size_t>(spec.id)] + k;
        break;
      }
    }
  }
  if (!u.command_allowed(index)) return Verdict{Denied::kCommand, c->name, 0};
  Verdict v{Denied::kNone, c->name, 0};
  if (u.unrestricted()) return v;
  resp::for_each_key(*c, args, [&](size_t i) {
    if (v.denied == Denied::kNone && !u.key_allowed(args[i], key_need(*c, args, i))) {
      v.denied = Denied::kKey;
      v.key_arg = i;
    }
  });
  return v;
}

std::string denial_text(const User& u, const Verdict& v, Args args, bool verbose) {
  if (v.denied == Denied::kCommand) {
    return fmt::format("User {} has no permissions to run the '{}' command", u.name(), v.command);
  }
  if (!verbose) return "No permissions to access a key";
  return fmt::format("User {} has no permissions to access the '{}' key", u.name(),
                     sanitize(args[v.key_arg], 128));
}

std::span<const std::string_view> categories() {
  return resp::acl_category_names();
}

std::vector<std::string_view> commands_in(std::string_view category) {
  std::vector<std::string_view> out;
  const int ci = category_index(category);
  if (ci < 0) return out;
  const Catalog& cat = catalog();
  for (size_t i = 0; i < cat.size(); ++i) {
    if (cat.categories[i] & (1u << ci)) out.push_back(cat.specs[i]->name);
  }
  return out;
}

// --- Table --------------------------------------------------------------------------------

Table::Table() {
  default_ = std::make_shared<User>("default");
  for (std::string_view r : {"on", "nopass", "allkeys", "allchannels", "allcommands"}) {
    const Status st = default_->apply(r);
    RKV_ASSERT(st.is_ok());
  }
  users_.emplace("default", default_);
}

Result<Table> Table::from_config(const Config& config) {
  Table t;
  if (!config.requirepass.empty()) {
    const std::string pass = ">" + config.requirepass;
    const std::string_view rules[] = {"resetpass", pass};
    RKV_RETURN_IF_ERROR(t.set_user("default", rules));
  }
  for (const UserConfig& u : config.users) {
    if (!valid_user_name(u.name)) {
      return Status::invalid_argument(
          fmt::format("{}: user \"{}\": a user name has no spaces or control characters", u.where,
                      sanitize(u.name, 128)));
    }
    std::vector<std::string_view> rules(u.rules.begin(), u.rules.end());
    // A new user starts as Redis's does (off, no permissions): its rules say what it may do.
    if (Status st = t.set_user(u.name, rules); !st.is_ok()) {
      return Status::invalid_argument(
          fmt::format("{}: user \"{}\": {}", u.where, u.name, st.message()));
    }
  }
  return t;
}

std::shared_ptr<User> Table::find(std::string_view name) const {
  auto it = users_.find(name);
  return it == users_.end() ? nullptr : it->second;
}

Status Table::set_user(std::string_view name, std::span<const std::string_view> rules) {
  if (!valid_user_name(name)) {
    return Status::invalid_argument("Usernames can't contain spaces or null characters");
  }
  auto it = users_.find(name);
  User changed = it == users_.end() ? User(std::string(name)) : *it->second;
  for (std::string_view r : rules) {
    if (Status st = changed.apply(r); !st.is_ok()) {
      return Status::invalid_argument(
          fmt::format("Error in ACL SETUSER modifier '{}': {}", shown_rule(r), st.message()));
    }
  }
  if (it == users_.end()) {
    users_.emplace(std::string(name), std::make_shared<User>(std::move(changed)));
  } else {
    *it->second = std::move(changed);  // in place: connections holding the user see the change
  }
  return Status::ok();
}

bool Table::del_user(std::string_view name) {
  auto it = users_.find(name);
  if (it == users_.end()) return false;
  RKV_ASSERT(it->second != default_);
  users_.erase(it);
  return true;
}

}  // namespace rkv::acl
