// The wire format is protobuf's (raft_messages.proto), written and read here by hand: building a
// protobuf message object only to serialize it, or parsing into one only to copy the fields
// out, cost the leader and the followers more than anything else they do per replicated entry
// except the system calls. codec_test.cc checks both directions against libprotobuf: the bytes
// written are the ones SerializeToString writes, and any input decodes to what ParseFromArray
// yields (or is refused by both).
#include "raft/codec.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <utility>

#include "core/assert.h"

namespace rkv::raft {

namespace {

// Field numbers of raft_messages.proto.
enum MessageField : uint32_t {
  kGroup = 1,
  kType = 2,
  kFrom = 3,
  kTo = 4,
  kTerm = 5,
  kLogTerm = 6,
  kIndex = 7,
  kEntries = 8,
  kCommit = 9,
  kReject = 10,
  kRejectHintIndex = 11,
  kRejectHintTerm = 12,
  kContext = 13,
  kSnapshot = 14,
  kOffset = 15,
  kData = 16,
  kDone = 17,
  kLease = 18,
};
enum EntryField : uint32_t { kEntryTerm = 1, kEntryIndex = 2, kEntryType = 3, kEntryData = 4 };
enum SnapshotField : uint32_t {
  kSnapIndex = 1,
  kSnapTerm = 2,
  kSnapVoters = 3,
  kSnapTermStarts = 4
};

enum WireType : uint32_t {
  kVarint = 0,
  kFixed64 = 1,
  kLengthDelimited = 2,
  kStartGroup = 3,
  kEndGroup = 4,
  kFixed32 = 5,
};

// Most entries a decode reserves room for before it has seen them.
constexpr size_t kMaxReservedEntries = 1024;

// Protobuf's limit on nested groups and messages (a group is skipped recursively).
constexpr int kMaxDepth = 100;

// ---- writing: proto3 leaves out fields holding their default (0, false, empty)

size_t varint_size(uint64_t v) {
  return static_cast<size_t>(std::bit_width(v | 1) + 6) / 7;
}
size_t tag_size(uint32_t field) {
  return varint_size(uint64_t{field} << 3);
}
size_t u64_field_size(uint32_t field, uint64_t v) {
  return v == 0 ? 0 : tag_size(field) + varint_size(v);
}
size_t bytes_field_size(uint32_t field, size_t n) {
  return n == 0 ? 0 : tag_size(field) + varint_size(n) + n;
}

size_t entry_body_size(const Entry& e) {
  return u64_field_size(kEntryTerm, e.term) + u64_field_size(kEntryIndex, e.index) +
         u64_field_size(kEntryType, static_cast<uint64_t>(e.type)) +
         bytes_field_size(kEntryData, e.data.size());
}

size_t voters_size(const SnapshotMeta& s) {
  size_t n = 0;
  for (NodeId v : s.voters)
    n += varint_size(v);
  return n;
}

size_t term_starts_size(const SnapshotMeta& s) {
  size_t n = 0;
  for (const TermStart& t : s.term_starts)
    n += varint_size(t.term) + varint_size(t.index);
  return n;
}

size_t snapshot_body_size(const SnapshotMeta& s) {
  return u64_field_size(kSnapIndex, s.index) + u64_field_size(kSnapTerm, s.term) +
         bytes_field_size(kSnapVoters, voters_size(s)) +
         bytes_field_size(kSnapTermStarts, term_starts_size(s));
}

class Writer {
 public:
  explicit Writer(std::string* out) : out_(*out) {}

  void varint(uint64_t v) {
    char buf[10];
    size_t n = 0;
    while (v >= 0x80) {
      buf[n++] = static_cast<char>(v | 0x80);
      v >>= 7;
    }
    buf[n++] = static_cast<char>(v);
    out_.append(buf, n);
  }
  void tag(uint32_t field, WireType wt) { varint((uint64_t{field} << 3) | wt); }
  void u64_field(uint32_t field, uint64_t v) {
    if (v == 0) return;
    tag(field, kVarint);
    varint(v);
  }
  void bytes_field(uint32_t field, std::string_view b) {
    if (b.empty()) return;
    tag(field, kLengthDelimited);
    varint(b.size());
    out_.append(b);
  }

