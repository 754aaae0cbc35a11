#include "core/config.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <utility>

#include "core/text.h"

namespace rkv {

const char* to_string(FsyncMode m) {
  switch (m) {
    case FsyncMode::kAlways:
      return "always";
    case FsyncMode::kBatch:
      return "batch";
    case FsyncMode::kNever:
      return "never";
  }
  return "?";
}
const char* to_string(Model m) {
  switch (m) {
    case Model::kPrimary:
      return "primary";
    case Model::kMultiLeader:
      return "multi-leader";
    case Model::kLeaderless:
      return "leaderless";
  }
  return "?";
}
const char* to_string(CommitMode m) {
  switch (m) {
    case CommitMode::kQuorum:
      return "quorum";
    case CommitMode::kAll:
      return "all";
    case CommitMode::kAsync:
      return "async";
  }
  return "?";
}
const char* to_string(ReadMode m) {
  switch (m) {
    case ReadMode::kLinearizable:
      return "linearizable";
    case ReadMode::kLease:
      return "lease";
    case ReadMode::kFollower:
      return "follower";
  }
  return "?";
}
const char* to_string(ReadRepair m) {
  switch (m) {
    case ReadRepair::kBlocking:
      return "blocking";
    case ReadRepair::kAsync:
      return "async";
    case ReadRepair::kOff:
      return "off";
  }
  return "?";
}
const char* to_string(Consistency c) {
  switch (c) {
    case Consistency::kDefault:
      return "DEFAULT";
    case Consistency::kOne:
      return "ONE";
    case Consistency::kTwo:
      return "TWO";
    case Consistency::kThree:
      return "THREE";
    case Consistency::kQuorum:
      return "QUORUM";
    case Consistency::kAll:
      return "ALL";
    case Consistency::kAny:
      return "ANY";
  }
  return "?";
}
bool parse_consistency(std::string_view s, Consistency* out) {
  for (Consistency c :
       {Consistency::kDefault, Consistency::kOne, Consistency::kTwo, Consistency::kThree,
        Consistency::kQuorum, Consistency::kAll, Consistency::kAny}) {
    std::string_view name = to_string(c);
    if (name.size() == s.size() &&
        std::equal(name.begin(), name.end(), s.begin(),
                   [](char a, char b) { return a == (b >= 'a' && b <= 'z' ? b - 32 : b); })) {
      *out = c;
      return true;
    }
  }
  return false;
}
const char* to_string(ConflictMode m) {
  switch (m) {
    case ConflictMode::kLww:
      return "lww";
    case ConflictMode::kSiblings:
      return "siblings";
    case ConflictMode::kCrdt:
      return "crdt";
  }
  return "?";
}

// --- memory limit (maxmemory) ---
namespace {
constexpr std::pair<MaxmemoryPolicy, const char*> kPolicyNames[] = {
    {MaxmemoryPolicy::kNoEviction, "noeviction"},
    {MaxmemoryPolicy::kAllkeysLru, "allkeys-lru"},
    {MaxmemoryPolicy::kAllkeysLfu, "allkeys-lfu"},
    {MaxmemoryPolicy::kAllkeysRandom, "allkeys-random"},
    {MaxmemoryPolicy::kVolatileLru, "volatile-lru"},
    {MaxmemoryPolicy::kVolatileLfu, "volatile-lfu"},
    {MaxmemoryPolicy::kVolatileRandom, "volatile-random"},
    {MaxmemoryPolicy::kVolatileTtl, "volatile-ttl"},
};
}  // namespace

const char* to_string(MaxmemoryPolicy p) {
  for (const auto& [v, name] : kPolicyNames) {
    if (v == p) return name;
  }
  return "?";
}

const char* to_string(TlsAuthClients a) {
  switch (a) {
    case TlsAuthClients::kNo:
      return "no";
    case TlsAuthClients::kYes:
      return "yes";
    case TlsAuthClients::kOptional:
      return "optional";
  }
  return "?";
}

bool parse_maxmemory_policy(std::string_view s, MaxmemoryPolicy* out) {
  for (const auto& [v, name] : kPolicyNames) {
    if (iequals(s, name)) {
      *out = v;
      return true;
    }
  }
  return false;
}

bool parse_memory_bytes(std::string_view s, uint64_t* out) {
  size_t digits = 0;
  uint64_t n = 0;
  for (; digits < s.size() && s[digits] >= '0' && s[digits] <= '9'; ++digits) {
    if (n > (uint64_t{1} << 62) / 10) return false;
    n = n * 10 + static_cast<uint64_t>(s[digits] - '0');
  }
  if (digits == 0) return false;
  constexpr std::pair<const char*, uint64_t> kUnits[] = {
      {"", 1},        {"b", 1},           {"k", 1000},       {"kb", 1024},
      {"m", 1000000}, {"mb", 1ull << 20}, {"g", 1000000000}, {"gb", 1ull << 30},
  };
  const std::string_view unit = s.substr(digits);
  for (const auto& [name, mult] : kUnits) {
    if (!iequals(unit, name)) continue;
    if (n > (uint64_t{1} << 62) / mult) return false;
    *out = n * mult;
    return true;
  }
  return false;
}

bool valid_region_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxRegionLen) return false;
  return std::all_of(name.begin(), name.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '.' || ch == '_' || ch == '-';
  });
}

