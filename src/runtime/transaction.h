// ClientTransaction: one connection's MULTI / EXEC / DISCARD / WATCH / UNWATCH state, with
// Redis 7.0's semantics (docs/commands.md, "Transactions"; docs/guarantees.md). Loop thread only.
//
//  * MULTI opens a transaction; every command after it (but EXEC, DISCARD, MULTI, WATCH, QUIT
//    and RESET, which act at once) is checked and queued (+QUEUED). A command refused while
//    queuing (unknown, wrong arity, not allowed in a transaction, keys outside the
//    transaction's keyspace) answers its error and dooms the transaction: EXEC then answers
//    -EXECABORT and runs nothing.
//  * EXEC runs the queued commands as one unit: the data commands as one Node transaction (one
//    log entry in a primary keyspace), the connection commands (PING, CLIENT, ...) on the
//    connection, and answers an array of every reply in queued order. It answers nil instead
//    when a watched key changed after WATCH: the Node fires the connection's registration in
//    Node::watches() on every change it applies (the server marks the transaction dirty, see
//    Server::drain_watches), a watched key expired meanwhile, or the leader found a change
//    still in its log (RaftGroup::execute_transaction).
//  * EXEC, DISCARD, RESET, UNWATCH and closing the connection forget the watched keys.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "node/engine.h"
#include "resp/commands.h"
#include "resp/writer.h"

namespace rkv {

class Server;
class Connection;
struct ClientRequest;

// The replies of the connection commands of an EXEC, to be put among the replies of its data
// commands that the Node answers with (at once, or later for a primary keyspace).
struct ExecReplies {
  size_t total = 0;                                 // commands queued
  std::vector<std::pair<size_t, std::string>> own;  // (position, reply), ascending positions
  // The client's EXEC reply from the Node's (an array of the data commands' replies; nil or
  // an error pass through), counted in the server's transaction statistics.
  std::string finish(std::string_view node_reply, Server& s) const;
};

class ClientTransaction {
 public:
  bool in_multi() const { return in_multi_; }
  // Whether a command acts at once even inside MULTI (EXEC, DISCARD, MULTI, WATCH, QUIT, RESET).
  static bool acts_at_once(resp::CommandId id);
  // A command was refused while MULTI is open: EXEC will answer EXECABORT.
  void flag_error() {
    if (in_multi_) failed_ = true;
  }
  // Checks and queues a command inside MULTI, answering +QUEUED or the error.
  void queue(Server& s, const resp::CommandSpec& spec, std::span<const std::string_view> args,
             resp::Writer& w);
  // MULTI, DISCARD, WATCH, UNWATCH outside MULTI.
  void run(Server& s, Connection& c, const resp::CommandSpec& spec,
           std::span<const std::string_view> args, resp::Writer& w);
  // EXEC. kDeferred: *replies turns the Node's later reply into the client's (finish()).
  Dispatch exec(Server& s, Connection& c, const ClientRequest& req, resp::Writer& w,
                ExecReplies* replies);
  // A watched key changed (Server::drain_watches).
  void mark_dirty() {
    if (!watched_.empty()) dirty_ = true;
  }
  // DISCARD, RESET, the end of EXEC: leaves MULTI and forgets the watched keys.
  void reset(Server& s, uint64_t client_id);

 private:
  struct Watched {
    std::string key;
    bool expired;  // the key had expired (not yet removed) when watched
  };
  bool watched_changed(Server& s) const;

  bool in_multi_ = false;
  bool failed_ = false;    // a command was refused while queuing
  bool dirty_ = false;     // a watched key changed
  int64_t keyspace_ = -1;  // the keyspace the queued data commands bound it to (-1: none)
  std::vector<std::vector<std::string>> queued_;
  size_t queued_bytes_ = 0;
  std::vector<Watched> watched_;
};

}  // namespace rkv
