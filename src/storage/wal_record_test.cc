#include "storage/wal_record.h"

#include <gtest/gtest.h>
#include <rocksdb/write_batch.h>

#include <random>
#include <string>

namespace rkv {
namespace {

// What RocksDB itself writes for the batch: the record must be byte for byte the same, since
// the log's replay parses it with rocksdb::WriteBatch.
std::string rocksdb_rep(const WriteBatch& batch) {
  rocksdb::WriteBatch wb;
  for (const WriteBatch::Item& item : batch.items()) {
    switch (item.op) {
      case WriteBatch::Op::kPut:
        EXPECT_TRUE(wb.Put(item.key, item.value + item.tail.str()).ok());
        break;
      case WriteBatch::Op::kDelete:
        EXPECT_TRUE(wb.Delete(item.key).ok());
        break;
      case WriteBatch::Op::kDeleteRange:
        EXPECT_TRUE(wb.DeleteRange(item.key, item.value).ok());
        break;
    }
  }
  return wb.Data();
}

std::string sized(size_t n, std::mt19937_64& rng) {
  std::string s(n, '\0');
  for (char& c : s)
    c = static_cast<char>(rng());
  return s;
}

TEST(WalRecord, IsWhatRocksDbWrites) {
  std::mt19937_64 rng(7);
  // Lengths around the varint steps and the referencing threshold.
  const size_t lens[] = {0,
                         1,
                         127,
                         128,
                         129,
                         16383,
                         16384,
                         WalRecord::kReferencedBytes - 1,
                         WalRecord::kReferencedBytes,
                         WalRecord::kReferencedBytes + 1,
                         70000};
  auto len = [&] { return lens[rng() % std::size(lens)]; };
  for (int round = 0; round < 300; ++round) {
    WriteBatch b;
    const int n = static_cast<int>(rng() % 40);
    for (int i = 0; i < n; ++i) {
      switch (rng() % 5) {
        case 0:
        case 1:
          b.put(sized(len() % 300, rng), sized(len(), rng));
          break;
        case 4:  // a value in two pieces, the second shared
          b.put_shared(sized(len() % 300, rng), sized(len() % 64, rng),
                       SharedBytes(sized(len(), rng)));
          break;
        case 2:
          b.del(sized(len(), rng));
          break;
        case 3:
          b.delete_range(sized(len() % 300, rng), sized(len(), rng));
          break;
      }
    }
    WalRecord r(b);
    const std::string want = rocksdb_rep(b);
    ASSERT_EQ(r.str(), want) << "round " << round;
    EXPECT_EQ(r.size(), want.size());
    // Round trip: RocksDB reads it back as the same operations.
    rocksdb::WriteBatch back{std::string(r.str())};
    EXPECT_EQ(back.Count(), static_cast<uint32_t>(b.size()));
  }
}

TEST(WalRecord, ReferencesLargeValuesInsteadOfCopyingThem) {
  WriteBatch b;
  std::string big(1 << 20, 'x');
  b.put_owned("image", big);
  b.put("small", "v");
  WalRecord r(b);
  bool referenced = false;
  for (std::string_view p : r.pieces())
    referenced = referenced || p.data() == b.items()[0].value.data();
  EXPECT_TRUE(referenced);
  EXPECT_EQ(r.str(), rocksdb_rep(b));
}

TEST(WalRecord, BoundsTheReferencedPieces) {
  WriteBatch b;
  for (size_t i = 0; i < 2 * WalRecord::kMaxReferenced; ++i)
    b.put("k" + std::to_string(i), std::string(WalRecord::kReferencedBytes, 'v'));
  WalRecord r(b);
  EXPECT_LE(r.pieces().size(), 2 * WalRecord::kMaxReferenced + 1);
  EXPECT_EQ(r.str(), rocksdb_rep(b));
}

}  // namespace
}  // namespace rkv
