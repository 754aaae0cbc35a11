#include "leaderless/messages.h"

#include "core/assert.h"
#include "core/varint.h"

namespace rkv::leaderless {

namespace {

constexpr uint64_t kMaxItems = 1u << 24;  // bound on any count read from a peer

void put_object(std::string* out, const versions::Versioned& o) {
  std::string body;
  o.encode(&body);
  put_bytes(out, body);
}

bool get_object(std::string_view* in, versions::Versioned* o) {
  std::string_view body;
  if (!get_bytes(in, &body)) return false;
  if (body.empty()) {
    *o = versions::Versioned{};
    return true;
  }
  return versions::Versioned::decode(&body, o) && body.empty();
}

bool get_string(std::string_view* in, std::string* s) {
  std::string_view b;
  if (!get_bytes(in, &b)) return false;
  s->assign(b);
  return true;
}

bool get_count(std::string_view* in, uint64_t* n, size_t min_item_bytes) {
  // A count can never exceed what the remaining bytes could hold.
  return get_varint(in, n) && *n <= kMaxItems && *n * min_item_bytes <= in->size();
}

}  // namespace

void encode(const Msg& m, std::string* out) {
  put_u8(out, static_cast<uint8_t>(m.type));
  put_varint(out, m.id);
  switch (m.type) {
    case MsgType::kWrite:
      put_u8(out, static_cast<uint8_t>(m.kind));
      put_varint(out, static_cast<uint64_t>(m.hint_for + 1));
      put_bytes(out, m.key);
      put_object(out, m.object);
      break;
    case MsgType::kWriteAck:
      put_u8(out, m.ok ? 1 : 0);
      break;
    case MsgType::kRead:
      put_bytes(out, m.key);
      break;
    case MsgType::kReadReply:
      put_bytes(out, m.key);
      put_object(out, m.object);
      break;
    case MsgType::kGossip:
    case MsgType::kCoordinateReply:
      put_bytes(out, m.payload);
      break;
    case MsgType::kCoordinate:
      put_varint(out, m.generation);
      put_varint(out, m.stamp);
      put_u8(out, m.consistency);
      put_u8(out, m.proto);
      put_varint(out, m.args.size());
      for (const auto& a : m.args)
        put_bytes(out, a);
      break;
    case MsgType::kSyncRequest:
      put_varint(out, m.range);
      put_varint(out, m.leaf_hashes.size());
      for (uint64_t h : m.leaf_hashes) {
        for (int i = 0; i < 8; ++i)
          out->push_back(static_cast<char>(h >> (8 * i)));
      }
      break;
    case MsgType::kBatch:
      RKV_ASSERT(false && "a batch is built with append_to_batch");
      break;
    case MsgType::kList:
      put_varint(out, m.range);
      put_bytes(out, m.payload);
      break;
    case MsgType::kListReply:
      put_u8(out, m.ok ? 1 : 0);
      put_varint(out, m.objects.size());
      for (const auto& ko : m.objects) {
        put_bytes(out, ko.key);
        put_object(out, ko.object);
      }
      break;
    case MsgType::kSyncResponse:
    case MsgType::kSyncPush:
      put_varint(out, m.range);
      put_varint(out, m.leaves.size());
      for (uint32_t l : m.leaves)
        put_varint(out, l);
      put_varint(out, m.objects.size());
      for (const auto& ko : m.objects) {
        put_bytes(out, ko.key);
        put_object(out, ko.object);
      }
      break;
  }
}

bool decode(std::string_view in, Msg* out) {
  Msg m;
  uint8_t type = 0;
  if (!get_u8(&in, &type) || type < 1 || type > static_cast<uint8_t>(MsgType::kListReply)) {
    return false;  // (kBatch bodies go through split_batch)
  }
  m.type = static_cast<MsgType>(type);
  if (!get_varint(&in, &m.id)) return false;
  uint64_t v = 0;
  uint8_t b = 0;
  switch (m.type) {
    case MsgType::kWrite:
      if (!get_u8(&in, &b) || b > static_cast<uint8_t>(WriteKind::kSync)) return false;
      m.kind = static_cast<WriteKind>(b);
      if (!get_varint(&in, &v) || v > (1u << 16)) return false;
      m.hint_for = static_cast<int32_t>(v) - 1;
      if (!get_string(&in, &m.key) || !get_object(&in, &m.object)) return false;
      break;
    case MsgType::kWriteAck:
      if (!get_u8(&in, &b) || b > 1) return false;
      m.ok = b == 1;
      break;
    case MsgType::kRead:
      if (!get_string(&in, &m.key)) return false;
      break;
    case MsgType::kReadReply:
      if (!get_string(&in, &m.key) || !get_object(&in, &m.object)) return false;
      break;
    case MsgType::kGossip:
    case MsgType::kCoordinateReply:
      if (!get_string(&in, &m.payload)) return false;
      break;
    case MsgType::kCoordinate: {
      if (!get_varint(&in, &m.generation) || !get_varint(&in, &m.stamp) ||
          !get_u8(&in, &m.consistency) || !get_u8(&in, &m.proto)) {
        return false;
      }
      if (!get_count(&in, &v, 1) || v == 0) return false;
      m.args.resize(v);
      for (auto& a : m.args) {
        if (!get_string(&in, &a)) return false;
      }
      break;
    }
    case MsgType::kSyncRequest: {
      if (!get_varint(&in, &v) || v > UINT32_MAX) return false;
      m.range = static_cast<uint32_t>(v);
      if (!get_count(&in, &v, 8)) return false;
      m.leaf_hashes.resize(v);
      for (auto& h : m.leaf_hashes) {
        h = 0;
        for (int i = 0; i < 8; ++i)
          h |= static_cast<uint64_t>(static_cast<uint8_t>(in[static_cast<size_t>(i)])) << (8 * i);
        in.remove_prefix(8);
      }
      break;
    }
    case MsgType::kBatch:
      return false;
    case MsgType::kList:
      if (!get_varint(&in, &v) || v > UINT32_MAX || !get_string(&in, &m.payload)) return false;
      m.range = static_cast<uint32_t>(v);
      break;
    case MsgType::kListReply:
      if (!get_u8(&in, &b) || b > 1) return false;
      m.ok = b == 1;
      if (!get_count(&in, &v, 2)) return false;
      m.objects.resize(v);
      for (auto& ko : m.objects) {
        if (!get_string(&in, &ko.key) || !get_object(&in, &ko.object)) return false;
      }
      break;
    case MsgType::kSyncResponse:
    case MsgType::kSyncPush: {
      if (!get_varint(&in, &v) || v > UINT32_MAX) return false;
      m.range = static_cast<uint32_t>(v);
      if (!get_count(&in, &v, 1)) return false;
      m.leaves.resize(v);
      for (auto& l : m.leaves) {
        if (!get_varint(&in, &v) || v > UINT32_MAX) return false;
        l = static_cast<uint32_t>(v);
      }
      if (!get_count(&in, &v, 2)) return false;
      m.objects.resize(v);
      for (auto& ko : m.objects) {
        if (!get_string(&in, &ko.key) || !get_object(&in, &ko.object)) return false;
      }
      break;
    }
  }
  if (!in.empty()) return false;
  *out = std::move(m);
  return true;
}

void append_to_batch(const Msg& m, std::string* out, size_t* count) {
  if (*count == 0) put_u8(out, static_cast<uint8_t>(MsgType::kBatch));
  thread_local std::string body;  // scratch: its capacity is reused message after message
  body.clear();
  encode(m, &body);
  put_bytes(out, body);
  ++*count;
}

bool split_batch(std::string_view in, std::vector<std::string_view>* parts) {
  uint8_t type = 0;
  if (!get_u8(&in, &type) || type != static_cast<uint8_t>(MsgType::kBatch)) return false;
  while (!in.empty()) {
    std::string_view body;
    if (!get_bytes(&in, &body)) return false;
    parts->push_back(body);
  }
  return true;
}

}  // namespace rkv::leaderless
