#include "runtime/server.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/statvfs.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fstream>
#include <future>

#include "runtime/admin_http.h"
#include "runtime/connection.h"
#include "runtime/memory_usage.h"
#include "runtime/peer_transport.h"
#include "runtime/syncer.h"

namespace rkv {

namespace {
// The node's clock advances in cron ticks: Raft ticks, request deadlines, expiry.
constexpr auto kCronPeriod = std::chrono::milliseconds(10);
// A batch the disk refused is written again this often (until it succeeds; one at a time).
constexpr int64_t kPersistRetryMs = 200;
// How often free space on the data dir's file system is compared with the reserve.
constexpr int64_t kDiskCheckMs = 100;
// Ready client sockets taken from the epoll set per wakeup; more stay ready (level-triggered)
// and are taken at the next wakeup, after the round ends.
constexpr int kMaxReadyClients = 128;
}  // namespace

// Times one step of the event loop into ServerStats::loop.
// A step longer than this is logged (at most once a second), naming what kind of step it was.
constexpr uint64_t kSlowStepUs = 100'000;

class Server::StepTimer {
 public:
  StepTimer(Server& s, const char* what)
      : s_(s), what_(what), start_(std::chrono::steady_clock::now()) {}
  ~StepTimer() {
    const auto end = std::chrono::steady_clock::now();
    const auto us = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(end - start_).count());
    const int64_t now_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(end.time_since_epoch()).count();
    s_.stats_.loop.record(us, now_ms);
    if (us >= kSlowStepUs && now_ms - s_.last_slow_step_note_ms_ >= 1000) {
      s_.last_slow_step_note_ms_ = now_ms;
      spdlog::warn("event loop step ({}) took {} ms; every client and peer waited", what_,
                   us / 1000);
    }
  }
  StepTimer(const StepTimer&) = delete;
  StepTimer& operator=(const StepTimer&) = delete;

 private:
  Server& s_;
  const char* what_;
  std::chrono::steady_clock::time_point start_;
};

Server::Server(const Config& config) : config_(config), disk_(config.disk_reserve_bytes) {}

Server::~Server() {
  admin_.reset();
  transport_.reset();
  blob_writer_.reset();
  syncer_.reset();
  connections_.clear();
}

