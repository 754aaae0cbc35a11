// Connection: one client socket. Reads requests, parses them with resp::Parser, executes them
// in order and queues replies. Replies leave in request order; a reply that depends on a
// not-yet-durable write is held until the server reports the write durable. Owned by Server
// (shared_ptr, kept alive by pending async operations). Loop thread only.
#pragma once

#include <asio.hpp>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "resp/parser.h"
#include "runtime/server.h"
#include "runtime/tls.h"
#include "runtime/transaction.h"

namespace rkv {

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // tls: the session of a client of the TLS port (its handshake not yet begun); null for the
  // plain port.
  Connection(Server& server, asio::ip::tcp::socket socket,
             std::unique_ptr<TlsSession> tls = nullptr);
  ~Connection();

  void start();
  // The socket is readable (the server's client poller): reads what arrived and runs it.
  void on_readable();
  // on_readable in two halves, so that the server can read a batch of sockets, ask for the
  // memory their commands will touch, and only then run them: receive() reads (true when
  // handle_received() has something to do), first_key() names the key of the first command
  // received (a hint), handle_received() runs what arrived.
  bool receive();
  std::optional<std::string_view> first_key() const;
  void handle_received();
  // Closes the socket now; pending output is dropped.
  void close();
  bool closed() const { return closed_; }

  // Sends whatever output is ready (called at the end of a round).
  void flush();
  // Moves held replies whose writes are durable (and deferred replies that arrived) to the
  // output, in request order; true when some remain held.
  bool release_held(uint64_t durable_token);
  // A deferred reply for request `seq` arrived from the node.
  void fill_deferred(uint64_t seq, std::string bytes);
  bool has_held() const { return !held_.empty(); }

  // Blocking commands (BLPOP, BLMOVE, ...). The command runs in its non-blocking form; when that
  // finds nothing (a nil reply) the connection registers on the command's keys in the node's
  // KeyEvents (Node::blocked) and stops executing its later input, as Redis does, until a key
  // changes (the server calls on_keys_changed: the command runs again) or the timeout passes
  // (check_block_timeout: the reply is a null array). Registration comes before every attempt,
  // so a change applied while a forwarded attempt is in flight still wakes the connection.
  bool is_blocked() const { return blocked_ != nullptr; }
  void on_keys_changed();
  // Times the blocked command out if its deadline (server mono_ms) has passed.
  void check_block_timeout(int64_t now_mono_ms);
  // CLIENT UNBLOCK: ends the wait now, with the timeout's reply or (error) an UNBLOCKED error.
  // False when not waiting, or while an attempt is in flight (its pop cannot be called back).
  bool unblock(bool error);

  ClientInfo& info() { return info_; }
  const ClientInfo& info() const { return info_; }
  int proto() const { return info_.proto; }
  void set_proto(int p) { info_.proto = p; }
  void set_read_mode(std::optional<ReadMode> m) { read_mode_ = m; }
  std::optional<ReadMode> read_mode() const { return read_mode_; }
  void set_consistency(std::optional<Consistency> c) { consistency_ = c; }
  // Client authentication: until it succeeds only no-auth commands run. A connection starts
  // as the `default` user, authenticated when that user needs no password (runtime/acl.h).
  bool authenticated() const { return authenticated_; }
  const acl::User& user() const { return *user_; }
  // AUTH / HELLO AUTH succeeded as `u`.
  void authenticate_as(std::shared_ptr<acl::User> u);
  // RESET: back to the default user, authenticated only when it needs no password.
  void reset_user();
  // Counts a failed attempt; false when this connection failed too often lately (the attempt
  // is then refused without checking the password).
  bool allow_auth_attempt(int64_t now_ms);
  void note_auth_failure(int64_t now_ms);
  std::optional<Consistency> consistency() const { return consistency_; }
  // Close once the output queued so far has been written (QUIT, protocol errors).
  void close_after_flush() { close_after_flush_ = true; }
  size_t pending_output() const;
  ClientTransaction& transaction() { return txn_; }

