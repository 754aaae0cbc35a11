// Node: hosts a node's keyspaces and executes client data commands against them. Sans-IO and
// deterministic (DESIGN.md §2): it never touches a socket, thread or clock. Time comes in as
// now_ms; durable state goes out as persist requests that the driver (runtime or simulator)
// carries out and then acknowledges.
//
// Durability contract (single-node / local apply):
//  * execute() applies a write to memory at once and returns a wait token; its reply must not
//    be sent to the client before on_persisted(token') with token' >= token.
//  * take_persist() hands the driver every change made since the last call, as one atomic
//    batch, tagged with the highest token it covers and whether it must be synced (fsync
//    "always"/"batch" => sync; "never" => not). The driver writes batches in the order taken.
//  * Reads return token 0, but the driver keeps each connection's replies in request order,
//    so a read is never answered before an earlier write on the same connection.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "core/config.h"
#include "core/status.h"
#include "node/store.h"
#include "resp/commands.h"
#include "resp/writer.h"
#include "storage/storage.h"

namespace rkv {

struct PersistRequest {
  WriteBatch batch;
  bool sync = false;
  uint64_t token = 0;  // the highest wait token this batch makes durable
};

class Node {
 public:
  // `storage` must outlive the Node.
  Node(const Config& config, Storage* storage);
  ~Node();

  // Loads every key from storage, verifying each record's checksum. A corrupt record is an
  // error naming the key: the node refuses to start rather than serve damaged data.
  Status open(int64_t now_ms);

  const Config& config() const { return config_; }
  const Store& store() const { return store_; }

  // Executes one data command (arity already checked). Writes the reply to `w` and returns
  // the wait token (0 when the reply may be sent at once).
  uint64_t execute(const resp::CommandSpec& spec, std::span<const std::string_view> args,
                   int64_t now_ms, resp::Writer& w);

  // Periodic work: the active expiry sweep. Call every config.expire_sweep_ms.
  void tick(int64_t now_ms);

  bool has_pending_persist() const { return !pending_.batch.empty(); }
  PersistRequest take_persist();
  // The driver reports that every batch up to `token` is durable.
  void on_persisted(uint64_t token);
  uint64_t durable_token() const { return durable_token_; }
  uint64_t last_token() const { return next_token_ - 1; }

  // Keys for the stored form of user data (also used by tests and tools).
  static std::string data_key(std::string_view keyspace, std::string_view key);
  static std::string encode_value(const Value& v);
  static bool decode_value(std::string_view record, Value* v);

 private:
  class PendingSink;

  Config config_;
  Storage* storage_;
  Store store_;
  std::unique_ptr<PendingSink> sink_;
  PersistRequest pending_;
  uint64_t next_token_ = 1;
  uint64_t durable_token_ = 0;
};

}  // namespace rkv
