#include "raft/log_store.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/assert.h"
#include "core/checksum.h"
#include "core/text.h"

namespace rkv::raft {
namespace {

std::string log_prefix(std::string_view group) {
  std::string k = "l";
  k.append(group);
  k.push_back('\0');
  return k;
}

std::string log_end(std::string_view group) {
  std::string k = "l";
  k.append(group);
  k.push_back('\x01');
  return k;
}

std::string where(std::string_view group) {
  return "raft group '" + std::string(group) + "': ";
}

// A tiny cursor over a decoded payload; every read is bounds-checked.
class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}
  bool u64(uint64_t* v) {
    if (s_.size() < 8) return false;
    *v = get_u64(s_.data());
    s_.remove_prefix(8);
    return true;
  }
  bool u32(uint32_t* v) {
    if (s_.size() < 4) return false;
    *v = get_u32(s_.data());
    s_.remove_prefix(4);
    return true;
  }
  bool u8(uint8_t* v) {
    if (s_.empty()) return false;
    *v = static_cast<uint8_t>(s_[0]);
    s_.remove_prefix(1);
    return true;
  }
  std::string_view rest() const { return s_; }

 private:
  std::string_view s_;
};

Result<HardState> decode_hard_state(std::string_view payload) {
  Reader r(payload);
  HardState hs;
  if (!r.u64(&hs.term) || !r.u64(&hs.vote) || !r.u64(&hs.commit) || !r.rest().empty()) {
    return Status::corruption("malformed hard state record");
  }
  return hs;
}

// The voter count's top bit says that a term-start list follows the voters (u32 count, then
// (u64 term, u64 index) pairs); records written before term starts were kept have it clear.
constexpr uint32_t kHasTermStarts = 1u << 31;
// ... and its next bit that the image is in a blob: u32 name length, the name, u64 image length
// follow the term starts, where the image would be.
constexpr uint32_t kImageInBlob = 1u << 30;

struct BlobRef {
  std::string name;
  uint64_t size = 0;
};

Result<Snapshot> decode_snapshot(std::string_view payload, std::optional<BlobRef>* blob) {
  Reader r(payload);
  Snapshot s;
  uint32_t n = 0;
  auto bad = [] { return Status::corruption("malformed snapshot record"); };
  if (!r.u64(&s.meta.index) || !r.u64(&s.meta.term) || !r.u32(&n)) return bad();
  const bool has_starts = (n & kHasTermStarts) != 0;
  const bool in_blob = (n & kImageInBlob) != 0;
  n &= ~(kHasTermStarts | kImageInBlob);
  if (r.rest().size() < static_cast<size_t>(n) * 8) return bad();
  for (uint32_t i = 0; i < n; ++i) {
    uint64_t v = 0;
    (void)r.u64(&v);
    s.meta.voters.push_back(v);
  }
  if (has_starts) {
    uint32_t k = 0;
    if (!r.u32(&k) || k > kMaxTermStarts || r.rest().size() < static_cast<size_t>(k) * 16) {
      return bad();
    }
    for (uint32_t i = 0; i < k; ++i) {
      TermStart t;
      (void)r.u64(&t.term);
      (void)r.u64(&t.index);
      s.meta.term_starts.push_back(t);
    }
  }
  if (in_blob) {
    uint32_t len = 0;
    BlobRef ref;
    if (!r.u32(&len) || r.rest().size() != static_cast<size_t>(len) + 8) return bad();
    ref.name = std::string(r.rest().substr(0, len));
    ref.size = get_u64(r.rest().data() + len);
    *blob = std::move(ref);
    return s;
  }
  s.data = std::string(r.rest());
  return s;
}

}  // namespace

std::string log_key(std::string_view group, uint64_t index) {
  std::string k = log_prefix(group);
  put_u64_be(k, index);
  return k;
}

std::string hard_state_key(std::string_view group) {
  std::string k = log_end(group);  // outside the log's range, inside the store's "l" keys
  k.append("hs");
  return k;
}

std::string legacy_hard_state_key(std::string_view group) {
  return "m" + std::string(group) + "/hs";
}

// Under "l" like the log: the storage keeps it out of RocksDB's memtables, which would copy,
// flush and compact the whole image at every compaction of the log.
std::string snapshot_key(std::string_view group) {
  std::string k = log_end(group);
  k.append("snap");
  return k;
}

std::string legacy_snapshot_key(std::string_view group) {
  return "m" + std::string(group) + "/snap";
}