Result<std::unique_ptr<Server>> Server::create(const Config& config) {
  // A small file system gets a smaller reserve (unless one is configured) and log segments.
  RocksOptions ro;
  const uint64_t fs_bytes = file_system_bytes(config.data_dir);
  const DiskBudget budget = disk_budget(fs_bytes, config.disk_reserve_bytes,
                                        config.disk_reserve_auto, ro.wal_max_segment_bytes);
  ro.wal_max_segment_bytes = budget.wal_max_segment_bytes;
  if (budget.reserve_bytes != config.disk_reserve_bytes) {
    spdlog::info("the data dir's file system holds {} bytes: disk_reserve_bytes = {} (an eighth)",
                 fs_bytes, budget.reserve_bytes);
  }
  Config sized = config;
  sized.disk_reserve_bytes = budget.reserve_bytes;
  std::unique_ptr<Server> s(new Server(sized));
  auto users = acl::Table::from_config(config);  // a broken [[user]] rule stops the start
  if (!users.is_ok()) return users.status();
  s->acl_ = std::move(users).value();
  ro.unsynced = config.fsync == FsyncMode::kNever;
  if (config.memory.maxmemory != 0) {
    // RocksDB's memtables and block cache sit beside what maxmemory bounds: with a limit set
    // they are sized from it (an eighth each, 4 to 64 MiB), so the process stays near it.
    const size_t eighth = std::clamp<size_t>(config.memory.maxmemory / 8, 4ull << 20, 64ull << 20);
    ro.write_buffer_bytes = eighth;
    ro.block_cache_bytes = eighth;
  }
  auto storage = open_rocks_storage(config.data_dir, ro);
  if (!storage.is_ok()) return storage.status();
  s->storage_ = std::move(storage).value();
  if (std::string note = s->storage_->recovery_note(); !note.empty()) {
    spdlog::warn("{}: {}", config.data_dir, note);
  }
  std::random_device rd;
  uint64_t seed = (static_cast<uint64_t>(rd()) << 32) ^ rd();  // OS randomness, seeded once
  s->node_ = std::make_unique<Node>(config, s->storage_.get(), seed, &s->clock_);
  s->node_->set_image_blobs(true);
  s->start_ms_ = s->now_ms();
  RKV_RETURN_IF_ERROR(s->node_->open(s->start_ms_));
  s->check_memory();
  spdlog::info("loaded {} keys from {}", s->node_->store().total_keys(), config.data_dir);
  {
    Server* self = s.get();
    s->blob_writer_ = std::make_unique<BlobWriter>(s->storage_.get(), [self](BlobOp op, Status st) {
      asio::post(self->io_, [self, op = std::move(op), st = std::move(st)]() mutable {
        if (self->stopping_) return;
        self->node_->on_blob_done(std::move(op), st, self->now_ms());
        self->node_input();
      });
    });
  }
  if (config.fsync == FsyncMode::kBatch) {
    Server* self = s.get();
    s->syncer_ = std::make_unique<Syncer>(s->storage_.get(), [self](PersistRequest req, Status st) {
      asio::post(self->io_, [self, req = std::move(req), st = std::move(st)]() mutable {
        self->on_synced(std::move(req), std::move(st));
      });
    });
  }
  // A node restarted on a full disk refuses writes from the start: below the reserve, or while
  // its store cannot finish opening (retried with the failed-write retries, see cron).
  s->check_disk();
  if (Status st = s->storage_->finish_open(); !st.is_ok()) {
    s->last_retry_ms_ = s->mono_ms();
    if (s->disk_.on_write_failed(st.to_string())) s->apply_disk_state();
  }
  return s;
}

int64_t Server::now_us() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
             .count() +
         wall_offset_ms_.load(std::memory_order_relaxed) * 1000;
}

void Server::read_lab_control() {
  std::ifstream in(config_.lab_control_file);
  int64_t offset = 0, sync_delay = 0;
  std::string name;
  for (int64_t v = 0; in >> name >> v;) {
    if (name == "clock_offset_ms") offset = v;
    if (name == "sync_delay_ms") sync_delay = v;
  }
  if (!in.eof()) return;  // absent or being replaced: keep the last settings
  const int64_t was = wall_offset_ms_.exchange(offset, std::memory_order_relaxed);
  if (offset != was) spdlog::warn("lab clock: wall clock offset {} ms (was {} ms)", offset, was);
  if (syncer_ && sync_delay != syncer_->lab_sync_delay_ms()) {
    spdlog::warn("lab disk: every synced batch held {} ms (was {} ms)", sync_delay,
                 syncer_->lab_sync_delay_ms());
    syncer_->set_lab_sync_delay_ms(sync_delay);
  }
}

int64_t Server::BootClock::now_ms() const {
  timespec ts{};
  const int rc = clock_gettime(CLOCK_BOOTTIME, &ts);
  RKV_ASSERT(rc == 0);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

Status Server::listen(asio::ip::tcp::acceptor& acceptor, const asio::ip::address& addr,
                      uint16_t port) {
  asio::error_code ec;
  asio::ip::tcp::endpoint ep(addr, port);
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::io_error(
        fmt::format("cannot listen on {}:{}: {}", config_.bind, port, ec.message()));
  }
  return Status::ok();
}

