#include "node/node.h"

#include <fmt/format.h>

#include <utility>

#include "core/checksum.h"
#include "core/text.h"
#include "core/varint.h"
#include "node/leaderless_engine.h"
#include "node/multileader_engine.h"
#include "node/wire.h"
#include "raft/codec.h"

namespace rkv {

namespace {
constexpr size_t kSweepBatch = 200;             // most keys one sweep tick removes (bounded pause)
constexpr size_t kRehashBucketsPerTick = 4096;  // key-table resize work per tick (bounded)
constexpr size_t kMaxSeenForwards = 65536;      // relayed request ids remembered per peer

std::string data_prefix(std::string_view keyspace, char tag = 'd') {
  std::string k;
  k.reserve(keyspace.size() + 2);
  k.push_back(tag);
  k.append(keyspace);
  k.push_back('\0');
  return k;
}

// Storage rows of user data (single node and local keyspaces):
//   d<keyspace>\0<key>                 -> sealed(u64 expiry, string bytes)          a string
//   d<keyspace>\0<key>                 -> sealed(u64 expiry | kCollectionHead, u8 type)
//                                                                  a hash's or set's head
//   f<keyspace>\0<u32 BE key length><key><element> -> sealed(field value; "" for a member)
// One row per element: HSET or SADD writes one row (and the head when it creates the key),
// never the whole collection. The key length keeps one key's elements in one contiguous range
// that no other key's range overlaps, so that DEL (or a type change) is one range delete.
constexpr uint64_t kCollectionHead = 1ull << 63;

std::string element_prefix(std::string_view keyspace, std::string_view key) {
  std::string k = data_prefix(keyspace, 'f');
  const auto n = static_cast<uint32_t>(key.size());
  for (int shift = 24; shift >= 0; shift -= 8)
    k.push_back(static_cast<char>((n >> shift) & 0xff));
  k.append(key);
  return k;
}
// Just past every row of element_prefix(keyspace, key): the prefix's successor.
std::string element_end(std::string_view keyspace, std::string_view key) {
  std::string k = element_prefix(keyspace, key);
  while (static_cast<unsigned char>(k.back()) == 0xff)
    k.pop_back();  // never empties: the first byte is 'f'
  k.back() = static_cast<char>(static_cast<unsigned char>(k.back()) + 1);
  return k;
}
}  // namespace

// Turns Store changes into rows of the pending batch.
class Node::PendingSink final : public ChangeSink {
 public:
  explicit PendingSink(Node* n) : n_(n) {}
  void on_put(uint32_t ks, std::string_view key, const Value& v) override {
    n_->key_events_.on_put(ks, key, v);
    n_->pending_.batch.put(data_key(n_->store_.keyspace(ks).config.name, key), encode_value(v));
  }
  void on_erase(uint32_t ks, std::string_view key, ValueType type) override {
    n_->key_events_.on_erase(ks, key, type);
    const std::string& name = n_->store_.keyspace(ks).config.name;
    n_->pending_.batch.del(data_key(name, key));
    if (type != ValueType::kString) {
      n_->pending_.batch.delete_range(element_prefix(name, key), element_end(name, key));
    }
  }
  void on_element(uint32_t ks, std::string_view key, std::string_view elem,
                  const std::string* value) override {
    n_->key_events_.on_element(ks, key, elem, value);
    std::string k = element_prefix(n_->store_.keyspace(ks).config.name, key);
    k.append(elem);
    if (value) {
      n_->pending_.batch.put(k, seal(*value));
    } else {
      n_->pending_.batch.del(k);
    }
  }
  void on_clear(uint32_t ks) override {
    n_->key_events_.on_clear(ks);
    for (char tag : {'d', 'f'}) {
      std::string begin = data_prefix(n_->store_.keyspace(ks).config.name, tag);
      std::string end = begin;
      end.back() = '\1';
      n_->pending_.batch.delete_range(begin, end);
    }
  }

