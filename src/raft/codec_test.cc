#include "raft/codec.h"

#include <gtest/gtest.h>

#include "core/random.h"
#include "raft/raft_messages.pb.h"

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
  m.snapshot = SnapshotMeta{5, 2, {1, 2, 3}, {{1, 1}, {2, 4}}};
  m.offset = 1024;
  m.data = std::string("\0\x01\xff", 3) + "binary";
  m.done = true;
  m.lease = true;
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

// ---- against libprotobuf: the schema's reference implementation

// What protobuf's generated code writes for the message.
std::string protobuf_encode(std::string_view group, const Message& m) {
  pb::Message p;
  p.set_group(std::string(group));
  p.set_type(static_cast<pb::MessageType>(m.type));
  p.set_from(m.from);
  p.set_to(m.to);
  p.set_term(m.term);
  p.set_log_term(m.log_term);
  p.set_index(m.index);
  for (const Entry& e : m.entries) {
    pb::Entry* pe = p.add_entries();
    pe->set_term(e.term);
    pe->set_index(e.index);
    pe->set_type(static_cast<pb::EntryType>(e.type));
    pe->set_data(e.data.str());
  }
  p.set_commit(m.commit);
  p.set_reject(m.reject);
  p.set_reject_hint_index(m.reject_hint_index);
  p.set_reject_hint_term(m.reject_hint_term);
  p.set_context(m.context);
  if (m.snapshot.index != 0 || m.snapshot.term != 0 || !m.snapshot.voters.empty() ||
      !m.snapshot.term_starts.empty()) {
    pb::SnapshotMeta* ps = p.mutable_snapshot();
    ps->set_index(m.snapshot.index);
    ps->set_term(m.snapshot.term);
    for (NodeId v : m.snapshot.voters)
      ps->add_voters(v);
    for (const TermStart& t : m.snapshot.term_starts) {
      ps->add_term_starts(t.term);
      ps->add_term_starts(t.index);
    }
  }
  p.set_offset(m.offset);
  p.set_data(m.data);
  p.set_done(m.done);
  p.set_lease(m.lease);
  std::string out;
  EXPECT_TRUE(p.SerializeToString(&out));
  return out;
}

// What protobuf parses out of the bytes, with decode_message's own checks; a status when
// either refuses them.
Result<Envelope> protobuf_decode(std::string_view bytes) {
  pb::Message p;
  if (!p.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Status::corruption("does not parse");
  }
  if (p.type() < 0 || p.type() >= kMessageTypeCount) return Status::corruption("type");
  Envelope env;
  env.group = p.group();
  Message& m = env.message;
  m.type = static_cast<MessageType>(p.type());
  m.from = p.from();
  m.to = p.to();
  m.term = p.term();
  m.log_term = p.log_term();
  m.index = p.index();
  for (const pb::Entry& pe : p.entries()) {
    if (pe.type() != pb::NORMAL && pe.type() != pb::NOOP) return Status::corruption("entry");
    m.entries.push_back(Entry{pe.term(), pe.index(), static_cast<EntryType>(pe.type()), pe.data()});
  }
  for (size_t k = 1; k < m.entries.size(); ++k) {
    if (m.entries[k].index != m.entries[k - 1].index + 1) return Status::corruption("gap");
  }
  if (!m.entries.empty() && m.entries.front().index != m.index + 1) {
    return Status::corruption("follow");
  }
  m.commit = p.commit();
  m.reject = p.reject();
  m.reject_hint_index = p.reject_hint_index();
  m.reject_hint_term = p.reject_hint_term();
  m.context = p.context();
  if (p.has_snapshot()) {
    m.snapshot.index = p.snapshot().index();
    m.snapshot.term = p.snapshot().term();
    m.snapshot.voters.assign(p.snapshot().voters().begin(), p.snapshot().voters().end());
    const auto& ts = p.snapshot().term_starts();
    for (int i = 0; i + 1 < ts.size(); i += 2)
      m.snapshot.term_starts.push_back({ts[i], ts[i + 1]});
  }
  m.offset = p.offset();
  m.data = p.data();
  m.done = p.done();
  m.lease = p.lease();
  return env;
}

std::string hex(std::string_view b) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : b) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

// Values at the edges of each varint length, and zeros (left out of the encoding).
uint64_t draw_u64(Random& rng) {
  switch (rng.uniform(6)) {
    case 0:
      return 0;
    case 1:
      return rng.uniform(128);
    case 2:
      return uint64_t{1} << rng.uniform(64);
    case 3:
      return (uint64_t{1} << rng.uniform(64)) - 1;
    case 4:
      return ~uint64_t{0} - rng.uniform(3);
    default:
      return rng.next();
  }
}

std::string draw_bytes(Random& rng, size_t max) {
  std::string s(rng.uniform(2) == 0 ? 0 : rng.uniform(max + 1), '\0');
  for (char& c : s)
    c = static_cast<char>(rng.uniform(256));
  return s;
}