Status Server::start() {
  // A client that resets its connection must not kill the node: OpenSSL writes to sockets with
  // write(2), not send(MSG_NOSIGNAL) as asio does.
  std::signal(SIGPIPE, SIG_IGN);
  asio::error_code ec;
  auto addr = asio::ip::make_address(config_.bind, ec);
  if (ec) return Status::invalid_argument(fmt::format("bad bind address \"{}\"", config_.bind));
  if (config_.tls.enabled()) {
    auto loaded = TlsContext::load(config_.tls);
    if (!loaded.is_ok()) return loaded.status();
    tls_ = std::move(loaded).value();
    spdlog::info("TLS certificate: {}", tls_->description());
  }
  if (config_.port != 0) {
    RKV_RETURN_IF_ERROR(listen(acceptor_, addr, config_.port));
    bound_port_ = acceptor_.local_endpoint().port();
  }
  if (config_.tls.port != 0) {
    RKV_RETURN_IF_ERROR(listen(tls_acceptor_, addr, config_.tls.port));
    bound_tls_port_ = tls_acceptor_.local_endpoint().port();
  }
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) return Status::io_error(fmt::format("epoll_create1: {}", std::strerror(errno)));
  client_poll_ = std::make_unique<asio::posix::stream_descriptor>(io_, epfd);
  if (node_->clustered()) {
    PeerTransportOptions topts;
    topts.lazy_delay = std::chrono::microseconds(config_.raft.async_append_delay_us);
    if (config_.tls.replication) topts.tls = tls_;
    transport_ = std::make_unique<PeerTransport>(
        io_, config_, node_->self_index(),
        [this](uint32_t from, std::string_view payload) {
          StepTimer step(*this, "peer message");
          node_->on_peer_message(from, payload, now_ms());
          node_input();
        },
        topts);
    RKV_RETURN_IF_ERROR(transport_->start());
  }
  if (config_.admin_port != 0) {
    admin_ = std::make_unique<AdminHttp>(*this);
    auto p = admin_->start(config_.bind, config_.admin_port,
                           config_.tls.admin ? tls_ : std::shared_ptr<const TlsContext>());
    if (!p.is_ok()) return p.status();
    bound_admin_port_ = p.value();
  }
  if (acceptor_.is_open()) accept_next(acceptor_, false);
  if (tls_acceptor_.is_open()) accept_next(tls_acceptor_, true);
  wait_clients();
  arm_cron();
  std::string where;
  if (bound_port_) where = fmt::format("{}:{}", config_.bind, bound_port_);
  if (bound_tls_port_) {
    where +=
        fmt::format("{}{}:{} (TLS)", where.empty() ? "" : " and ", config_.bind, bound_tls_port_);
  }
  spdlog::info("replikv node {} serving clients on {}{}", config_.node_id, where,
               bound_admin_port_
                   ? fmt::format(", admin http{} on {}:{}", config_.tls.admin ? "s" : "",
                                 config_.bind, bound_admin_port_)
                   : "");
  return Status::ok();
}

void Server::note_tls_refusal(const std::string& addr, const std::string& why) {
  stats_.tls_handshake_failures++;
  uint64_t suppressed = 0;
  if (!tls_refusals_.allow(mono_ms(), &suppressed)) return;
  spdlog::warn("client {}: TLS handshake refused: {}{}", addr, why,
               suppressed ? fmt::format(" ({} more refusals not logged)", suppressed) : "");
}

Status Server::reload_tls() {
  if (!tls_) return Status::invalid_argument("TLS is not configured");
  auto loaded = TlsContext::load(config_.tls);
  if (!loaded.is_ok()) return loaded.status();
  tls_ = std::move(loaded).value();
  if (transport_ && config_.tls.replication) transport_->set_tls(tls_);
  if (admin_ && config_.tls.admin) admin_->set_tls(tls_);
  spdlog::info("TLS files reloaded; new connections use the certificate: {}", tls_->description());
  return Status::ok();
}

void Server::run(bool handle_signals) {
  if (handle_signals) {
    signals_ = std::make_unique<asio::signal_set>(io_, SIGINT, SIGTERM, SIGHUP);
    wait_signals();
  }
  io_.run();
}

