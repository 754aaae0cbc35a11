#include "runtime/connection.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstring>

#include "node/store.h"
#include "resp/commands.h"
#include "resp/writer.h"
#include "runtime/session.h"

namespace rkv {

namespace {
constexpr size_t kInitialReadBuffer = 16 * 1024;
constexpr size_t kMinReadChunk = 4 * 1024;

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

resp::ParseLimits parse_limits(const Limits& l) {
  return resp::ParseLimits{l.max_bulk_len, l.max_args, l.max_inline_len};
}

// A nil reply (RESP2 null bulk or null array, RESP3 null): what a blocking command's
// non-blocking form answers when it has nothing to pop, and never a successful pop.
bool is_nil_reply(std::string_view r) {
  return r == "*-1\r\n" || r == "$-1\r\n" || r == "_\r\n";
}
}  // namespace

Connection::Connection(Server& server, asio::ip::tcp::socket socket,
                       std::unique_ptr<TlsSession> tls)
    : server_(server),
      socket_(std::move(socket)),
      parser_(parse_limits(server.config().limits)),
      in_(std::make_unique_for_overwrite<char[]>(kInitialReadBuffer)),
      in_cap_(kInitialReadBuffer) {
  tls_ = std::move(tls);
  info_.id = server.next_client_id();
  reset_user();
  asio::error_code ec;
  auto remote = socket_.remote_endpoint(ec);
  if (!ec) info_.addr = remote.address().to_string() + ":" + std::to_string(remote.port());
  auto local = socket_.local_endpoint(ec);
  if (!ec) info_.laddr = local.address().to_string() + ":" + std::to_string(local.port());
  info_.created_ms = server.now_ms();
  info_.last_ms = info_.created_ms;
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  // Writes are attempted directly (non-blocking) and fall back to the reactor only when the
  // socket does not take everything. Reads happen when the server's client poller reports the
  // socket readable: one recv per readiness, no re-arming (Server::watch_client).
  socket_.non_blocking(true, ec);
}

Connection::~Connection() = default;

void Connection::start() {
  if (!server_.watch_client(*this, socket_.native_handle())) close();
}

void Connection::close() {
  if (closed_) return;
  closed_ = true;
  server_.node().on_client_closed(info_.id);
  server_.unwatch_client(socket_.native_handle());
  if (tls_) tls_->shutdown();
  asio::error_code ec;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  server_.remove_connection(this);
}

size_t Connection::pending_output() const {
  size_t n = out_.size() + writing_.size();
  for (const Held& h : held_)
    n += h.bytes.size();
  return n;
}

bool Connection::ensure_read_space(size_t want_total) {
  // Compact first: the unconsumed bytes move to the front.
  if (in_begin_ > 0) {
    std::memmove(in_.get(), in_.get() + in_begin_, in_end_ - in_begin_);
    in_end_ -= in_begin_;
    in_begin_ = 0;
  }
  if (want_total > server_.config().limits.max_query_buffer + kMinReadChunk) return false;
  // Grow with the bytes that actually arrive, never by what a client merely announces: at most
  // double the buffer (and at least one read chunk) per step.
  size_t need = std::min(std::max(want_total, in_end_ + kMinReadChunk),
                         std::max(in_cap_ * 2, in_end_ + kMinReadChunk));
  if (need <= in_cap_) return true;
  size_t cap = std::max(in_cap_ * 2, need);
  auto fresh = std::make_unique_for_overwrite<char[]>(cap);
  std::memcpy(fresh.get(), in_.get(), in_end_);
  in_ = std::move(fresh);
  in_cap_ = cap;
  return true;
}

void Connection::on_readable() {
  if (receive()) handle_received();
}

bool Connection::receive() {
  if (closed_) return false;
  if (close_after_flush_) {  // input after QUIT or a protocol error is never read
    server_.unwatch_client(socket_.native_handle());
    return false;
  }
  if (in_cap_ - in_end_ < kMinReadChunk && !ensure_read_space(in_end_ + kMinReadChunk)) {
    spdlog::warn("client {} ({}) exceeded the query buffer limit; closing", info_.id, info_.addr);
    close();
    return false;
  }
  if (tls_) return receive_tls();
  rx_n_ = socket_.read_some(asio::buffer(in_.get() + in_end_, in_cap_ - in_end_), rx_ec_);
  return rx_ec_ != asio::error::would_block && rx_ec_ != asio::error::try_again;
}

std::optional<std::string_view> Connection::first_key() const {
  if (rx_ec_) return std::nullopt;
  return resp::peek_first_key(std::string_view(in_.get() + in_begin_, in_end_ + rx_n_ - in_begin_));
}

void Connection::handle_received() {
  on_read(rx_ec_, rx_n_);
  if (tls_) read_tls_pending();
}

void Connection::on_read(const asio::error_code& ec, size_t n) {
  if (closed_) return;
  if (ec) {
    if (ec != asio::error::eof && ec != asio::error::connection_reset) {
      spdlog::debug("client {} read error: {}", info_.id, ec.message());
    }
    close();
    return;
  }
  in_end_ += n;
  server_.stats().net_input_bytes += n;
  info_.last_ms = server_.now_ms();
  process_input();
  if (closed_) return;
  if (pending_output() > server_.config().limits.client_output_buffer_limit) {
    spdlog::warn("client {} ({}) exceeded the output buffer limit ({} bytes); closing", info_.id,
                 info_.addr, pending_output());
    server_.stats().closed_output_limit++;
    close();
    return;
  }
  server_.schedule_round(shared_from_this());
  if (close_after_flush_) {
    server_.unwatch_client(socket_.native_handle());
  } else if (held_cmds_ >= kMaxHeldCommands && !input_paused_) {
    // Backpressure: a client that sends writes faster than they become durable (or commit)
    // stops being read until most of its replies have gone; TCP then slows the client down.
    input_paused_ = true;
    server_.stats().input_paused++;
    server_.unwatch_client(socket_.native_handle());
  }
}

void Connection::process_input() {
  if (processing_) return;  // a wait ended inside a command: the loop below goes on
  processing_ = true;
  while (in_begin_ < in_end_ && !close_after_flush_ && !closed_ && !blocked_) {
    size_t consumed = 0;
    std::string_view buf(in_.get() + in_begin_, in_end_ - in_begin_);
    resp::ParseResult r = parser_.parse(buf, &consumed);
    if (r == resp::ParseResult::kCommand) {
      if (!parser_.args().empty()) dispatch(parser_.args());
      in_begin_ += consumed;
      continue;
    }
    if (r == resp::ParseResult::kNeedMore) {
      size_t expected = parser_.expected_size();
      if (expected > 0 && !ensure_read_space(expected)) {
        server_.stats().protocol_errors++;
        answer_and_close("ERR Protocol error: request exceeds the query buffer limit");
      }
      break;
    }
    // Protocol error: answer and close, as Redis does; other clients are unaffected.
    server_.stats().protocol_errors++;
    spdlog::debug("client {} ({}): {}", info_.id, info_.addr, parser_.error());
    answer_and_close("ERR " + parser_.error());
    break;
  }
  if (in_begin_ == in_end_) in_begin_ = in_end_ = 0;
  processing_ = false;
}

void Connection::answer_and_close(std::string_view error) {
  const size_t from = out_.size();
  resp::Writer(&out_, info_.proto).error(error);
  // After the replies still waiting for their writes to be durable, never before them.
  if (!held_.empty()) hold_tail(from, 0, now_us());
  close_after_flush();
}

void Connection::dispatch(std::span<const std::string_view> args) {
  const int64_t start = now_us();
  const size_t before = out_.size();
  resp::Writer w(&out_, info_.proto);
  const resp::CommandSpec* spec = resp::lookup_command(args[0]);
  ++info_.commands;
  if (!spec) {
    server_.stats().unknown_commands++;
    write_unknown_command(args, w);
    txn_.flag_error();
  } else if (!authenticated_ && !(spec->flags & resp::kNoAuth)) {
    server_.stats().noauth_rejected++;
    w.error("NOAUTH Authentication required.");
    txn_.flag_error();
  } else if (!resp::arity_ok(*spec, args.size())) {
    server_.stats().errors[static_cast<size_t>(spec->id)]++;
    const std::string msg =
        "wrong number of arguments for '" + std::string(spec->name) + "' command";
    if (spec->id == resp::CommandId::kExec && txn_.in_multi()) {
      // A refused EXEC ends the transaction, naming why (as Redis does).
      txn_.reset(server_, info_.id);
      server_.stats().transactions_execabort++;
      w.error("EXECABORT Transaction discarded because of: " + msg);
    } else {
      w.error("ERR " + msg);
      txn_.flag_error();
    }
  } else if (!user_->unrestricted() && !acl_permits(*spec, args, w)) {
    txn_.flag_error();  // as Redis: a refused command queued in MULTI makes EXEC fail
  } else if (txn_.in_multi() && !ClientTransaction::acts_at_once(spec->id)) {
    info_.last_cmd = spec->name;
    txn_.queue(server_, *spec, args, w);  // counted in calls when EXEC runs it
  } else {
    info_.last_cmd = spec->name;
    server_.stats().calls[static_cast<size_t>(spec->id)]++;
    uint64_t token = 0;
    if (spec->flags & resp::kBlocking) {
      // Outside a transaction only: queued in one (above), a blocking command runs at EXEC in
      // its non-blocking form (Store::execute answers nil when it finds nothing), as Redis.
      return block(*spec, args, start);
    }
    const bool exec = spec->id == resp::CommandId::kExec;
    if (exec || is_data_command(spec->id)) {
      ClientRequest req{info_.id, ++next_seq_, info_.proto, read_mode_, consistency_};
      ExecReplies replies;
      Dispatch d = exec ? txn_.exec(server_, *this, req, w, &replies)
                        : server_.node().execute(req, *spec, args, server_.now_ms(), w);
      if (d.kind == Dispatch::kDeferred) {
        held_.push_back(Held{0, {}, {start}, req.seq, {}});
        ++held_cmds_;
        if (exec) held_.back().exec = std::move(replies);
        server_.node_input();
        return;
      }
      token = d.token;
    } else if (is_transaction_command(spec->id)) {
      txn_.run(server_, *this, *spec, args, w);
    } else {
      token = run_session_command(server_, *this, *spec, args, &out_);
    }
    return queue_reply(before, token, start);
  }
  queue_reply(before, 0, start);
}

void Connection::queue_reply(size_t from, uint64_t token, int64_t start_us) {
  if (token != 0 && server_.config().fsync == FsyncMode::kAlways) server_.persist_now();
  // Held until durable; under "always" only when the disk refused the write just persisted.
  if ((token != 0 && token > server_.durable_token()) || !held_.empty()) {
    hold_tail(from, token, start_us);
    return;
  }
  server_.stats().latency.record(static_cast<uint64_t>(now_us() - start_us));
}

void Connection::block(const resp::CommandSpec& spec, std::span<const std::string_view> args,
                       int64_t start_us) {
  auto b = std::make_unique<Blocked>();
  b->spec = &spec;
  b->args.assign(args.begin(), args.end());
  b->views.assign(b->args.begin(), b->args.end());
  b->start_us = start_us;
  const bool moves = spec.id == resp::CommandId::kBlmove ||
                     spec.id == resp::CommandId::kBrpoplpush;  // wait on the source only
  resp::for_each_key(spec, b->views, [&](size_t i) {
    if (!moves || i == 1) b->keys.push_back(b->args[i]);
  });
  // A malformed timeout is answered by the attempt itself (Store checks it, in Redis's order).
  int64_t ms = 0;
  const std::string_view timeout = spec.id == resp::CommandId::kBlmpop ? args[1] : args.back();
  if (parse_block_timeout(timeout, server_.now_ms(), &ms).empty() && ms > 0) {
    b->deadline_ms = server_.mono_ms() + ms;
  }
  blocked_ = std::move(b);
  server_.note_blocked(info_.id);
  attempt_blocked();
}

void Connection::watch_blocked_keys() {
  Node& node = server_.node();
  for (const std::string& k : blocked_->keys)
    node.blocked().watch(info_.id, node.store().route(k), k);
}

bool Connection::blocked_list_here() const {
  const Store& st = server_.node().store();
  const int64_t now = server_.now_ms();
  for (const std::string& k : blocked_->keys) {
    const KeyTable::Entry* e = st.keyspace(st.route(k)).table.find(k);
    if (e && e->value.type() == ValueType::kList &&
        (e->value.expire_at_ms == 0 || e->value.expire_at_ms > now)) {
      return true;
    }
  }
  return false;
}

void Connection::attempt_blocked() {
  Blocked& b = *blocked_;
  Node& node = server_.node();
  watch_blocked_keys();
  b.changed = false;
  const size_t before = out_.size();
  resp::Writer w(&out_, info_.proto);
  ClientRequest req{info_.id, ++next_seq_, info_.proto, read_mode_, consistency_};
  Dispatch d = node.execute(req, *b.spec, b.views, server_.now_ms(), w);
  if (d.kind == Dispatch::kDeferred) {
    b.attempt_seq = req.seq;
    held_.push_back(Held{0, {}, {}, req.seq, {}});
    server_.node_input();
    return;
  }
  if (is_nil_reply(std::string_view(out_).substr(before))) {
    out_.resize(before);
    return on_attempt_nil();
  }
  end_block(before, d.token);
}

void Connection::on_attempt_nil() {
  Blocked& b = *blocked_;
  b.attempt_seq = 0;
  if (b.changed || !server_.node().blocked().watching(info_.id)) {
    // A key changed while the attempt was in flight.
    if (blocked_list_here()) return attempt_blocked();
    watch_blocked_keys();
  }
  check_block_timeout(server_.mono_ms());
}

void Connection::end_block(size_t from, uint64_t token) {
  const int64_t start = blocked_->start_us;
  server_.node().blocked().forget(info_.id);
  blocked_.reset();
  queue_reply(from, token, start);
}

void Connection::resume_input() {
  if (closed_) return;
  process_input();
  server_.schedule_round(shared_from_this());
}

void Connection::on_keys_changed() {
  if (!blocked_ || closed_) return;
  if (blocked_->attempt_seq != 0) {
    blocked_->changed = true;
    return;
  }
  // Only a list can serve it (a key that became another type keeps it waiting, as in Redis
  // 7.0). Where no waited key holds one here, an attempt would answer nil: keep waiting without
  // one (in a primary keyspace an attempt is a log entry). A push this node has yet to apply
  // fires the registration again when it is applied.
  if (!blocked_list_here()) {
    watch_blocked_keys();
    return;
  }
  attempt_blocked();
  server_.node_input();  // the attempt's write, if it popped, goes out with the next round
  if (!blocked_) resume_input();
}

void Connection::check_block_timeout(int64_t now_mono_ms) {
  if (blocked_ && blocked_->deadline_ms != 0 && now_mono_ms >= blocked_->deadline_ms) {
    unblock(false);
  }
}

bool Connection::unblock(bool error) {
  if (!blocked_ || closed_ || blocked_->attempt_seq != 0) return false;
  const size_t before = out_.size();
  resp::Writer w(&out_, info_.proto);
  if (error) {
    w.error("UNBLOCKED client unblocked via CLIENT UNBLOCK");
  } else {
    w.null_array();  // Redis's timeout reply, whatever the command
  }
  end_block(before, 0);
  resume_input();
  return true;
}

void Connection::authenticate_as(std::shared_ptr<acl::User> u) {
  RKV_ASSERT(u != nullptr);
  user_ = std::move(u);
  info_.user = user_->name();
  authenticated_ = true;
}

void Connection::reset_user() {
  user_ = server_.acl().default_user();
  info_.user = user_->name();
  authenticated_ = user_->nopass() && user_->enabled();
}

bool Connection::acl_permits(const resp::CommandSpec& spec, std::span<const std::string_view> args,
                             resp::Writer& w) {
  const acl::Verdict v = acl::check(*user_, spec, args);
  if (v.denied == acl::Denied::kNone) return true;
  auto& denied = v.denied == acl::Denied::kCommand ? server_.stats().acl_denied_commands
                                                   : server_.stats().acl_denied_keys;
  ++denied;
  w.error("NOPERM " + acl::denial_text(*user_, v, args, /*verbose=*/false));
  return false;
}

// Failed authentication attempts: at most kAuthBurst per kAuthWindowMs on one connection;
// beyond that attempts are refused unchecked (guessing a password costs a connection per burst).
namespace {
constexpr size_t kAuthBurst = 5;
constexpr int64_t kAuthWindowMs = 1000;
}  // namespace

bool Connection::allow_auth_attempt(int64_t now_ms) {
  while (!auth_failures_ms_.empty() && now_ms - auth_failures_ms_.front() >= kAuthWindowMs)
    auth_failures_ms_.pop_front();
  return auth_failures_ms_.size() < kAuthBurst;
}

void Connection::note_auth_failure(int64_t now_ms) {
  auth_failures_ms_.push_back(now_ms);
  while (auth_failures_ms_.size() > kAuthBurst)
    auth_failures_ms_.pop_front();
}

void Connection::hold_tail(size_t from, uint64_t token, int64_t start_us) {
  if (held_.empty() || held_.back().deferred_seq != 0 ||
      (token != 0 && held_.back().token != 0 && token > held_.back().token &&
       held_.back().bytes.size() > (1u << 20))) {
    held_.push_back(Held{token, {}, {}, 0, {}});
  }
  Held& h = held_.back();
  if (token > h.token) h.token = token;
  h.bytes.append(out_, from, std::string::npos);
  h.start_us.push_back(start_us);
  ++held_cmds_;
  out_.resize(from);
}

bool Connection::release_held(uint64_t durable_token) {
  const int64_t now = now_us();
  while (!held_.empty() && held_.front().token <= durable_token &&
         held_.front().deferred_seq == 0) {
    Held& h = held_.front();
    out_.append(h.bytes);
    for (int64_t s : h.start_us)
      server_.stats().latency.record(static_cast<uint64_t>(now - s));
    held_cmds_ -= std::min(held_cmds_, h.start_us.size());
    held_.pop_front();
  }
  if (input_paused_ && held_cmds_ <= kMaxHeldCommands / 2 && !closed_ && !close_after_flush_) {
    input_paused_ = false;
    if (!server_.watch_client(*this, socket_.native_handle())) {
      close();
    } else if (tls_) {
      read_tls_pending();
    }
  }
  return !held_.empty();
}

void Connection::fill_deferred(uint64_t seq, std::string bytes) {
  if (blocked_ && blocked_->attempt_seq == seq) {
    // The attempt's held entry is the last one: nothing runs after a blocked command.
    RKV_ASSERT(!held_.empty() && held_.back().deferred_seq == seq);
    if (is_nil_reply(bytes)) {
      held_.pop_back();
      on_attempt_nil();
      if (!blocked_) resume_input();
      return;
    }
    held_.back().bytes = std::move(bytes);
    held_.back().deferred_seq = 0;
    held_.back().start_us.push_back(blocked_->start_us);
    server_.node().blocked().forget(info_.id);
    blocked_.reset();
    resume_input();
    return;
  }
  for (Held& h : held_) {
    if (h.deferred_seq == seq) {
      h.bytes = h.exec ? h.exec->finish(bytes, server_) : std::move(bytes);
      h.deferred_seq = 0;
      return;
    }
  }
}

void Connection::flush() {
  if (closed_ || write_in_flight_) return;
  if (out_.empty()) {
    if (close_after_flush_ && held_.empty()) close();
    return;
  }
  server_.stats().net_output_bytes += out_.size();
  if (tls_) return flush_tls();
  // Try the write at once; only what the socket does not take waits for the reactor.
  asio::error_code wec;
  size_t written = socket_.write_some(asio::buffer(out_), wec);
  if (wec && wec != asio::error::would_block && wec != asio::error::try_again) {
    close();
    return;
  }
  if (written == out_.size()) {
    out_.clear();
    if (close_after_flush_ && held_.empty()) close();
    return;
  }
  writing_.assign(out_, written, std::string::npos);
  out_.clear();
  write_in_flight_ = true;
  asio::async_write(
      socket_, asio::buffer(writing_),
      [self = shared_from_this()](const asio::error_code& ec, size_t) { self->on_written(ec); });
}

void Connection::on_written(const asio::error_code& ec) {
  write_in_flight_ = false;
  writing_.clear();
  if (writing_.capacity() > (1u << 20)) writing_.shrink_to_fit();
  if (closed_) return;
  if (ec) {
    close();
    return;
  }
  flush();
}

// --- the TLS transport -----------------------------------------------------------------------

bool Connection::advance_tls_handshake() {
  switch (tls_->handshake()) {
    case TlsSession::Io::kDone:
      spdlog::debug("client {} ({}): TLS established: {}", info_.id, info_.addr, tls_->describe());
      return true;
    case TlsSession::Io::kWantRead:
      return false;  // the client poller calls again
    case TlsSession::Io::kWantWrite:
      wait_tls(true);
      return false;
    case TlsSession::Io::kClosed:
    case TlsSession::Io::kFailed:
      break;
  }
  server_.note_tls_refusal(info_.addr, tls_->error());
  close();
  return false;
}

bool Connection::receive_tls() {
  rx_ec_.clear();
  rx_n_ = 0;
  if (!tls_->handshake_done() && !advance_tls_handshake()) return false;
  char* buf = in_.get() + in_end_;
  const size_t cap = in_cap_ - in_end_;
  // One read per readiness, as on the plain path, then whatever the session already holds: a
  // read that would find the socket empty costs a system call for nothing.
  do {
    const TlsSession::Outcome r = tls_->read(buf + rx_n_, cap - rx_n_);
    if (r.io == TlsSession::Io::kDone) {
      rx_n_ += r.n;
      continue;
    }
    if (r.io == TlsSession::Io::kWantWrite) wait_tls(true);
    if (r.io == TlsSession::Io::kFailed) {
      spdlog::info("client {} ({}): TLS error: {}; closing", info_.id, info_.addr, tls_->error());
    }
    // What was read before close_notify is handled first; the end is seen again on the next
    // read (the socket stays readable at EOF). A failed session drops what it decrypted.
    if ((r.io == TlsSession::Io::kClosed && rx_n_ == 0) || r.io == TlsSession::Io::kFailed) {
      rx_n_ = 0;
      rx_ec_ = asio::error::eof;
    }
    break;
  } while (rx_n_ < cap && tls_->has_pending());
  return rx_n_ > 0 || rx_ec_;
}

void Connection::read_tls_pending() {
  // Decrypted input the buffer had no room for (or that arrived while input was paused): no
  // readiness will announce it.
  if (closed_ || input_paused_ || tls_read_posted_ || !tls_->has_pending()) return;
  tls_read_posted_ = true;
  asio::post(server_.io(), [self = shared_from_this()] {
    self->tls_read_posted_ = false;
    if (!self->input_paused_ && self->receive()) self->handle_received();
  });
}

void Connection::wait_tls(bool writable) {
  if (tls_waiting_) return;  // the pending wait retries both directions
  tls_waiting_ = true;
  socket_.async_wait(
      writable ? asio::ip::tcp::socket::wait_write : asio::ip::tcp::socket::wait_read,
      [self = shared_from_this()](const asio::error_code& ec) { self->on_tls_ready(ec); });
}

void Connection::on_tls_ready(const asio::error_code& ec) {
  tls_waiting_ = false;
  if (closed_) return;
  if (ec) {
    close();
    return;
  }
  if (write_in_flight_) continue_tls_write();
  if (!closed_ && receive()) handle_received();
}

void Connection::flush_tls() {
  writing_.swap(out_);
  out_.clear();
  tls_written_ = 0;
  continue_tls_write();
}

void Connection::continue_tls_write() {
  write_in_flight_ = false;
  while (tls_written_ < writing_.size()) {
    const TlsSession::Outcome r =
        tls_->write(writing_.data() + tls_written_, writing_.size() - tls_written_);
    if (r.io == TlsSession::Io::kDone) {
      tls_written_ += r.n;
      continue;
    }
    if (r.io == TlsSession::Io::kWantWrite || r.io == TlsSession::Io::kWantRead) {
      write_in_flight_ = true;
      wait_tls(r.io == TlsSession::Io::kWantWrite);
      return;
    }
    spdlog::debug("client {} ({}): TLS write failed: {}", info_.id, info_.addr, tls_->error());
    close();
    return;
  }
  writing_.clear();
  if (writing_.capacity() > (1u << 20)) writing_.shrink_to_fit();
  tls_written_ = 0;
  if (!out_.empty()) return flush();
  if (close_after_flush_ && held_.empty()) close();
}

}  // namespace rkv
