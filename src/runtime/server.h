// Server: the runtime driver of one node. One event-loop thread (standalone Asio) owns every
// connection, the Node and the statistics; a second thread (the syncer) performs group-commit
// fsyncs in `batch` mode; the admin HTTP listener runs on its own threads and reaches loop
// state only by posting to the loop and waiting for the answer.
#pragma once

#include <asio.hpp>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/config.h"
#include "core/status.h"
#include "node/node.h"
#include "runtime/acl.h"
#include "runtime/disk_guard.h"
#include "runtime/metrics.h"
#include "runtime/tls.h"
#include "storage/storage.h"

namespace rkv {

class Connection;
class Syncer;
class BlobWriter;
class AdminHttp;
class PeerTransport;
class TlsContext;

// What CLIENT LIST / CLIENT INFO report about a connection.
struct ClientInfo {
  uint64_t id = 0;
  std::string addr, laddr, name, lib_name, lib_ver;
  int64_t created_ms = 0;
  int64_t last_ms = 0;
  std::string last_cmd = "NULL";
  int proto = 2;
  uint64_t commands = 0;
  std::string user = "default";  // the ACL user the connection runs as
};

class Server {
 public:
  // Opens storage and the node (loading data). Errors are returned, not thrown.
  static Result<std::unique_ptr<Server>> create(const Config& config);
  ~Server();

  // Binds the listeners; after this, ports are reachable (port 0 picks a free one).
  Status start();
  // Runs the event loop until stop() (or SIGINT/SIGTERM when handle_signals).
  void run(bool handle_signals = true);
  // Thread-safe: asks the loop to shut down gracefully (drains the pending fsync first).
  void stop();

  uint16_t port() const { return bound_port_; }
  uint16_t tls_port() const { return bound_tls_port_; }
  uint16_t admin_port() const { return bound_admin_port_; }

  // --- used by connections and session commands (loop thread only) ---
  const Config& config() const { return config_; }
  Node& node() { return *node_; }
  ServerStats& stats() { return stats_; }
  acl::Table& acl() { return acl_; }  // the users (runtime only: ACL SETUSER is not persisted)
  asio::io_context& io() { return io_; }
  // Wall clock (expiry, TIME), with the lab's clock skew when there is one (else none);
  // protocol time is clock_.
  int64_t now_us() const;
  int64_t now_ms() const { return now_us() / 1000; }
  int64_t mono_ms() const { return clock_.now_ms(); }  // never steps (blocking timeouts)
  // A connection began waiting in a blocking command: the timer checks its timeout until the
  // wait ends; the keys it waits on wake it through Node::blocked() (drain_node).
  void note_blocked(uint64_t client_id) { blocked_clients_.insert(client_id); }
  int64_t start_ms() const { return start_ms_; }
  uint64_t next_client_id() { return ++last_client_id_; }
  size_t client_count() const { return connections_.size(); }
  // The node received input (a command, a peer message, a tick): drain its effects at the end
  // of this round.
  void node_input();
  // Marks the transactions of the connections whose WATCHed keys changed (Node::watches()
  // fired them) dirty. Called after every round, and by a transaction before it looks at
  // its own state.
  void drain_watches();
  const PeerTransport* transport() const { return transport_.get(); }
  std::vector<const ClientInfo*> clients() const;
  bool kill_client(uint64_t id);
  bool unblock_client(uint64_t id, bool error);
  // A connection has output to send, or held replies to release; flushed at the end of the
  // current round, after the round's writes are persisted.
  void schedule_round(const std::shared_ptr<Connection>& c);
  void remove_connection(const Connection* c);
  // Client sockets are read through one epoll set of the server's own (level-triggered, each
  // socket registered once), which the loop waits on as a single descriptor: asio would re-arm
  // each socket per wait (an epoll_ctl per request) or spend a recv that finds nothing after
  // each read. Connections register when they start and leave when they close or stop reading.
  // watch_client fails only when the kernel refuses (out of memory, epoll watch limit).
  bool watch_client(const Connection& c, int fd);
  void unwatch_client(int fd);
  // Writes the node's pending batch now (fsync "always" and "never", SAVE). A batch the disk
  // refuses is kept and written again in the background before any later one (see
  // on_persist_failed); meanwhile replies that wait for it stay held.
  void persist_now();
  // Replies to writes are held until durable_token() covers them (under "always" a write is
  // persisted before its reply is queued, so only one the disk refused is held).
  bool holds_replies() const { return config_.fsync != FsyncMode::kAlways; }
  uint64_t durable_token() const { return node_->durable_token(); }

  // Text renderings of state (loop thread only).
  std::string info_text(std::string_view section);
  std::string metrics_text();
  std::string replication_text();           // INFO replication: Redis's shape
  std::string keyspace_replication_text();  // INFO keyspace_replication: per keyspace, peers
  // This node's replication role as Redis clients read it (ROLE, INFO replication). Redis has
  // one role per server, replikv one per primary keyspace: the node is a master when it leads
  // every primary keyspace (or there is none: then every node takes writes), else a replica of
  // the leader of the first primary keyspace it does not lead. Offsets count log entries: the
  // sum over primary keyspaces of the applied index (a replica's: its match index at the
  // leader).
  struct RedisRole {
    bool master = true;
    int32_t leader = -1;  // a replica's: the node index of its master, -1 while none is known
    uint64_t offset = 0;
    int64_t ms_since_leader = 0;  // a replica's: since it last heard from its master
    struct Replica {
      uint32_t node;
      uint64_t offset;
    };
    std::vector<Replica> replicas;  // a master's: the followers it hears from
    std::string replid;             // changes with each term of the first primary keyspace
  };
  RedisRole redis_role();
  std::string status_json();
  const DiskGuard& disk() const { return disk_; }
  // --- memory (maxmemory) ---
  // CONFIG SET maxmemory / maxmemory-policy / maxmemory-samples: in force at once.
  void set_memory_settings(const MemorySettings& m);
  // The allocator's bytes in use and the storage engine's share of them, as last measured
  // (every tick while a limit is set, else every second, and by INFO memory).
  uint64_t used_memory() const { return used_memory_; }
  uint64_t engine_memory() const { return engine_recent_max_; }
  // A TLS handshake failed (a plain client on the TLS port, a refused certificate): one log
  // line per refusal, at most kTlsRefusalBurst a second.
  void note_tls_refusal(const std::string& addr, const std::string& why);
  // Reads the [tls] files again (SIGHUP): new connections of every listener use them, existing
  // ones keep the certificate they began with. On an error the old files stay in use.
  Status reload_tls();
  // Runs fn on the loop thread and returns its result (admin threads; bounded wait).
  std::string query_loop(const std::function<std::string()>& fn);

