#include "raft/log_store.h"

#include <gtest/gtest.h>

#include "core/checksum.h"
#include "raft/raft_test_util.h"

namespace rkv::raft {
namespace {

using testing::make_entries;

constexpr const char* kG = "accounts";

Ready entries_ready(std::vector<Entry> es, HardState hs) {
  Ready rd;
  rd.entries = std::move(es);
  rd.hard_state = hs;
  return rd;
}

TEST(LogStore, RoundTripsHardStateEntriesTruncationCompactionAndSnapshot) {
  MemStorage st;
  ASSERT_TRUE(
      persist_ready(st, kG, entries_ready(make_entries(1, {1, 1, 2, 2, 2}), {2, 3, 4})).is_ok());
  auto r = load(st, kG);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->state.hard_state, (HardState{2, 3, 4}));
  EXPECT_EQ(r->state.entries, make_entries(1, {1, 1, 2, 2, 2}));
  EXPECT_FALSE(r->dropped_torn_index);

  // A follower replaces its conflicting suffix from index 4.
  Ready trunc = entries_ready(make_entries(4, {3}), {3, 0, 4});
  trunc.truncate_from = 4;
  ASSERT_TRUE(persist_ready(st, kG, trunc).is_ok());
  r = load(st, kG);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->state.entries, make_entries(1, {1, 1, 2, 3}));

  // An image at 2 that keeps the log (catch-up entries): the records it covers stay on disk,
  // and a load starts the log after the image.
  Ready keep;
  keep.compacted =
      std::make_shared<const Snapshot>(Snapshot{SnapshotMeta{2, 1, {1, 2, 3}, {}}, "image@2"});
  keep.compacted_log_to = 0;
  ASSERT_TRUE(persist_ready(st, kG, keep).is_ok());
  r = load(st, kG);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->state.snapshot, *keep.compacted);
  EXPECT_EQ(r->state.entries, make_entries(3, {2, 3}));
  EXPECT_TRUE(st.get(log_key(kG, 1)).is_ok());

  // Compaction at 2 that drops the log up to 1, then at 3 dropping up to 3.
  Ready comp;
  comp.compacted =
      std::make_shared<const Snapshot>(Snapshot{SnapshotMeta{2, 1, {1, 2, 3}, {}}, "image@2"});
  comp.compacted_log_to = 1;
  ASSERT_TRUE(persist_ready(st, kG, comp).is_ok());
  EXPECT_FALSE(st.get(log_key(kG, 1)).is_ok());
  EXPECT_TRUE(st.get(log_key(kG, 2)).is_ok());
  comp.compacted =
      std::make_shared<const Snapshot>(Snapshot{SnapshotMeta{3, 2, {1, 2, 3}, {}}, "image@3"});
  comp.compacted_log_to = 3;
  ASSERT_TRUE(persist_ready(st, kG, comp).is_ok());
  EXPECT_FALSE(st.get(log_key(kG, 3)).is_ok());
  r = load(st, kG);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->state.snapshot, *comp.compacted);
  EXPECT_EQ(r->state.entries, make_entries(4, {3}));

  // An installed snapshot replaces the whole log.
  Ready inst;
  inst.snapshot =
      std::make_shared<const Snapshot>(Snapshot{SnapshotMeta{10, 4, {1, 2, 3}, {}}, "image@10"});
  inst.hard_state = HardState{4, 0, 10};
  ASSERT_TRUE(persist_ready(st, kG, inst).is_ok());
  r = load(st, kG);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->state.snapshot, *inst.snapshot);
  EXPECT_TRUE(r->state.entries.empty());
  EXPECT_EQ(r->state.hard_state.commit, 10u);

  // Groups do not see each other.
  auto other = load(st, "acc");
  ASSERT_TRUE(other.is_ok());
  EXPECT_TRUE(other->state.entries.empty());
  EXPECT_EQ(other->state.hard_state, HardState{});
}

TEST(LogStore, HardStateUnderItsOlderKeyIsReadUntilRewritten) {
  MemStorage st;
  WriteBatch b;
  b.put(legacy_hard_state_key(kG), seal(encode_hard_state({3, 2, 0})));
  ASSERT_TRUE(st.write(b, true));
  auto r = load(st, kG);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->state.hard_state, (HardState{3, 2, 0}));
  Ready rd;
  rd.hard_state = HardState{4, 1, 0};
  ASSERT_TRUE(persist_ready(st, kG, rd).is_ok());
  r = load(st, kG);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->state.hard_state, (HardState{4, 1, 0}));
}