Message draw_message(Random& rng) {
  Message m;
  m.type = static_cast<MessageType>(rng.uniform(kMessageTypeCount));
  m.from = draw_u64(rng);
  m.to = draw_u64(rng);
  m.term = draw_u64(rng);
  m.log_term = draw_u64(rng);
  m.index = rng.uniform(2) == 0 ? 0 : rng.uniform(1u << 20);
  const size_t n = rng.uniform(3) == 0 ? 0 : rng.uniform(8);
  for (size_t k = 0; k < n; ++k) {
    m.entries.push_back(Entry{draw_u64(rng), m.index + 1 + k,
                              static_cast<EntryType>(rng.uniform(2)), draw_bytes(rng, 300)});
  }
  m.commit = draw_u64(rng);
  m.reject = rng.uniform(2) == 0;
  m.reject_hint_index = draw_u64(rng);
  m.reject_hint_term = draw_u64(rng);
  m.context = draw_u64(rng);
  if (rng.uniform(2) == 0) {
    m.snapshot.index = draw_u64(rng);
    m.snapshot.term = draw_u64(rng);
    for (size_t k = rng.uniform(5); k > 0; --k)
      m.snapshot.voters.push_back(draw_u64(rng));
    for (size_t k = rng.uniform(4); k > 0; --k)
      m.snapshot.term_starts.push_back({draw_u64(rng), draw_u64(rng)});
  }
  m.offset = draw_u64(rng);
  m.data = draw_bytes(rng, 200);
  m.done = rng.uniform(2) == 0;
  m.lease = rng.uniform(2) == 0;
  return m;
}

TEST(Codec, WritesTheBytesProtobufWrites) {
  Random rng(7);
  for (int i = 0; i < 5000; ++i) {
    const Message m = draw_message(rng);
    const std::string group = draw_bytes(rng, 20);
    const std::string ours = encode_message(group, m);
    ASSERT_EQ(ours, protobuf_encode(group, m)) << "message " << i;
    auto d = decode_message(ours);
    ASSERT_TRUE(d.is_ok()) << d.status().to_string();
    EXPECT_EQ(d->group, group);
    EXPECT_EQ(d->message, m);
  }
}

// Any input: accepted by both with the same result, or refused by both. Inputs are valid
// encodings with bytes flipped, inserted and cut, and valid fields spliced in out of order,
// repeated, unknown or of an unexpected wire type.
TEST(Codec, ReadsWhatProtobufReadsAndRefusesWhatItRefuses) {
  Random rng(99);
  const std::string extras[] = {
      std::string("\x10\x04", 2),                           // type again: last one wins
      std::string("\x08\x05", 2),                           // group (bytes) as a varint: skipped
      std::string("\xa0\x06\x07", 3),                       // unknown field 100, varint
      std::string("\xa2\x06\x02xy", 5),                     // unknown field 100, bytes
      std::string("\xa1\x06", 2) + std::string(8, '\x01'),  // unknown fixed64
      std::string("\xa5\x06\x01\x02\x03\x04", 6),           // unknown fixed32
      std::string("\xa3\x06\xa0\x06\x01\xa4\x06", 7),       // unknown group holding a varint
      std::string("\x72\x02\x18\x09", 4),      // snapshot again, a voter unpacked: merged
      std::string("\x72\x03\x1a\x01\x05", 5),  // snapshot again, a voter packed: merged
      std::string("\x42\x00", 2),              // an entry with every field a default
      std::string("\x4a\x00", 2),              // commit as bytes: skipped
      std::string("\x28\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11),  // term, 10 bytes
      std::string("\x28\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 11),  // bits past 64
      std::string("\x10\x84\x80\x80\x80\x10", 6),  // type 4 + 2^32: low 32 bits kept
      std::string("\x0c", 1),                      // an end group without its start
      std::string("\x0e", 1),                      // wire type 6
      std::string("\x02\x00", 2),                  // field 0
  };
  int accepted = 0;
  int refused = 0;
  for (int i = 0; i < 40000; ++i) {
    std::string b = protobuf_encode(draw_bytes(rng, 8), draw_message(rng));
    const int edits = static_cast<int>(rng.uniform(4));
    for (int k = 0; k < edits; ++k) {
      const size_t at = rng.uniform(b.size() + 1);
      switch (rng.uniform(4)) {
        case 0:
          if (!b.empty()) b[rng.uniform(b.size())] = static_cast<char>(rng.uniform(256));
          break;
        case 1:
          b.insert(at, 1, static_cast<char>(rng.uniform(256)));
          break;
        case 2:
          b.resize(rng.uniform(b.size() + 1));
          break;
        default: {
          const std::string& x = extras[rng.uniform(std::size(extras))];
          // Spliced between fields (the end) or anywhere (mostly breaking the field it cuts).
          b.insert(rng.uniform(2) == 0 ? b.size() : at, x);
          break;
        }
      }
    }
    auto ours = decode_message(b);
    auto theirs = protobuf_decode(b);
    ASSERT_EQ(ours.is_ok(), theirs.is_ok())
        << "input " << i << " ours: " << (ours.is_ok() ? "ok" : ours.status().to_string())
        << " protobuf: " << (theirs.is_ok() ? "ok" : theirs.status().to_string()) << " bytes "
        << hex(b);
    if (ours.is_ok()) {
      ++accepted;
      EXPECT_EQ(ours->group, theirs->group);
      EXPECT_EQ(ours->message, theirs->message) << "input " << i;
    } else {
      ++refused;
      EXPECT_EQ(ours.status().code(), Code::kCorruption);
    }
  }
  // Both outcomes are exercised, each often.
  EXPECT_GT(accepted, 5000);
  EXPECT_GT(refused, 5000);
}

}  // namespace
}  // namespace rkv::raft