 private:
  Node* n_;
};

Node::Node(const Config& config, Storage* storage, uint64_t seed, const MonotonicClock* clock)
    : config_(config),
      storage_(storage),
      store_(config.keyspaces, StoreLimits{config.limits.max_value_len}),
      sink_(std::make_unique<PendingSink>(this)),
      random_(std::make_unique<Random>(seed)),
      clock_(clock) {
  for (uint32_t i = 0; i < config_.nodes.size(); ++i) {
    if (config_.nodes[i].id == config_.node_id) self_index_ = i;
  }
  store_.set_access_lfu(eviction::uses_lfu(config_.memory.policy));
}

Node::~Node() = default;

ChangeSink& Node::change_sink() {
  return *sink_;
}

std::string Node::data_key(std::string_view keyspace, std::string_view key) {
  std::string k = data_prefix(keyspace);
  k.append(key);
  return k;
}

std::string Node::encode_value(const Value& v) {
  std::string payload;
  if (v.coll) {  // the head only: the elements have rows of their own
    put_u64(payload, static_cast<uint64_t>(v.expire_at_ms) | kCollectionHead);
    payload.push_back(static_cast<char>(v.coll->type));
    return seal(payload);
  }
  payload.reserve(v.data.size() + 8);
  put_u64(payload, static_cast<uint64_t>(v.expire_at_ms));
  payload.append(v.data);
  return seal(payload);
}

bool Node::decode_value(std::string_view record, Value* v) {
  std::string_view payload;
  if (!unseal(record, &payload) || payload.size() < 8) return false;
  const uint64_t head = get_u64(payload.data());
  if (head & kCollectionHead) {
    if (payload.size() != 9) return false;
    const auto t = static_cast<ValueType>(payload[8]);
    if (t != ValueType::kHash && t != ValueType::kSet && t != ValueType::kZset &&
        t != ValueType::kList) {
      return false;
    }
    *v = Value(t);
    v->expire_at_ms = static_cast<int64_t>(head & ~kCollectionHead);
    return true;
  }
  v->expire_at_ms = static_cast<int64_t>(head);
  v->data.assign(payload.substr(8));
  return true;
}

Status Node::open(int64_t now_ms) {
  // The node id is recorded on first start; a data dir of another node is refused.
  const std::string id_key = "mnode_id";
  auto id = storage_->get(id_key);
  if (id.is_ok()) {
    std::string_view stored;
    if (!unseal(id.value(), &stored)) {
      return Status::corruption("node id record fails its checksum");
    }
    if (stored != config_.node_id) {
      return Status::invalid_argument(
          fmt::format("data dir belongs to node \"{}\", not \"{}\"", stored, config_.node_id));
    }
  } else if (id.status().code() == Code::kNotFound) {
    WriteBatch b;
    b.put(id_key, seal(config_.node_id));
    RKV_RETURN_IF_ERROR(storage_->write(b, true));
  } else {
    return id.status();
  }

  // Primary and leaderless keyspaces of a cluster replicate through their engine (one Raft
  // group, or a LeaderlessEngine, each) and keep no rows of the Store.
  const bool cluster = config_.nodes.size() > 1;
  for (uint32_t i = 0; cluster && i < store_.keyspace_count(); ++i) {
    const Model m = store_.keyspace(i).config.model;
    if (m == Model::kPrimary || m == Model::kLeaderless) store_.set_replicated(i, true);
  }
  WriteBatch fixups;  // expired keys to drop, keys whose keyspace changed to move
  Status bad;
  std::vector<std::pair<uint32_t, std::string>> heads;  // collections loaded
  Status st = storage_->scan("d", "e", [&](std::string_view k, std::string_view rec) {
    size_t nul = k.find('\0');
    if (nul == std::string_view::npos) {
      bad = Status::corruption(fmt::format("malformed data key ({} bytes)", k.size()));
      return false;
    }
    std::string_view ks_name = k.substr(1, nul - 1);
    std::string_view key = k.substr(nul + 1);
    Value v;
    if (!decode_value(rec, &v)) {
      bad = Status::corruption(fmt::format(
          "stored value of key \"{}\" in keyspace \"{}\" fails its checksum", key, ks_name));
      return false;
    }
    if (v.expire_at_ms != 0 && v.expire_at_ms <= now_ms) {
      fixups.del(k);
      if (v.coll) {
        fixups.delete_range(element_prefix(ks_name, key), element_end(ks_name, key));
      }
      return true;
    }
    uint32_t ks = store_.route(key);
    if (store_.keyspace(ks).replicated) {
      // A replicated keyspace keeps no rows here (its engine keeps its own records: a Raft
      // log and snapshot, or versioned objects): these were stored by a configuration in
      // which the keyspace was not replicated.
      bad = Status::invalid_argument(fmt::format(
          "key \"{}\" is stored as a row of keyspace \"{}\", but the configuration makes it part "
          "of replicated keyspace \"{}\" ({}), which keeps its data in its replication "
          "engine's own records; start with the configuration that wrote this data dir, or an "
          "empty data dir",
          key, ks_name, store_.keyspace(ks).config.name,
          to_string(store_.keyspace(ks).config.model)));
      return false;
    }
    if (store_.keyspace(ks).config.name != ks_name) {
      fixups.del(k);
      fixups.put(data_key(store_.keyspace(ks).config.name, key), rec);
    }
    if (v.coll) heads.emplace_back(ks, key);
    store_.restore(ks, key, std::move(v));
    return true;
  });
  RKV_RETURN_IF_ERROR(st);
  RKV_RETURN_IF_ERROR(bad);
  RKV_RETURN_IF_ERROR(load_elements(&fixups));
  // Multi-leader keyspaces of a cluster keep their rows (loaded above) and change only through
  // their engine, which also decides expiries.
  for (uint32_t i = 0; cluster && i < store_.keyspace_count(); ++i) {
    if (store_.keyspace(i).config.model == Model::kMultiLeader) store_.set_replicated(i, true);
  }
  // A collection is never stored empty; a head without elements (none can be written so) is
  // dropped rather than served as an empty key.
  for (const auto& [ks, key] : heads) {
    const KeyTable::Entry* e = store_.keyspace(ks).table.find(key);
    if (e && e->value.coll && e->value.coll->size() == 0) {
      fixups.del(data_key(store_.keyspace(ks).config.name, key));
      store_.erase_key(ks, key);
    }
  }
  if (!fixups.empty()) RKV_RETURN_IF_ERROR(storage_->write(fixups, true));

  if (cluster) {
    RKV_RETURN_IF_ERROR(load_lost_writes());
    engines_.resize(store_.keyspace_count());
    for (uint32_t i = 0; i < store_.keyspace_count(); ++i) {
      if (!store_.keyspace(i).replicated) continue;
      if (store_.keyspace(i).config.model == Model::kLeaderless) {
        engines_[i] = std::make_unique<LeaderlessEngine>(this, i, random_.get());
      } else if (store_.keyspace(i).config.model == Model::kMultiLeader) {
        engines_[i] = std::make_unique<MultiLeaderEngine>(this, i, random_.get());
      } else {
        engines_[i] = std::make_unique<RaftGroup>(this, i, random_.get());
      }
      RKV_RETURN_IF_ERROR(engines_[i]->open(now_ms));
    }
  }
  last_now_ms_ = now_ms;
  return Status::ok();
}

namespace {

// LOSTWRITES records: kLostPrefix + u64 BE sequence number -> sealed record.
constexpr std::string_view kLostPrefix = "mlost/";
constexpr std::string_view kLostEnd = "mlost0";  // '/' + 1: just past every record key
// Record: term, index, proposed_ms (u64 each), keyspace length (u32), keyspace, command.
constexpr size_t kLostKeyspaceLenAt = 8 + 8 + 8;
constexpr size_t kLostWriteFixed = kLostKeyspaceLenAt + 4;

std::string error_reply(int proto, std::string_view msg) {
  std::string out;
  resp::Writer(&out, proto).error(msg);
  return out;
}

}  // namespace

Status Node::load_elements(WriteBatch* fixups) {
  Status bad;
  Status st = storage_->scan("f", "g", [&](std::string_view k, std::string_view rec) {
    const size_t nul = k.find('\0');
    if (nul == std::string_view::npos || k.size() - nul - 1 < 4) {
      bad = Status::corruption(fmt::format("malformed element key ({} bytes)", k.size()));
      return false;
    }
    const std::string_view ks_name = k.substr(1, nul - 1);
    const auto* p = reinterpret_cast<const unsigned char*>(k.data() + nul + 1);
    const uint32_t kl =
        (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
    if (k.size() - nul - 5 < kl) {
      bad = Status::corruption(fmt::format("malformed element key ({} bytes)", k.size()));
      return false;
    }
    const std::string_view key = k.substr(nul + 5, kl);
    const std::string_view elem = k.substr(nul + 5 + kl);
    std::string_view value;
    if (!unseal(rec, &value)) {
      bad = Status::corruption(fmt::format(
          "stored element of key \"{}\" in keyspace \"{}\" fails its checksum", key, ks_name));
      return false;
    }
    const uint32_t ks = store_.route(key);
    // Elements of a key dropped while loading (expired) go with it.
    if (!store_.restore_element(ks, key, elem, value)) {
      fixups->del(k);
      return true;
    }
    if (store_.keyspace(ks).config.name != ks_name) {
      fixups->del(k);
      std::string moved = element_prefix(store_.keyspace(ks).config.name, key);
      moved.append(elem);
      fixups->put(moved, rec);
    }
    return true;
  });
  RKV_RETURN_IF_ERROR(st);
  return bad;
}

Dispatch Node::execute(const ClientRequest& req, const resp::CommandSpec& spec,
                       std::span<const std::string_view> args, int64_t now_ms, resp::Writer& w) {
  Origin o{req.client_id, req.seq, req.proto, -1, 0};
  return route(o, spec, args, RequestOptions{req.read_mode, req.consistency}, now_ms, w);
}

Dispatch Node::execute_local(const resp::CommandSpec& spec, std::span<const std::string_view> args,
                             int64_t now_ms, resp::Writer& w) {
  uint64_t token = execute(spec, args, now_ms, w);
  return token == 0 ? Dispatch{Dispatch::kReady, 0} : Dispatch{Dispatch::kAfterPersist, token};
}

Node::KeyRoute Node::route_keys(const resp::CommandSpec& spec,
                                std::span<const std::string_view> args) const {
  KeyRoute r;
  resp::for_each_key(spec, args, [&](size_t i) {
    const uint32_t k = store_.route(args[i]);
    r.replicated |= k < engines_.size() && engines_[k] != nullptr;
    if (r.ks == -1) {
      r.ks = k;
    } else if (r.ks != k) {
      r.mixed = true;
    }
  });
  return r;
}

namespace {
constexpr std::string_view kCrossKeyspace =
    "CROSSSLOT keys of one command must belong to one keyspace when it is replicated";
constexpr std::string_view kCrossKeyspaceTxn =
    "CROSSSLOT keys of one transaction (its commands and WATCHed keys) must belong to one "
    "keyspace when it is replicated";
}  // namespace

Dispatch Node::route(const Origin& o, const resp::CommandSpec& spec,
                     std::span<const std::string_view> args, const RequestOptions& opts,
                     int64_t now_ms, resp::Writer& w) {
  last_now_ms_ = now_ms;
  if (!write_refusal_.empty() && (spec.flags & resp::kWrite)) {
    w.error(write_refusal_);
    return {};
  }
  if (config_.memory.maxmemory != 0 && (spec.flags & resp::kDenyOom) &&
      !admit_memory(spec, args, now_ms, w)) {
    return {};
  }
  if (engines_.empty()) return execute_local(spec, args, now_ms, w);
  if (spec.id == resp::CommandId::kKeys || spec.id == resp::CommandId::kDbsize ||
      spec.id == resp::CommandId::kScan) {
    return list_keys(o, spec, args, now_ms, w);
  }
  // Which keyspace does the command touch? All its keys must share one replicated keyspace.
  const KeyRoute r = route_keys(spec, args);
  const bool write = (spec.flags & resp::kWrite) != 0;
  if (r.mixed && r.replicated) {
    w.error(kCrossKeyspace);
    return {};
  }
  if (r.ks < 0) {
    // A command whose keys come from a numkeys argument names none only when that argument is
    // malformed: the Store answers its error without touching any key.
    if (write && !(spec.flags & resp::kMovableKeys)) {
      for (const auto& e : engines_) {
        if (e) {
          w.error(
              "ERR this command would change replicated keyspaces; it is not supported on a "
              "cluster");
          return {};
        }
      }
    }
    return execute_local(spec, args, now_ms, w);  // keyless reads: local state
  }
  Engine* e = engines_[static_cast<size_t>(r.ks)].get();
  if (!e) return execute_local(spec, args, now_ms, w);
  return e->execute(o, spec, args, opts, now_ms, w);
}

std::string Node::transaction_refusal(uint32_t ks) const {
  const Engine* e = engine(ks);
  if (!e || e->as_primary()) return {};
  if (e->as_leaderless()) {
    return fmt::format(
        "ERR keyspace '{}' uses the leaderless model, where transactions (MULTI/EXEC/WATCH) are "
        "not defined",
        store_.keyspace(ks).config.name);
  }
  return fmt::format(
      "ERR keyspace '{}' uses the multi-leader model: every node writes on its own and peers "
      "apply each key's last write, so a transaction (MULTI/EXEC/WATCH) could not hold across "
      "nodes; it is not offered",
      store_.keyspace(ks).config.name);
}

std::string Node::admit_to_transaction(const resp::CommandSpec& spec,
                                       std::span<const std::string_view> args, int64_t* ks) const {
  if (engines_.empty()) return {};  // a single node: every keyspace is local
  const KeyRoute r = route_keys(spec, args);
  if (r.ks < 0) {
    return fmt::format(
        "ERR '{}' names no key and cannot be part of a transaction on a cluster (a transaction "
        "runs in the keyspace of its keys)",
        spec.name);
  }
  if (r.mixed && r.replicated) return std::string(kCrossKeyspace);
  const Engine* e = engines_[static_cast<size_t>(r.ks)].get();
  if (std::string why = transaction_refusal(static_cast<uint32_t>(r.ks)); !why.empty()) return why;
  // Local keyspaces may share a transaction (they are one node's state); a replicated one
  // binds it.
  if (*ks >= 0 && *ks != r.ks && (e || engines_[static_cast<size_t>(*ks)] != nullptr)) {
    return std::string(kCrossKeyspaceTxn);
  }
  if (*ks < 0) *ks = r.ks;
  return {};
}

std::string Node::watch(uint64_t client_id, std::span<const std::string_view> keys) {
  for (std::string_view key : keys) {
    const uint32_t ks = store_.route(key);
    if (std::string why = transaction_refusal(ks); !why.empty()) return why;
  }
  for (std::string_view key : keys)
    watches_.watch(client_id, store_.route(key), key);
  return {};
}

bool Node::key_expired(std::string_view key, int64_t now_ms) const {
  const KeyTable::Entry* e = store_.keyspace(store_.route(key)).table.find(key);
  return e && e->value.expire_at_ms != 0 && e->value.expire_at_ms <= now_ms;
}

Dispatch Node::execute_transaction(const ClientRequest& req, Transaction txn, int64_t now_ms,
                                   resp::Writer& w) {
  Origin o{req.client_id, req.seq, req.proto, -1, 0};
  return execute_transaction(o, txn, now_ms, w);
}

Dispatch Node::execute_transaction(const Origin& o, Transaction& txn, int64_t now_ms,
                                   resp::Writer& w) {
  last_now_ms_ = now_ms;
  // The transaction's keyspace: its commands' (admitted when queued), and that of the keys it
  // watches in replicated keyspaces, which must agree.
  int64_t ks = -1;
  for (const auto& c : txn.commands) {
    std::vector<std::string_view> a(c.begin(), c.end());
    const resp::CommandSpec& spec = *resp::lookup_command(a[0]);
    if (!write_refusal_.empty() && (spec.flags & resp::kWrite)) {
      w.error(write_refusal_);
      return {};
    }
    if (config_.memory.maxmemory != 0 && (spec.flags & resp::kDenyOom) &&
        !admit_memory(spec, a, now_ms, w)) {
      return {};
    }
    const std::string err = admit_to_transaction(spec, a, &ks);
    if (!err.empty()) {
      w.error(err);
      return {};
    }
  }
  std::vector<std::string> watched;  // those of the transaction's keyspace
  for (std::string& key : txn.watched) {
    const uint32_t k = store_.route(key);
    if (!engine(k)) continue;  // local: the client's WATCH covered every change already
    if (ks >= 0 && ks != k) {
      w.error(kCrossKeyspaceTxn);
      return {};
    }
    ks = k;
    watched.push_back(std::move(key));
  }
  txn.watched = std::move(watched);
  RaftGroup* g = ks >= 0 ? primary(static_cast<uint32_t>(ks)) : nullptr;
  if (g) return g->execute_transaction(o, txn, now_ms, w);
  // Local: every command runs now, in order, on this node's state; their changes join one
  // pending batch, so they become durable together.
  // Blocking commands (BLPOP, BRPOP, BLMOVE, ...) must not block here: inside EXEC they act
  // as their non-blocking forms (an empty list answers nil at once), as in Redis.
  w.array(txn.commands.size());
  uint64_t token = 0;
  for (const auto& c : txn.commands) {
    std::vector<std::string_view> a(c.begin(), c.end());
    token = std::max(token, execute(*resp::lookup_command(a[0]), a, now_ms, w));
  }
  return token == 0 ? Dispatch{Dispatch::kReady, 0} : Dispatch{Dispatch::kAfterPersist, token};
}

Dispatch Node::run_relayed(const Origin& o, std::span<const std::string_view> args,
                           const RequestOptions& opts, int64_t now_ms, resp::Writer& w) {
  if (is_relayed_transaction(args)) {
    Transaction txn;
    if (!decode_relayed_transaction(args, &txn)) {
      w.error("ERR malformed relayed transaction");
      return {};
    }
    return execute_transaction(o, txn, now_ms, w);
  }
  const resp::CommandSpec* spec = resp::lookup_command(args[0]);
  if (!spec || !resp::arity_ok(*spec, args.size())) {
    w.error("ERR unknown command or wrong number of arguments");
    return {};
  }
  return route(o, *spec, args, opts, now_ms, w);
}

// SCAN over leaderless keyspaces: cursors with this bit set name (keyspace, ring range) and
// follow the Store's own cursors (which never reach it) once those are done.
namespace {
constexpr uint64_t kLeaderlessCursor = uint64_t{1} << 62;
}

uint64_t Node::leaderless_cursor(size_t ks) const {
  for (; ks < engines_.size(); ++ks) {
    const Engine* e = engines_[ks].get();
    if (e && e->as_leaderless()) return kLeaderlessCursor | (uint64_t{ks} << 32);
  }
  return 0;
}

Dispatch Node::list_keys(const Origin& o, const resp::CommandSpec& spec,
                         std::span<const std::string_view> args, int64_t now_ms, resp::Writer& w) {
  std::vector<LeaderlessEngine*> lls;
  for (auto& e : engines_) {
    if (LeaderlessEngine* l = e ? e->as_leaderless() : nullptr) lls.push_back(l);
  }
  if (lls.empty()) return execute_local(spec, args, now_ms, w);
  Listing l;
  l.origin = o;
  l.command = spec.id;
  std::string pattern = "*";
  // (engine, range) parts to ask for once the listing is registered.
  std::vector<std::pair<LeaderlessEngine*, uint32_t>> parts;
  if (spec.id == resp::CommandId::kScan) {
    ScanRequest r;
    std::string error;
    if (!parse_scan(args, &r, &error)) {
      w.error(error);
      return {};
    }
    if (!r.pattern.empty()) pattern = std::string(r.pattern);
    l.strings_only = r.type.empty() || iequals(r.type, "string");
    if ((r.cursor & kLeaderlessCursor) == 0) {
      // The Store's part first (the keyspaces this node holds itself).
      std::vector<std::string_view> found;
      std::optional<uint64_t> next = store_.scan_keys(r, now_ms, &found);
      if (!next) {
        w.error("ERR invalid cursor");
        return {};
      }
      w.array(2);
      w.bulk(std::to_string(*next != 0 ? *next : leaderless_cursor(0)));
      w.array(found.size());
      for (std::string_view k : found)
        w.bulk(k);
      return {Dispatch::kReady, 0};
    }
    const uint64_t ks = (r.cursor & ~kLeaderlessCursor) >> 32;
    const uint64_t range = r.cursor & 0xFFFFFFFFu;
    LeaderlessEngine* e =
        ks < engines_.size() && engines_[ks] ? engines_[ks]->as_leaderless() : nullptr;
    if (!e || range >= e->range_count()) {
      w.error("ERR invalid cursor");
      return {};
    }
    l.next_cursor = range + 1 < e->range_count() ? r.cursor + 1 : leaderless_cursor(ks + 1);
    parts.emplace_back(e, static_cast<uint32_t>(range));
  } else {
    if (spec.id == resp::CommandId::kKeys) {
      pattern = std::string(args[1]);
      std::vector<std::string_view> found;
      store_.collect_keys(pattern, now_ms, &found);
      l.keys.assign(found.begin(), found.end());
    }
    for (LeaderlessEngine* e : lls)
      parts.emplace_back(e, leaderless::kAllRanges);
  }
  l.parts_left = parts.size();
  const uint64_t id = next_listing_++;
  listings_.emplace(id, std::move(l));
  for (auto& [e, range] : parts)
    e->list(id, pattern, range, now_ms);
  return {Dispatch::kDeferred, 0};
}

void Node::listed(uint64_t listing, std::vector<std::string> keys, std::string error) {
  auto it = listings_.find(listing);
  RKV_ASSERT(it != listings_.end());
  Listing& l = it->second;
  if (!error.empty()) {
    if (l.error.empty()) l.error = std::move(error);
  } else {
    l.keys.insert(l.keys.end(), std::make_move_iterator(keys.begin()),
                  std::make_move_iterator(keys.end()));
  }
  if (--l.parts_left > 0) return;
  std::string out;
  resp::Writer w(&out, l.origin.proto);
  if (!l.error.empty()) {
    w.error(l.error);
  } else if (l.command == resp::CommandId::kDbsize) {
    w.integer(static_cast<int64_t>(store_.total_keys() + l.keys.size()));
  } else if (l.command == resp::CommandId::kScan) {
    w.array(2);
    w.bulk(std::to_string(l.next_cursor));
    if (!l.strings_only) l.keys.clear();
    w.array(l.keys.size());
    for (const std::string& k : l.keys)
      w.bulk(k);
  } else {
    w.array(l.keys.size());
    for (const std::string& k : l.keys)
      w.bulk(k);
  }
  Origin o = l.origin;
  listings_.erase(it);
  deliver(o, std::move(out));
}

void Node::deliver(const Origin& o, std::string bytes) {
  if (o.peer >= 0) {
    sends_.push_back(
        PeerSend{static_cast<uint32_t>(o.peer), encode_forward_reply(o.forward_id, bytes)});
    return;
  }
  replies_.push_back(DeferredReply{o.client_id, o.seq, std::move(bytes)});
}

void Node::send_peer(uint32_t to, char tag, std::string body) {
  std::string payload;
  payload.reserve(body.size() + 1);
  payload.push_back(tag);
  payload.append(body);
  sends_.push_back(PeerSend{to, std::move(payload)});
}

void Node::forward(const Origin& o, uint32_t ks, bool write, std::span<const std::string_view> args,
                   uint8_t read_mode, int64_t now_ms) {
  // Ids carry a per-incarnation random prefix so a restarted node's ids never collide with
  // those its peers remember from before the restart.
  if (next_forward_id_ == 0) next_forward_id_ = (random_->next() | 1) << 32;
  uint64_t id = ++next_forward_id_;
  Forward f{o, ks, write, 0, {}, read_mode};
  f.args.assign(args.begin(), args.end());
  int32_t leader = primary(ks)->leader_index();
  if (leader < 0 || static_cast<uint32_t>(leader) == self_index_) {
    f.deadline_ms = deadline_in(config_.raft.no_leader_wait_ms);
    forwards_.emplace(id, std::move(f));  // sent once a leader is known
    return;
  }
  f.deadline_ms = deadline_in(config_.raft.request_timeout_ms);
  auto& stored = forwards_.emplace(id, std::move(f)).first->second;
  send_forward(id, stored);
}

void Node::send_forward(uint64_t id, Forward& f) {
  RaftGroup* g = primary(f.keyspace);
  int32_t leader = g->leader_index();
  std::vector<std::string_view> a(f.args.begin(), f.args.end());
  std::string msg =
      encode_forward(id, g->raft().term(), static_cast<uint8_t>(f.origin.proto), f.read_mode, a);
  sends_.push_back(PeerSend{static_cast<uint32_t>(leader), std::move(msg)});
  f.target = leader;
  f.args.clear();
  f.args.shrink_to_fit();
}

void Node::handle_forward(uint32_t from, std::string_view body, int64_t now_ms) {
  ForwardRequest fr;
  if (!decode_forward(body, &fr)) {
    ++bad_peer_messages_;
    return;
  }
  SeenForwards& seen = seen_forwards_[from];
  if (!seen.ids.insert(fr.id).second) return;  // a duplicate delivery: already executed
  seen.order.push_back(fr.id);
  if (seen.order.size() > kMaxSeenForwards) {
    seen.ids.erase(seen.order.front());
    seen.order.pop_front();
  }
  Origin o{0, 0, fr.proto, static_cast<int32_t>(from), fr.id, fr.leader_term};
  std::string out;
  resp::Writer w(&out, fr.proto);
  RequestOptions opts;
  if (fr.read_mode > 0) opts.read_mode = static_cast<ReadMode>(fr.read_mode - 1);
  Dispatch d = run_relayed(o, fr.args, opts, now_ms, w);
  if (d.kind != Dispatch::kDeferred) deliver(o, std::move(out));
}

void Node::handle_forward_reply(std::string_view body) {
  uint64_t id;
  std::string_view reply;
  if (!decode_forward_reply(body, &id, &reply)) {
    ++bad_peer_messages_;
    return;
  }
  auto it = forwards_.find(id);
  if (it == forwards_.end()) return;  // already timed out
  replies_.push_back(
      DeferredReply{it->second.origin.client_id, it->second.origin.seq, std::string(reply)});
  forwards_.erase(it);
}

void Node::expire_forwards(int64_t now_ms) {
  const int64_t mono = mono_ms();  // deadlines are protocol time; now_ms runs the commands
  for (auto it = forwards_.begin(); it != forwards_.end();) {
    Forward& f = it->second;
    const bool unsent = !f.args.empty();
    if (unsent) {
      int32_t leader = primary(f.keyspace)->leader_index();
      if (leader >= 0 && static_cast<uint32_t>(leader) != self_index_) {
        f.deadline_ms = deadline_in(config_.raft.request_timeout_ms);
        send_forward(it->first, f);
        ++it;
        continue;
      }
      if (leader >= 0 && static_cast<uint32_t>(leader) == self_index_) {
        // This node became the leader meanwhile: run the request here.
        Origin o = f.origin;
        std::vector<std::string> args = std::move(f.args);
        RequestOptions opts;
        if (f.read_mode > 0) opts.read_mode = static_cast<ReadMode>(f.read_mode - 1);
        it = forwards_.erase(it);
        std::vector<std::string_view> a(args.begin(), args.end());
        std::string out;
        resp::Writer w(&out, o.proto);
        Dispatch d = run_relayed(o, a, opts, now_ms, w);
        if (d.kind != Dispatch::kDeferred) deliver(o, std::move(out));
        continue;
      }
    }
    // Sent to a leader that has since been replaced: it may be dead, so do not wait for the
    // deadline. A write may have been applied (unknown outcome); a read simply failed.
    const int32_t leader_now = primary(f.keyspace)->leader_index();
    const bool leader_changed = !unsent && leader_now != f.target && leader_now >= 0;
    if (f.deadline_ms <= mono || leader_changed) {
      std::string msg;
      if (leader_changed) {
        msg =
            f.write
                ? "TIMEOUT the leader changed while the write was in flight; its outcome is unknown"
                : "TRYAGAIN the leader changed while the read was in flight; retry";
      } else if (unsent) {
        msg = fmt::format("TRYAGAIN no leader for keyspace '{}' (election in progress); retry",
                          store_.keyspace(f.keyspace).config.name);
      } else if (f.write) {
        msg = "TIMEOUT the leader did not answer in time; the write's outcome is unknown";
      } else {
        msg = "TRYAGAIN the leader did not answer in time; retry";
      }
      replies_.push_back(
          DeferredReply{f.origin.client_id, f.origin.seq, error_reply(f.origin.proto, msg)});
      it = forwards_.erase(it);
      continue;
    }
    ++it;
  }
}

void Node::on_peer_message(uint32_t from, std::string_view payload, int64_t now_ms) {
  last_now_ms_ = now_ms;
  if (payload.empty() || from >= config_.nodes.size() || from == self_index_) {
    ++bad_peer_messages_;
    return;
  }
  std::string_view body = payload.substr(1);
  switch (payload[0]) {
    case kPeerRaft:
    case kPeerLeaderless:
    case kPeerMultiLeader: {
      std::string_view name;
      int k = peek_engine_keyspace(body, &name) ? store_.find_keyspace(name) : -1;
      if (k < 0 || !engines_[static_cast<size_t>(k)]) {
        ++bad_peer_messages_;
        return;
      }
      engines_[static_cast<size_t>(k)]->on_peer_message(from, body, now_ms);  // effects: pump()
      return;
    }
    case kPeerForward:
      return handle_forward(from, body, now_ms);
    case kPeerReply:
      return handle_forward_reply(body);
    default:
      ++bad_peer_messages_;
  }
}

void Node::pump(int64_t now_ms) {
  for (auto& e : engines_) {
    if (e) e->pump(now_ms);
  }
}

void Node::on_client_closed(uint64_t client_id) {
  staleness_.erase(client_id);
  watches_.forget(client_id);
  blocked_.forget(client_id);
  for (auto& e : engines_) {
    if (e) e->on_client_closed(client_id);
  }
}

void Node::refuse_writes(std::string error) {
  const bool was_full = !write_refusal_.empty();
  write_refusal_ = std::move(error);
  const bool full = !write_refusal_.empty();
  if (full == was_full) return;
  for (const auto& e : engines_) {
    if (e) e->set_disk_full(full);
  }
}

std::vector<PeerSend> Node::take_sends() {
  return std::exchange(sends_, {});
}

std::vector<DeferredReply> Node::take_replies() {
  return std::exchange(replies_, {});
}

const raft::Raft* Node::raft_group(uint32_t keyspace) const {
  const Engine* e = engine(keyspace);
  const RaftGroup* g = e ? e->as_primary() : nullptr;
  return g ? &g->raft() : nullptr;
}

std::vector<std::pair<std::string, GroupStatus>> Node::replication_status() const {
  std::vector<std::pair<std::string, GroupStatus>> out;
  for (uint32_t i = 0; i < engines_.size(); ++i) {
    if (const RaftGroup* g = engines_[i] ? engines_[i]->as_primary() : nullptr) {
      out.emplace_back(store_.keyspace(i).config.name, g->status(config_.raft.tick_ms));
    }
  }
  return out;
}

uint64_t Node::disk_full_handoffs() const {
  uint64_t n = 0;
  for (const auto& e : engines_) {
    if (const RaftGroup* g = e ? e->as_primary() : nullptr) n += g->raft().disk_full_handoffs();
  }
  return n;
}

std::vector<Node::EngineField> Node::describe_engines() const {
  std::vector<EngineField> out;
  std::vector<std::pair<std::string, std::string>> fields;
  for (uint32_t i = 0; i < engines_.size(); ++i) {
    if (!engines_[i]) continue;
    fields.clear();
    engines_[i]->describe(&fields, mono_ms());
    for (auto& [f, v] : fields) {
      out.push_back(EngineField{store_.keyspace(i).config.name, std::move(f), std::move(v)});
    }
  }
  return out;
}

void put_engine_header(std::string* out, std::string_view keyspace) {
  out->push_back('\x0a');
  put_bytes(out, keyspace);
}

bool peek_engine_keyspace(std::string_view body, std::string_view* keyspace) {
  if (body.empty() || body[0] != '\x0a') return false;
  body.remove_prefix(1);
  return get_bytes(&body, keyspace);
}

std::optional<Node::Staleness> Node::staleness(uint64_t client_id) const {
  auto it = staleness_.find(client_id);
  if (it == staleness_.end()) return std::nullopt;
  return it->second;
}

void Node::note_truncated(uint32_t ks, const raft::Entry& e) {
  if (e.type != raft::EntryType::kNormal) return;
  if (store_.keyspace(ks).config.commit != CommitMode::kAsync) return;
  LoggedCommand cmd;
  if (!decode_logged(e.data, &cmd) || cmd.proposer != self_index_ ||
      cmd.kind == LoggedCommand::kExpire || cmd.kind == LoggedCommand::kEvict) {
    return;
  }
  LostWrite lw{store_.keyspace(ks).config.name, e.term, e.index, cmd.now_ms, {}};
  auto append = [&](std::span<const std::string_view> args) {
    for (size_t i = 0; i < args.size(); ++i) {
      if (i) lw.command.push_back(' ');
      lw.command.append(args[i]);
    }
  };
  if (cmd.kind == LoggedCommand::kMulti) {  // "MULTI; SET a 1; INCR b; EXEC"
    lw.command = "MULTI";
    std::vector<std::string_view> args;
    for (std::string_view c : cmd.args) {
      lw.command.append("; ");
      if (decode_command(c, &args)) append(args);
    }
    lw.command.append("; EXEC");
  } else {
    append(cmd.args);
  }
  note(fmt::format("keyspace {}: acknowledged async write lost in failover: term {} index {}: {}",
                   lw.keyspace, lw.term, lw.index, lw.command));
  // Stored in the same batch as the log truncation that loses the write, so the record
  // survives restarts exactly when the loss does.
  std::string rec;  // laid out as described at kLostKeyspaceLenAt
  put_u64(rec, lw.term);
  put_u64(rec, lw.index);
  put_u64(rec, static_cast<uint64_t>(lw.proposed_ms));
  put_u32(rec, static_cast<uint32_t>(lw.keyspace.size()));
  rec.append(lw.keyspace);
  rec.append(lw.command);
  pending_.batch.put(lost_write_key(next_lost_seq_++), seal(rec));
  lost_writes_.push_back(std::move(lw));
}

size_t Node::clear_lost_writes() {
  const size_t n = lost_writes_.size();
  if (n == 0) return 0;
  lost_writes_.clear();
  pending_.batch.delete_range(kLostPrefix, kLostEnd);
  new_token();
  return n;
}

std::string Node::lost_write_key(uint64_t seq) {
  std::string k(kLostPrefix);
  put_u64_be(k, seq);
  return k;
}

Status Node::load_lost_writes() {
  Status bad;
  Status st = storage_->scan(kLostPrefix, kLostEnd, [&](std::string_view k, std::string_view v) {
    std::string_view p;
    LostWrite lw;
    if (k.size() != kLostPrefix.size() + 8 || !unseal(v, &p) || p.size() < kLostWriteFixed ||
        p.size() - kLostWriteFixed < get_u32(p.data() + kLostKeyspaceLenAt)) {
      bad = Status::corruption("a LOSTWRITES record fails its checksum or framing");
      return false;
    }
    lw.term = get_u64(p.data());
    lw.index = get_u64(p.data() + 8);
    lw.proposed_ms = static_cast<int64_t>(get_u64(p.data() + 16));
    const uint32_t kl = get_u32(p.data() + kLostKeyspaceLenAt);
    lw.keyspace.assign(p.substr(kLostWriteFixed, kl));
    lw.command.assign(p.substr(kLostWriteFixed + kl));
    lost_writes_.push_back(std::move(lw));
    next_lost_seq_ = get_u64_be(k.data() + kLostPrefix.size()) + 1;
    return true;
  });
  RKV_RETURN_IF_ERROR(st);
  return bad;
}

uint64_t Node::execute(const resp::CommandSpec& spec, std::span<const std::string_view> args,
                       int64_t now_ms, resp::Writer& w) {
  size_t before = pending_.batch.size();
  store_.execute(spec, args, now_ms, w, *sink_);
  if (pending_.batch.size() == before) return 0;  // nothing changed: reply at once
  pending_.token = next_token_++;
  return pending_.token;
}

namespace {
// Keys chosen for eviction per tick at most (a bounded step of the event loop).
constexpr size_t kEvictionsPerTick = 4096;
}  // namespace

void Node::tick(int64_t now_ms) {
  last_now_ms_ = now_ms;
  if (now_ms - last_sweep_ms_ >= static_cast<int64_t>(config_.expire_sweep_ms)) {
    last_sweep_ms_ = now_ms;
    size_t before = pending_.batch.size();
    store_.sweep_expired(now_ms, kSweepBatch, *sink_);
    if (pending_.batch.size() != before) pending_.token = next_token_++;
  }
  if (over_memory_limit() && config_.memory.policy != MaxmemoryPolicy::kNoEviction) {
    evict(now_ms, kEvictionsPerTick);
  }
  for (auto& e : engines_) {
    if (e) e->tick(now_ms);
  }
  if (!forwards_.empty()) expire_forwards(now_ms);
  // A key table's resize also advances with every insert and erase; this finishes it when the
  // writes stop (a few hundred microseconds per tick at most).
  store_.background_step(kRehashBucketsPerTick);
}

PersistRequest Node::take_persist() {
  PersistRequest out = std::move(pending_);
  out.sync = config_.fsync != FsyncMode::kNever || std::exchange(force_sync_, false);
  pending_ = PersistRequest{};
  return out;
}

std::vector<BlobOp> Node::take_blob_ops() {
  return std::exchange(blob_ops_, {});
}

Status run_blob_op(Storage& storage, BlobOp& op) {
  if (op.read) {
    auto data = storage.read_blob(op.name);
    if (!data.is_ok()) return data.status();
    op.data = std::make_shared<std::string>(std::move(data).value());
    return Status::ok();
  }
  if (op.part) {
    RKV_ASSERT(op.data != nullptr);
    Status st = storage.append_blob(op.name, *op.data, op.first);
    if (!st.is_ok() || !op.last) return st;
    return storage.finish_blob(op.name, op.head, op.length);
  }
  return op.data ? storage.write_blob(op.name, *op.data) : storage.remove_blob(op.name);
}

void Node::on_blob_done(BlobOp op, const Status& st, int64_t now_ms) {
  RKV_ASSERT(op.keyspace < engines_.size() && engines_[op.keyspace]);
  engines_[op.keyspace]->on_blob_done(std::move(op), st, now_ms);
}

void Node::on_persisted(uint64_t token) {
  RKV_ASSERT(token < next_token_);
  if (token > durable_token_) durable_token_ = token;
  for (auto& e : engines_) {
    if (e) e->on_persisted(durable_token_, last_now_ms_);
  }
}

}  // namespace rkv
