#include "storage/log_records.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include "core/checksum.h"
#include "core/random.h"

namespace rkv {
namespace {

std::string log_key(std::string_view prefix, uint64_t index) {
  std::string k(prefix);
  put_u64_be(k, index);
  return k;
}

TEST(LogRecords, AppendsCutsAndFindsALog) {
  LogRecords r;
  const std::string p("lg\0", 3);
  for (uint64_t i = 5; i < 10; ++i)
    EXPECT_FALSE(r.put(log_key(p, i), "v" + std::to_string(i), i).has_value());
  EXPECT_EQ(r.size(), 5u);
  EXPECT_EQ(r.bytes(), 5 * (11 + 2));
  ASSERT_NE(r.find(log_key(p, 7)), nullptr);
  EXPECT_EQ(r.find(log_key(p, 7))->value(), "v7");
  EXPECT_EQ(r.find(log_key(p, 10)), nullptr);
  EXPECT_EQ(r.put(log_key(p, 7), "again", 70), std::optional<uint64_t>(7));
  std::vector<uint64_t> erased;
  r.erase_range(log_key(p, 0), log_key(p, 8), [&](uint64_t s) { erased.push_back(s); });
  EXPECT_EQ(erased, (std::vector<uint64_t>{5, 6, 70}));
  std::vector<std::string> seen;
  r.scan_from("", [&](std::string_view k, LogRecords::Record& rec) {
    seen.push_back(std::string(k) + "=" + rec.value());
    return true;
  });
  EXPECT_EQ(seen, (std::vector<std::string>{log_key(p, 8) + "=v8", log_key(p, 9) + "=v9"}));
}

// A record keeps the tail it is given (the Raft log's buffer), not a copy of it.
TEST(LogRecords, KeepsTheSharedTailItIsGiven) {
  LogRecords r;
  const std::string p("lg\0", 3);
  const SharedBytes data(std::string(100, 'd'));
  r.put(log_key(p, 1), "head", data, 1);
  const LogRecords::Record* rec = r.find(log_key(p, 1));
  ASSERT_NE(rec, nullptr);
  EXPECT_EQ(rec->tail().data(), data.data());
  EXPECT_EQ(rec->head(), "head");
  EXPECT_EQ(rec->value(), "head" + data.str());
  EXPECT_EQ(r.bytes(), 11 + 4 + 100u);
  // A head too long to keep inline is joined with the tail instead.
  const std::string long_head(LogRecords::Record::kInlineHead + 1, 'h');
  r.put(log_key(p, 2), long_head, data, 2);
  EXPECT_EQ(r.find(log_key(p, 2))->value(), long_head + data.str());
  EXPECT_EQ(r.find(log_key(p, 2))->head(), "");
}

// Against a std::map doing the same: keys of two logs (with gaps, overwrites, cuts at either
// end and in the middle), keys inside a log's key range that are not log records, and keys
// around them; every answer (replaced segments, erased segments, lookups, scans from anywhere,
// sizes) must agree.
TEST(LogRecords, BehavesAsAnOrderedMap) {
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    Random rng(seed);
    const std::string prefixes[] = {std::string("la\0", 3), std::string("lab\0", 4),
                                    std::string("lb\0", 3)};
    uint64_t next[3] = {0, 0, 0};  // each log's next append, so that runs grow long
    // A log key at or somewhat below the log's last append, or just past it (leaving a gap).
    auto near = [&](size_t which) {
      const uint64_t n = next[which];
      const uint64_t i = rng.uniform(8) == 0 ? n + 1 + rng.uniform(3)
                                             : n - rng.uniform(std::min<uint64_t>(n, 50) + 1);
      return log_key(prefixes[which], i);
    };
    auto draw_key = [&](bool append = false) -> std::string {
      const size_t which = rng.uniform(3);
      const std::string& p = prefixes[which];
      if (append) {
        return log_key(p, ++next[which]);
      }
      switch (rng.uniform(8)) {
        case 0:
          return p + "xyz";  // inside the log's range, not a record (too short)
        case 1:
          return near(which) + "!";  // too long
        case 2:
          return std::string("l\0a\0", 4) + "12345678";  // two '\0': not a log's key
        case 3:
          return "l" + std::to_string(rng.uniform(100));
        default:
          return near(which);
      }
    };
    LogRecords recs;
    struct Value {
      std::string value;
      uint64_t segment = 0;
    };
    std::map<std::string, Value> model;
    for (int step = 0; step < 3000; ++step) {
      const uint64_t op = rng.uniform(100);
      if (op < 60) {
        const std::string k = draw_key(rng.uniform(3) != 0);
        // Values in one piece, or a head (inline when short, joined when long) and a tail.
        std::string v;
        for (size_t i = rng.uniform(70); i > 0; --i)
          v.push_back(static_cast<char>('a' + rng.uniform(26)));
        const size_t cut = rng.uniform(2) ? v.size() : rng.uniform(v.size() + 1);
        const uint64_t seg = rng.uniform(1000);
        std::optional<uint64_t> want;
        if (auto it = model.find(k); it != model.end()) want = it->second.segment;
        model[k] = Value{v, seg};
        const std::string_view head = std::string_view(v).substr(0, cut);
        const SharedBytes tail(std::string_view(v).substr(cut));
        ASSERT_EQ(recs.put(k, head, tail, seg), want) << "seed " << seed << " step " << step;
      } else if (op < 62) {
        const std::string k = draw_key();
        std::vector<uint64_t> got, want;
        if (auto it = model.find(k); it != model.end()) {
          want.push_back(it->second.segment);
          model.erase(it);
        }
        recs.erase(k, [&](uint64_t s) { got.push_back(s); });
        ASSERT_EQ(got, want) << "seed " << seed << " step " << step;
      } else if (op < 75) {
        // Bounds in one log's range half of the time: cuts at its front, back and middle.
        const size_t which = rng.uniform(3);
        std::string a = rng.uniform(2) ? draw_key() : near(which);
        std::string b = rng.uniform(2) ? draw_key() : near(which);
        if (a > b) std::swap(a, b);
        std::multiset<uint64_t> got, want;
        for (auto it = model.lower_bound(a); it != model.end() && it->first < b;)
          want.insert(it->second.segment), it = model.erase(it);
        recs.erase_range(a, b, [&](uint64_t s) { got.insert(s); });
        ASSERT_EQ(got, want) << "seed " << seed << " step " << step;
      } else if (op < 90) {
        const std::string k = draw_key();
        auto it = model.find(k);
        LogRecords::Record* r = recs.find(k);
        ASSERT_EQ(r != nullptr, it != model.end()) << "seed " << seed << " step " << step;
        if (r) {
          EXPECT_EQ(r->value(), it->second.value);
          std::string scratch;
          EXPECT_EQ(r->value(&scratch), it->second.value);
          EXPECT_EQ(r->segment, it->second.segment);
        }
      } else {
        const std::string from = rng.uniform(4) == 0 ? std::string() : draw_key();
        const size_t limit = rng.uniform(60);
        std::vector<std::pair<std::string, uint64_t>> got, want;
        for (auto it = model.lower_bound(from); it != model.end() && want.size() < limit; ++it)
          want.emplace_back(it->first, it->second.segment);
        if (limit > 0) {
          recs.scan_from(from, [&](std::string_view k, LogRecords::Record& r) {
            got.emplace_back(std::string(k), r.segment);
            return got.size() < limit;
          });
        }
        ASSERT_EQ(got, want) << "seed " << seed << " step " << step;
      }
      ASSERT_EQ(recs.size(), model.size());
      size_t bytes = 0;
      for (const auto& [k, r] : model)
        bytes += k.size() + r.value.size();
      ASSERT_EQ(recs.bytes(), bytes);
    }
  }
}

}  // namespace
}  // namespace rkv