 private:
  class StepTimer;
  int64_t last_slow_step_note_ms_ = 0;
  explicit Server(const Config& config);
  void accept_next(asio::ip::tcp::acceptor& acceptor, bool tls);
  Status listen(asio::ip::tcp::acceptor& acceptor, const asio::ip::address& addr, uint16_t port);
  void wait_signals();
  void wait_clients();
  void read_ready_clients();
  void end_of_round();
  void drain_node();
  // Runs again the blocked commands whose keys changed, in the order they changed.
  void wake_blocked();
  void check_block_timeouts();
  void on_synced(PersistRequest req, Status st);
  // A batch the disk refused: kept, to be written again every kPersistRetryMs (retry_failed)
  // before any later batch. Its writes are applied in memory (and may have been read), so they
  // are made durable, never dropped; their replies wait until then.
  void on_persist_failed(PersistRequest req, const Status& st);
  // Writes failed_ again, or, without one, finishes opening the store (Storage::finish_open).
  void retry_failed();
  void on_batch_durable(uint64_t token);
  // Free space against the reserve (statvfs of the data dir), every kDiskCheckMs.
  void check_disk();
  // Counts bytes handed to the storage; checks the disk early when they could near the reserve.
  void note_written(uint64_t bytes);
  // Hands the guard's verdict to the node, and logs the change.
  void apply_disk_state();
  // Measures memory and hands the node the figure its limit applies to.
  void check_memory();
  void release_held();
  void arm_cron();
  void cron();
  void shutdown_now();

  Config config_;
  asio::io_context io_{1};
  asio::ip::tcp::acceptor acceptor_{io_};
  asio::ip::tcp::acceptor tls_acceptor_{io_};
  // The TLS context new client sessions are made from (replaced by reload_tls); null without
  // [tls].
  std::shared_ptr<const TlsContext> tls_;
  LogLimiter tls_refusals_{10, 1000};
  asio::steady_timer cron_timer_{io_};
  asio::steady_timer accept_backoff_{io_};
  asio::steady_timer tls_accept_backoff_{io_};
  uint64_t accept_failures_ = 0;  // accept() failures since the last accepted connection
  std::unique_ptr<asio::signal_set> signals_;
  std::unique_ptr<asio::posix::stream_descriptor> client_poll_;  // owns the clients' epoll set
  // CLOCK_BOOTTIME: never stepped, and it keeps counting while the process is stopped and while
  // the machine is suspended, so a pause cannot stretch a lease.
  class BootClock final : public MonotonicClock {
   public:
    int64_t now_ms() const override;
  };
  BootClock clock_;
  // `replikv lab --faults clock|slow-disk` (config lab_control_file): the wall clock's offset,
  // the syncer's delay.
  void read_lab_control();
  std::atomic<int64_t> wall_offset_ms_{0};  // read by any thread that stamps wall time
  int64_t last_lab_read_ms_ = 0;
  std::unique_ptr<Storage> storage_;
  std::unique_ptr<Node> node_;
  std::unique_ptr<Syncer> syncer_;
  std::unique_ptr<BlobWriter> blob_writer_;  // the node's BlobOps, off the loop
  std::unique_ptr<AdminHttp> admin_;
  std::unique_ptr<PeerTransport> transport_;
  std::unordered_map<uint64_t, std::shared_ptr<Connection>> connections_;  // by client id
  std::vector<std::shared_ptr<Connection>> round_;  // connections touched this round
  // read_ready_clients' batch: the connections that received input, and their first keys.
  std::vector<std::shared_ptr<Connection>> received_;
  std::vector<std::string_view> keys_;
  std::vector<std::shared_ptr<Connection>> holding_;  // connections with held replies
  std::set<uint64_t> blocked_clients_;  // connections that blocked (some may have finished)
  bool round_scheduled_ = false;
  bool syncing_ = false;
  DiskGuard disk_;
  std::optional<PersistRequest> failed_;  // see on_persist_failed
  int64_t last_retry_ms_ = 0;             // mono_ms() of the last attempt to write failed_
  int64_t last_disk_check_ms_ = 0;
  uint64_t bytes_since_disk_check_ = 0;  // handed to the storage since then (note_written)
  int64_t last_memory_check_ms_ = 0;
  uint64_t used_memory_ = 0, engine_memory_ = 0;
  uint64_t engine_recent_max_ = 0;  // see check_memory
  int64_t engine_recent_max_ms_ = 0;
  bool stopping_ = false;
  ServerStats stats_;
  acl::Table acl_;
  uint64_t last_client_id_ = 0;
  int64_t start_ms_ = 0;
  int64_t last_idle_check_ms_ = 0;
  uint16_t bound_port_ = 0;
  uint16_t bound_tls_port_ = 0;
  uint16_t bound_admin_port_ = 0;
};

}  // namespace rkv