void Server::wait_signals() {
  signals_->async_wait([this](const asio::error_code& ec, int sig) {
    if (ec) return;
    if (sig == SIGHUP) {
      if (!tls_) {
        spdlog::info("SIGHUP received: nothing to reload (no [tls])");
      } else if (Status st = reload_tls(); !st.is_ok()) {
        spdlog::error("SIGHUP: TLS reload failed, the previous files stay in use: {}",
                      st.to_string());
      }
      return wait_signals();
    }
    spdlog::info("signal {} received: shutting down", sig);
    shutdown_now();
  });
}

void Server::stop() {
  asio::post(io_, [this] { shutdown_now(); });
}

void Server::shutdown_now() {
  if (stopping_) return;
  stopping_ = true;
  asio::error_code ec;
  acceptor_.close(ec);
  tls_acceptor_.close(ec);
  accept_backoff_.cancel();
  tls_accept_backoff_.cancel();
  cron_timer_.cancel();
  if (signals_) signals_->cancel(ec);
  if (client_poll_) client_poll_->cancel(ec);
  // Drain: the batch being synced completes (its on_synced will not run, so whether it failed
  // is asked); then whatever the node still holds is written synchronously, so an orderly stop
  // loses nothing.
  bool failed_in_flight = false;
  if (blob_writer_) blob_writer_->finish();  // an image not yet named by a record: no loss
  if (syncer_) {
    syncer_->finish();
    failed_in_flight = syncing_ && syncer_->last_failed();
  }
  syncer_.reset();
  // A batch the disk refused goes first. On a disk that is still full these writes are lost:
  // none of them was acknowledged. Nothing is written after a batch that failed: a later batch
  // without an earlier one (a gap in a Raft log, an element without its collection) would be
  // a store no run of the node ever held.
  std::vector<PersistRequest> left;
  if (failed_) left.push_back(*std::exchange(failed_, std::nullopt));
  if (node_->has_pending_persist()) left.push_back(node_->take_persist());
  if (failed_in_flight && !left.empty()) {
    spdlog::error("the last batch write failed; writes not yet acknowledged are lost");
    left.clear();
  }
  for (PersistRequest& req : left) {
    Status st = storage_->write(std::move(req.batch), true);
    if (!st.is_ok()) {
      spdlog::error("final persist failed: {}; writes not yet acknowledged are lost",
                    st.to_string());
      break;
    }
  }
  Status st = storage_->sync();
  if (!st.is_ok()) spdlog::error("final sync failed: {}", st.to_string());
  std::vector<std::shared_ptr<Connection>> conns;
  for (auto& [id, c] : connections_)
    conns.push_back(c);
  for (auto& c : conns)
    c->close();
  if (transport_) transport_->stop();
  if (admin_) admin_->stop();
  spdlog::info("replikv node {} stopped", config_.node_id);
  io_.stop();
}

void Server::accept_next(asio::ip::tcp::acceptor& acceptor, bool tls) {
  acceptor.async_accept(
      [this, &acceptor, tls](const asio::error_code& ec, asio::ip::tcp::socket sock) {
        if (ec) {
          if (ec == asio::error::operation_aborted || stopping_) return;
          // Out of descriptors (or another transient failure): back off instead of spinning, and
          // say so once per episode rather than per attempt. Connected clients are still served.
          if (accept_failures_++ == 0) {
            spdlog::warn(
                "accept failed: {}; new connections wait (retried every 100 ms) while "
                "{} connected clients are served",
                ec.message(), connections_.size());
          }
          asio::steady_timer& backoff = tls ? tls_accept_backoff_ : accept_backoff_;
          backoff.expires_after(std::chrono::milliseconds(100));
          backoff.async_wait([this, &acceptor, tls](const asio::error_code& tec) {
            if (!tec && !stopping_) accept_next(acceptor, tls);
          });
          return;
        }
        if (accept_failures_ != 0) {
          spdlog::warn("accepting connections again after {} failed attempts", accept_failures_);
          accept_failures_ = 0;
        }
        if (connections_.size() >= config_.limits.max_clients) {
          stats_.rejected_connections++;
          static constexpr std::string_view kMsg = "-ERR max number of clients reached\r\n";
          asio::error_code wec;
          if (!tls) asio::write(sock, asio::buffer(kMsg), wec);  // a TLS client could not read it
          sock.close(wec);
        } else {
          std::unique_ptr<TlsSession> session;
          if (tls) session = tls_->accept(sock.native_handle(), config_.tls.auth_clients);
          auto c = std::make_shared<Connection>(*this, std::move(sock), std::move(session));
          connections_.emplace(c->info().id, c);
          stats_.connections_total++;
          c->start();
        }
        accept_next(acceptor, tls);
      });
}