// "image.<group>.<index>", the group hex-encoded ("x" first) unless it is [A-Za-z0-9_-]+.
std::string image_blob_prefix(std::string_view group) {
  const bool plain = !group.empty() && std::all_of(group.begin(), group.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
  return "image." + (plain ? std::string(group) : "x" + to_hex(group)) + ".";
}

std::string image_blob_name(std::string_view group, uint64_t index) {
  return image_blob_prefix(group) + std::to_string(index);
}

namespace {
void encode_entry_into(const Entry& e, std::string* out) {
  put_u64(*out, e.term);
  put_u64(*out, e.index);
  out->push_back(static_cast<char>(e.type));
  out->append(e.data);
}

void encode_snapshot_into(const Snapshot& s, std::string* out, const BlobRef* blob = nullptr) {
  RKV_ASSERT(s.meta.voters.size() < kImageInBlob && s.meta.term_starts.size() <= kMaxTermStarts);
  put_u64(*out, s.meta.index);
  put_u64(*out, s.meta.term);
  put_u32(*out, static_cast<uint32_t>(s.meta.voters.size()) | kHasTermStarts |
                    (blob != nullptr ? kImageInBlob : 0));
  for (uint64_t v : s.meta.voters)
    put_u64(*out, v);
  put_u32(*out, static_cast<uint32_t>(s.meta.term_starts.size()));
  for (const TermStart& t : s.meta.term_starts) {
    put_u64(*out, t.term);
    put_u64(*out, t.index);
  }
  if (blob != nullptr) {
    put_u32(*out, static_cast<uint32_t>(blob->name.size()));
    out->append(blob->name);
    put_u64(*out, blob->size);
    return;
  }
  out->append(s.data);
}

// seal(encode_entry(e)) without the entry's data: the checksum (over the whole payload, data
// included), term, index and type. The record is this head followed by e.data, which the
// storage may keep without a copy (WriteBatch::put_shared).
std::string sealed_entry_head(const Entry& e) {
  std::string head;
  head.reserve(8 + 17);
  put_u64(head, 0);
  put_u64(head, e.term);
  put_u64(head, e.index);
  head.push_back(static_cast<char>(e.type));
  const std::string_view pieces[] = {std::string_view(head).substr(8), e.data.view()};
  std::string sum;
  put_u64(sum, checksum64(pieces));
  head.replace(0, 8, sum);
  return head;
}

// seal(encode_x(...)) in one buffer: snapshot images are the size of the keyspace.

// With `blob`, the record names the blob that holds the image instead of holding s.data.
std::string sealed_snapshot(const Snapshot& s, const BlobRef* blob = nullptr) {
  std::string out;
  out.reserve(8 + 24 + 8 * s.meta.voters.size() + 16 * s.meta.term_starts.size() +
              (blob != nullptr ? 12 + blob->name.size() : s.data.size()));
  seal_begin(&out);
  encode_snapshot_into(s, &out, blob);
  seal_end(&out);
  return out;
}
}  // namespace

std::string encode_entry(const Entry& e) {
  std::string out;
  out.reserve(17 + e.data.size());
  encode_entry_into(e, &out);
  return out;
}

Result<Entry> decode_entry(std::string_view payload) {
  Reader r(payload);
  Entry e;
  uint8_t type = 0;
  if (!r.u64(&e.term) || !r.u64(&e.index) || !r.u8(&type) ||
      type > static_cast<uint8_t>(EntryType::kNoop)) {
    return Status::corruption("malformed log entry");
  }
  e.type = static_cast<EntryType>(type);
  e.data = std::string(r.rest());
  return e;
}

std::string encode_hard_state(const HardState& hs) {
  std::string out;
  put_u64(out, hs.term);
  put_u64(out, hs.vote);
  put_u64(out, hs.commit);
  return out;
}

std::string encode_snapshot(const Snapshot& s) {
  std::string out;
  out.reserve(24 + 8 * s.meta.voters.size() + 16 * s.meta.term_starts.size() + s.data.size());
  encode_snapshot_into(s, &out);
  return out;
}

void add_hard_state_write(std::string_view group, const HardState& hs, WriteBatch* batch) {
  batch->put(hard_state_key(group), seal(encode_hard_state(hs)));
}

void add_ready_writes(std::string_view group, const Ready& rd, WriteBatch* batch,
                      std::string_view compacted_blob, uint64_t compacted_blob_bytes) {
  // The image is sealed (copied behind its header and checksummed) by whoever writes the
  // batch, not here: with fsync = "batch" that is the syncer thread, and the event loop does not
  // stop for a copy of the whole keyspace. The Snapshot is immutable and shared.
  auto put_image = [&](const std::shared_ptr<const Snapshot>& snap) {
    batch->put_deferred(snapshot_key(group), snap->data.size() + 64,
                        [snap] { return sealed_snapshot(*snap); });
  };
  if (rd.snapshot) {
    put_image(rd.snapshot);
    batch->del(legacy_snapshot_key(group));
    batch->delete_range(log_prefix(group), log_end(group));
  }
  if (rd.compacted) {
    if (compacted_blob.empty()) {
      put_image(rd.compacted);
    } else {
      const BlobRef ref{std::string(compacted_blob), compacted_blob_bytes};
      batch->put_owned(snapshot_key(group), sealed_snapshot(*rd.compacted, &ref));
    }
    batch->del(legacy_snapshot_key(group));
    batch->delete_range(log_prefix(group), log_key(group, rd.compacted_log_to + 1));
  }
  if (rd.truncate_from) batch->delete_range(log_key(group, *rd.truncate_from), log_end(group));
  for (const Entry& e : rd.entries)
    batch->put_shared(log_key(group, e.index), sealed_entry_head(e), e.data);
  if (rd.hard_state) add_hard_state_write(group, *rd.hard_state, batch);
}

Status persist_ready(Storage& storage, std::string_view group, const Ready& rd) {
  if (!rd.must_persist()) return Status::ok();
  WriteBatch batch;
  add_ready_writes(group, rd, &batch);
  return storage.write(batch, /*sync=*/true);
}

Result<RestoredState> load(Storage& storage, std::string_view group) {
  RestoredState out;
  PersistentState& ps = out.state;
  std::string_view payload;

  auto hs = storage.get(hard_state_key(group));
  if (!hs.is_ok() && hs.status().code() == Code::kNotFound) {
    hs = storage.get(legacy_hard_state_key(group));  // a data dir from before the "l" key
  }
  if (hs.is_ok()) {
    if (!unseal(*hs, &payload)) {
      return Status::corruption(where(group) + "hard state record failed its checksum");
    }
    auto d = decode_hard_state(payload);
    if (!d.is_ok()) return Status::corruption(where(group) + d.status().message());
    ps.hard_state = *d;
  } else if (hs.status().code() != Code::kNotFound) {
    return hs.status();
  }

  auto sn = storage.get(snapshot_key(group));
  if (!sn.is_ok() && sn.status().code() == Code::kNotFound) {
    sn = storage.get(legacy_snapshot_key(group));  // a data dir from before the "l" key
  }
  if (sn.is_ok()) {
    if (!unseal(*sn, &payload)) {
      return Status::corruption(where(group) + "snapshot record failed its checksum");
    }
    std::optional<BlobRef> blob;
    auto d = decode_snapshot(payload, &blob);
    if (!d.is_ok()) return Status::corruption(where(group) + d.status().message());
    ps.snapshot = std::move(*d);
    if (blob) {
      auto data = storage.read_blob(blob->name);
      if (!data.is_ok()) {
        return Status::corruption(where(group) + "snapshot image " + blob->name +
                                  " cannot be read: " + data.status().to_string());
      }
      if (data->size() != blob->size) {
        return Status::corruption(where(group) + "snapshot image " + blob->name + " holds " +
                                  std::to_string(data->size()) + " bytes where its record says " +
                                  std::to_string(blob->size));
      }
      ps.snapshot.data = std::move(*data);
      out.image_blob = blob->name;
    }
  } else if (sn.status().code() != Code::kNotFound) {
    return sn.status();
  }

  std::vector<std::pair<std::string, std::string>> records;
  RKV_RETURN_IF_ERROR(
      storage.scan(log_prefix(group), log_end(group), [&](std::string_view k, std::string_view v) {
        records.emplace_back(std::string(k), std::string(v));
        return true;
      }));
  const size_t prefix_len = log_prefix(group).size();
  uint64_t expected = ps.snapshot.meta.index + 1;
  uint64_t prev_term = ps.snapshot.meta.term;
  for (size_t i = 0; i < records.size(); ++i) {
    const auto& [key, value] = records[i];
    if (key.size() != prefix_len + 8) {
      return Status::corruption(where(group) + "malformed log key");
    }
    const uint64_t index = get_u64_be(key.data() + prefix_len);
    // Records the snapshot covers are kept for followers that catch up from the log
    // (snapshot_catchup_entries); after a restart the log starts after the snapshot again.
    if (index <= ps.snapshot.meta.index) continue;
    const bool last = i + 1 == records.size();
    if (!unseal(value, &payload)) {
      if (last) {
        out.dropped_torn_index = index;
        break;
      }
      return Status::corruption(where(group) + "log record at index " + std::to_string(index) +
                                " failed its checksum (" + std::to_string(records.size() - i - 1) +
                                " records follow it)");
    }
    auto e = decode_entry(payload);
    if (!e.is_ok()) {
      return Status::corruption(where(group) + "log record at index " + std::to_string(index) +
                                ": " + e.status().message());
    }
    if (e->index != index) {
      return Status::corruption(where(group) + "log record under key index " +
                                std::to_string(index) + " holds index " + std::to_string(e->index));
    }
    if (index != expected) {
      return Status::corruption(where(group) + "log is not contiguous: expected index " +
                                std::to_string(expected) + ", found " + std::to_string(index));
    }
    if (e->term < prev_term) {
      return Status::corruption(where(group) + "log record at index " + std::to_string(index) +
                                " has a term lower than its predecessor");
    }
    prev_term = e->term;
    ++expected;
    ps.entries.push_back(std::move(*e));
  }
  const uint64_t last_index = expected - 1;
  if (ps.hard_state.commit > last_index) {
    if (!out.dropped_torn_index) {
      return Status::corruption(where(group) + "commit index " +
                                std::to_string(ps.hard_state.commit) + " is past the last entry " +
                                std::to_string(last_index));
    }
    out.commit_clamped_from = ps.hard_state.commit;
    ps.hard_state.commit = last_index;
  }
  return out;
}

}  // namespace rkv::raft
