#include "runtime/transaction.h"

#include <fmt/format.h>

#include "resp/reply_scan.h"
#include "runtime/connection.h"
#include "runtime/server.h"
#include "runtime/session.h"

namespace rkv {

using resp::CommandId;

namespace {

// A transaction queues at most this many commands, of at most this many bytes in all;
// beyond, the command is refused (and the transaction doomed), as any queuing error. The byte
// bound keeps a relayed transaction, and its log entry, within one peer message (64 MiB).
constexpr size_t kMaxQueuedCommands = 100000;
constexpr size_t kMaxQueuedBytes = 32u << 20;

}  // namespace

bool ClientTransaction::acts_at_once(CommandId id) {
  switch (id) {
    case CommandId::kExec:
    case CommandId::kDiscard:
    case CommandId::kMulti:
    case CommandId::kWatch:
    case CommandId::kQuit:
    case CommandId::kReset:
      return true;
    default:
      return false;
  }
}

void ClientTransaction::queue(Server& s, const resp::CommandSpec& spec,
                              std::span<const std::string_view> args, resp::Writer& w) {
  std::string error;
  if (spec.id == CommandId::kSave || spec.id == CommandId::kShutdown) {
    error = "ERR Command not allowed inside a transaction";
  } else if (queued_.size() >= kMaxQueuedCommands || queued_bytes_ >= kMaxQueuedBytes) {
    error = fmt::format(
        "ERR transaction too large (at most {} commands and {} MiB queued); it is discarded at "
        "EXEC",
        kMaxQueuedCommands, kMaxQueuedBytes >> 20);
  } else if (is_data_command(spec.id)) {
    // Every data command must share the transaction's keyspace when it is replicated.
    int64_t ks = keyspace_;
    error = s.node().admit_to_transaction(spec, args, &ks);
    if (error.empty()) keyspace_ = ks;
  }
  if (!error.empty()) {
    failed_ = true;
    s.stats().errors[static_cast<size_t>(spec.id)]++;
    return w.error(error);
  }
  std::vector<std::string>& q = queued_.emplace_back(args.begin(), args.end());
  for (const std::string& a : q)
    queued_bytes_ += a.size();
  w.simple("QUEUED");
}

void ClientTransaction::run(Server& s, Connection& c, const resp::CommandSpec& spec,
                            std::span<const std::string_view> args, resp::Writer& w) {
  switch (spec.id) {
    case CommandId::kMulti:
      if (in_multi_) return w.error("ERR MULTI calls can not be nested");
      in_multi_ = true;
      return w.ok();
    case CommandId::kDiscard:
      if (!in_multi_) return w.error("ERR DISCARD without MULTI");
      reset(s, c.info().id);
      return w.ok();
    case CommandId::kWatch: {
      if (in_multi_) return w.error("ERR WATCH inside MULTI is not allowed");
      s.drain_watches();  // changes before this WATCH must not count against it
      const std::string error = s.node().watch(c.info().id, args.subspan(1));
      if (!error.empty()) return w.error(error);
      for (std::string_view key : args.subspan(1))
        watched_.push_back(Watched{std::string(key), s.node().key_expired(key, s.now_ms())});
      return w.ok();
    }
    case CommandId::kUnwatch:  // outside MULTI (inside, it is queued)
      reset(s, c.info().id);
      return w.ok();
    default:
      RKV_ASSERT_MSG(false, "not a transaction command");
  }
}

void ClientTransaction::reset(Server& s, uint64_t client_id) {
  if (!watched_.empty()) {
    s.drain_watches();  // a firing still pending must not mark the next WATCH's transaction
    s.node().watches().forget(client_id);
  }
  *this = ClientTransaction{};
}

bool ClientTransaction::watched_changed(Server& s) const {
  if (dirty_) return true;
  // A watched key whose expiry passed since WATCH (still to be removed) changed too, as Redis
  // has it.
  for (const Watched& w : watched_) {
    if (!w.expired && s.node().key_expired(w.key, s.now_ms())) return true;
  }
  return false;
}

Dispatch ClientTransaction::exec(Server& s, Connection& c, const ClientRequest& req,
                                 resp::Writer& w, ExecReplies* replies) {
  if (!in_multi_) {
    w.error("ERR EXEC without MULTI");
    return {};
  }
  s.drain_watches();
  ClientTransaction t = std::exchange(*this, ClientTransaction{});
  if (!t.watched_.empty()) s.node().watches().forget(c.info().id);
  if (t.failed_) {
    s.stats().transactions_execabort++;
    w.error("EXECABORT Transaction discarded because of previous errors.");
    return {};
  }
  if (t.watched_changed(s)) {
    s.stats().transactions_aborted++;
    w.null_array();
    return {};
  }
  // Connection commands touch no data: they run now, and their replies take their places
  // among the data commands' replies.
  Transaction txn;
  replies->total = t.queued_.size();
  for (size_t i = 0; i < t.queued_.size(); ++i) {
    std::vector<std::string>& q = t.queued_[i];
    const resp::CommandSpec& spec = *resp::lookup_command(q[0]);
    if (is_data_command(spec.id)) {
      txn.commands.push_back(std::move(q));
      continue;
    }
    s.stats().calls[static_cast<size_t>(spec.id)]++;
    std::string out;
    if (spec.id == CommandId::kUnwatch) {
      resp::Writer(&out, c.proto()).ok();  // EXEC forgets the watched keys anyway
    } else {
      const std::vector<std::string_view> a(q.begin(), q.end());
      run_session_command(s, c, spec, a, &out);
    }
    replies->own.emplace_back(i, std::move(out));
  }
  for (const auto& cmd : txn.commands)
    s.stats().calls[static_cast<size_t>(resp::lookup_command(cmd[0])->id)]++;
  txn.watched.reserve(t.watched_.size());
  for (Watched& k : t.watched_)
    txn.watched.push_back(std::move(k.key));
  std::string node_reply;
  resp::Writer nw(&node_reply, req.proto);
  const Dispatch d = s.node().execute_transaction(req, std::move(txn), s.now_ms(), nw);
  if (d.kind != Dispatch::kDeferred) w.raw(replies->finish(node_reply, s));
  return d;
}

std::string ExecReplies::finish(std::string_view node_reply, Server& s) const {
  std::vector<std::string_view> data;
  if (!resp::split_array(node_reply, &data)) {  // nil (a watched key changed), or an error
    if (node_reply.starts_with("*-1") || node_reply.starts_with("_")) {
      s.stats().transactions_aborted++;
    } else {
      s.stats().transactions_failed++;
    }
    return std::string(node_reply);
  }
  s.stats().transactions_executed++;
  if (own.empty()) return std::string(node_reply);
  RKV_ASSERT(data.size() + own.size() == total);
  std::string out = fmt::format("*{}\r\n", total);
  size_t next_data = 0, next_own = 0;
  for (size_t i = 0; i < total; ++i) {
    if (next_own < own.size() && own[next_own].first == i) {
      out.append(own[next_own++].second);
    } else {
      out.append(data[next_data++]);
    }
  }
  return out;
}

}  // namespace rkv
