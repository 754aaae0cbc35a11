// Configuration types for a node and its keyspaces, and the TOML loader. See
// docs/configuration.md for every key, its default and its limits.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace rkv {

enum class FsyncMode : unsigned char { kAlways, kBatch, kNever };
enum class Model : unsigned char { kPrimary, kMultiLeader, kLeaderless };
enum class CommitMode : unsigned char { kQuorum, kAll, kAsync };
enum class ReadMode : unsigned char { kLinearizable, kLease, kFollower };
enum class ConflictMode : unsigned char { kLww, kSiblings, kCrdt };
enum class ReadRepair : unsigned char { kBlocking, kAsync, kOff };
// How many replicas a leaderless request waits for (per connection: CONSISTENCY). kDefault: the
// keyspace's r / w. kAny (writes): one acknowledgement, a stored hint included.
enum class Consistency : unsigned char { kDefault, kOne, kTwo, kThree, kQuorum, kAll, kAny };

const char* to_string(FsyncMode m);
const char* to_string(Model m);
const char* to_string(CommitMode m);
const char* to_string(ReadMode m);
const char* to_string(ConflictMode m);
const char* to_string(ReadRepair m);
const char* to_string(Consistency c);
// Parses CONSISTENCY's argument, case-insensitively; false when unknown.
bool parse_consistency(std::string_view s, Consistency* out);

struct Limits {
  uint64_t max_bulk_len = 512ull << 20;               // largest bulk string a client may send
  uint64_t max_args = 1024 * 1024;                    // most arguments in one command
  uint64_t max_inline_len = 64 * 1024;                // longest inline command line
  uint64_t max_clients = 10000;                       // concurrent client connections
  uint64_t client_output_buffer_limit = 64ull << 20;  // pending reply bytes per client
  uint64_t idle_timeout_ms = 0;                       // close idle clients; 0 = never
  uint64_t max_value_len = 512ull << 20;              // largest stored string value
  uint64_t max_query_buffer = 1ull << 30;             // unparsed request bytes held per client
};

// --- memory limit (maxmemory) ---
// What happens when a write would add memory while the node is over `maxmemory`, as Redis's
// maxmemory-policy: refuse it (-OOM), or evict keys chosen among all keys or only those with a
// TTL, by approximate LRU, approximate LFU, soonest expiry or at random.
enum class MaxmemoryPolicy : unsigned char {
  kNoEviction,
  kAllkeysLru,
  kAllkeysLfu,
  kAllkeysRandom,
  kVolatileLru,
  kVolatileLfu,
  kVolatileRandom,
  kVolatileTtl,
};
const char* to_string(MaxmemoryPolicy p);
// Parses a policy name ("allkeys-lru"), case-insensitively; false when unknown.
bool parse_maxmemory_policy(std::string_view s, MaxmemoryPolicy* out);
// Parses a byte count with Redis's units: "1048576", "100k"/"100kb" (10^3 / 2^10), "50mb",
// "1gb" (case-insensitive). False when malformed or above 2^62.
bool parse_memory_bytes(std::string_view s, uint64_t* out);

struct MemorySettings {
  uint64_t maxmemory = 0;  // bytes; 0 = no limit
  MaxmemoryPolicy policy = MaxmemoryPolicy::kNoEviction;
  uint32_t samples = 5;  // keys sampled per eviction pick (LRU, LFU, TTL)
};

struct KeyspaceConfig {
  std::string name;
  std::string prefix;  // keys starting with this belong to the keyspace; "" only for default
  Model model = Model::kPrimary;
  // primary
  CommitMode commit = CommitMode::kQuorum;
  ReadMode read = ReadMode::kLinearizable;
  // multi-leader and leaderless
  ConflictMode conflict = ConflictMode::kLww;
  // leaderless
  int n = 3, r = 2, w = 2;
  bool sloppy = true;  // a down home replica's writes go to the next node on the ring, hinted
  ReadRepair read_repair = ReadRepair::kBlocking;
};