bool Server::watch_client(const Connection& c, int fd) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = c.info().id;
  if (epoll_ctl(client_poll_->native_handle(), EPOLL_CTL_ADD, fd, &ev) == 0) return true;
  spdlog::warn("client {} ({}): cannot watch its socket: {}; closing", c.info().id, c.info().addr,
               std::strerror(errno));
  return false;
}

void Server::unwatch_client(int fd) {
  if (!client_poll_ || fd < 0) return;
  epoll_event ev{};
  epoll_ctl(client_poll_->native_handle(), EPOLL_CTL_DEL, fd, &ev);  // ENOENT: already left
}

void Server::wait_clients() {
  client_poll_->async_wait(asio::posix::stream_descriptor::wait_read,
                           [this](const asio::error_code& ec) {
                             if (ec || stopping_) return;
                             {
                               StepTimer step(*this, "client reads");
                               read_ready_clients();
                             }
                             wait_clients();
                           });
}

void Server::read_ready_clients() {
  epoll_event ready[kMaxReadyClients];
  int n = epoll_wait(client_poll_->native_handle(), ready, kMaxReadyClients, 0);
  // Every ready socket is read first; then the keys of their first commands are asked for, in
  // steps (bucket, entry, value) far enough apart for each to arrive: the commands of a batch
  // touch keys scattered over the keyspace, a cache miss or three each otherwise. Then they run.
  received_.clear();
  for (int i = 0; i < n; ++i) {
    auto it = connections_.find(ready[i].data.u64);
    if (it == connections_.end()) continue;
    if (it->second->receive()) received_.push_back(it->second);
  }
  keys_.clear();
  for (const auto& c : received_) {
    if (auto key = c->first_key()) keys_.push_back(*key);
  }
  // Each pass routes and hashes every key again. That work also spaces the passes: with the
  // hash computed once and the three passes run back to back, the lookups missed the cache
  // again (perf, 300k async SETs: KeyTable::find 3% of the leader's samples instead of 0.5%,
  // 4.5% without hints).
  const Store& store = node_->store();
  for (int step = 0; step < 3 && keys_.size() > 1; ++step) {
    for (std::string_view key : keys_)
      store.prefetch(key, step);
  }
  // A command may close a later connection of the batch (CLIENT KILL): handle_received then
  // does nothing.
  for (const auto& c : received_)
    c->handle_received();
  received_.clear();
}

void Server::node_input() {
  if (!round_scheduled_) {
    round_scheduled_ = true;
    asio::post(io_, [this] { end_of_round(); });
  }
}

void Server::drain_watches() {
  for (uint64_t id : node_->watches().take_fired()) {
    auto it = connections_.find(id);
    if (it != connections_.end() && !it->second->closed()) it->second->transaction().mark_dirty();
  }
}

void Server::drain_node() {
  drain_watches();
  if (blob_writer_) {
    for (BlobOp& op : node_->take_blob_ops())
      blob_writer_->submit(std::move(op));
  }
  for (Node::Note& n : node_->take_notes()) {
    if (n.warning) {
      spdlog::warn("{}", n.text);
    } else {
      spdlog::info("{}", n.text);
    }
  }
  if (transport_) {
    for (PeerSend& s : node_->take_sends())
      transport_->send(s.to, std::move(s.payload), s.lazy);
  }
  for (DeferredReply& r : node_->take_replies()) {
    auto it = connections_.find(r.client_id);
    if (it == connections_.end() || it->second->closed()) continue;
    auto c = it->second;  // a copy: filling may run commands that close connections
    c->fill_deferred(r.seq, std::move(r.bytes));
    if (!c->in_holding_) {
      c->in_holding_ = true;
      holding_.push_back(c);
    }
  }
  wake_blocked();
}

