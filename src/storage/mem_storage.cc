// MemStorage: two ordered maps. `live_` is what readers see; `durable_` is what a crash would
// leave, i.e. `live_` as of the last sync point. The batches written since then are kept in
// order so that a sync can bring `durable_` forward without copying the whole map, and so that
// a torn write can be modelled precisely.
#include <map>

#include "storage/blob_files.h"
#include "storage/storage.h"

namespace rkv {

namespace {

using Map = std::map<std::string, std::string, std::less<>>;

void apply(const WriteBatch& batch, Map& map) {
  for (const WriteBatch::Item& item : batch.items()) {
    switch (item.op) {
      case WriteBatch::Op::kPut:
        map.insert_or_assign(item.key, item.value);
        break;
      case WriteBatch::Op::kDelete:
        map.erase(item.key);
        break;
      case WriteBatch::Op::kDeleteRange:
        RKV_ASSERT(item.key <= item.value);  // validated before apply
        map.erase(map.lower_bound(item.key), map.lower_bound(item.value));
        break;
    }
  }
}

}  // namespace

struct MemStorage::Impl {
  Map live;
  Map durable;
  Map blobs;                         // durable on write: survive crash()
  Map unfinished;                    // blobs written in parts, not finished: crash() drops them
  std::vector<WriteBatch> unsynced;  // written to `live` but not yet to `durable`, in order
  uint64_t sync_count = 0;

  void sync_point() {
    for (const WriteBatch& batch : unsynced)
      apply(batch, durable);
    unsynced.clear();
    ++sync_count;
  }

  // The last put with a non-empty value among the unsynced batches, or null.
  const WriteBatch::Item* last_unsynced_put() const {
    for (auto batch = unsynced.rbegin(); batch != unsynced.rend(); ++batch) {
      const auto& items = batch->items();
      for (auto item = items.rbegin(); item != items.rend(); ++item) {
        if (item->op == WriteBatch::Op::kPut && !item->value.empty()) return &*item;
      }
    }
    return nullptr;
  }
};

MemStorage::MemStorage() : impl_(std::make_unique<Impl>()) {}
MemStorage::~MemStorage() = default;

Status MemStorage::write(const WriteBatch& batch, bool sync) {
  if (batch.has_deferred() || batch.has_tails()) {  // values are kept in one piece
    WriteBatch produced = batch;
    produced.materialize();
    produced.join_tails();
    return write(produced, sync);
  }
  RKV_RETURN_IF_ERROR(batch.validate());
  apply(batch, impl_->live);
  impl_->unsynced.push_back(batch);
  if (sync) impl_->sync_point();
  return Status::ok();
}

Status MemStorage::sync() {
  impl_->sync_point();
  return Status::ok();
}

Result<std::string> MemStorage::get(std::string_view key) {
  auto it = impl_->live.find(key);
  if (it == impl_->live.end()) return Status::not_found("key not found in memory storage");
  return it->second;
}

Status MemStorage::scan(std::string_view begin, std::string_view end,
                        const std::function<bool(std::string_view, std::string_view)>& fn) {
  const Map& map = impl_->live;
  for (auto it = map.lower_bound(begin); it != map.end(); ++it) {
    if (!end.empty() && it->first >= end) break;
    if (!fn(it->first, it->second)) break;
  }
  return Status::ok();
}

void MemStorage::crash(bool torn_last_write) {
  Impl& s = *impl_;
  if (torn_last_write) {
    if (const WriteBatch::Item* put = s.last_unsynced_put()) {
      s.durable.insert_or_assign(put->key, put->value.substr(0, put->value.size() / 2));
    }
  }
  s.unsynced.clear();
  s.live = s.durable;
  s.unfinished.clear();
}

Status MemStorage::write_blob(std::string_view name, std::string_view data) {
  if (!valid_blob_name(name)) {
    return Status::invalid_argument("invalid blob name '" + std::string(name) + "'");
  }
  impl_->blobs.insert_or_assign(std::string(name), std::string(data));
  return Status::ok();
}

Status MemStorage::append_blob(std::string_view name, std::string_view data, bool first) {
  if (!valid_blob_name(name)) {
    return Status::invalid_argument("invalid blob name '" + std::string(name) + "'");
  }
  std::string& b = impl_->unfinished[std::string(name)];
  if (first) b.clear();
  b.append(data);
  return Status::ok();
}

Status MemStorage::finish_blob(std::string_view name, std::string_view head, uint64_t length) {
  auto it = impl_->unfinished.find(name);
  if (it == impl_->unfinished.end() || it->second.size() != length || head.size() > length) {
    if (it != impl_->unfinished.end()) impl_->unfinished.erase(it);
    return Status::io_error("blob " + std::string(name) + ": a part was not written");
  }
  it->second.replace(0, head.size(), head);
  impl_->blobs.insert_or_assign(std::string(name), std::move(it->second));
  impl_->unfinished.erase(it);
  return Status::ok();
}

Result<std::string> MemStorage::read_blob(std::string_view name) {
  auto it = impl_->blobs.find(name);
  if (it == impl_->blobs.end()) return Status::not_found("no blob " + std::string(name));
  return it->second;
}

Status MemStorage::remove_blob(std::string_view name) {
  if (auto it = impl_->blobs.find(name); it != impl_->blobs.end()) impl_->blobs.erase(it);
  if (auto it = impl_->unfinished.find(name); it != impl_->unfinished.end()) {
    impl_->unfinished.erase(it);
  }
  return Status::ok();
}

Result<std::vector<std::string>> MemStorage::list_blobs() {
  std::vector<std::string> out;
  for (const auto& [name, data] : impl_->blobs)
    out.push_back(name);
  return out;
}

uint64_t MemStorage::sync_count() const {
  return impl_->sync_count;
}

}  // namespace rkv
