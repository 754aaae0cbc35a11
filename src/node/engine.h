// Engine: the replication engine of one keyspace, as the Node sees it (DESIGN.md §3, "the
// engine seam"). The Node owns what every keyspace shares — routing a command to its keyspace,
// the Store, durability tokens, the peer envelope, notes — and hands each replicated keyspace
// to the engine of its model: RaftGroup (`primary`), LeaderlessEngine (`leaderless`),
// MultiLeaderEngine (`multi-leader`). Each
// engine is the adapter between the Node and its sans-IO protocol core, and keeps its own
// model-specific state. The Node, the runtime and the simulator never switch on the model:
// they ask every engine the same questions below.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/config.h"
#include "core/status.h"
#include "resp/commands.h"
#include "resp/writer.h"

namespace rkv {

// A keyspace image written as a blob of its own (Storage::write_blob), outside the batches, the
// removal of one (data null), or the reading of one (read: the driver sets data to its
// content). The driver carries these out in the order taken, off the event loop (an image may
// be hundreds of megabytes), and hands each back by on_blob_done; after a write it must drop
// its own references to `data` first.
struct BlobOp {
  std::string name;
  std::shared_ptr<std::string> data;  // null: remove the blob (unless read)
  uint32_t keyspace = 0;
  uint64_t index = 0;  // the log index the image is of
  bool read = false;
  // A part of a blob written as it is produced (Storage::append_blob): `first` starts it; the
  // `last` then finishes it with `head` over its first bytes, `length` bytes in all.
  bool part = false, first = false, last = false;
  std::string head = {};
  uint64_t length = 0;
  // Freed by the driver off the event loop once the op is carried out: what the last part of
  // an image leaves behind (the build's copies of the keys changed while it ran, hundreds of
  // thousands at millions of keys: freeing them took over 100 ms in one step of the loop).
  std::shared_ptr<void> release = {};
};

class Storage;
// Carries a BlobOp out on `storage` (the drivers' one way to): writes, removes, or reads into
// op.data.
Status run_blob_op(Storage& storage, BlobOp& op);

class RaftGroup;
class LeaderlessEngine;
class MultiLeaderEngine;

// Who gets a reply: a local client, or a peer that relayed the request.
struct Origin {
  uint64_t client_id = 0;
  uint64_t seq = 0;
  int proto = 2;
  int32_t peer = -1;  // >= 0: relayed by this peer (index), answer with forward id
  uint64_t forward_id = 0;
  uint64_t leader_term = 0;  // relayed: the term in which the peer knew this node as leader
};

// Per-connection overrides of a keyspace's settings (READMODE, CONSISTENCY).
struct RequestOptions {
  std::optional<ReadMode> read_mode;       // primary keyspaces
  std::optional<Consistency> consistency;  // leaderless keyspaces
};

struct Dispatch {
  enum Kind : unsigned char {
    kReady,         // the reply written to the Writer may be sent now
    kAfterPersist,  // the reply is in the Writer; send it once on_persisted(token) covers token
    kDeferred,      // nothing was written; the reply arrives later through take_replies()
  };
  Kind kind = kReady;
  uint64_t token = 0;
};

class Engine {
 public:
  virtual ~Engine() = default;

  // Loads the keyspace's durable state from storage.
  virtual Status open(int64_t now_ms) = 0;
  // A client command whose keys all belong to this keyspace (arity checked).
  virtual Dispatch execute(const Origin& o, const resp::CommandSpec& spec,
                           std::span<const std::string_view> args, const RequestOptions& opts,
                           int64_t now_ms, resp::Writer& w) = 0;
  // A message from peer `from` for this keyspace: the payload after the envelope tag. Garbage
  // is counted and dropped, never trusted.
  virtual void on_peer_message(uint32_t from, std::string_view body, int64_t now_ms) = 0;
  // Time passed (called at least every 10 ms).
  virtual void tick(int64_t now_ms) = 0;
  // Produces the effects of the inputs taken since the last call (see Node::pump).
  virtual void pump(int64_t now_ms) = 0;
  // Every batch up to `durable_token` is durable.
  virtual void on_persisted(uint64_t durable_token, int64_t now_ms) = 0;
  virtual void on_client_closed(uint64_t client_id) {}
  // A BlobOp of this engine's is done (Node::take_blob_ops).
  virtual void on_blob_done(BlobOp op, const Status& st, int64_t now_ms) {}
  // Whether the driver can make writes durable changed (false: the disk is full; see
  // Node::refuse_writes). Client and relayed writes are refused by the Node meanwhile; an
  // engine adjusts what it does on its own (a Raft leader hands its leadership on).
  virtual void set_disk_full(bool full) {}
  // (field, value) pairs for INFO keyspace_replication and /metrics, prefixed by the caller.
  virtual void describe(std::vector<std::pair<std::string, std::string>>* out,
                        int64_t now_ms) const = 0;
  // The primary engine, for the Raft-specific introspection (ROLE, STALENESS, LOSTWRITES).
  virtual RaftGroup* as_primary() { return nullptr; }
  virtual const RaftGroup* as_primary() const { return nullptr; }
  // The leaderless engine, for RING and REPAIR.
  virtual LeaderlessEngine* as_leaderless() { return nullptr; }
  virtual const LeaderlessEngine* as_leaderless() const { return nullptr; }
  // The multi-leader engine, for CONFLICTS.
  virtual MultiLeaderEngine* as_multileader() { return nullptr; }
  virtual const MultiLeaderEngine* as_multileader() const { return nullptr; }
};

// Envelope of a peer payload addressed to a keyspace's engine: every engine's message body
// starts with the keyspace name as field 1 of a protobuf-style record (tag byte 0x0A, varint
// length, bytes), so the Node finds the engine without decoding the rest.
void put_engine_header(std::string* out, std::string_view keyspace);
bool peek_engine_keyspace(std::string_view body, std::string_view* keyspace);

}  // namespace rkv