void Server::wake_blocked() {
  const std::vector<uint64_t> fired = node_->blocked().take_fired();
  for (uint64_t id : fired) {
    auto it = connections_.find(id);
    if (it == connections_.end() || it->second->closed()) continue;
    auto c = it->second;
    c->on_keys_changed();  // a reply it produces is flushed through schedule_round
  }
}

void Server::check_block_timeouts() {
  const int64_t now = mono_ms();
  for (auto it = blocked_clients_.begin(); it != blocked_clients_.end();) {
    auto c = connections_.find(*it);
    if (c == connections_.end() || !c->second->is_blocked()) {
      it = blocked_clients_.erase(it);
      continue;
    }
    auto conn = c->second;
    ++it;  // the timeout may resume input that blocks again (note_blocked inserts, never erases)
    conn->check_block_timeout(now);
  }
}

void Server::schedule_round(const std::shared_ptr<Connection>& c) {
  if (!c->in_round_) {
    c->in_round_ = true;
    round_.push_back(c);
  }
  if (!round_scheduled_) {
    round_scheduled_ = true;
    asio::post(io_, [this] { end_of_round(); });
  }
}

void Server::persist_now() {
  if (failed_) return;  // it goes first (retry_failed); this batch waits in the node
  PersistRequest req = node_->take_persist();
  if (req.batch.empty()) return;
  stats_.persist_batches++;
  stats_.persist_rows += req.batch.size();
  if (req.sync) stats_.persist_syncs++;
  note_written(req.batch.bytes());
  // Storage::write leaves a batch it fails whole, so `req` can be kept for the retry.
  Status st = storage_->write(std::move(req.batch), req.sync);
  if (!st.is_ok()) return on_persist_failed(std::move(req), st);
  node_->on_persisted(req.token);
  if (disk_.on_write_ok()) apply_disk_state();
}

void Server::on_persist_failed(PersistRequest req, const Status& st) {
  stats_.persist_failures++;
  failed_ = std::move(req);
  last_retry_ms_ = mono_ms();
  const bool first = disk_.write_error().empty();
  if (disk_.on_write_failed(st.to_string())) {
    apply_disk_state();
  } else if (first) {
    // Already refusing writes (below the reserve): the failure itself is news.
    node_->refuse_writes(disk_.refusal());
    spdlog::error("a write to disk failed: {}; retried every {} ms", st.to_string(),
                  kPersistRetryMs);
  }
}

void Server::retry_failed() {
  last_retry_ms_ = mono_ms();
  if (!failed_) {
    // No batch to write again: the store could not finish opening, and no write has been
    // taken since (they are refused).
    Status st = storage_->finish_open();
    if (!st.is_ok()) {
      if (disk_.on_write_failed(st.to_string())) apply_disk_state();
      return;
    }
    if (disk_.on_write_ok()) apply_disk_state();
    return;
  }
  PersistRequest req = *std::exchange(failed_, std::nullopt);
  if (syncer_) {
    syncing_ = true;
    syncer_->submit(std::move(req));
    return;
  }
  Status st = storage_->write(std::move(req.batch), req.sync);
  if (!st.is_ok()) return on_persist_failed(std::move(req), st);
  on_batch_durable(req.token);
}

// A batch written by the syncer or by a retry: its replies go, and later batches may follow.
void Server::on_batch_durable(uint64_t token) {
  node_->on_persisted(token);
  if (disk_.on_write_ok()) apply_disk_state();
  drain_node();
  release_held();
  if (node_->has_pending_persist()) node_input();
}

