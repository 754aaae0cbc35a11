#include "node/key_table.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "core/random.h"

namespace rkv {
namespace {

TEST(KeyTable, InsertFindEraseAgainstReferenceMap) {
  KeyTable t;
  std::map<std::string, std::string> ref;
  Random rng(7);
  for (int i = 0; i < 20000; ++i) {
    // Lengths around the inline limit (25 bytes), empty and long keys, binary bytes.
    std::string k = "k" + std::to_string(rng.uniform(3000));
    k.resize(rng.uniform(40), static_cast<char>(rng.uniform(256)));
    if (rng.chance(0.6)) {
      bool inserted;
      KeyTable::Entry* e = t.upsert(k, &inserted);
      EXPECT_EQ(inserted, !ref.count(k));
      e->value.data = std::to_string(i);
      ref[k] = e->value.data;
    } else {
      EXPECT_EQ(t.erase(k), ref.erase(k) == 1);
    }
    ASSERT_EQ(t.size(), ref.size());
  }
  for (const auto& [k, v] : ref) {
    KeyTable::Entry* e = t.find(k);
    ASSERT_NE(e, nullptr) << k;
    EXPECT_EQ(e->value.data, v);
  }
  EXPECT_EQ(t.find("absent"), nullptr);
}

std::set<std::string> full_scan(const KeyTable& t) {
  std::set<std::string> seen;
  uint64_t c = 0;
  do {
    c = t.scan(c, [&](const KeyTable::Entry& e) { seen.insert(e.key.str()); });
  } while (c != 0);
  return seen;
}

TEST(KeyTable, FullScanVisitsEveryKey) {
  KeyTable t;
  for (int i = 0; i < 1000; ++i) {
    bool ins;
    t.upsert("key:" + std::to_string(i), &ins);
  }
  EXPECT_EQ(full_scan(t).size(), 1000u);
}

TEST(KeyTable, ForEachVisitsEveryEntryOnce) {
  KeyTable t;
  for (int i = 0; i < 1000; ++i) {
    bool ins;
    t.upsert("key:" + std::to_string(i), &ins)->value.data = std::to_string(i);
  }
  std::map<std::string, std::string> seen;
  size_t visits = 0;
  t.for_each([&](const KeyTable::Entry& e) {
    ++visits;
    seen[e.key.str()] = e.value.data;
  });
  EXPECT_EQ(visits, 1000u);
  ASSERT_EQ(seen.size(), 1000u);
  for (int i = 0; i < 1000; ++i)
    EXPECT_EQ(seen["key:" + std::to_string(i)], std::to_string(i));
}

// SCAN's guarantee: keys present for the whole iteration are returned even when the table
// grows or shrinks between calls.
TEST(KeyTable, ScanSurvivesResizesBetweenCalls) {
  for (int mode = 0; mode < 2; ++mode) {
    KeyTable t;
    std::set<std::string> stable;
    for (int i = 0; i < 500; ++i) {
      bool ins;
      t.upsert("stable:" + std::to_string(i), &ins);
      stable.insert("stable:" + std::to_string(i));
    }
    if (mode == 1) {
      for (int i = 0; i < 5000; ++i) {
        bool ins;
        t.upsert("tmp:" + std::to_string(i), &ins);
      }
    }
    std::set<std::string> seen;
    uint64_t c = 0;
    int step = 0;
    do {
      c = t.scan(c, [&](const KeyTable::Entry& e) { seen.insert(e.key.str()); });
      ++step;
      // Grow (mode 0) or shrink (mode 1) the table in the middle of the iteration (for a
      // while: a table that grows faster than the scan advances is never finished).
      for (int j = 0; j < 50 && step <= 100; ++j) {
        std::string k = "tmp:" + std::to_string(step * 50 + j);
        if (mode == 0) {
          bool ins;
          t.upsert(k, &ins);
        } else {
          t.erase(k);
        }
      }
    } while (c != 0);
    for (const auto& k : stable)
      EXPECT_TRUE(seen.count(k)) << "mode " << mode << " missed " << k;
  }
}

// Resizes are incremental: while one is under way every key stays findable, inserts and
// erases land where a later lookup finds them, and a full scan still returns every key that
// was present throughout, whichever array holds it.
TEST(KeyTable, IncrementalResizeKeepsEveryKeyReachable) {
  KeyTable t;
  std::map<std::string, std::string> ref;
  Random rng(3);
  size_t resizes_seen = 0;
  bool was = false;
  for (int i = 0; i < 200000; ++i) {
    const std::string k = "k" + std::to_string(rng.uniform(i < 100000 ? 60000 : 3000));
    if (rng.uniform(3) != 0) {
      bool ins;
      t.upsert(k, &ins)->value.data = k + "v";
      EXPECT_EQ(ins, ref.count(k) == 0);
      ref[k] = k + "v";
    } else {
      EXPECT_EQ(t.erase(k), ref.erase(k) == 1);
    }
    resizes_seen += t.rehashing() && !was ? 1 : 0;
    was = t.rehashing();
    if (i % 997 == 0) {
      for (const auto& [rk, rv] : ref) {
        const KeyTable::Entry* e = t.find(rk);
        ASSERT_NE(e, nullptr) << rk;
        ASSERT_EQ(e->value.data, rv);
      }
      if (t.rehashing()) {
        std::set<std::string> seen;
        uint64_t c = 0;
        do {
          c = t.scan(c, [&](const KeyTable::Entry& e) { seen.insert(e.key.str()); });
        } while (c != 0);
        for (const auto& [rk, rv] : ref)
          ASSERT_TRUE(seen.count(rk)) << "scan mid-resize missed " << rk;
        size_t n = 0;
        t.for_each([&](const KeyTable::Entry&) { ++n; });
        ASSERT_EQ(n, ref.size());
      }
    }
    ASSERT_EQ(t.size(), ref.size());
  }
  EXPECT_GT(resizes_seen, 10u);  // grew to 64k buckets, shrank back
  while (t.rehash_step(1000)) {
  }
  EXPECT_FALSE(t.rehashing());
}

// No insert moves more than a few buckets, however large the table: a doubling of a table of
// a million keys is spread over the inserts that follow (and the timer's steps).
TEST(KeyTable, NoInsertMovesTheWholeTable) {
  KeyTable t;
  int resizes = 0;
  for (int i = 0; i < 1 << 20; ++i) {
    const size_t before = t.bucket_count();
    bool ins;
    t.upsert("key:" + std::to_string(i), &ins);
    if (t.bucket_count() != before) {
      ++resizes;
      EXPECT_EQ(t.bucket_count(), before * 2);
      // The insert that started the doubling moved a few buckets, not all of them.
      if (before >= 1024) {
        EXPECT_TRUE(t.rehashing()) << before;
      }
    }
  }
  EXPECT_GE(resizes, 15);
  EXPECT_EQ(t.size(), size_t{1} << 20);
  EXPECT_GE(t.bucket_count(), size_t{1} << 20);
  // Steps of bounded size finish what remains.
  int steps = 0;
  while (t.rehash_step(4096))
    ++steps;
  EXPECT_LE(steps, (1 << 21) / 4096);
  for (int i = 0; i < 1 << 20; i += 4099)
    ASSERT_NE(t.find("key:" + std::to_string(i)), nullptr);
}

TEST(KeyTable, PayloadBytesTrackKeysAndValues) {
  KeyTable t;
  bool ins;
  KeyTable::Entry* e = t.upsert("abc", &ins);
  EXPECT_EQ(t.payload_bytes(), 3u);
  e->value.data = "12345";
  t.adjust_payload(5);
  EXPECT_EQ(t.payload_bytes(), 8u);
  t.erase("abc");
  EXPECT_EQ(t.payload_bytes(), 0u);
}

}  // namespace
}  // namespace rkv