// Cluster-wide settings of leaderless keyspaces.
struct LeaderlessSettings {
  uint32_t tokens_per_node = 64;              // virtual nodes per member on the hash ring
  uint64_t gossip_ms = 200;                   // heartbeat gossip period
  double phi_threshold = 8;                   // phi at which a node is considered down
  uint64_t request_timeout_ms = 2000;         // a coordinator answers (with an error) by then
  uint64_t hint_window_ms = 3 * 3600 * 1000;  // hints older than this are dropped (counted)
  uint64_t max_hint_bytes = 256ull << 20;     // per target node; over it hints are dropped
  uint64_t handoff_batch = 64;                // hints replayed per round trip to a returning node
  uint64_t anti_entropy_ms = 10000;           // how often each range is compared with a replica
  uint64_t tombstone_grace_ms = 3600 * 1000;  // minimum age before a tombstone may be collected
};

// Cluster-wide settings of multi-leader keyspaces (docs/configuration.md, [multileader]).
struct MultiLeaderSettings {
  uint64_t ship_batch_bytes = 256 * 1024;   // origin-log bytes per message to a peer (at least one)
  uint64_t max_unacked_bytes = 4ull << 20;  // sent to a peer and not yet acknowledged
  uint64_t retransmit_ms = 1000;            // unacknowledged entries are sent again after this
  uint64_t hello_ms = 200;                  // cursors and applied vectors exchanged this often
  // The origin log kept for peers that have not acknowledged it. A peer further behind than
  // this is brought back by a state transfer instead.
  uint64_t max_log_entries = 1000000;
  uint64_t max_log_bytes = 256ull << 20;
  uint64_t max_clock_skew_ms = 500;      // a peer's stamps further ahead of ours are reported
  uint64_t conflict_records = 1000;      // most recent conflicts kept per keyspace (CONFLICTS)
  uint64_t state_chunk_bytes = 1 << 20;  // state-transfer bytes per message (at least one key)
  uint64_t tombstone_grace_ms = 0;       // minimum age of a deleted key's stamp before collection
};

struct PeerConfig {
  std::string id;
  std::string host = "127.0.0.1";
  uint16_t port = 0;       // client (RESP) port
  uint16_t peer_port = 0;  // replication port
  // Where the node runs (a data centre, a cloud region): 1..kMaxRegionLen of [A-Za-z0-9._-].
  // Empty: no region declared; then no node of the cluster declares one (one region for all).
  // Shown by INFO and `replikv status`; the simulator places regions at WAN distance.
  std::string region;
};

inline constexpr size_t kMaxRegionLen = 64;
// Whether `name` is a valid region name (see PeerConfig::region).
bool valid_region_name(std::string_view name);

// Replication timing for primary (Raft) keyspaces. Time is counted in ticks of tick_ms.
struct RaftSettings {
  uint64_t tick_ms = 25;
  int election_ticks = 10;  // followers campaign after [election, 2*election) ticks of silence
  int heartbeat_ticks = 1;
  int lease_drift_ticks = 2;              // safety margin of leader leases against clock drift
  uint64_t snapshot_min_entries = 20000;  // compact the log once this many entries are applied
  // Entries kept in the log below a new snapshot: a follower that far behind catches up from
  // the log rather than receiving the whole image.
  uint64_t snapshot_catchup_entries = 10000;
  // Compact the log also once the entries applied since the last image hold this many bytes
  // in memory (commands plus about 96 bytes each), however few they are; with maxmemory set,
  // at most an eighth of it.
  uint64_t snapshot_log_bytes = 32ull << 20;
  // Append messages in flight per follower. Each carries up to 256 entries (1 MiB), so a small
  // window keeps them few and large: entries proposed while the follower persists the last
  // message go out together once it acknowledges. Raise it on links with a long round trip.
  uint64_t max_inflight_msgs = 2;
  // How long the leader of an async keyspace may hold its append messages so that several
  // rounds' entries reach a follower in one write (acknowledgements never wait on followers
  // there). 0 sends them at the end of each round, as every other keyspace does.
  uint64_t async_append_delay_us = 2000;
  uint64_t request_timeout_ms = 5000;  // a replicated request still unanswered fails then
  uint64_t no_leader_wait_ms = 2000;   // how long a request waits for an election
  uint32_t bugs = 0;  // deliberately broken variants (simulator and tests only; see raft.h)
  // Bytes of a snapshot image written per part as it is built (not a config file key: the
  // simulator draws small ones so that its small images go in several parts).
  uint64_t image_part_bytes = 1u << 20;
};