void Server::note_written(uint64_t bytes) {
  // Free space is looked at every kDiskCheckMs, and also once the writes since the last look
  // could have used half the room left above the reserve: a burst (a replica catching up
  // after space returned) must not run past the reserve to the last byte, where RocksDB
  // cannot flush and the write-ahead log cannot be released.
  bytes_since_disk_check_ += bytes;
  const uint64_t free_bytes = disk_.free_bytes(), reserve = disk_.reserve_bytes();
  const uint64_t room = free_bytes > reserve ? free_bytes - reserve : 0;
  if (bytes_since_disk_check_ >= room / 2) check_disk();
}

void Server::check_disk() {
  bytes_since_disk_check_ = 0;
  last_disk_check_ms_ = mono_ms();
  struct statvfs fs {};
  // An error (the directory vanished, say) says nothing about space: the state stays.
  if (::statvfs(config_.data_dir.c_str(), &fs) != 0) return;
  const uint64_t free_bytes = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  if (disk_.on_free_space(free_bytes)) {
    apply_disk_state();
  } else if (disk_.full()) {
    node_->refuse_writes(disk_.refusal());  // the error names the current figures
  }
}

void Server::check_memory() {
  last_memory_check_ms_ = mono_ms();
  // Both figures together: a memtable flushed or filled between two readings would otherwise
  // show as memory the node must evict, or as room it does not have.
  used_memory_ = allocated_bytes();
  engine_memory_ = storage_->engine_memory_bytes();
  // A memtable RocksDB has flushed leaves its figure a moment before its memory is freed (by a
  // later cleanup): the storage engine's share is the largest figure of the last 250 ms, so
  // that moment does not show as memory the node must evict for.
  const int64_t now = mono_ms();
  if (engine_memory_ >= engine_recent_max_ || now - engine_recent_max_ms_ > 250) {
    engine_recent_max_ = engine_memory_;
    engine_recent_max_ms_ = now;
  }
  const uint64_t outside = engine_recent_max_;
  node_->set_used_memory(used_memory_ > outside ? used_memory_ - outside : 0);
}

void Server::set_memory_settings(const MemorySettings& m) {
  config_.memory = m;
  node_->set_memory_settings(m);
  check_memory();
}

void Server::apply_disk_state() {
  node_->refuse_writes(disk_.refusal());
  if (disk_.full()) {
    spdlog::error(
        "disk full: {}; writes are refused with MISCONF until there is room (a "
        "refused batch is retried every {} ms); reads go on",
        disk_.reason(), kPersistRetryMs);
  } else {
    spdlog::info("disk has room again ({} bytes free): writes are accepted", disk_.free_bytes());
  }
}

// The end of a round: every connection that read this round has executed its commands. Now
// persist (never: inline, no fsync; batch: hand to the syncer if idle), release what is
// durable, and start the socket writes.
void Server::end_of_round() {
  StepTimer step(*this, "end of round");
  round_scheduled_ = false;
  // Every command and peer message read this round has fed the replication groups: their
  // proposals leave together (one log write, one App per follower), their acks together.
  node_->pump(now_ms());
  // Persisting can release effects that need persisting in turn (Raft: an append becomes
  // durable, entries apply, their rows are written); a few passes settle it.
  for (int pass = 0; pass < 4; ++pass) {
    drain_node();
    if (!node_->has_pending_persist()) break;
    if (failed_) break;  // written again by the retry first; later batches wait
    if (config_.fsync == FsyncMode::kBatch) {
      if (!syncing_ && !stopping_) {
        syncing_ = true;
        PersistRequest req = node_->take_persist();
        stats_.persist_batches++;
        stats_.persist_syncs++;
        stats_.persist_rows += req.batch.size();
        note_written(req.batch.bytes());
        syncer_->submit(std::move(req));
      }
      break;
    }
    persist_now();
  }
  drain_node();
  std::vector<std::shared_ptr<Connection>> round;
  round.swap(round_);
  for (auto& c : round) {
    c->in_round_ = false;
    if (c->closed()) continue;
    if (c->has_held()) {
      if (!c->in_holding_) {
        c->in_holding_ = true;
        holding_.push_back(c);
      }
    }
    c->flush();
  }
  if (!holding_.empty()) release_held();
  round.clear();
  if (round_.empty()) round_.swap(round);  // keep the capacity
}

