#include "runtime/session.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <charconv>

#include "core/text.h"
#include "node/glob.h"
#include "node/leaderless_engine.h"
#include "node/multileader_engine.h"
#include "node/store.h"
#include "runtime/command_info.h"
#include "runtime/connection.h"
#include "runtime/server.h"

namespace rkv {

using resp::CommandId;
using Args = std::span<const std::string_view>;

namespace {

constexpr std::string_view kRedisCompat = "7.0.0";

void write_hello(Server& s, Connection& c, resp::Writer& w) {
  w.map(7);
  w.bulk("server");
  w.bulk("redis");
  w.bulk("version");
  w.bulk(kRedisCompat);
  w.bulk("proto");
  w.integer(c.proto());
  w.bulk("id");
  w.integer(static_cast<int64_t>(c.info().id));
  w.bulk("mode");
  w.bulk("standalone");
  w.bulk("role");
  w.bulk("master");
  w.bulk("modules");
  w.array(0);
}

bool valid_client_name(std::string_view n) {
  for (char ch : n) {
    if (ch < '!' || ch > '~') return false;  // no spaces, newlines or control characters
  }
  return true;
}

std::string client_line(Server& s, const ClientInfo& ci) {
  const int64_t now = s.now_ms();
  return fmt::format(
      "id={} addr={} laddr={} fd=-1 name={} age={} idle={} flags=N db=0 sub=0 psub=0 "
      "ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 obl=0 oll=0 omem=0 "
      "tot-mem=0 events=r cmd={} user={} redir=-1 resp={} lib-name={} lib-ver={}\n",
      ci.id, ci.addr, ci.laddr, ci.name, (now - ci.created_ms) / 1000, (now - ci.last_ms) / 1000,
      ci.last_cmd, ci.user, ci.proto, ci.lib_name, ci.lib_ver);
}

void cmd_client(Server& s, Connection& c, Args a, resp::Writer& w) {
  std::string_view sub = a[1];
  if (iequals(sub, "setname") && a.size() == 3) {
    if (!valid_client_name(a[2])) {
      return w.error("ERR Client names cannot contain spaces, newlines or special characters.");
    }
    c.info().name = std::string(a[2]);
    return w.ok();
  }
  if (iequals(sub, "getname") && a.size() == 2) {
    return c.info().name.empty() ? w.null() : w.bulk(c.info().name);
  }
  if (iequals(sub, "id") && a.size() == 2) return w.integer(static_cast<int64_t>(c.info().id));
  if (iequals(sub, "info") && a.size() == 2) return w.verbatim(client_line(s, c.info()));
  if (iequals(sub, "list")) {
    std::string out;
    for (const ClientInfo* ci : s.clients())
      out += client_line(s, *ci);
    return w.verbatim(out);
  }
  if (iequals(sub, "setinfo") && a.size() == 4) {
    if (!valid_client_name(a[3])) {
      return w.error(
          "ERR lib-name and lib-ver cannot contain spaces, newlines or special characters.");
    }
    if (iequals(a[2], "lib-name")) {
      c.info().lib_name = std::string(a[3]);
    } else if (iequals(a[2], "lib-ver")) {
      c.info().lib_ver = std::string(a[3]);
    } else {
      return w.error(fmt::format("ERR Unrecognized option '{}'", sanitize(a[2], 64)));
    }
    return w.ok();
  }
  if (iequals(sub, "kill") && a.size() == 4 && iequals(a[2], "id")) {
    uint64_t id = 0;
    auto [p, ec] = std::from_chars(a[3].data(), a[3].data() + a[3].size(), id);
    if (ec != std::errc() || p != a[3].data() + a[3].size()) {
      return w.error("ERR client-id should be greater than 0");
    }
    if (id == c.info().id) return w.integer(0);  // SKIPME yes, as Redis does by default
    return w.integer(s.kill_client(id) ? 1 : 0);
  }
  if (iequals(sub, "unblock") && (a.size() == 3 || a.size() == 4)) {
    int64_t id;
    if (!parse_int64(a[2], &id)) return w.error("ERR value is not an integer or out of range");
    bool error = false;
    if (a.size() == 4) {
      if (iequals(a[3], "error")) {
        error = true;
      } else if (!iequals(a[3], "timeout")) {
        return w.error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
      }
    }
    return w.integer(id > 0 && s.unblock_client(static_cast<uint64_t>(id), error) ? 1 : 0);
  }
  if ((iequals(sub, "no-evict") || iequals(sub, "no-touch")) && a.size() == 3) return w.ok();
  w.error(
      fmt::format("ERR unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
                  sanitize(sub, 64)));
}

// Checks a user and password against the ACL users (requirepass is the `default` user's
// password; a nopass user takes any password, as in Redis). On failure writes the error and
// counts it; a connection that failed too often lately is refused unchecked.
bool authenticate(Server& s, Connection& c, std::string_view user, std::string_view pass,
                  resp::Writer& w) {
  const int64_t now = s.now_ms();
  if (!c.allow_auth_attempt(now)) {
    s.stats().auth_rate_limited++;
    w.error(
        "ERR too many failed authentication attempts on this connection; wait a second before "
        "trying again");
    return false;
  }
  std::shared_ptr<acl::User> u = s.acl().find(user);
  // An unknown user costs the same hash as a known one: the time does not tell them apart.
  bool ok = false;
  if (u) {
    ok = u->password_ok(pass) && u->enabled();
  } else {
    (void)acl::hash_password(pass);
  }
  if (!ok) {
    c.note_auth_failure(now);
    s.stats().auth_failures++;
    w.error("WRONGPASS invalid username-password pair or user is disabled.");
    return false;
  }
  c.authenticate_as(std::move(u));
  return true;
}

void cmd_auth(Server& s, Connection& c, Args a, resp::Writer& w) {
  if (a.size() > 3) return w.error("ERR syntax error");
  if (a.size() == 2 && s.acl().default_user()->nopass()) {
    return w.error(
        "ERR AUTH <password> called without any password configured for the default user. Are "
        "you sure your configuration is correct?");
  }
  if (authenticate(s, c, a.size() == 3 ? a[1] : std::string_view("default"), a.back(), w)) {
    w.ok();
  }
}

void cmd_hello(Server& s, Connection& c, Args a, resp::Writer& w, std::string* out) {
  int proto = c.proto();
  size_t i = 1;
  if (a.size() >= 2) {
    if (a[1] == "2") {
      proto = 2;
    } else if (a[1] == "3") {
      proto = 3;
    } else {
      return w.error("NOPROTO unsupported protocol version");
    }
    i = 2;
  }
  std::string name;
  bool set_name = false;
  std::optional<std::pair<std::string_view, std::string_view>> auth;
  for (; i < a.size(); ++i) {
    if (iequals(a[i], "auth") && i + 2 < a.size()) {
      auth.emplace(a[i + 1], a[i + 2]);
      i += 2;
    } else if (iequals(a[i], "setname") && i + 1 < a.size()) {
      name = std::string(a[++i]);
      set_name = true;
      if (!valid_client_name(name)) {
        return w.error("ERR Client names cannot contain spaces, newlines or special characters.");
      }
    } else {
      return w.error(fmt::format("ERR Syntax error in HELLO option '{}'", sanitize(a[i], 64)));
    }
  }
  if (auth) {
    if (!authenticate(s, c, auth->first, auth->second, w)) return;
  } else if (!c.authenticated()) {
    return w.error(
        "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO "
        "<proto> AUTH <user> <pass> option can be used to authenticate the client and select the "
        "RESP protocol version at the same time");
  }
  c.set_proto(proto);
  if (set_name) c.info().name = name;
  // The reply is written in the newly chosen protocol.
  resp::Writer reply(out, proto);
  write_hello(s, c, reply);
}

// CONFIG SET param value [param value ...] for the memory limit: all or nothing, as Redis.
void config_set(Server& s, Args a, resp::Writer& w) {
  if (a.size() % 2 != 0) return w.error("ERR wrong number of arguments for 'config|set' command");
  MemorySettings m = s.config().memory;
  for (size_t i = 2; i + 1 < a.size(); i += 2) {
    const std::string_view name = a[i], value = a[i + 1];
    bool ok = false;
    if (iequals(name, "maxmemory")) {
      ok = parse_memory_bytes(value, &m.maxmemory);
    } else if (iequals(name, "maxmemory-policy")) {
      ok = parse_maxmemory_policy(value, &m.policy);
    } else if (iequals(name, "maxmemory-samples")) {
      uint64_t n = 0;
      ok = parse_memory_bytes(value, &n) && n >= 1 && n <= 64;
      m.samples = static_cast<uint32_t>(n);
    } else {
      return w.error(fmt::format(
          "ERR Unknown option or number of arguments for CONFIG SET - '{}' (replikv sets "
          "maxmemory, maxmemory-policy and maxmemory-samples at runtime; the rest through the "
          "config file)",
          sanitize(name, 64)));
    }
    if (!ok) {
      return w.error(
          fmt::format("ERR CONFIG SET failed (possibly related to argument '{}') - "
                      "argument couldn't be parsed into an integer or policy name",
                      sanitize(name, 64)));
    }
  }
  s.set_memory_settings(m);
  w.ok();
}

void cmd_config(Server& s, Args a, resp::Writer& w) {
  if (iequals(a[1], "resetstat") && a.size() == 2) {
    s.stats() = ServerStats{};
    return w.ok();
  }
  if (iequals(a[1], "set") && a.size() >= 4) return config_set(s, a, w);
  if (!iequals(a[1], "get") || a.size() < 3) {
    return w.error(
        "ERR CONFIG supports GET, SET (of maxmemory, maxmemory-policy and maxmemory-samples) "
        "and RESETSTAT; other settings change through the config file and a restart");
  }
  const Config& c = s.config();
  const std::pair<std::string_view, std::string> params[] = {
      {"bind", c.bind},
      {"port", std::to_string(s.port())},
      {"tls-port", std::to_string(s.tls_port())},
      {"tls-cert-file", c.tls.cert_file},
      {"tls-key-file", c.tls.key_file},
      {"tls-ca-cert-file", c.tls.ca_cert_file},
      {"tls-auth-clients", to_string(c.tls.auth_clients)},
      {"tls-replication", c.tls.replication ? "yes" : "no"},
      {"dir", c.data_dir},
      {"databases", "1"},
      {"save", ""},
      {"appendonly", c.fsync == FsyncMode::kNever ? "no" : "yes"},
      {"appendfsync", c.fsync == FsyncMode::kAlways  ? "always"
                      : c.fsync == FsyncMode::kBatch ? "batch"
                                                     : "no"},
      {"maxclients", std::to_string(c.limits.max_clients)},
      {"maxmemory", std::to_string(c.memory.maxmemory)},
      {"maxmemory-policy", to_string(c.memory.policy)},
      {"maxmemory-samples", std::to_string(c.memory.samples)},
      {"proto-max-bulk-len", std::to_string(c.limits.max_bulk_len)},
      {"client-query-buffer-limit", std::to_string(c.limits.max_query_buffer)},
      {"timeout", std::to_string(c.limits.idle_timeout_ms / 1000)},
  };
  std::vector<std::pair<std::string_view, std::string_view>> hits;
  for (size_t i = 2; i < a.size(); ++i) {
    for (const auto& [k, v] : params) {
      if (glob_match(a[i], k)) hits.emplace_back(k, v);
    }
  }
  w.map(hits.size());
  for (const auto& [k, v] : hits) {
    w.bulk(k);
    w.bulk(v);
  }
}

// ROLE: for a single node ["master", 0, []] as Redis; in a cluster one entry per replicated
// keyspace: [keyspace, role, term, leader, commit, applied].
// ROLE: Redis's reply (see Server::RedisRole): ["master", offset, [[host, port, offset]...]]
// or ["slave", host, port, state, offset].
void cmd_role(Server& s, resp::Writer& w) {
  const Server::RedisRole r = s.redis_role();
  if (r.master) {
    w.array(3);
    w.bulk("master");
    w.integer(static_cast<int64_t>(r.offset));
    w.array(r.replicas.size());
    for (const auto& rep : r.replicas) {
      const PeerConfig& p = s.config().nodes[rep.node];
      w.array(3);
      w.bulk(p.host);
      w.bulk(std::to_string(p.port));
      w.bulk(std::to_string(rep.offset));
    }
    return;
  }
  const PeerConfig* m = r.leader >= 0 ? &s.config().nodes[static_cast<size_t>(r.leader)] : nullptr;
  w.array(5);
  w.bulk("slave");
  w.bulk(m ? m->host : "");
  w.integer(m ? m->port : -1);
  w.bulk(m ? "connected" : "connect");
  w.integer(static_cast<int64_t>(r.offset));
}

// ROLES: this node's role in each primary keyspace: [keyspace, role, term, leader id or nil,
// commit index, applied index] each.
void cmd_roles(Server& s, resp::Writer& w) {
  auto groups = s.node().replication_status();
  w.array(groups.size());
  for (const auto& [name, st] : groups) {
    w.array(6);
    w.bulk(name);
    w.bulk(raft::role_name(st.role));
    w.integer(static_cast<int64_t>(st.term));
    if (st.leader >= 0) {
      w.bulk(s.config().nodes[static_cast<size_t>(st.leader)].id);
    } else {
      w.null();
    }
    w.integer(static_cast<int64_t>(st.commit));
    w.integer(static_cast<int64_t>(st.applied));
  }
}

// LOSTWRITES [RESET]. RESET answers how many records it forgot; under fsync = batch the reply
// waits, like SAVE's, until that is durable (see run_session_command).
void cmd_lostwrites(Server& s, Args a, resp::Writer& w) {
  if (a.size() > 2 || (a.size() == 2 && !iequals(a[1], "reset"))) {
    return w.error("ERR LOSTWRITES takes no argument or RESET");
  }
  if (a.size() == 2) {
    // The deletion joins the pending batch, persisted at the end of this round (now, when
    // replies are not held).
    const size_t n = s.node().clear_lost_writes();
    if (n > 0) {
      spdlog::info("LOSTWRITES RESET: {} record(s) of lost writes forgotten", n);
      if (!s.holds_replies()) s.persist_now();
    }
    return w.integer(static_cast<int64_t>(n));
  }
  const auto& lost = s.node().lost_writes();
  w.array(lost.size());
  for (const auto& l : lost) {
    w.map(5);
    w.bulk("keyspace");
    w.bulk(l.keyspace);
    w.bulk("term");
    w.integer(static_cast<int64_t>(l.term));
    w.bulk("index");
    w.integer(static_cast<int64_t>(l.index));
    w.bulk("time_ms");
    w.integer(l.proposed_ms);
    w.bulk("command");
    w.bulk(l.command);
  }
}

// STALENESS: how stale this connection's last follower read was.
void cmd_staleness(Server& s, Connection& c, resp::Writer& w) {
  auto st = s.node().staleness(c.info().id);
  if (!st) return w.null();
  w.map(3);
  w.bulk("keyspace");
  w.bulk(st->keyspace);
  w.bulk("entries_behind");
  w.integer(static_cast<int64_t>(st->entries_behind));
  w.bulk("ms_since_leader_contact");
  w.integer(static_cast<int64_t>(st->ms_since_leader));
}

// RING: per leaderless keyspace [name, n, [[node, tokens, primary share, replica share, state,
// phi], ...]] as this node sees it.
void cmd_ring(Server& s, resp::Writer& w) {
  Node& node = s.node();
  std::vector<const LeaderlessEngine*> engines;
  std::vector<std::string> names;
  for (uint32_t i = 0; i < node.store().keyspace_count(); ++i) {
    const Engine* e = node.engine(i);
    if (const LeaderlessEngine* l = e ? e->as_leaderless() : nullptr) {
      engines.push_back(l);
      names.push_back(node.store().keyspace(i).config.name);
    }
  }
  w.array(engines.size());
  for (size_t k = 0; k < engines.size(); ++k) {
    const LeaderlessEngine& l = *engines[k];
    const int n =
        node.store().keyspace(static_cast<uint32_t>(node.store().find_keyspace(names[k]))).config.n;
    auto own = l.ring().ownership(static_cast<size_t>(n));
    w.array(3);
    w.bulk(names[k]);
    w.integer(n);
    w.array(own.size());
    for (const auto& o : own) {
      w.array(6);
      w.bulk(l.ring().member(o.node));
      w.integer(o.tokens);
      w.bulk(fmt::format("{:.4f}", o.primary_fraction));
      w.bulk(fmt::format("{:.4f}", o.replica_fraction));
      w.bulk(o.node == node.self_index() ? "self" : l.node_state(o.node));
      w.bulk(fmt::format("{:.2f}", l.node_phi(o.node)));
    }
  }
}

// CONFLICTS [keyspace] [COUNT n]: the writes last-writer-wins discarded on this node, newest
// first (default 10 per keyspace), as maps.
void cmd_conflicts(Server& s, Args a, resp::Writer& w) {
  Node& node = s.node();
  std::string_view only;
  int64_t count = 10;
  for (size_t i = 1; i < a.size(); ++i) {
    if (iequals(a[i], "count") && i + 1 < a.size()) {
      if (!parse_int64(a[i + 1], &count) || count < 0) {
        return w.error("ERR COUNT must be a non-negative integer");
      }
      ++i;
    } else if (only.empty()) {
      only = a[i];
    } else {
      return w.error("ERR CONFLICTS takes [keyspace] [COUNT n]");
    }
  }
  if (!only.empty() && node.store().find_keyspace(only) < 0) {
    return w.error(fmt::format("ERR no keyspace named '{}'", only));
  }
  auto stamp_text = [](uint64_t hlc) {
    return fmt::format("{}.{}", versions::hlc_wall_ms(hlc), versions::hlc_logical(hlc));
  };
  auto node_of = [&](uint64_t actor) {
    const uint64_t i = actor >> 32;
    return i < node.config().nodes.size() ? node.config().nodes[i].id : std::string("?");
  };
  std::vector<std::pair<std::string, ConflictRecord>> out;
  for (uint32_t i = 0; i < node.store().keyspace_count(); ++i) {
    const std::string& name = node.store().keyspace(i).config.name;
    const Engine* e = node.engine(i);
    const MultiLeaderEngine* m = e ? e->as_multileader() : nullptr;
    if (!m || (!only.empty() && only != name)) continue;
    for (ConflictRecord& r : m->conflicts(static_cast<size_t>(count)))
      out.emplace_back(name, std::move(r));
  }
  w.array(out.size());
  for (const auto& [name, r] : out) {
    w.map(11);
    w.bulk("keyspace");
    w.bulk(name);
    w.bulk("key");
    w.bulk(r.key);
    w.bulk("time_ms");
    w.integer(r.at_ms);
    w.bulk("resolution");
    w.bulk("lww");
    w.bulk("discarded_node");
    w.bulk(node_of(r.loser_actor));
    w.bulk("discarded_stamp");
    w.bulk(stamp_text(r.loser_hlc));
    w.bulk("discarded_seq");
    w.integer(static_cast<int64_t>(r.loser_seq));
    w.bulk("discarded_was_delete");
    w.integer(r.loser_tomb ? 1 : 0);
    w.bulk("kept_node");
    w.bulk(node_of(r.winner_actor));
    w.bulk("kept_stamp");
    w.bulk(stamp_text(r.winner_hlc));
    w.bulk("kept_is_delete");
    w.integer(r.winner_tomb ? 1 : 0);
  }
}

}  // namespace

bool is_data_command(CommandId id) {
  switch (id) {
    case CommandId::kGet:
    case CommandId::kSet:
    case CommandId::kSetnx:
    case CommandId::kGetdel:
    case CommandId::kMget:
    case CommandId::kMset:
    case CommandId::kDel:
    case CommandId::kExists:
    case CommandId::kIncr:
    case CommandId::kIncrby:
    case CommandId::kDecr:
    case CommandId::kDecrby:
    case CommandId::kAppend:
    case CommandId::kStrlen:
    case CommandId::kExpire:
    case CommandId::kPexpire:
    case CommandId::kTtl:
    case CommandId::kPttl:
    case CommandId::kPersist:
    case CommandId::kType:
    case CommandId::kScan:
    case CommandId::kKeys:
    case CommandId::kFlushall:
    case CommandId::kFlushdb:
    case CommandId::kKeyspaces:
    case CommandId::kDbsize:
    case CommandId::kSiblings:
    case CommandId::kSetex:
    case CommandId::kPsetex:
    case CommandId::kGetex:
    case CommandId::kGetset:
    case CommandId::kMsetnx:
    case CommandId::kIncrbyfloat:
    case CommandId::kSetrange:
    case CommandId::kGetrange:
    case CommandId::kSubstr:
    case CommandId::kLcs:
    case CommandId::kSetbit:
    case CommandId::kGetbit:
    case CommandId::kBitcount:
    case CommandId::kBitpos:
    case CommandId::kExpireat:
    case CommandId::kPexpireat:
    case CommandId::kExpiretime:
    case CommandId::kPexpiretime:
    case CommandId::kRename:
    case CommandId::kRenamenx:
    case CommandId::kCopy:
    case CommandId::kUnlink:
    case CommandId::kTouch:
    case CommandId::kRandomkey:
    case CommandId::kHset:
    case CommandId::kHsetnx:
    case CommandId::kHget:
    case CommandId::kHmget:
    case CommandId::kHmset:
    case CommandId::kHdel:
    case CommandId::kHexists:
    case CommandId::kHlen:
    case CommandId::kHstrlen:
    case CommandId::kHkeys:
    case CommandId::kHvals:
    case CommandId::kHgetall:
    case CommandId::kHincrby:
    case CommandId::kHincrbyfloat:
    case CommandId::kHrandfield:
    case CommandId::kHscan:
    case CommandId::kSadd:
    case CommandId::kSrem:
    case CommandId::kSismember:
    case CommandId::kSmismember:
    case CommandId::kSmembers:
    case CommandId::kScard:
    case CommandId::kSpop:
    case CommandId::kSrandmember:
    case CommandId::kSmove:
    case CommandId::kSinter:
    case CommandId::kSunion:
    case CommandId::kSdiff:
    case CommandId::kSinterstore:
    case CommandId::kSunionstore:
    case CommandId::kSdiffstore:
    case CommandId::kSintercard:
    case CommandId::kSscan:
    case CommandId::kObject:
    case CommandId::kZadd:
    case CommandId::kZincrby:
    case CommandId::kZscore:
    case CommandId::kZmscore:
    case CommandId::kZrank:
    case CommandId::kZrevrank:
    case CommandId::kZcard:
    case CommandId::kZcount:
    case CommandId::kZlexcount:
    case CommandId::kZrange:
    case CommandId::kZrangestore:
    case CommandId::kZrevrange:
    case CommandId::kZrangebyscore:
    case CommandId::kZrevrangebyscore:
    case CommandId::kZrangebylex:
    case CommandId::kZrevrangebylex:
    case CommandId::kZrem:
    case CommandId::kZremrangebyrank:
    case CommandId::kZremrangebyscore:
    case CommandId::kZremrangebylex:
    case CommandId::kZpopmin:
    case CommandId::kZpopmax:
    case CommandId::kZrandmember:
    case CommandId::kZunion:
    case CommandId::kZinter:
    case CommandId::kZdiff:
    case CommandId::kZunionstore:
    case CommandId::kZinterstore:
    case CommandId::kZdiffstore:
    case CommandId::kZintercard:
    case CommandId::kZscan:
    case CommandId::kLpush:
    case CommandId::kRpush:
    case CommandId::kLpushx:
    case CommandId::kRpushx:
    case CommandId::kLpop:
    case CommandId::kRpop:
    case CommandId::kLlen:
    case CommandId::kLrange:
    case CommandId::kLindex:
    case CommandId::kLset:
    case CommandId::kLinsert:
    case CommandId::kLrem:
    case CommandId::kLtrim:
    case CommandId::kLpos:
    case CommandId::kLmove:
    case CommandId::kRpoplpush:
    case CommandId::kLmpop:
    case CommandId::kBlpop:
    case CommandId::kBrpop:
    case CommandId::kBlmove:
    case CommandId::kBrpoplpush:
    case CommandId::kBlmpop:
      return true;
    default:
      return false;
  }
}

bool is_transaction_command(CommandId id) {
  return id == CommandId::kMulti || id == CommandId::kDiscard || id == CommandId::kWatch ||
         id == CommandId::kUnwatch;
}

void write_unknown_command(Args a, resp::Writer& w) {
  std::string msg =
      fmt::format("ERR unknown command '{}', with args beginning with: ", sanitize(a[0], 128));
  for (size_t i = 1; i < a.size() && msg.size() < 256; ++i) {
    msg += fmt::format("'{}' ", sanitize(a[i], 128));
  }
  w.error(msg);
}

uint64_t run_session_command(Server& s, Connection& c, const resp::CommandSpec& spec, Args a,
                             std::string* out) {
  resp::Writer w(out, c.proto());
  run_session_command(s, c, spec, a, w, out);
  // SAVE, LOSTWRITES RESET: the reply waits for the pending batch (if any) to be durable.
  const bool persists =
      spec.id == CommandId::kSave || (spec.id == CommandId::kLostwrites && a.size() == 2);
  if (persists && s.node().last_token() > s.durable_token()) return s.node().last_token();
  return 0;
}

void run_session_command(Server& s, Connection& c, const resp::CommandSpec& spec, Args a,
                         resp::Writer& w, std::string* out) {
  switch (spec.id) {
    case CommandId::kPing:
      if (a.size() > 2) return w.error("ERR wrong number of arguments for 'ping' command");
      return a.size() == 2 ? w.bulk(a[1]) : w.simple("PONG");
    case CommandId::kEcho:
      return w.bulk(a[1]);
    case CommandId::kHello:
      return cmd_hello(s, c, a, w, out);
    case CommandId::kQuit:
      c.close_after_flush();
      return w.ok();
    case CommandId::kSelect:
      return a[1] == "0" ? w.ok() : w.error("ERR DB index is out of range");
    case CommandId::kCommand:
      return resp::command_command(a, w);
    case CommandId::kClient:
      return cmd_client(s, c, a, w);
    case CommandId::kInfo: {
      std::string section = a.size() > 1 ? std::string(a[1]) : "default";
      return w.verbatim(s.info_text(section));
    }
    case CommandId::kAuth:
      return cmd_auth(s, c, a, w);
    case CommandId::kReset:
      c.transaction().reset(s, c.info().id);
      c.reset_user();
      c.set_proto(2);
      c.info().name.clear();
      c.set_read_mode(std::nullopt);
      c.set_consistency(std::nullopt);
      return w.simple("RESET");
    case CommandId::kRole:
      return cmd_role(s, w);
    case CommandId::kRoles:
      return cmd_roles(s, w);
    case CommandId::kLostwrites:
      return cmd_lostwrites(s, a, w);
    case CommandId::kStaleness:
      return cmd_staleness(s, c, w);
    case CommandId::kConsistency: {
      if (a.size() == 1) {
        return w.bulk(to_string(c.consistency().value_or(Consistency::kDefault)));
      }
      Consistency cl;
      if (a.size() == 2 && parse_consistency(a[1], &cl)) {
        c.set_consistency(cl == Consistency::kDefault ? std::nullopt
                                                      : std::optional<Consistency>(cl));
        return w.ok();
      }
      return w.error("ERR CONSISTENCY takes ONE, TWO, THREE, QUORUM, ALL, ANY or DEFAULT");
    }
    case CommandId::kRing:
      return cmd_ring(s, w);
    case CommandId::kConflicts:
      return cmd_conflicts(s, a, w);
    case CommandId::kRepair: {
      int64_t started = 0;
      for (uint32_t i = 0; i < s.node().store().keyspace_count(); ++i) {
        Engine* e = s.node().engine(i);
        if (LeaderlessEngine* l = e ? e->as_leaderless() : nullptr) {
          l->start_repair();
          ++started;
        }
      }
      return w.integer(started);
    }
    case CommandId::kReadmode:
      if (a.size() == 1) {
        return w.bulk(c.read_mode() ? to_string(*c.read_mode()) : "default");
      }
      if (a.size() == 2) {
        if (iequals(a[1], "default")) {
          c.set_read_mode(std::nullopt);
          return w.ok();
        }
        for (ReadMode m : {ReadMode::kLinearizable, ReadMode::kLease, ReadMode::kFollower}) {
          if (iequals(a[1], to_string(m))) {
            c.set_read_mode(m);
            return w.ok();
          }
        }
      }
      return w.error("ERR READMODE takes linearizable, lease, follower or default");
    case CommandId::kWait: {
      int64_t n;
      if (!parse_int64(a[1], &n) || !parse_int64(a[2], &n)) {
        return w.error("ERR value is not an integer or out of range");
      }
      // Replicated writes are acknowledged only once their commit mode is satisfied, so there
      // is nothing further to wait for: report the replicas that hold everything committed.
      int64_t replicas = 0;
      for (const auto& [name, st] : s.node().replication_status()) {
        int64_t n_ok = 0;
        for (const auto& f : st.followers)
          n_ok += f.match >= st.commit ? 1 : 0;
        replicas = replicas == 0 ? n_ok : std::min(replicas, n_ok);
      }
      return w.integer(replicas);
    }
    case CommandId::kConfig:
      return cmd_config(s, a, w);
    case CommandId::kAcl:
      return cmd_acl(s, c, a, w);
    case CommandId::kTime: {
      const int64_t us = s.now_us();
      w.array(2);
      w.bulk(std::to_string(us / 1000000));
      return w.bulk(std::to_string(us % 1000000));
    }
    case CommandId::kLastsave:
      return w.integer(s.now_ms() / 1000);
    case CommandId::kSave:
      // batch: the reply is held until every earlier write is synced (see the caller).
      if (!s.holds_replies()) s.persist_now();
      return w.ok();
    case CommandId::kBgsave:
      return w.simple("Background saving started");
    case CommandId::kShutdown:
      s.stop();
      c.close_after_flush();
      return w.ok();
    default:
      w.error(fmt::format("ERR command '{}' is not available here", spec.name));
  }
}

}  // namespace rkv