Config Config::defaults() {
  Config c;
  KeyspaceConfig def;
  def.name = "default";
  KeyspaceConfig accounts;
  accounts.name = "accounts";
  accounts.prefix = "accounts:";
  KeyspaceConfig carts;
  carts.name = "carts";
  carts.prefix = "carts:";
  carts.model = Model::kMultiLeader;
  carts.conflict = ConflictMode::kCrdt;
  KeyspaceConfig prefs;
  prefs.name = "prefs";
  prefs.prefix = "prefs:";
  prefs.model = Model::kLeaderless;
  c.keyspaces = {def, accounts, carts, prefs};
  return c;
}

namespace {

// Walks a TOML document, turning every problem into a Status that names source:line.
class Reader {
 public:
  explicit Reader(std::string_view source) : source_(source) {}

  Status error_at(const toml::node& n, const std::string& what) const {
    return Status::invalid_argument(fmt::format("{}: {}", where(n), what));
  }
  std::string where(const toml::node& n) const {
    return fmt::format("{}:{}", source_, n.source().begin.line);
  }

  // Rejects keys this version does not know, so a typo is an error rather than ignored.
  Status only_keys(const toml::table& t, std::initializer_list<std::string_view> allowed,
                   std::string_view where) const {
    for (auto&& [k, v] : t) {
      if (std::find(allowed.begin(), allowed.end(), k.str()) == allowed.end()) {
        return error_at(v, fmt::format("unknown key \"{}\" in {}", k.str(), where));
      }
    }
    return Status::ok();
  }

  Status get_string(const toml::table& t, std::string_view key, std::string* out) const {
    const toml::node* n = t.get(key);
    if (!n) return Status::ok();
    auto v = n->value<std::string>();
    if (!n->is_string() || !v) return error_at(*n, fmt::format("\"{}\" must be a string", key));
    *out = *v;
    return Status::ok();
  }

  template <typename Int>
  Status get_int(const toml::table& t, std::string_view key, Int* out, int64_t lo,
                 int64_t hi) const {
    const toml::node* n = t.get(key);
    if (!n) return Status::ok();
    if (!n->is_integer()) return error_at(*n, fmt::format("\"{}\" must be an integer", key));
    int64_t v = *n->value<int64_t>();
    if (v < lo || v > hi) {
      return error_at(*n, fmt::format("\"{}\" = {} is out of range [{}, {}]", key, v, lo, hi));
    }
    *out = static_cast<Int>(v);
    return Status::ok();
  }

  template <typename Enum>
  Status get_enum(const toml::table& t, std::string_view key, Enum* out,
                  std::initializer_list<Enum> choices) const {
    const toml::node* n = t.get(key);
    if (!n) return Status::ok();
    auto v = n->value<std::string>();
    if (!n->is_string() || !v) return error_at(*n, fmt::format("\"{}\" must be a string", key));
    std::string names;
    for (Enum c : choices) {
      if (*v == to_string(c)) {
        *out = c;
        return Status::ok();
      }
      names += names.empty() ? "" : ", ";
      names += fmt::format("\"{}\"", to_string(c));
    }
    return error_at(*n, fmt::format("unknown {} \"{}\" (expected one of {})", key, *v, names));
  }

