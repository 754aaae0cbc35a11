// log_store: durable Raft state of one group on a Storage, in the key layout of storage.h:
//   "l" <group> "\0" <u64 BE index>  -> sealed entry   {u64 term, u64 index, u8 type, data}
//   "l" <group> "\1hs"               -> sealed HardState {u64 term, u64 vote, u64 commit}
//                                        (before: "m" <group> "/hs", still read when absent)
//   "l" <group> "\1snap"             -> sealed snapshot {u64 index, u64 term, u32 n, n x u64
//                                        voter, data}
//                                        (before: "m" <group> "/snap", read when absent and
//                                        deleted when the image is next written)
//                                        or, for an image written as a blob of its own (see
//                                        image_blob_name), the same with a flag in the voter
//                                        count, the blob's name and length after the term
//                                        starts and no data: the record stays small
// All integers inside values are little-endian (core/checksum.h put_u64); every value is
// sealed with an XXH3 checksum so corruption is detected on load, never applied.
// Group names must not contain '\0'.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "raft/raft.h"
#include "raft/types.h"
#include "storage/storage.h"

namespace rkv::raft {

struct RestoredState {
  PersistentState state;
  // Set when the LAST log record failed its checksum and was dropped: a write torn by a crash.
  // Such an entry was never acknowledged (acks follow the synced write), so dropping it is
  // safe, but the driver must log it. When it was dropped, hard_state.commit is clamped to the
  // restored log (commit_clamped_from holds the value read).
  std::optional<uint64_t> dropped_torn_index;
  std::optional<uint64_t> commit_clamped_from;
  // The blob the snapshot image was read from (empty: it was in the record itself).
  std::string image_blob;
};

std::string log_key(std::string_view group, uint64_t index);
std::string hard_state_key(std::string_view group);
std::string legacy_hard_state_key(std::string_view group);  // read when hard_state_key is absent
std::string snapshot_key(std::string_view group);
std::string legacy_snapshot_key(std::string_view group);  // read when snapshot_key is absent

// The blob (Storage::write_blob) holding the image of `group` as of `index`, and the prefix
// every such name of the group starts with.
std::string image_blob_name(std::string_view group, uint64_t index);
std::string image_blob_prefix(std::string_view group);

std::string encode_entry(const Entry& e);
Result<Entry> decode_entry(std::string_view payload);
std::string encode_hard_state(const HardState& hs);
std::string encode_snapshot(const Snapshot& s);

// Adds to `batch` the write that stores a group's hard state.
void add_hard_state_write(std::string_view group, const HardState& hs, WriteBatch* batch);

// Adds to `batch` the writes that carry out step 1 of the Ready contract (raft.h), in order:
// incoming snapshot (drops the whole log), compaction (drops the log prefix), truncation of a
// conflicting suffix, new entries, hard state. `compacted_blob`: the image of rd.compacted is
// durable in that blob already, `compacted_blob_bytes` long (Raft may not hold its bytes), and
// the record names it instead of holding the image.
void add_ready_writes(std::string_view group, const Ready& rd, WriteBatch* batch,
                      std::string_view compacted_blob = {}, uint64_t compacted_blob_bytes = 0);

// Persists a Ready's durable part with one synced write (nothing when it has none).
Status persist_ready(Storage& storage, std::string_view group, const Ready& rd);

// Loads a group's state for Raft's constructor. Corruption, naming the record, when a record
// fails its checksum or framing (except a torn last log record, see RestoredState), when the
// log has a gap, starts anywhere but right after the snapshot, has decreasing terms, or the
// commit index points past the log.
Result<RestoredState> load(Storage& storage, std::string_view group);

}  // namespace rkv::raft