 private:
  void on_read(const asio::error_code& ec, size_t n);
  void process_input();
  void dispatch(std::span<const std::string_view> args);
  // False (the NOPERM error written, counted) when the user may not run this command on these
  // keys. Only for users that are not unrestricted (the default user costs a branch).
  bool acl_permits(const resp::CommandSpec& spec, std::span<const std::string_view> args,
                   resp::Writer& w);
  // Answers input that cannot be parsed with `error` and closes once every earlier reply (held
  // ones included) has gone.
  void answer_and_close(std::string_view error);
  // The reply written to out_ from `from` on is complete: send it, or hold it behind earlier
  // held replies or until write `token` is durable.
  void queue_reply(size_t from, uint64_t token, int64_t start_us);
  // Blocking commands: begin waiting, run one attempt, handle an attempt's reply, resume the
  // input after the wait ends.
  void block(const resp::CommandSpec& spec, std::span<const std::string_view> args,
             int64_t start_us);
  void attempt_blocked();
  void watch_blocked_keys();
  // True when a key the blocked command waits on holds a list in this node's state.
  bool blocked_list_here() const;
  void on_attempt_nil();
  void end_block(size_t from, uint64_t token);
  void resume_input();
  void hold_tail(size_t from, uint64_t token, int64_t start_us);
  void on_written(const asio::error_code& ec);
  bool ensure_read_space(size_t want_total);

  // The TLS transport (tls_ set): the handshake, reads and writes go through the session over
  // the same non-blocking socket. A handshake or read that needs the socket writable, and a
  // write that needs it readable or writable, waits through asio (rare); decrypted bytes left
  // in the session after a read are read from a posted handler (epoll cannot announce them).
  bool receive_tls();
  void read_tls_pending();
  bool advance_tls_handshake();
  void wait_tls(bool writable);
  void flush_tls();
  void continue_tls_write();
  void on_tls_ready(const asio::error_code& ec);
  std::unique_ptr<TlsSession> tls_;
  size_t tls_written_ = 0;        // bytes of writing_ the session has taken
  bool tls_waiting_ = false;      // an asio readiness wait is pending for the session
  bool tls_read_posted_ = false;  // a handler will read what the session holds

  asio::error_code rx_ec_;  // result of the last receive(), for handle_received()
  size_t rx_n_ = 0;

  Server& server_;
  asio::ip::tcp::socket socket_;
  resp::Parser parser_;
  // Input buffer: bytes [in_begin_, in_end_) are received and not yet consumed.
  std::unique_ptr<char[]> in_;
  size_t in_cap_ = 0, in_begin_ = 0, in_end_ = 0;
  std::string out_;      // replies ready to send
  std::string writing_;  // the buffer an async_write is sending
  bool write_in_flight_ = false;
  struct Held {
    uint64_t token;
    std::string bytes;
    std::vector<int64_t> start_us;    // per command, for the latency histogram
    uint64_t deferred_seq = 0;        // != 0: waits for the node's reply to this request
    std::optional<ExecReplies> exec;  // the request is an EXEC: its reply is built from it
  };
  std::deque<Held> held_;
  // Commands whose replies are held; at kMaxHeldCommands the socket stops being read
  // (input_paused_) until half of them have been answered.
  static constexpr size_t kMaxHeldCommands = 1024;
  size_t held_cmds_ = 0;
  bool input_paused_ = false;
  struct Blocked {
    const resp::CommandSpec* spec = nullptr;
    std::vector<std::string> args;        // owned: the input buffer moves on meanwhile
    std::vector<std::string_view> views;  // of args
    std::vector<std::string> keys;        // the keys whose change may let it proceed
    int64_t deadline_ms = 0;              // server mono_ms; 0: waits forever
    int64_t start_us = 0;
    uint64_t attempt_seq = 0;  // != 0: an attempt's reply is awaited from the node
    bool changed = false;      // a key changed while an attempt was in flight
  };
  std::unique_ptr<Blocked> blocked_;
  ClientInfo info_;
  uint64_t next_seq_ = 0;
  std::optional<ReadMode> read_mode_;  // READMODE override
  bool authenticated_ = false;
  std::shared_ptr<acl::User> user_;         // never null; shared with the server's acl::Table
  std::deque<int64_t> auth_failures_ms_;    // recent failed attempts (at most kAuthBurst)
  std::optional<Consistency> consistency_;  // CONSISTENCY override
  ClientTransaction txn_;
  bool closed_ = false;
  bool close_after_flush_ = false;
  bool processing_ = false;  // inside process_input (a wait that ends there must not recurse)
  bool in_round_ = false;    // listed in the server's round_
  bool in_holding_ = false;  // listed in the server's holding_
  friend class Server;
};

}  // namespace rkv