 private:
  std::string& out_;
};

// ---- reading: what protobuf accepts, field by field (last occurrence of a scalar wins,
// unknown fields and known fields of an unexpected wire type are skipped, repeated voters come
// packed or not, a message field seen twice is merged)

class Reader {
 public:
  explicit Reader(std::string_view b)
      : p_(reinterpret_cast<const uint8_t*>(b.data())), end_(p_ + b.size()) {}

  bool done() const { return p_ == end_; }
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }

  // A varint of at most 10 bytes; bits beyond 64 are dropped, as protobuf does.
  bool varint(uint64_t* v) {
    uint64_t r = 0;
    for (int i = 0; i < 10; ++i) {
      if (p_ == end_) return false;
      const uint8_t b = *p_++;
      r |= uint64_t{static_cast<uint8_t>(b & 0x7f)} << (7 * i);
      if (b < 0x80) {
        *v = r;
        return true;
      }
    }
    return false;
  }
  // A tag is a varint of at most 5 bytes, its low 32 bits kept (as protobuf does), naming
  // field 1 or above.
  bool tag(uint32_t* field, uint32_t* wt) {
    uint64_t t = 0;
    const uint8_t* start = p_;
    if (!varint(&t) || p_ - start > 5) return false;
    t &= UINT32_MAX;
    *field = static_cast<uint32_t>(t >> 3);
    *wt = static_cast<uint32_t>(t & 7);
    return *field != 0;
  }
  // A length-delimited payload: a length below 2^31 and that many bytes.
  bool bytes(std::string_view* out) {
    uint64_t n = 0;
    const uint8_t* start = p_;
    if (!varint(&n) || p_ - start > 5 || n > INT32_MAX) return false;
    if (n > static_cast<uint64_t>(end_ - p_)) return false;
    *out = std::string_view(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return true;
  }
  // Skips the value of a field of wire type `wt` (a group up to its end tag).
  bool skip(uint32_t field, uint32_t wt, int depth) {
    switch (wt) {
      case kVarint: {
        uint64_t v;
        return varint(&v);
      }
      case kFixed64:
        return advance(8);
      case kLengthDelimited: {
        std::string_view b;
        return bytes(&b);
      }
      case kFixed32:
        return advance(4);
      case kStartGroup: {
        if (depth >= kMaxDepth) return false;
        while (true) {
          uint32_t f = 0;
          uint32_t w = 0;
          if (!tag(&f, &w)) return false;
          if (w == kEndGroup) return f == field;
          if (!skip(f, w, depth + 1)) return false;
        }
      }
      default:  // an end tag without its start, or wire types 6 and 7
        return false;
    }
  }

 private:
  bool advance(size_t n) {
    if (static_cast<size_t>(end_ - p_) < n) return false;
    p_ += n;
    return true;
  }

  const uint8_t* p_;
  const uint8_t* end_;
};

// The enum fields are int32 on the wire: protobuf keeps the low 32 bits of the varint.
uint32_t low32(uint64_t v) {
  return static_cast<uint32_t>(v);
}

// Fields are read into `e` as protobuf would; the entry type is checked by the caller.
bool read_entry(std::string_view body, Entry* e, uint32_t* type) {
  Reader r(body);
  while (!r.done()) {
    uint32_t field = 0;
    uint32_t wt = 0;
    if (!r.tag(&field, &wt)) return false;
    uint64_t v = 0;
    std::string_view b;
    if (wt == kVarint && (field == kEntryTerm || field == kEntryIndex || field == kEntryType)) {
      if (!r.varint(&v)) return false;
      if (field == kEntryTerm) e->term = v;
      if (field == kEntryIndex) e->index = v;
      if (field == kEntryType) *type = low32(v);
    } else if (wt == kLengthDelimited && field == kEntryData) {
      if (!r.bytes(&b)) return false;
      e->data = SharedBytes(b);
    } else if (!r.skip(field, wt, 1)) {
      return false;
    }
  }
  return true;
}

bool read_snapshot(std::string_view body, SnapshotMeta* s) {
  Reader r(body);
  std::vector<uint64_t> starts;  // flattened (term, index) pairs
  while (!r.done()) {
    uint32_t field = 0;
    uint32_t wt = 0;
    if (!r.tag(&field, &wt)) return false;
    uint64_t v = 0;
    const bool repeated = field == kSnapVoters || field == kSnapTermStarts;
    std::vector<uint64_t>* list = field == kSnapTermStarts ? &starts : &s->voters;
    if (wt == kVarint && (field == kSnapIndex || field == kSnapTerm || repeated)) {
      if (!r.varint(&v)) return false;
      if (field == kSnapIndex) s->index = v;
      if (field == kSnapTerm) s->term = v;
      if (repeated) list->push_back(v);
    } else if (wt == kLengthDelimited && repeated) {  // packed
      std::string_view b;
      if (!r.bytes(&b)) return false;
      Reader packed(b);
      while (!packed.done()) {
        if (!packed.varint(&v)) return false;
        list->push_back(v);
      }
    } else if (!r.skip(field, wt, 1)) {
      return false;
    }
  }
  // An odd count cannot come from encode_message; the last half-pair is dropped.
  for (size_t i = 0; i + 1 < starts.size(); i += 2)
    s->term_starts.push_back({starts[i], starts[i + 1]});
  return true;
}

// The uint64 field of the message numbered `field`, or nullptr.
uint64_t* u64_field(Message* m, uint32_t field) {
  switch (field) {
    case kFrom:
      return &m->from;
    case kTo:
      return &m->to;
    case kTerm:
      return &m->term;
    case kLogTerm:
      return &m->log_term;
    case kIndex:
      return &m->index;
    case kCommit:
      return &m->commit;
    case kRejectHintIndex:
      return &m->reject_hint_index;
    case kRejectHintTerm:
      return &m->reject_hint_term;
    case kContext:
      return &m->context;
    case kOffset:
      return &m->offset;
    default:
      return nullptr;
  }
}

}  // namespace

std::string encode_message(std::string_view group, const Message& m, std::string_view prefix) {
  const bool has_snapshot = m.snapshot.index != 0 || m.snapshot.term != 0 ||
                            !m.snapshot.voters.empty() || !m.snapshot.term_starts.empty();
  size_t size =
      bytes_field_size(kGroup, group.size()) +
      u64_field_size(kType, static_cast<uint64_t>(m.type)) + u64_field_size(kFrom, m.from) +
      u64_field_size(kTo, m.to) + u64_field_size(kTerm, m.term) +
      u64_field_size(kLogTerm, m.log_term) + u64_field_size(kIndex, m.index) +
      u64_field_size(kCommit, m.commit) + u64_field_size(kReject, m.reject ? 1 : 0) +
      u64_field_size(kRejectHintIndex, m.reject_hint_index) +
      u64_field_size(kRejectHintTerm, m.reject_hint_term) + u64_field_size(kContext, m.context) +
      u64_field_size(kOffset, m.offset) + bytes_field_size(kData, m.data.size()) +
      u64_field_size(kDone, m.done ? 1 : 0) + u64_field_size(kLease, m.lease ? 1 : 0);
  for (const Entry& e : m.entries) {
    const size_t body = entry_body_size(e);
    size += tag_size(kEntries) + varint_size(body) + body;
  }
  const size_t snapshot_body = has_snapshot ? snapshot_body_size(m.snapshot) : 0;
  if (has_snapshot) size += tag_size(kSnapshot) + varint_size(snapshot_body) + snapshot_body;

  std::string out;
  out.reserve(prefix.size() + size);
  out.append(prefix);
  Writer w(&out);
  w.bytes_field(kGroup, group);
  w.u64_field(kType, static_cast<uint64_t>(m.type));
  w.u64_field(kFrom, m.from);
  w.u64_field(kTo, m.to);
  w.u64_field(kTerm, m.term);
  w.u64_field(kLogTerm, m.log_term);
  w.u64_field(kIndex, m.index);
  for (const Entry& e : m.entries) {
    w.tag(kEntries, kLengthDelimited);  // present even when every field is a default
    w.varint(entry_body_size(e));
    w.u64_field(kEntryTerm, e.term);
    w.u64_field(kEntryIndex, e.index);
    w.u64_field(kEntryType, static_cast<uint64_t>(e.type));
    w.bytes_field(kEntryData, e.data);
  }
  w.u64_field(kCommit, m.commit);
  w.u64_field(kReject, m.reject ? 1 : 0);
  w.u64_field(kRejectHintIndex, m.reject_hint_index);
  w.u64_field(kRejectHintTerm, m.reject_hint_term);
  w.u64_field(kContext, m.context);
  if (has_snapshot) {
    w.tag(kSnapshot, kLengthDelimited);
    w.varint(snapshot_body);
    w.u64_field(kSnapIndex, m.snapshot.index);
    w.u64_field(kSnapTerm, m.snapshot.term);
    if (!m.snapshot.voters.empty()) {
      w.tag(kSnapVoters, kLengthDelimited);
      w.varint(voters_size(m.snapshot));
      for (NodeId v : m.snapshot.voters)
        w.varint(v);
    }
    if (!m.snapshot.term_starts.empty()) {
      w.tag(kSnapTermStarts, kLengthDelimited);
      w.varint(term_starts_size(m.snapshot));
      for (const TermStart& t : m.snapshot.term_starts) {
        w.varint(t.term);
        w.varint(t.index);
      }
    }
  }
  w.u64_field(kOffset, m.offset);
  w.bytes_field(kData, m.data);
  w.u64_field(kDone, m.done ? 1 : 0);
  w.u64_field(kLease, m.lease ? 1 : 0);
  RKV_ASSERT(out.size() == prefix.size() + size);
  return out;
}

Result<Envelope> decode_message(std::string_view bytes) {
  if (bytes.size() > kMaxEncodedMessageBytes) {
    return Status::resource_exhausted("raft message of " + std::to_string(bytes.size()) +
                                      " bytes exceeds the limit");
  }
  auto bad = [] { return Status::corruption("raft message does not parse"); };
  Envelope env;
  Message& m = env.message;
  uint32_t type = 0;
  bool bad_entry_type = false;
  Reader r(bytes);
  while (!r.done()) {
    uint32_t field = 0;
    uint32_t wt = 0;
    if (!r.tag(&field, &wt)) return bad();
    uint64_t v = 0;
    std::string_view b;
    uint64_t* u64 = wt == kVarint ? u64_field(&m, field) : nullptr;
    if (u64 != nullptr || (wt == kVarint && (field == kType || field == kReject || field == kDone ||
                                             field == kLease))) {
      if (!r.varint(&v)) return bad();
      if (u64 != nullptr) {
        *u64 = v;
      } else if (field == kType) {
        type = low32(v);
      } else if (field == kReject) {
        m.reject = v != 0;
      } else if (field == kDone) {
        m.done = v != 0;
      } else {
        m.lease = v != 0;
      }
    } else if (wt == kLengthDelimited &&
               (field == kGroup || field == kEntries || field == kSnapshot || field == kData)) {
      if (!r.bytes(&b)) return bad();
      if (field == kGroup) {
        env.group.assign(b);
      } else if (field == kData) {
        m.data.assign(b);
      } else if (field == kSnapshot) {
        if (!read_snapshot(b, &m.snapshot)) return bad();
      } else {
        if (m.entries.empty()) {
          // Entries of a batch are alike: room for as many more as the rest of the bytes
          // would hold of this one (bounded, so that a small first entry cannot ask for much).
          m.entries.reserve(1 +
                            std::min<size_t>(kMaxReservedEntries, r.remaining() / (b.size() + 2)));
        }
        Entry& e = m.entries.emplace_back();
        uint32_t et = 0;
        if (!read_entry(b, &e, &et)) return bad();
        if (et > static_cast<uint32_t>(EntryType::kNoop)) bad_entry_type = true;
        e.type = static_cast<EntryType>(et <= 1 ? et : 0);
      }
    } else if (!r.skip(field, wt, 0)) {
      return bad();
    }
  }
  if (type >= static_cast<uint32_t>(kMessageTypeCount)) {
    return Status::corruption("raft message has unknown type " +
                              std::to_string(static_cast<int32_t>(type)));
  }
  m.type = static_cast<MessageType>(type);
  if (bad_entry_type) return Status::corruption("raft message has an entry of unknown type");
  for (size_t k = 1; k < m.entries.size(); ++k) {
    if (m.entries[k].index != m.entries[k - 1].index + 1) {
      return Status::corruption("raft message has non-contiguous entries");
    }
  }
  if (!m.entries.empty() && m.entries.front().index != m.index + 1) {
    return Status::corruption("raft message entries do not follow its index");
  }
  return env;
}

}  // namespace rkv::raft
