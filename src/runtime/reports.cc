// Text renderings of a server's state: INFO sections, Prometheus /metrics, JSON /status.
#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <set>

#include "node/key_table.h"
#include "node/leaderless_engine.h"
#include "runtime/connection.h"
#include "runtime/memory_usage.h"
#include "runtime/peer_transport.h"
#include "runtime/server.h"

namespace rkv {

namespace {

// Bytes as Redis's INFO writes them for people: "1.50M".
std::string human_bytes(uint64_t n) {
  const double d = static_cast<double>(n);
  if (n < 1024) return fmt::format("{}B", n);
  if (n < (1ull << 20)) return fmt::format("{:.2f}K", d / 1024);
  if (n < (1ull << 30)) return fmt::format("{:.2f}M", d / (1 << 20));
  if (n < (1ull << 40)) return fmt::format("{:.2f}G", d / (1ull << 30));
  return fmt::format("{:.2f}T", d / (1ull << 40));
}

bool wants(std::string_view section, std::string_view name) {
  if (section == "all" || section == "everything") return true;
  if (section == "default") return name != "commandstats";
  return section == name;
}

// An INFO value is one line: line breaks in free text (an error message) become spaces.
std::string one_line(std::string s) {
  for (char& c : s) {
    if (c == '\r' || c == '\n') c = ' ';
  }
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string Server::info_text(std::string_view section_in) {
  const std::string section = lower(section_in);
  const Store& st = node_->store();
  const int64_t now = now_ms();
  std::string o;
  if (wants(section, "server")) {
    o += fmt::format(
        "# Server\r\nredis_version:7.0.0\r\nreplikv_version:0.1.0\r\nredis_mode:standalone\r\n"
        "os:Linux\r\narch_bits:64\r\nprocess_id:{}\r\nnode_id:{}\r\ntcp_port:{}\r\n"
        "uptime_in_seconds:{}\r\nuptime_in_days:{}\r\nexecutable:replikv\r\n\r\n",
        getpid(), config_.node_id, bound_port_, (now - start_ms_) / 1000,
        (now - start_ms_) / 86400000);
  }
  if (wants(section, "clients")) {
    size_t blocked = 0;
    for (const auto& [id, c] : connections_)
      blocked += c->is_blocked() ? 1 : 0;
    o += fmt::format(
        "# Clients\r\nconnected_clients:{}\r\nblocked_clients:{}\r\nmaxclients:{}\r\n"
        "rejected_connections:{}\r\nclosed_output_limit:{}\r\nclosed_idle:{}\r\n"
        "input_paused:{}\r\n\r\n",
        connections_.size(), blocked, config_.limits.max_clients, stats_.rejected_connections,
        stats_.closed_output_limit, stats_.closed_idle, stats_.input_paused);
  }
  if (wants(section, "memory")) {
    check_memory();  // fresh figures (they are otherwise refreshed each second without a limit)
    const uint64_t used = used_memory_, rss = resident_bytes();
    const MemorySettings& m = config_.memory;
    o += fmt::format(
        "# Memory\r\nused_memory:{}\r\nused_memory_human:{}\r\nused_memory_rss:{}\r\n"
        "used_memory_rss_human:{}\r\nused_memory_dataset:{}\r\nused_memory_storage_engine:{}\r\n"
        "used_memory_for_maxmemory:{}\r\nmaxmemory:{}\r\nmaxmemory_human:{}\r\n"
        "maxmemory_policy:{}\r\nmaxmemory_samples:{}\r\nmem_allocator:{}\r\n\r\n",
        used, human_bytes(used), rss, human_bytes(rss), st.total_bytes(), engine_recent_max_,
        node_->used_memory_estimate(), m.maxmemory, human_bytes(m.maxmemory), to_string(m.policy),
        m.samples, allocator_name());
  }
  if (wants(section, "persistence")) {
    o += fmt::format(
        "# Persistence\r\nloading:0\r\nfsync:{}\r\ndata_dir:{}\r\npersist_batches:{}\r\n"
        "persist_syncs:{}\r\npersist_rows:{}\r\nunpersisted_writes:{}\r\npersist_failures:{}\r\n"
        "disk_full:{}\r\ndisk_free_bytes:{}\r\ndisk_reserve_bytes:{}\r\ndisk_error:{}\r\n"
        "disk_full_handoffs:{}\r\n\r\n",
        to_string(config_.fsync), config_.data_dir, stats_.persist_batches, stats_.persist_syncs,
        stats_.persist_rows, node_->last_token() - node_->durable_token(), stats_.persist_failures,
        disk_.full() ? 1 : 0, disk_.free_bytes(), disk_.reserve_bytes(), one_line(disk_.reason()),
        node_->disk_full_handoffs());
  }
  if (wants(section, "stats")) {
    o += fmt::format(
        "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\n"
        "total_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\nexpired_keys:{}\r\n"
        "evicted_keys:{}\r\n"
        "unknown_commands:{}\r\nprotocol_errors:{}\r\nlatency_p50_us:{}\r\n"
        "latency_p99_us:{}\r\nloop_steps:{}\r\nloop_step_p99_us:{}\r\nloop_step_max_us:{}\r\n"
        "loop_step_recent_max_us:{}\r\ntransactions_executed:{}\r\n"
        "transactions_aborted_watch:{}\r\ntransactions_execabort:{}\r\n"
        "transactions_failed:{}\r\nacl_access_denied_auth:{}\r\nacl_access_denied_cmd:{}\r\n"
        "acl_access_denied_key:{}\r\n\r\n",
        stats_.connections_total, stats_.total_commands(), stats_.net_input_bytes,
        stats_.net_output_bytes, st.total_expired(), node_->evicted_keys(), stats_.unknown_commands,
        stats_.protocol_errors, stats_.latency.quantile_us(0.5), stats_.latency.quantile_us(0.99),
        stats_.loop.histogram().total(), stats_.loop.histogram().quantile_us(0.99),
        stats_.loop.max_us(), stats_.loop.recent_max_us(), stats_.transactions_executed,
        stats_.transactions_aborted, stats_.transactions_execabort, stats_.transactions_failed,
        stats_.auth_failures, stats_.acl_denied_commands, stats_.acl_denied_keys);
  }
  if (wants(section, "replication")) o += replication_text();
  if (wants(section, "keyspace_replication")) o += keyspace_replication_text();
  if (wants(section, "commandstats")) {
    o += "# Commandstats\r\n";
    for (const auto& c : resp::all_commands()) {
      uint64_t n = stats_.calls[static_cast<size_t>(c.id)];
      if (n) {
        o += fmt::format("cmdstat_{}:calls={},failed_calls={}\r\n", c.name, n,
                         stats_.errors[static_cast<size_t>(c.id)]);
      }
    }
    o += "\r\n";
  }
  if (wants(section, "keyspace")) {
    o += "# Keyspace\r\n";
    if (st.total_keys() > 0) {
      o +=
          fmt::format("db0:keys={},expires={},avg_ttl=0\r\n", st.total_keys(), st.total_expiring());
    }
    o += "\r\n";
  }
  if (wants(section, "keyspaces")) {
    o += "# Keyspaces\r\n";
    for (size_t i = 0; i < st.keyspace_count(); ++i) {
      const Keyspace& k = st.keyspace(static_cast<uint32_t>(i));
      o += fmt::format("keyspace_{}:prefix={},model={},keys={},expires={}\r\n", k.config.name,
                       k.config.prefix, to_string(k.config.model), k.table.size(),
                       k.expiries.size());
    }
    o += "\r\n";
  }
  if (o.size() >= 2) o.resize(o.size() - 2);  // no blank line after the last section
  return o;
}

Server::RedisRole Server::redis_role() {
  RedisRole r;
  const auto groups = node_->replication_status();
  const uint32_t self = node_->self_index();
  std::vector<uint64_t> replica_offset(config_.nodes.size(), 0);
  std::vector<bool> online(config_.nodes.size(), true);
  for (const auto& [name, st] : groups) {
    r.offset += st.applied;
    if (st.role == raft::Role::kLeader) {
      for (const auto& f : st.followers) {
        replica_offset[f.node] += f.match;
        online[f.node] = online[f.node] && f.active;
      }
    } else if (r.master) {
      r.master = false;
      r.leader = st.leader;
      r.ms_since_leader = static_cast<int64_t>(st.ms_since_leader);
    }
  }
  if (r.master) {
    for (uint32_t i = 0; i < config_.nodes.size() && !groups.empty(); ++i) {
      // Like Redis, a master lists the replicas connected to it: the followers it hears from.
      if (i != self && online[i]) r.replicas.push_back({i, replica_offset[i]});
    }
  }
  const std::string seed = groups.empty()
                               ? config_.node_id
                               : fmt::format("{}/{}", groups[0].first, groups[0].second.term);
  r.replid = fmt::format("{:016x}{:016x}{:08x}", KeyTable::hash_of(seed),
                         KeyTable::hash_of(seed + "#"), KeyTable::hash_of(seed + "$") >> 32);
  return r;
}

std::string Server::replication_text() {
  const RedisRole r = redis_role();
  std::string o = "# Replication\r\n";
  if (r.master) {
    o += fmt::format("role:master\r\nconnected_slaves:{}\r\n", r.replicas.size());
    for (size_t i = 0; i < r.replicas.size(); ++i) {
      const auto& rep = r.replicas[i];
      const PeerConfig& p = config_.nodes[rep.node];
      o += fmt::format("slave{}:ip={},port={},state=online,offset={},lag=0\r\n", i, p.host, p.port,
                       rep.offset);
    }
  } else {
    const bool known = r.leader >= 0;
    const PeerConfig* m = known ? &config_.nodes[static_cast<size_t>(r.leader)] : nullptr;
    o += fmt::format(
        "role:slave\r\nmaster_host:{}\r\nmaster_port:{}\r\nmaster_link_status:{}\r\n"
        "master_last_io_seconds_ago:{}\r\nmaster_sync_in_progress:0\r\n"
        "slave_read_repl_offset:{}\r\nslave_repl_offset:{}\r\nslave_priority:100\r\n"
        "slave_read_only:0\r\nreplica_announced:1\r\nconnected_slaves:0\r\n",
        known ? m->host : "", known ? m->port : 0, known ? "up" : "down",
        known ? r.ms_since_leader / 1000 : -1, r.offset, r.offset);
  }
  o += fmt::format(
      "master_failover_state:no-failover\r\nmaster_replid:{}\r\n"
      "master_replid2:0000000000000000000000000000000000000000\r\nmaster_repl_offset:{}\r\n"
      "second_repl_offset:-1\r\nrepl_backlog_active:0\r\nrepl_backlog_size:0\r\n"
      "repl_backlog_first_byte_offset:0\r\nrepl_backlog_histlen:0\r\n\r\n",
      r.replid, r.offset);
  return o;
}

std::string Server::keyspace_replication_text() {
  auto groups = node_->replication_status();
  if (!node_->clustered()) return "# Keyspace_replication\r\ncluster:single-node\r\n\r\n";
  std::string o = fmt::format("# Keyspace_replication\r\nnode_id:{}\r\ncluster_nodes:{}\r\n",
                              config_.node_id, config_.nodes.size());
  // Regions (PeerConfig::region) only when the cluster declares them: this node's, and each
  // node's in cluster order.
  if (!config_.nodes[node_->self_index()].region.empty()) {
    o += fmt::format("region:{}\r\n", config_.nodes[node_->self_index()].region);
    std::string all;
    for (const PeerConfig& p : config_.nodes)
      all += fmt::format("{}{}={}", all.empty() ? "" : ",", p.id, p.region);
    o += fmt::format("node_regions:{}\r\n", all);
  }
  for (const auto& [name, st] : groups) {
    const char* role = raft::role_name(st.role);
    o += fmt::format(
        "keyspace_{}:role={},term={},leader={},commit_index={},applied_index={},last_index={},"
        "snapshot_index={},snapshots_sent={},snapshots_installed={},disk_full_handoffs={}\r\n",
        name, role, st.term, st.leader >= 0 ? config_.nodes[st.leader].id : "none", st.commit,
        st.applied, st.last_index, st.snapshot_index, st.snapshots_sent, st.snapshots_installed,
        st.disk_full_handoffs);
    for (const auto& f : st.followers) {
      o += fmt::format("keyspace_{}_follower_{}:match_index={},lag={},active={}\r\n", name,
                       config_.nodes[f.node].id, f.match, f.lag, f.active ? 1 : 0);
    }
  }
  // Engines other than Raft groups (leaderless): one line per keyspace, field=value pairs.
  std::string current;
  for (const auto& f : node_->describe_engines()) {
    if (f.field == "model" && f.value == "primary") {
      current.clear();
      continue;
    }
    if (f.field == "model") {
      if (!current.empty()) o += "\r\n";
      current = f.keyspace;
      o += fmt::format("keyspace_{}:model={}", f.keyspace, f.value);
      continue;
    }
    if (f.keyspace == current) o += fmt::format(",{}={}", f.field, f.value);
  }
  if (!current.empty()) o += "\r\n";
  o += fmt::format("lost_writes:{}\r\n", node_->lost_writes().size());
  if (transport_) {
    for (uint32_t i = 0; i < config_.nodes.size(); ++i) {
      if (i == node_->self_index()) continue;
      const PeerStats p = transport_->stats(i);
      const std::string& region = config_.nodes[i].region;
      o += fmt::format(
          "peer_{}:{}connected={},inbound_connected={},frames_sent={},bytes_sent={},"
          "frames_received={},bytes_received={},queued_frames={},dropped={},rejected={},"
          "bad_frames={},reconnects={}\r\n",
          config_.nodes[i].id, region.empty() ? "" : "region=" + region + ",", p.connected ? 1 : 0,
          p.inbound_connected ? 1 : 0, p.frames_sent, p.bytes_sent, p.frames_received,
          p.bytes_received, p.queued_frames, p.dropped, p.rejected, p.bad_frames, p.reconnects);
    }
    o +=
        fmt::format("peer_rejected_unauthenticated:{}\r\n", transport_->rejected_unauthenticated());
  }
  return o + "\r\n";
}

std::string Server::metrics_text() {
  std::string o;
  o += "# HELP replikv_commands_total Commands executed, by command.\n";
  o += "# TYPE replikv_commands_total counter\n";
  for (const auto& c : resp::all_commands()) {
    uint64_t n = stats_.calls[static_cast<size_t>(c.id)];
    if (n) o += fmt::format("replikv_commands_total{{cmd=\"{}\"}} {}\n", c.name, n);
  }
  o += "# HELP replikv_command_errors_total Commands rejected before execution, by command.\n";
  o += "# TYPE replikv_command_errors_total counter\n";
  for (const auto& c : resp::all_commands()) {
    uint64_t n = stats_.errors[static_cast<size_t>(c.id)];
    if (n) o += fmt::format("replikv_command_errors_total{{cmd=\"{}\"}} {}\n", c.name, n);
  }
  auto histogram = [&](std::string_view name, std::string_view help, const LatencyHistogram& h) {
    o += fmt::format("# HELP {} {}\n# TYPE {} histogram\n", name, help, name);
    uint64_t cum = 0;
    for (size_t i = 0; i < LatencyHistogram::kBoundsUs.size(); ++i) {
      cum += h.count_in(i);
      o += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name,
                       static_cast<double>(LatencyHistogram::kBoundsUs[i]) / 1e6, cum);
    }
    o += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n", name, h.total());
    o += fmt::format("{}_sum {}\n", name, static_cast<double>(h.sum_us()) / 1e6);
    o += fmt::format("{}_count {}\n", name, h.total());
  };
  histogram("replikv_command_latency_seconds",
            "Time from receiving a command to its reply being ready (fsync wait included).",
            stats_.latency);
  histogram("replikv_loop_step_seconds",
            "Time the event loop spent in one step (client reads, end of round, peer message, "
            "timer, group commit); everything else waits meanwhile.",
            stats_.loop.histogram());
  const Store& st = node_->store();
  auto gauge = [&](std::string_view name, std::string_view help, uint64_t v) {
    o += fmt::format("# HELP {} {}\n# TYPE {} gauge\n{} {}\n", name, help, name, name, v);
  };
  auto counter = [&](std::string_view name, std::string_view help, uint64_t v) {
    o += fmt::format("# HELP {} {}\n# TYPE {} counter\n{} {}\n", name, help, name, name, v);
  };
  gauge("replikv_connected_clients", "Client connections open now.", connections_.size());
  gauge("replikv_loop_step_max_microseconds", "Longest event loop step since the start.",
        stats_.loop.max_us());
  gauge("replikv_loop_step_recent_max_microseconds",
        "Longest event loop step of the last 30 to 60 seconds.", stats_.loop.recent_max_us());
  counter("replikv_connections_total", "Client connections accepted.", stats_.connections_total);
  counter("replikv_rejected_connections_total", "Connections refused at max_clients.",
          stats_.rejected_connections);
  counter("replikv_client_input_paused_total",
          "Times a client's input stopped being read while its writes waited to be durable or "
          "committed (backpressure).",
          stats_.input_paused);
  counter("replikv_tls_handshake_failures_total",
          "TLS client handshakes refused (bad certificate, not TLS) or broken.",
          stats_.tls_handshake_failures);
  counter("replikv_protocol_errors_total", "Malformed requests.", stats_.protocol_errors);
  counter("replikv_unknown_commands_total", "Requests naming no known command.",
          stats_.unknown_commands);
  counter("replikv_auth_failures_total", "AUTH or HELLO AUTH attempts with a wrong password.",
          stats_.auth_failures);
  counter("replikv_auth_rate_limited_total",
          "Authentication attempts refused unchecked after too many failures on a connection.",
          stats_.auth_rate_limited);
  counter("replikv_noauth_rejected_total", "Commands refused before authentication.",
          stats_.noauth_rejected);
  counter("replikv_acl_denied_commands_total",
          "Commands refused (NOPERM) because the user may not run them.",
          stats_.acl_denied_commands);
  counter("replikv_acl_denied_keys_total",
          "Commands refused (NOPERM) because the user may not touch one of their keys.",
          stats_.acl_denied_keys);
  counter("replikv_transactions_executed_total", "EXECs that ran their queued commands.",
          stats_.transactions_executed);
  counter("replikv_transactions_aborted_total", "EXECs answered nil because a WATCHed key changed.",
          stats_.transactions_aborted);
  counter("replikv_transactions_execabort_total",
          "EXECs refused (EXECABORT) because a command was refused while queuing.",
          stats_.transactions_execabort);
  counter("replikv_transactions_failed_total",
          "EXECs answered with an error as a whole (keyspaces mixed, no leader, timeout).",
          stats_.transactions_failed);
  // Engines' own figures (leaderless: coordinated requests, repairs, hints, node states).
  {
    std::string model;
    std::set<std::string> described;
    for (const auto& f : node_->describe_engines()) {
      if (f.field == "model") {
        model = f.value;
        // A metric name has no '-': multi-leader's figures are replikv_multi_leader_*.
        std::replace(model.begin(), model.end(), '-', '_');
        continue;
      }
      if (model == "primary") continue;  // Raft groups have their own metrics below
      if (f.field.starts_with("node_")) {
        // node_<id>: up / suspect / down; node_<id>_phi: the failure detector's suspicion.
        const bool phi = f.field.ends_with("_phi");
        const std::string peer = f.field.substr(5, f.field.size() - 5 - (phi ? 4 : 0));
        if (phi) {
          o += fmt::format("replikv_{}_node_phi{{keyspace=\"{}\",node=\"{}\"}} {}\n", model,
                           f.keyspace, peer, f.value == "inf" ? "+Inf" : f.value);
        } else {
          o += fmt::format("replikv_{}_node_up{{keyspace=\"{}\",node=\"{}\"}} {}\n", model,
                           f.keyspace, peer, f.value == "up" ? 1 : 0);
        }
        continue;
      }
      char* end = nullptr;
      std::strtod(f.value.c_str(), &end);
      if (f.value.empty() || *end != '\0') continue;  // not a number (settings)
      const std::string name = fmt::format("replikv_{}_{}", model, f.field);
      if (described.insert(name).second) o += fmt::format("# TYPE {} gauge\n", name);
      o += fmt::format("{}{{keyspace=\"{}\"}} {}\n", name, f.keyspace, f.value);
    }
  }
  // Leaderless read freshness measured on this node's own traffic (see LeaderlessEngine).
  bool freshness_help = false;
  for (uint32_t i = 0; i < st.keyspace_count(); ++i) {
    const Engine* e = node_->engine(i);
    const LeaderlessEngine* l = e ? e->as_leaderless() : nullptr;
    if (!l) continue;
    if (!freshness_help) {
      freshness_help = true;
      o += "# HELP replikv_leaderless_reads_judged_total Reads coordinated here whose every asked "
           "replica answered, by ms between the newest version's write and the read (le).\n"
           "# TYPE replikv_leaderless_reads_judged_total counter\n"
           "# HELP replikv_leaderless_reads_fresh_total Of those, reads whose reply showed "
           "everything the replicas held.\n"
           "# TYPE replikv_leaderless_reads_fresh_total counter\n";
    }
    const auto& f = l->freshness();
    uint64_t judged = 0, fresh = 0;  // cumulative, as a Prometheus histogram's buckets
    for (size_t b = 0; b < LeaderlessEngine::kFreshnessBuckets; ++b) {
      judged += f.judged[b];
      fresh += f.fresh[b];
      const std::string le = b < std::size(LeaderlessEngine::kFreshnessBoundsMs)
                                 ? std::to_string(LeaderlessEngine::kFreshnessBoundsMs[b])
                                 : "+Inf";
      o += fmt::format("replikv_leaderless_reads_judged_total{{keyspace=\"{}\",le=\"{}\"}} {}\n",
                       st.keyspace(i).config.name, le, judged);
      o += fmt::format("replikv_leaderless_reads_fresh_total{{keyspace=\"{}\",le=\"{}\"}} {}\n",
                       st.keyspace(i).config.name, le, fresh);
    }
  }
  gauge("replikv_keys", "Keys stored, all keyspaces.", st.total_keys());
  gauge("replikv_data_bytes", "Bytes of keys and values stored.", st.total_bytes());
  gauge("replikv_resident_bytes", "Resident memory of the process.", resident_bytes());
  gauge("replikv_used_memory_bytes",
        "Bytes the allocator holds for the process (INFO used_memory), measured now.",
        allocated_bytes());
  gauge("replikv_maxmemory_bytes", "The memory limit (maxmemory); 0: none.",
        config_.memory.maxmemory);
  gauge("replikv_memory_for_maxmemory_bytes",
        "The figure the memory limit is compared with: used memory less the storage engine's "
        "memtables and block cache, as estimated since the last measurement.",
        node_->used_memory_estimate());
  counter("replikv_evicted_keys_total",
          "Keys evicted to stay under maxmemory (by this node, or by its log as a leader).",
          node_->evicted_keys());
  counter("replikv_expired_keys_total", "Keys removed because their TTL passed.",
          st.total_expired());
  counter("replikv_net_input_bytes_total", "Bytes read from clients.", stats_.net_input_bytes);
  counter("replikv_net_output_bytes_total", "Bytes written to clients.", stats_.net_output_bytes);
  counter("replikv_persist_batches_total", "Storage write batches.", stats_.persist_batches);
  counter("replikv_persist_syncs_total", "Storage writes that were synced to disk.",
          stats_.persist_syncs);
  counter("replikv_persist_failures_total",
          "Storage batch writes the disk refused (each retry counts).", stats_.persist_failures);
  gauge("replikv_disk_full",
        "1 while writes are refused because the disk is full (a failed write, or free space "
        "below disk_reserve_bytes).",
        disk_.full() ? 1 : 0);
  gauge("replikv_disk_free_bytes", "Free bytes on the data dir's file system at the last check.",
        disk_.free_bytes());
  counter("replikv_disk_full_handoffs_total",
          "Leadership transfers of primary keyspaces started because this node's disk was full.",
          node_->disk_full_handoffs());
  o += "# HELP replikv_keyspace_keys Keys stored, by keyspace.\n# TYPE replikv_keyspace_keys "
       "gauge\n";
  for (size_t i = 0; i < st.keyspace_count(); ++i) {
    const Keyspace& k = st.keyspace(static_cast<uint32_t>(i));
    o += fmt::format("replikv_keyspace_keys{{keyspace=\"{}\",model=\"{}\"}} {}\n", k.config.name,
                     to_string(k.config.model), k.table.size());
  }
  o += "# HELP replikv_lost_writes Acknowledged async writes this node recorded as lost in a "
       "failover (LOSTWRITES), by keyspace.\n# TYPE replikv_lost_writes gauge\n";
  for (size_t i = 0; i < st.keyspace_count(); ++i) {
    const KeyspaceConfig& kc = st.keyspace(static_cast<uint32_t>(i)).config;
    if (kc.model != Model::kPrimary) continue;
    size_t n = 0;
    for (const Node::LostWrite& l : node_->lost_writes())
      n += l.keyspace == kc.name ? 1 : 0;
    o += fmt::format("replikv_lost_writes{{keyspace=\"{}\"}} {}\n", kc.name, n);
  }
  if (transport_) {
    struct PeerMetric {
      const char* name;
      const char* type;
      const char* help;
      uint64_t (*get)(const PeerStats&);
    };
    static constexpr PeerMetric kPeerMetrics[] = {
        {"replikv_peer_connected", "gauge", "1 while this node's link to the peer is up.",
         [](const PeerStats& p) -> uint64_t { return p.connected ? 1 : 0; }},
        {"replikv_peer_frames_sent_total", "counter", "Messages written to the peer.",
         [](const PeerStats& p) { return p.frames_sent; }},
        {"replikv_peer_bytes_sent_total", "counter", "Message bytes written to the peer.",
         [](const PeerStats& p) { return p.bytes_sent; }},
        {"replikv_peer_frames_received_total", "counter", "Messages received from the peer.",
         [](const PeerStats& p) { return p.frames_received; }},
        {"replikv_peer_bytes_received_total", "counter", "Message bytes received from the peer.",
         [](const PeerStats& p) { return p.bytes_received; }},
        {"replikv_peer_queued_frames", "gauge", "Messages waiting to be written to the peer.",
         [](const PeerStats& p) { return p.queued_frames; }},
        {"replikv_peer_dropped_total", "counter",
         "Messages not sent: the peer's queue was full or the message too large.",
         [](const PeerStats& p) { return p.dropped + p.oversized; }},
        {"replikv_peer_rejected_total", "counter",
         "Connections with the peer closed for a protocol or authentication violation.",
         [](const PeerStats& p) { return p.rejected; }},
        {"replikv_peer_bad_frames_total", "counter",
         "Frames from the peer refused by their MAC (altered, injected, replayed or reordered).",
         [](const PeerStats& p) { return p.bad_frames; }},
        {"replikv_peer_reconnects_total", "counter", "Links to the peer established again.",
         [](const PeerStats& p) { return p.reconnects; }},
    };
    std::vector<std::pair<const std::string*, PeerStats>> peers;
    for (uint32_t i = 0; i < config_.nodes.size(); ++i) {
      if (i != node_->self_index()) peers.emplace_back(&config_.nodes[i].id, transport_->stats(i));
    }
    for (const PeerMetric& m : kPeerMetrics) {
      o += fmt::format("# HELP {} {}\n# TYPE {} {}\n", m.name, m.help, m.name, m.type);
      for (const auto& [id, stats] : peers)
        o += fmt::format("{}{{peer=\"{}\"}} {}\n", m.name, *id, m.get(stats));
    }
    counter("replikv_peer_rejected_unauthenticated_total",
            "Connections closed for a violation before the peer was identified.",
            transport_->rejected_unauthenticated());
  }
  return o;
}

std::string Server::status_json() {
  const Store& st = node_->store();
  nlohmann::json j;
  j["node_id"] = config_.node_id;
  j["version"] = "0.1.0";
  j["port"] = bound_port_;
  j["uptime_ms"] = now_ms() - start_ms_;
  j["fsync"] = to_string(config_.fsync);
  j["disk_full"] = disk_.full();
  j["disk_error"] = disk_.reason();
  j["data_dir"] = config_.data_dir;
  j["clients"] = connections_.size();
  j["keys"] = st.total_keys();
  j["commands"] = stats_.total_commands();
  j["latency_p50_us"] = stats_.latency.quantile_us(0.5);
  j["latency_p99_us"] = stats_.latency.quantile_us(0.99);
  nlohmann::json groups = nlohmann::json::array();
  for (const auto& [name, st] : node_->replication_status()) {
    nlohmann::json g;
    g["keyspace"] = name;
    g["role"] = raft::role_name(st.role);
    g["term"] = st.term;
    g["leader"] = st.leader >= 0 ? config_.nodes[st.leader].id : "";
    g["commit_index"] = st.commit;
    g["applied_index"] = st.applied;
    g["last_index"] = st.last_index;
    g["snapshot_index"] = st.snapshot_index;
    g["snapshots_sent"] = st.snapshots_sent;
    g["snapshots_installed"] = st.snapshots_installed;
    g["disk_full_handoffs"] = st.disk_full_handoffs;
    nlohmann::json fs = nlohmann::json::array();
    for (const auto& f : st.followers) {
      fs.push_back({{"node", config_.nodes[f.node].id},
                    {"match_index", f.match},
                    {"lag", f.lag},
                    {"active", f.active}});
    }
    g["followers"] = fs;
    groups.push_back(g);
  }
  j["replication"] = groups;
  nlohmann::json engines = nlohmann::json::object();
  for (const auto& f : node_->describe_engines()) {
    engines[f.keyspace][f.field] = f.value;
  }
  nlohmann::json others = nlohmann::json::array();
  for (auto& [name, fields] : engines.items()) {
    if (fields.value("model", "") == "primary") continue;
    fields["keyspace"] = name;
    others.push_back(fields);
  }
  j["engines"] = others;
  j["role"] = node_->clustered() ? "cluster" : "single-node";
  // Every member and its region ("" when the cluster declares none), this node included.
  nlohmann::json members = nlohmann::json::array();
  for (const PeerConfig& p : config_.nodes)
    members.push_back({{"id", p.id}, {"region", p.region}});
  j["nodes"] = members;
  j["region"] = node_->clustered() ? config_.nodes[node_->self_index()].region : "";
  nlohmann::json ks = nlohmann::json::array();
  for (size_t i = 0; i < st.keyspace_count(); ++i) {
    const Keyspace& k = st.keyspace(static_cast<uint32_t>(i));
    nlohmann::json e;
    e["name"] = k.config.name;
    e["prefix"] = k.config.prefix;
    e["model"] = to_string(k.config.model);
    e["keys"] = k.table.size();
    ks.push_back(e);
  }
  j["keyspaces"] = ks;
  return j.dump();
}

}  // namespace rkv