void Server::on_synced(PersistRequest req, Status st) {
  StepTimer step(*this, "group commit done");
  syncing_ = false;
  if (!st.is_ok()) return on_persist_failed(std::move(req), st);
  // Writes that arrived while syncing go out as the next group.
  on_batch_durable(req.token);
}

void Server::release_held() {
  const uint64_t durable = node_->durable_token();
  size_t keep = 0;
  for (size_t i = 0; i < holding_.size(); ++i) {
    auto& c = holding_[i];
    bool still = !c->closed() && c->release_held(durable);
    if (!c->closed()) c->flush();
    if (still) {
      holding_[keep++] = c;
    } else {
      c->in_holding_ = false;
    }
  }
  holding_.resize(keep);
}

void Server::remove_connection(const Connection* c) {
  connections_.erase(c->info().id);
}

std::vector<const ClientInfo*> Server::clients() const {
  std::vector<const ClientInfo*> out;
  out.reserve(connections_.size());
  for (const auto& [id, c] : connections_)
    out.push_back(&c->info());
  std::sort(out.begin(), out.end(), [](auto* a, auto* b) { return a->id < b->id; });
  return out;
}

bool Server::kill_client(uint64_t id) {
  auto it = connections_.find(id);
  if (it == connections_.end()) return false;
  auto keep = it->second;
  keep->close();
  return true;
}

bool Server::unblock_client(uint64_t id, bool error) {
  auto it = connections_.find(id);
  if (it == connections_.end()) return false;
  auto keep = it->second;
  return keep->unblock(error);
}

void Server::arm_cron() {
  cron_timer_.expires_after(kCronPeriod);
  cron_timer_.async_wait([this](const asio::error_code& ec) {
    if (ec || stopping_) return;
    cron();
    arm_cron();
  });
}

void Server::cron() {
  StepTimer step(*this, "timer");
  if (!config_.lab_control_file.empty() && mono_ms() - last_lab_read_ms_ >= 50) {
    last_lab_read_ms_ = mono_ms();
    read_lab_control();
  }
  const int64_t now = now_ms();
  node_->tick(now);
  node_input();
  const int64_t mono = mono_ms();
  if (mono - last_disk_check_ms_ >= kDiskCheckMs) check_disk();
  if (config_.memory.maxmemory != 0 || mono - last_memory_check_ms_ >= 1000) check_memory();
  if (!disk_.write_error().empty() && !syncing_ && mono - last_retry_ms_ >= kPersistRetryMs) {
    retry_failed();
  }
  if (!blocked_clients_.empty()) check_block_timeouts();
  const uint64_t idle = config_.limits.idle_timeout_ms;
  if (idle > 0 && now - last_idle_check_ms_ >= 1000) {
    last_idle_check_ms_ = now;
    std::vector<std::shared_ptr<Connection>> conns;
    for (auto& [id, c] : connections_)
      conns.push_back(c);
    for (auto& c : conns) {
      if (now - c->info().last_ms > static_cast<int64_t>(idle) && !c->has_held() &&
          !c->is_blocked()) {
        stats_.closed_idle++;
        spdlog::debug("closing idle client {} ({})", c->info().id, c->info().addr);
        c->close();
      }
    }
  }
}

std::string Server::query_loop(const std::function<std::string()>& fn) {
  auto promise = std::make_shared<std::promise<std::string>>();
  auto fut = promise->get_future();
  asio::post(io_, [promise, fn] { promise->set_value(fn()); });
  if (fut.wait_for(std::chrono::seconds(2)) != std::future_status::ready) return {};
  return fut.get();
}

}  // namespace rkv