TEST(LogStore, SnapshotUnderItsOlderKeyIsReadUntilRewritten) {
  MemStorage st;
  WriteBatch b;
  b.put(legacy_snapshot_key(kG),
        seal(encode_snapshot(Snapshot{SnapshotMeta{5, 2, {1, 2}, {}}, "old"})));
  ASSERT_TRUE(st.write(b, true));
  auto r = load(st, kG);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->state.snapshot.meta.index, 5u);
  EXPECT_EQ(r->state.snapshot.data, "old");
  Ready rd;
  rd.compacted = std::make_shared<const Snapshot>(Snapshot{SnapshotMeta{9, 3, {1, 2}, {}}, "new"});
  rd.compacted_log_to = 9;
  ASSERT_TRUE(persist_ready(st, kG, rd).is_ok());
  EXPECT_EQ(st.get(legacy_snapshot_key(kG)).status().code(), Code::kNotFound);
  r = load(st, kG);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->state.snapshot.meta.index, 9u);
  EXPECT_EQ(r->state.snapshot.data, "new");
}

TEST(LogStore, SnapshotKeepsItsTermStartsAndReadsRecordsWithout) {
  MemStorage st;
  Ready rd;
  rd.compacted = std::make_shared<const Snapshot>(
      Snapshot{SnapshotMeta{9, 3, {1, 2}, {{1, 1}, {2, 4}, {3, 7}}}, "img"});
  rd.compacted_log_to = 9;
  ASSERT_TRUE(persist_ready(st, kG, rd).is_ok());
  auto r = load(st, kG);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->state.snapshot, *rd.compacted);
  EXPECT_EQ(r->state.snapshot.meta.term_at(3), 1u);
  EXPECT_EQ(r->state.snapshot.meta.term_at(4), 2u);
  EXPECT_EQ(r->state.snapshot.meta.term_at(9), 3u);
  EXPECT_EQ(r->state.snapshot.meta.term_at(10), std::nullopt);

  // The record as written before term starts were kept: index, term, voter count, voters, image.
  std::string old;
  put_u64(old, 5);
  put_u64(old, 2);
  put_u32(old, 2);
  put_u64(old, 1);
  put_u64(old, 2);
  old.append("image");
  WriteBatch b;
  b.put(snapshot_key(kG), seal(old));
  ASSERT_TRUE(st.write(b, true));
  r = load(st, kG);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->state.snapshot, (Snapshot{SnapshotMeta{5, 2, {1, 2}, {}}, "image"}));
  EXPECT_EQ(r->state.snapshot.meta.term_at(4), std::nullopt);  // nothing known of the prefix
}

TEST(LogStore, ImageInABlobIsNamedByTheRecordAndReadBackOnLoad) {
  MemStorage st;
  Ready rd;
  rd.compacted = std::make_shared<const Snapshot>(
      Snapshot{SnapshotMeta{9, 3, {1, 2}, {{1, 1}, {3, 7}}}, std::string(5000, 'i')});
  rd.compacted_log_to = 9;
  const std::string name = image_blob_name(kG, 9);
  EXPECT_EQ(name, "image.accounts.9");
  EXPECT_EQ(image_blob_name("a b/c", 1).rfind(image_blob_prefix("a b/c"), 0), 0u);
  EXPECT_EQ(image_blob_prefix("a b/c"), "image.x6120622f63.");
  ASSERT_TRUE(st.write_blob(name, rd.compacted->data));
  WriteBatch b;
  add_ready_writes(kG, rd, &b, name, rd.compacted->data.size());
  EXPECT_LT(b.bytes(), 200u);  // the record names the image, it does not hold it
  ASSERT_TRUE(st.write(b, true));
  auto r = load(st, kG);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->state.snapshot, *rd.compacted);
  EXPECT_EQ(r->image_blob, name);

  // A record naming a blob that is gone, or of another length, is corruption naming the blob.
  ASSERT_TRUE(st.write_blob(name, "short"));
  r = load(st, kG);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kCorruption);
  EXPECT_NE(r.status().message().find(name), std::string::npos) << r.status().to_string();
  ASSERT_TRUE(st.remove_blob(name));
  r = load(st, kG);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find(name), std::string::npos) << r.status().to_string();

  // An image received from a leader goes in the record again (the older record is replaced).
  Ready in;
  in.snapshot = std::make_shared<const Snapshot>(Snapshot{SnapshotMeta{20, 4, {1, 2}, {}}, "x"});
  ASSERT_TRUE(persist_ready(st, kG, in).is_ok());
  r = load(st, kG);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->state.snapshot, *in.snapshot);
  EXPECT_TRUE(r->image_blob.empty());
}