// TLS (docs/configuration.md, [tls]; docs/operations.md, "TLS"). One certificate, key and CA
// serve the client port, the peer links and the admin listener; the files are read at start and
// again on SIGHUP.
enum class TlsAuthClients : unsigned char { kNo, kYes, kOptional };
const char* to_string(TlsAuthClients a);

struct TlsSettings {
  uint16_t port = 0;  // client TLS (RESP) port; 0: none
  std::string cert_file, key_file, ca_cert_file;
  // Client certificates on the client port (and the admin listener): required, asked for and
  // verified when given, or not asked for.
  TlsAuthClients auth_clients = TlsAuthClients::kYes;
  std::string protocols;     // e.g. "TLSv1.2 TLSv1.3"; empty: TLSv1.2 and TLSv1.3
  std::string ciphers;       // TLSv1.2 cipher list (OpenSSL syntax); empty: OpenSSL's default
  std::string ciphersuites;  // TLSv1.3 suites; empty: OpenSSL's default
  bool replication = false;  // peer links over mutual TLS, each side verified against the CA
  bool admin = false;        // admin HTTP over TLS (https)

  bool enabled() const { return port != 0 || replication || admin; }
};

// A [[user]] of the config: an ACL user in Redis's rule language (runtime/acl.h,
// docs/configuration.md). Its rules may hold clear-text passwords: never logged nor shown.
struct UserConfig {
  std::string name;
  std::vector<std::string> rules;  // one rule each: "on", ">secret", "~prefs:*", "+@read"
  std::string where;               // "file:line" of the entry, for error messages
};

struct Config {
  std::string node_id = "n1";
  std::string bind = "127.0.0.1";
  uint16_t port = 7379;        // 0: no plain client port (TLS only; needs tls.port)
  uint16_t admin_port = 8379;  // 0 disables the admin HTTP listener
  std::string data_dir = "./data";
  FsyncMode fsync = FsyncMode::kBatch;
  std::string log_level = "info";
  // The `default` user's password (Redis's requirepass); empty: no client authentication.
  // Never shown by CONFIG GET, INFO or the logs.
  std::string requirepass;
  std::vector<UserConfig> users;   // [[user]] entries, in file order
  uint64_t expire_sweep_ms = 100;  // active expiry sweep period
  // Writes are refused while the data dir's file system has less free space than this, so that
  // a full disk still leaves room to compact, flush and restart. 0: only a failed write stops
  // them. Not set in the file (disk_reserve_auto): 64 MiB, or an eighth of a smaller file
  // system (disk_budget, runtime/disk_guard.h).
  uint64_t disk_reserve_bytes = 64ull << 20;
  bool disk_reserve_auto = true;
  Limits limits;
  MemorySettings memory;  // [memory]
  TlsSettings tls;
  RaftSettings raft;
  LeaderlessSettings leaderless;
  MultiLeaderSettings multileader;
  std::string cluster_secret;
  std::vector<PeerConfig> nodes;          // every member, this node included; empty = single node
  std::vector<KeyspaceConfig> keyspaces;  // always contains "default" after loading
  // The fault lab's control file (`serve --lab-control-file`, accepted only from `replikv lab`;
  // never read from a config file), re-read every 50 ms: "clock_offset_ms N" adds N ms to the
  // node's wall clock, "sync_delay_ms M" holds every synced batch M ms (a slow fsync). Empty:
  // neither.
  std::string lab_control_file;

  // Built-in defaults: one node, data in ./data, and the demo keyspaces.
  static Config defaults();
};

// Parses TOML text. Errors name the line ("config:12: unknown model \"paxos\"").
Result<Config> parse_config(std::string_view toml_text, std::string_view source_name = "config");
Result<Config> load_config_file(const std::string& path);
// Checks cross-field rules (unique names and prefixes, n/r/w ranges, ...).
Status validate_config(Config& cfg);

}  // namespace rkv