 private:
  std::string source_;
};

Status parse_node(const Reader& r, const toml::table& t, Config& c) {
  RKV_RETURN_IF_ERROR(
      r.only_keys(t,
                  {"id", "bind", "port", "admin_port", "data_dir", "fsync", "log_level",
                   "expire_sweep_ms", "requirepass", "disk_reserve_bytes"},
                  "[node]"));
  RKV_RETURN_IF_ERROR(r.get_string(t, "requirepass", &c.requirepass));
  if (c.requirepass.size() > 4096) {
    return r.error_at(*t.get("requirepass"), "requirepass is longer than 4096 bytes");
  }
  RKV_RETURN_IF_ERROR(r.get_string(t, "id", &c.node_id));
  RKV_RETURN_IF_ERROR(r.get_string(t, "bind", &c.bind));
  RKV_RETURN_IF_ERROR(r.get_int(t, "port", &c.port, 0, 65535));
  RKV_RETURN_IF_ERROR(r.get_int(t, "admin_port", &c.admin_port, 0, 65535));
  RKV_RETURN_IF_ERROR(r.get_string(t, "data_dir", &c.data_dir));
  RKV_RETURN_IF_ERROR(
      r.get_enum(t, "fsync", &c.fsync, {FsyncMode::kAlways, FsyncMode::kBatch, FsyncMode::kNever}));
  RKV_RETURN_IF_ERROR(r.get_string(t, "log_level", &c.log_level));
  RKV_RETURN_IF_ERROR(r.get_int(t, "expire_sweep_ms", &c.expire_sweep_ms, 1, 60000));
  RKV_RETURN_IF_ERROR(
      r.get_int(t, "disk_reserve_bytes", &c.disk_reserve_bytes, 0, int64_t{1} << 50));
  if (t.contains("disk_reserve_bytes")) c.disk_reserve_auto = false;
  static const std::set<std::string> kLevels = {"trace", "debug",    "info", "warn",
                                                "error", "critical", "off"};
  if (!kLevels.count(c.log_level)) {
    return r.error_at(*t.get("log_level"), fmt::format("unknown log_level \"{}\"", c.log_level));
  }
  return Status::ok();
}

Status parse_limits(const Reader& r, const toml::table& t, Limits& l) {
  RKV_RETURN_IF_ERROR(r.only_keys(
      t,
      {"max_bulk_len", "max_args", "max_inline_len", "max_clients", "client_output_buffer_limit",
       "idle_timeout_ms", "max_value_len", "max_query_buffer"},
      "[limits]"));
  constexpr int64_t kMax = int64_t{1} << 40;
  RKV_RETURN_IF_ERROR(r.get_int(t, "max_bulk_len", &l.max_bulk_len, 1, int64_t{4} << 30));
  RKV_RETURN_IF_ERROR(r.get_int(t, "max_args", &l.max_args, 1, int64_t{1} << 30));
  RKV_RETURN_IF_ERROR(r.get_int(t, "max_inline_len", &l.max_inline_len, 16, int64_t{1} << 30));
  RKV_RETURN_IF_ERROR(r.get_int(t, "max_clients", &l.max_clients, 1, 1000000));
  RKV_RETURN_IF_ERROR(
      r.get_int(t, "client_output_buffer_limit", &l.client_output_buffer_limit, 1024, kMax));
  RKV_RETURN_IF_ERROR(r.get_int(t, "idle_timeout_ms", &l.idle_timeout_ms, 0, kMax));
  RKV_RETURN_IF_ERROR(r.get_int(t, "max_value_len", &l.max_value_len, 1, int64_t{4} << 30));
  RKV_RETURN_IF_ERROR(r.get_int(t, "max_query_buffer", &l.max_query_buffer, 1024, kMax));
  return Status::ok();
}

// --- [memory]: maxmemory and eviction (docs/configuration.md) ---
Status parse_memory(const Reader& r, const toml::table& t, MemorySettings& m) {
  RKV_RETURN_IF_ERROR(
      r.only_keys(t, {"maxmemory", "maxmemory_policy", "maxmemory_samples"}, "[memory]"));
  if (const toml::node* n = t.get("maxmemory")) {
    bool ok = false;
    if (auto i = n->value<int64_t>(); n->is_integer() && i && *i >= 0) {
      m.maxmemory = static_cast<uint64_t>(*i);
      ok = true;
    } else if (auto s = n->value<std::string>(); n->is_string() && s) {
      ok = parse_memory_bytes(*s, &m.maxmemory);
    }
    if (!ok) {
      return r.error_at(*n,
                        "\"maxmemory\" must be a byte count: an integer or a string such as "
                        "\"50mb\" or \"1gb\"");
    }
  }
  if (const toml::node* n = t.get("maxmemory_policy")) {
    auto v = n->value<std::string>();
    if (!n->is_string() || !v || !parse_maxmemory_policy(*v, &m.policy)) {
      return r.error_at(*n,
                        "\"maxmemory_policy\" must be one of noeviction, allkeys-lru, "
                        "allkeys-lfu, allkeys-random, volatile-lru, volatile-lfu, "
                        "volatile-random, volatile-ttl");
    }
  }
  return r.get_int(t, "maxmemory_samples", &m.samples, 1, 64);
}

Status parse_raft(const Reader& r, const toml::table& t, RaftSettings& rs) {
  RKV_RETURN_IF_ERROR(r.only_keys(
      t,
      {"tick_ms", "election_ticks", "heartbeat_ticks", "lease_drift_ticks", "snapshot_min_entries",
       "snapshot_catchup_entries", "snapshot_log_bytes", "max_inflight_msgs",
       "async_append_delay_us", "request_timeout_ms", "no_leader_wait_ms"},
      "[raft]"));
  RKV_RETURN_IF_ERROR(r.get_int(t, "tick_ms", &rs.tick_ms, 1, 10000));
  RKV_RETURN_IF_ERROR(r.get_int(t, "election_ticks", &rs.election_ticks, 2, 1000));
  RKV_RETURN_IF_ERROR(r.get_int(t, "heartbeat_ticks", &rs.heartbeat_ticks, 1, 1000));
  RKV_RETURN_IF_ERROR(r.get_int(t, "lease_drift_ticks", &rs.lease_drift_ticks, 0, 1000));
  RKV_RETURN_IF_ERROR(
      r.get_int(t, "snapshot_min_entries", &rs.snapshot_min_entries, 10, int64_t{1} << 40));
  RKV_RETURN_IF_ERROR(
      r.get_int(t, "snapshot_catchup_entries", &rs.snapshot_catchup_entries, 0, int64_t{1} << 40));
  RKV_RETURN_IF_ERROR(
      r.get_int(t, "snapshot_log_bytes", &rs.snapshot_log_bytes, 4096, int64_t{1} << 50));
  RKV_RETURN_IF_ERROR(r.get_int(t, "max_inflight_msgs", &rs.max_inflight_msgs, 1, 100000));
  RKV_RETURN_IF_ERROR(r.get_int(t, "async_append_delay_us", &rs.async_append_delay_us, 0, 100000));
  RKV_RETURN_IF_ERROR(
      r.get_int(t, "request_timeout_ms", &rs.request_timeout_ms, 10, int64_t{1} << 40));
  RKV_RETURN_IF_ERROR(
      r.get_int(t, "no_leader_wait_ms", &rs.no_leader_wait_ms, 0, int64_t{1} << 40));
  if (rs.heartbeat_ticks >= rs.election_ticks) {
    return r.error_at(t, "[raft] heartbeat_ticks must be smaller than election_ticks");
  }
  if (rs.lease_drift_ticks >= rs.election_ticks) {
    return r.error_at(t, "[raft] lease_drift_ticks must be smaller than election_ticks");
  }
  return Status::ok();
}

Status parse_multileader(const Reader& r, const toml::table& t, MultiLeaderSettings& ms) {
  RKV_RETURN_IF_ERROR(
      r.only_keys(t,
                  {"ship_batch_bytes", "max_unacked_bytes", "retransmit_ms", "hello_ms",
                   "max_log_entries", "max_log_bytes", "max_clock_skew_ms", "conflict_records",
                   "state_chunk_bytes", "tombstone_grace_ms"},
                  "[multileader]"));
  constexpr int64_t kMax = int64_t{1} << 40;
  RKV_RETURN_IF_ERROR(r.get_int(t, "ship_batch_bytes", &ms.ship_batch_bytes, 1, 64ll << 20));
  RKV_RETURN_IF_ERROR(r.get_int(t, "max_unacked_bytes", &ms.max_unacked_bytes, 1, kMax));
  RKV_RETURN_IF_ERROR(r.get_int(t, "retransmit_ms", &ms.retransmit_ms, 10, kMax));
  RKV_RETURN_IF_ERROR(r.get_int(t, "hello_ms", &ms.hello_ms, 10, 60000));
  RKV_RETURN_IF_ERROR(r.get_int(t, "max_log_entries", &ms.max_log_entries, 1, kMax));
  RKV_RETURN_IF_ERROR(r.get_int(t, "max_log_bytes", &ms.max_log_bytes, 1, kMax));
  RKV_RETURN_IF_ERROR(r.get_int(t, "max_clock_skew_ms", &ms.max_clock_skew_ms, 0, kMax));
  RKV_RETURN_IF_ERROR(r.get_int(t, "conflict_records", &ms.conflict_records, 0, 1000000));
  RKV_RETURN_IF_ERROR(r.get_int(t, "state_chunk_bytes", &ms.state_chunk_bytes, 1, 64ll << 20));
  RKV_RETURN_IF_ERROR(r.get_int(t, "tombstone_grace_ms", &ms.tombstone_grace_ms, 0, kMax));
  return Status::ok();
}

Status parse_leaderless(const Reader& r, const toml::table& t, LeaderlessSettings& ls) {
  RKV_RETURN_IF_ERROR(r.only_keys(
      t,
      {"tokens_per_node", "gossip_ms", "phi_threshold", "request_timeout_ms", "hint_window_ms",
       "max_hint_bytes", "handoff_batch", "anti_entropy_ms", "tombstone_grace_ms"},
      "[leaderless]"));
  constexpr int64_t kMax = int64_t{1} << 40;
  RKV_RETURN_IF_ERROR(r.get_int(t, "tokens_per_node", &ls.tokens_per_node, 1, 4096));
  RKV_RETURN_IF_ERROR(r.get_int(t, "gossip_ms", &ls.gossip_ms, 10, 60000));
  if (const toml::node* n = t.get("phi_threshold")) {
    auto v = n->value<double>();
    if (!v || *v < 1 || *v > 100) {
      return r.error_at(*n, "\"phi_threshold\" must be a number in [1, 100]");
    }
    ls.phi_threshold = *v;
  }
  RKV_RETURN_IF_ERROR(r.get_int(t, "request_timeout_ms", &ls.request_timeout_ms, 10, kMax));
  RKV_RETURN_IF_ERROR(r.get_int(t, "hint_window_ms", &ls.hint_window_ms, 0, kMax));
  RKV_RETURN_IF_ERROR(r.get_int(t, "max_hint_bytes", &ls.max_hint_bytes, 0, kMax));
  RKV_RETURN_IF_ERROR(r.get_int(t, "handoff_batch", &ls.handoff_batch, 1, 100000));
  RKV_RETURN_IF_ERROR(r.get_int(t, "anti_entropy_ms", &ls.anti_entropy_ms, 10, kMax));
  RKV_RETURN_IF_ERROR(r.get_int(t, "tombstone_grace_ms", &ls.tombstone_grace_ms, 0, kMax));
  return Status::ok();
}

Status parse_tls(const Reader& r, const toml::table& t, TlsSettings& s) {
  RKV_RETURN_IF_ERROR(r.only_keys(t,
                                  {"port", "cert_file", "key_file", "ca_cert_file", "auth_clients",
                                   "protocols", "ciphers", "ciphersuites", "replication", "admin"},
                                  "[tls]"));
  RKV_RETURN_IF_ERROR(r.get_int(t, "port", &s.port, 0, 65535));
  RKV_RETURN_IF_ERROR(r.get_string(t, "cert_file", &s.cert_file));
  RKV_RETURN_IF_ERROR(r.get_string(t, "key_file", &s.key_file));
  RKV_RETURN_IF_ERROR(r.get_string(t, "ca_cert_file", &s.ca_cert_file));
  RKV_RETURN_IF_ERROR(
      r.get_enum(t, "auth_clients", &s.auth_clients,
                 {TlsAuthClients::kNo, TlsAuthClients::kYes, TlsAuthClients::kOptional}));
  RKV_RETURN_IF_ERROR(r.get_string(t, "protocols", &s.protocols));
  RKV_RETURN_IF_ERROR(r.get_string(t, "ciphers", &s.ciphers));
  RKV_RETURN_IF_ERROR(r.get_string(t, "ciphersuites", &s.ciphersuites));
  for (auto [key, out] : {std::pair{"replication", &s.replication}, {"admin", &s.admin}}) {
    if (const toml::node* n = t.get(key)) {
      if (!n->is_boolean()) return r.error_at(*n, fmt::format("\"{}\" must be true or false", key));
      *out = *n->value<bool>();
    }
  }
  return Status::ok();
}

// Cross-field TLS rules; the files themselves are read (and checked) when the server starts.
Status validate_tls(const Config& c) {
  const TlsSettings& s = c.tls;
  if (c.port == 0 && s.port == 0) {
    return Status::invalid_argument(
        "port = 0 turns the plain client port off; set [tls] port for a TLS-only node");
  }
  if (!s.enabled()) return Status::ok();
  if (s.cert_file.empty() || s.key_file.empty()) {
    return Status::invalid_argument("[tls] needs cert_file and key_file");
  }
  if (s.ca_cert_file.empty() && (s.replication || s.auth_clients != TlsAuthClients::kNo)) {
    return Status::invalid_argument(
        "[tls] needs ca_cert_file to verify peers (replication = true) or client certificates "
        "(auth_clients = \"yes\" or \"optional\"; \"no\" turns them off)");
  }
  if (s.port != 0 && s.port == c.port) {
    return Status::invalid_argument(fmt::format("[tls] port {} is also the plain port", s.port));
  }
  return Status::ok();
}

Status parse_cluster(const Reader& r, const toml::table& t, Config& c) {
  RKV_RETURN_IF_ERROR(r.only_keys(t, {"secret", "node"}, "[cluster]"));
  RKV_RETURN_IF_ERROR(r.get_string(t, "secret", &c.cluster_secret));
  if (const toml::node* n = t.get("node")) {
    const toml::array* arr = n->as_array();
    if (!arr) return r.error_at(*n, "[[cluster.node]] must be an array of tables");
    for (const toml::node& e : *arr) {
      const toml::table* nt = e.as_table();
      if (!nt) return r.error_at(e, "[[cluster.node]] entries must be tables");
      PeerConfig p;
      RKV_RETURN_IF_ERROR(
          r.only_keys(*nt, {"id", "host", "port", "peer_port", "region"}, "[[cluster.node]]"));
      RKV_RETURN_IF_ERROR(r.get_string(*nt, "id", &p.id));
      RKV_RETURN_IF_ERROR(r.get_string(*nt, "host", &p.host));
      RKV_RETURN_IF_ERROR(r.get_int(*nt, "port", &p.port, 1, 65535));
      RKV_RETURN_IF_ERROR(r.get_int(*nt, "peer_port", &p.peer_port, 0, 65535));
      RKV_RETURN_IF_ERROR(r.get_string(*nt, "region", &p.region));
      if (nt->get("region") && !valid_region_name(p.region)) {
        return r.error_at(*nt->get("region"),
                          fmt::format("region \"{}\" of node \"{}\" must be 1 to {} characters "
                                      "of A-Z a-z 0-9 . _ -",
                                      p.region, p.id, kMaxRegionLen));
      }
      if (p.id.empty()) return r.error_at(e, "[[cluster.node]] needs an \"id\"");
      if (p.port == 0) return r.error_at(e, "[[cluster.node]] needs a \"port\"");
      if (p.peer_port == 0) p.peer_port = static_cast<uint16_t>(p.port + 10000);
      c.nodes.push_back(p);
    }
  }
  return Status::ok();
}

Status parse_keyspace(const Reader& r, const toml::node& e, KeyspaceConfig& ks) {
  const toml::table* t = e.as_table();
  if (!t) return r.error_at(e, "[[keyspace]] entries must be tables");
  RKV_RETURN_IF_ERROR(r.only_keys(*t,
                                  {"name", "prefix", "model", "commit", "read", "conflict", "n",
                                   "r", "w", "sloppy", "read_repair"},
                                  "[[keyspace]]"));
  RKV_RETURN_IF_ERROR(r.get_string(*t, "name", &ks.name));
  if (ks.name.empty()) return r.error_at(e, "[[keyspace]] needs a \"name\"");
  ks.prefix = ks.name == "default" ? "" : ks.name + ":";
  RKV_RETURN_IF_ERROR(r.get_string(*t, "prefix", &ks.prefix));
  if (!t->get("model"))
    return r.error_at(e, fmt::format("keyspace \"{}\" needs a \"model\"", ks.name));
  RKV_RETURN_IF_ERROR(r.get_enum(*t, "model", &ks.model,
                                 {Model::kPrimary, Model::kMultiLeader, Model::kLeaderless}));
  auto only_for = [&](std::string_view key, Model m) -> Status {
    if (const toml::node* n = t->get(key); n && ks.model != m) {
      return r.error_at(*n, fmt::format("\"{}\" applies only to model \"{}\", not \"{}\"", key,
                                        to_string(m), to_string(ks.model)));
    }
    return Status::ok();
  };
  RKV_RETURN_IF_ERROR(only_for("commit", Model::kPrimary));
  RKV_RETURN_IF_ERROR(only_for("read", Model::kPrimary));
  if (const toml::node* n = t->get("conflict"); n && ks.model == Model::kPrimary) {
    return r.error_at(*n,
                      "\"conflict\" applies only to models \"multi-leader\" and \"leaderless\"");
  }
  RKV_RETURN_IF_ERROR(only_for("sloppy", Model::kLeaderless));
  RKV_RETURN_IF_ERROR(only_for("read_repair", Model::kLeaderless));
  RKV_RETURN_IF_ERROR(only_for("n", Model::kLeaderless));
  RKV_RETURN_IF_ERROR(only_for("r", Model::kLeaderless));
  RKV_RETURN_IF_ERROR(only_for("w", Model::kLeaderless));
  RKV_RETURN_IF_ERROR(r.get_enum(*t, "commit", &ks.commit,
                                 {CommitMode::kQuorum, CommitMode::kAll, CommitMode::kAsync}));
  RKV_RETURN_IF_ERROR(r.get_enum(*t, "read", &ks.read,
                                 {ReadMode::kLinearizable, ReadMode::kLease, ReadMode::kFollower}));
  RKV_RETURN_IF_ERROR(
      r.get_enum(*t, "conflict", &ks.conflict,
                 {ConflictMode::kLww, ConflictMode::kSiblings, ConflictMode::kCrdt}));
  RKV_RETURN_IF_ERROR(r.get_int(*t, "n", &ks.n, 1, 64));
  RKV_RETURN_IF_ERROR(r.get_int(*t, "r", &ks.r, 1, 64));
  RKV_RETURN_IF_ERROR(r.get_int(*t, "w", &ks.w, 1, 64));
  if (const toml::node* n = t->get("sloppy")) {
    auto v = n->value<bool>();
    if (!n->is_boolean() || !v) return r.error_at(*n, "\"sloppy\" must be true or false");
    ks.sloppy = *v;
  }
  RKV_RETURN_IF_ERROR(r.get_enum(*t, "read_repair", &ks.read_repair,
                                 {ReadRepair::kBlocking, ReadRepair::kAsync, ReadRepair::kOff}));
  if (ks.model == Model::kLeaderless && ks.conflict == ConflictMode::kCrdt) {
    return r.error_at(e, fmt::format("keyspace \"{}\": conflict = \"crdt\" is not available for "
                                     "leaderless keyspaces yet; use \"lww\" or \"siblings\"",
                                     ks.name));
  }
  if (ks.r > ks.n || ks.w > ks.n) {
    return r.error_at(e, fmt::format("keyspace \"{}\": r ({}) and w ({}) must not exceed n ({})",
                                     ks.name, ks.r, ks.w, ks.n));
  }
  if (ks.name == "default" && !ks.prefix.empty()) {
    return r.error_at(
        e, "keyspace \"default\" takes every key no other prefix matches; it has no prefix");
  }
  if (ks.name != "default" && ks.prefix.empty()) {
    return r.error_at(e, fmt::format("keyspace \"{}\" needs a non-empty prefix", ks.name));
  }
  return Status::ok();
}

// [[user]]: name = "alice", rules = "on >pw ~prefs:* +@read" (split at spaces) or
// rules = ["on", ">a pass with spaces", ...] (one rule each). The rules themselves are checked
// when the node builds its users (acl::Table::from_config), which names this entry's line.
Status parse_users(const Reader& r, const toml::node& n, Config& c) {
  const toml::array* arr = n.as_array();
  if (!arr) return r.error_at(n, "user must be written [[user]]");
  std::set<std::string> names;
  for (const toml::node& e : *arr) {
    const toml::table* t = e.as_table();
    if (!t) return r.error_at(e, "[[user]] entries must be tables");
    RKV_RETURN_IF_ERROR(r.only_keys(*t, {"name", "rules"}, "[[user]]"));
    UserConfig u;
    RKV_RETURN_IF_ERROR(r.get_string(*t, "name", &u.name));
    if (u.name.empty()) return r.error_at(e, "[[user]] needs a \"name\"");
    if (!names.insert(u.name).second) {
      return r.error_at(e, fmt::format("user \"{}\" is declared twice", u.name));
    }
    if (const toml::node* rn = t->get("rules")) {
      if (const auto* text = rn->as_string()) {
        std::istringstream words(text->get());
        for (std::string w; words >> w;)
          u.rules.push_back(w);
      } else if (const toml::array* list = rn->as_array()) {
        for (const toml::node& x : *list) {
          const auto* rule = x.as_string();
          if (!rule) return r.error_at(x, "\"rules\" must be a string or an array of strings");
          u.rules.push_back(rule->get());
        }
      } else {
        return r.error_at(*rn, "\"rules\" must be a string or an array of strings");
      }
    }
    u.where = r.where(e);
    c.users.push_back(std::move(u));
  }
  return Status::ok();
}

}  // namespace

