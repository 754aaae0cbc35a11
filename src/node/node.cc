#include "node/node.h"

#include <fmt/format.h>

#include "core/checksum.h"

namespace rkv {

namespace {
constexpr size_t kSweepBatch = 200;  // most keys one sweep tick removes (bounded pause)

std::string data_prefix(std::string_view keyspace) {
  std::string k;
  k.reserve(keyspace.size() + 2);
  k.push_back('d');
  k.append(keyspace);
  k.push_back('\0');
  return k;
}
}  // namespace

// Turns Store changes into rows of the pending batch.
class Node::PendingSink final : public ChangeSink {
 public:
  explicit PendingSink(Node* n) : n_(n) {}
  void on_put(uint32_t ks, std::string_view key, const Value& v) override {
    n_->pending_.batch.put(data_key(n_->store_.keyspace(ks).config.name, key), encode_value(v));
  }
  void on_erase(uint32_t ks, std::string_view key) override {
    n_->pending_.batch.del(data_key(n_->store_.keyspace(ks).config.name, key));
  }
  void on_clear(uint32_t ks) override {
    std::string begin = data_prefix(n_->store_.keyspace(ks).config.name);
    std::string end = begin;
    end.back() = '\1';
    n_->pending_.batch.delete_range(begin, end);
  }

 private:
  Node* n_;
};

Node::Node(const Config& config, Storage* storage)
    : config_(config),
      storage_(storage),
      store_(config.keyspaces, StoreLimits{config.limits.max_value_len}),
      sink_(std::make_unique<PendingSink>(this)) {}

Node::~Node() = default;

std::string Node::data_key(std::string_view keyspace, std::string_view key) {
  std::string k = data_prefix(keyspace);
  k.append(key);
  return k;
}

std::string Node::encode_value(const Value& v) {
  std::string payload;
  payload.reserve(v.data.size() + 8);
  put_u64(payload, static_cast<uint64_t>(v.expire_at_ms));
  payload.append(v.data);
  return seal(payload);
}

bool Node::decode_value(std::string_view record, Value* v) {
  std::string_view payload;
  if (!unseal(record, &payload) || payload.size() < 8) return false;
  v->expire_at_ms = static_cast<int64_t>(get_u64(payload.data()));
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
      return Status::invalid_argument(fmt::format(
          "data dir belongs to node \"{}\", not \"{}\"", stored, config_.node_id));
    }
  } else if (id.status().code() == Code::kNotFound) {
    WriteBatch b;
    b.put(id_key, seal(config_.node_id));
    RKV_RETURN_IF_ERROR(storage_->write(b, true));
  } else {
    return id.status();
  }

  WriteBatch fixups;  // expired keys to drop, keys whose keyspace changed to move
  Status bad;
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
      return true;
    }
    uint32_t ks = store_.route(key);
    if (store_.keyspace(ks).config.name != ks_name) {
      fixups.del(k);
      fixups.put(data_key(store_.keyspace(ks).config.name, key), rec);
    }
    store_.restore(ks, key, std::move(v));
    return true;
  });
  RKV_RETURN_IF_ERROR(st);
  RKV_RETURN_IF_ERROR(bad);
  if (!fixups.empty()) RKV_RETURN_IF_ERROR(storage_->write(fixups, true));
  return Status::ok();
}

uint64_t Node::execute(const resp::CommandSpec& spec, std::span<const std::string_view> args,
                       int64_t now_ms, resp::Writer& w) {
  size_t before = pending_.batch.size();
  store_.execute(spec, args, now_ms, w, *sink_);
  if (pending_.batch.size() == before) return 0;  // nothing changed: reply at once
  pending_.token = next_token_++;
  return pending_.token;
}

void Node::tick(int64_t now_ms) {
  size_t before = pending_.batch.size();
  store_.sweep_expired(now_ms, kSweepBatch, *sink_);
  if (pending_.batch.size() != before) pending_.token = next_token_++;
}

PersistRequest Node::take_persist() {
  PersistRequest out = std::move(pending_);
  out.sync = config_.fsync != FsyncMode::kNever;
  pending_ = PersistRequest{};
  return out;
}

void Node::on_persisted(uint64_t token) {
  RKV_ASSERT(token < next_token_);
  if (token > durable_token_) durable_token_ = token;
}

}  // namespace rkv
