#include "raft/codec.h"

#include <gtest/gtest.h>

#include "core/random.h"

namespace rkv::raft {
namespace {

Message sample() {
  Message m;
  m.type = MessageType::kApp;
  m.from = 1;
  m.to = 2;
  m.term = 7;
  m.log_term = 6;
  m.index = 10;
  m.entries = {Entry{7, 11, EntryType::kNoop, ""}, Entry{7, 12, EntryType::kNormal, "set k v"}};
  m.commit = 9;
  m.reject = true;
  m.reject_hint_index = 4;
  m.reject_hint_term = 3;
  m.context = 99;
  m.snapshot = SnapshotMeta{5, 2, {1, 2, 3}};
  m.offset = 1024;
  m.data = std::string("\0\x01\xff", 3) + "binary";
  m.done = true;
  return m;
}

TEST(Codec, RoundTripsEveryField) {
  const Message m = sample();
  auto d = decode_message(encode_message("accounts", m));
  ASSERT_TRUE(d.is_ok()) << d.status().to_string();
  EXPECT_EQ(d->group, "accounts");
  EXPECT_EQ(d->message, m);
}

TEST(Codec, RoundTripsEveryMessageType) {
  for (int t = 0; t < kMessageTypeCount; ++t) {
    Message m;
    m.type = static_cast<MessageType>(t);
    m.from = 3;
    m.to = 1;
    auto d = decode_message(encode_message("g", m));
    ASSERT_TRUE(d.is_ok());
    EXPECT_EQ(d->message, m);
  }
}

TEST(Codec, GarbageIsCorruptionNeverACrash) {
  Random rng(12345);
  const std::string good = encode_message("g", sample());
  int rejected = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string b;
    if (i % 2 == 0) {
      const size_t n = rng.uniform(64);
      for (size_t k = 0; k < n; ++k)
        b.push_back(static_cast<char>(rng.uniform(256)));
    } else {
      b = good;  // mutate a valid message: flips, truncation
      for (int k = 0; k < 3; ++k)
        b[rng.uniform(b.size())] = static_cast<char>(rng.uniform(256));
      b.resize(rng.uniform(b.size() + 1));
    }
    auto d = decode_message(b);
    if (!d.is_ok()) {
      EXPECT_EQ(d.status().code(), Code::kCorruption);
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 1000);
}

TEST(Codec, RejectsUnknownTypesAndInconsistentEntries) {
  Message m = sample();
  std::string b = encode_message("g", m);
  // Type 200 via a hand-written field: tag 2 varint.
  std::string bad_type = b + std::string("\x10\xc8\x01", 3);
  EXPECT_EQ(decode_message(bad_type).status().code(), Code::kCorruption);
  m.entries[1].index = 20;
  EXPECT_EQ(decode_message(encode_message("g", m)).status().code(), Code::kCorruption);
}

}  // namespace
}  // namespace rkv::raft