Result<Config> parse_config(std::string_view toml_text, std::string_view source_name) {
  toml::table doc;
  try {
    doc = toml::parse(toml_text, source_name);
  } catch (const toml::parse_error& e) {
    return Status::invalid_argument(
        fmt::format("{}:{}: {}", source_name, e.source().begin.line, e.description()));
  }
  Reader r(source_name);
  Config c;
  RKV_RETURN_IF_ERROR(r.only_keys(doc,
                                  {"node", "limits", "memory", "tls", "raft", "leaderless",
                                   "multileader", "cluster", "keyspace", "user"},
                                  "the file"));
  if (const toml::node* n = doc.get("node")) {
    if (!n->is_table()) return r.error_at(*n, "[node] must be a table");
    RKV_RETURN_IF_ERROR(parse_node(r, *n->as_table(), c));
  }
  if (const toml::node* n = doc.get("limits")) {
    if (!n->is_table()) return r.error_at(*n, "[limits] must be a table");
    RKV_RETURN_IF_ERROR(parse_limits(r, *n->as_table(), c.limits));
  }
  if (const toml::node* n = doc.get("memory")) {
    if (!n->is_table()) return r.error_at(*n, "[memory] must be a table");
    RKV_RETURN_IF_ERROR(parse_memory(r, *n->as_table(), c.memory));
  }
  if (const toml::node* n = doc.get("tls")) {
    if (!n->is_table()) return r.error_at(*n, "[tls] must be a table");
    RKV_RETURN_IF_ERROR(parse_tls(r, *n->as_table(), c.tls));
  }
  if (const toml::node* n = doc.get("raft")) {
    if (!n->is_table()) return r.error_at(*n, "[raft] must be a table");
    RKV_RETURN_IF_ERROR(parse_raft(r, *n->as_table(), c.raft));
  }
  if (const toml::node* n = doc.get("leaderless")) {
    if (!n->is_table()) return r.error_at(*n, "[leaderless] must be a table");
    RKV_RETURN_IF_ERROR(parse_leaderless(r, *n->as_table(), c.leaderless));
  }
  if (const toml::node* n = doc.get("multileader")) {
    if (!n->is_table()) return r.error_at(*n, "[multileader] must be a table");
    RKV_RETURN_IF_ERROR(parse_multileader(r, *n->as_table(), c.multileader));
  }
  if (const toml::node* n = doc.get("cluster")) {
    if (!n->is_table()) return r.error_at(*n, "[cluster] must be a table");
    RKV_RETURN_IF_ERROR(parse_cluster(r, *n->as_table(), c));
  }
  if (const toml::node* n = doc.get("keyspace")) {
    const toml::array* arr = n->as_array();
    if (!arr) return r.error_at(*n, "keyspace must be written [[keyspace]]");
    std::set<std::string> names, prefixes;
    for (const toml::node& e : *arr) {
      KeyspaceConfig ks;
      RKV_RETURN_IF_ERROR(parse_keyspace(r, e, ks));
      if (!names.insert(ks.name).second) {
        return r.error_at(e, fmt::format("keyspace \"{}\" is declared twice", ks.name));
      }
      if (!ks.prefix.empty() && !prefixes.insert(ks.prefix).second) {
        return r.error_at(e, fmt::format("prefix \"{}\" is used by two keyspaces", ks.prefix));
      }
      c.keyspaces.push_back(ks);
    }
  }
  if (const toml::node* n = doc.get("user")) RKV_RETURN_IF_ERROR(parse_users(r, *n, c));
  RKV_RETURN_IF_ERROR(validate_config(c));
  return c;
}