TEST(LogStore, NothingToPersistWritesNothing) {
  MemStorage st;
  const uint64_t before = st.sync_count();
  ASSERT_TRUE(persist_ready(st, kG, Ready{}).is_ok());
  EXPECT_EQ(st.sync_count(), before);
}

TEST(LogStore, CorruptRecordInTheMiddleIsAnErrorNamingTheIndex) {
  MemStorage st;
  ASSERT_TRUE(
      persist_ready(st, kG, entries_ready(make_entries(1, {1, 1, 1, 1}), {1, 0, 0})).is_ok());
  WriteBatch b;
  std::string bad = seal(encode_entry(make_entries(2, {1})[0]));
  bad[10] ^= 0x40;  // flip a bit in the payload
  b.put(log_key(kG, 2), bad);
  ASSERT_TRUE(st.write(b, true).is_ok());
  auto r = load(st, kG);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kCorruption);
  EXPECT_NE(r.status().message().find("index 2"), std::string::npos) << r.status().message();
}

TEST(LogStore, TornLastRecordIsDroppedAndReported) {
  MemStorage st;
  ASSERT_TRUE(persist_ready(st, kG, entries_ready(make_entries(1, {1, 1, 1}), {1, 0, 3})).is_ok());
  // A crash tears the unsynced write of entry 4 (and of the hard state claiming commit 4).
  WriteBatch b;
  b.put(hard_state_key(kG), seal(encode_hard_state({1, 0, 3})));
  b.put(log_key(kG, 4), seal(encode_entry(make_entries(4, {1})[0])));
  ASSERT_TRUE(st.write(b, false).is_ok());
  st.crash(/*torn_last_write=*/true);
  auto r = load(st, kG);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  ASSERT_TRUE(r->dropped_torn_index.has_value());
  EXPECT_EQ(*r->dropped_torn_index, 4u);
  EXPECT_EQ(r->state.entries.size(), 3u);
}

TEST(LogStore, TornTailClampsACommitIndexThatCoveredIt) {
  MemStorage st;
  ASSERT_TRUE(persist_ready(st, kG, entries_ready(make_entries(1, {1, 1, 1}), {1, 0, 3})).is_ok());
  WriteBatch b;
  std::string torn = seal(encode_entry(make_entries(3, {1})[0]));
  torn.resize(torn.size() - 1);
  b.put(log_key(kG, 3), torn);
  ASSERT_TRUE(st.write(b, true).is_ok());
  auto r = load(st, kG);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(*r->dropped_torn_index, 3u);
  EXPECT_EQ(r->state.hard_state.commit, 2u);
  EXPECT_EQ(*r->commit_clamped_from, 3u);
}

TEST(LogStore, GapInTheLogIsCorruption) {
  MemStorage st;
  ASSERT_TRUE(persist_ready(st, kG, entries_ready(make_entries(1, {1, 1, 1}), {1, 0, 0})).is_ok());
  WriteBatch b;
  b.del(log_key(kG, 2));
  ASSERT_TRUE(st.write(b, true).is_ok());
  auto r = load(st, kG);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kCorruption);
  EXPECT_NE(r.status().message().find("expected index 2"), std::string::npos);
}

TEST(LogStore, RecordUnderTheWrongKeyIsCorruption) {
  MemStorage st;
  WriteBatch b;
  b.put(log_key(kG, 1), seal(encode_entry(make_entries(7, {1})[0])));
  b.put(log_key(kG, 2), seal(encode_entry(make_entries(2, {1})[0])));
  ASSERT_TRUE(st.write(b, true).is_ok());
  auto r = load(st, kG);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("holds index 7"), std::string::npos);
}

TEST(LogStore, CorruptHardStateOrSnapshotIsCorruption) {
  for (bool hs : {true, false}) {
    MemStorage st;
    WriteBatch b;
    std::string v = hs ? seal(encode_hard_state({1, 2, 0}))
                       : seal(encode_snapshot(Snapshot{SnapshotMeta{1, 1, {1}, {}}, "x"}));
    v.back() ^= 1;
    b.put(hs ? hard_state_key(kG) : snapshot_key(kG), v);
    ASSERT_TRUE(st.write(b, true).is_ok());
    auto r = load(st, kG);
    ASSERT_FALSE(r.is_ok());
    EXPECT_EQ(r.status().code(), Code::kCorruption);
  }
}

TEST(LogStore, CommitPastTheLogWithoutATornTailIsCorruption) {
  MemStorage st;
  ASSERT_TRUE(persist_ready(st, kG, entries_ready(make_entries(1, {1}), {1, 0, 5})).is_ok());
  auto r = load(st, kG);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kCorruption);
}

}  // namespace
}  // namespace rkv::raft