Status validate_config(Config& c) {
  if (c.node_id.empty()) return Status::invalid_argument("node id must not be empty");
  RKV_RETURN_IF_ERROR(validate_tls(c));
  bool has_default = false;
  for (const auto& ks : c.keyspaces)
    has_default |= ks.name == "default";
  if (!has_default) {
    KeyspaceConfig def;
    def.name = "default";
    c.keyspaces.insert(c.keyspaces.begin(), def);
  }
  if (!c.nodes.empty()) {
    std::set<std::string> ids;
    bool self = false;
    for (const auto& p : c.nodes) {
      if (!ids.insert(p.id).second) {
        return Status::invalid_argument(fmt::format("cluster node \"{}\" is listed twice", p.id));
      }
      self |= p.id == c.node_id;
      if (!p.region.empty() && !valid_region_name(p.region)) {
        return Status::invalid_argument(
            fmt::format("cluster node \"{}\": region \"{}\" must be 1 to {} characters of "
                        "A-Z a-z 0-9 . _ -",
                        p.id, p.region, kMaxRegionLen));
      }
      // A node left out of every region while others declare one is most likely a typo: it
      // would form a region of its own, unnamed.
      if (p.region.empty() != c.nodes.front().region.empty()) {
        const PeerConfig& without = p.region.empty() ? p : c.nodes.front();
        return Status::invalid_argument(fmt::format(
            "cluster node \"{}\" declares no region while others do: declare a region on every "
            "[[cluster.node]] or on none",
            without.id));
      }
    }
    if (!self) {
      return Status::invalid_argument(
          fmt::format("node id \"{}\" is not among the [[cluster.node]] entries", c.node_id));
    }
    for (const auto& ks : c.keyspaces) {
      if (ks.model == Model::kLeaderless && ks.n > static_cast<int>(c.nodes.size())) {
        return Status::invalid_argument(
            fmt::format("keyspace \"{}\": n = {} exceeds the cluster's {} nodes", ks.name, ks.n,
                        c.nodes.size()));
      }
    }
  }
  return Status::ok();
}

Result<Config> load_config_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::invalid_argument(fmt::format("cannot open config file {}", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str(), path);
}

}  // namespace rkv
