#include "multileader/messages.h"

#include <algorithm>

#include "core/varint.h"

namespace rkv::multileader {

uint64_t applied_of(const AppliedVector& v, uint64_t actor) {
  auto it = std::lower_bound(v.begin(), v.end(), std::make_pair(actor, uint64_t{0}));
  return it != v.end() && it->first == actor ? it->second : 0;
}

namespace {

// Bounds on counts read from a peer, so that a forged length cannot make us reserve memory.
constexpr uint64_t kMaxActors = 1 << 16;

void put_applied(const AppliedVector& v, std::string* out) {
  put_varint(out, v.size());
  for (const auto& [actor, seq] : v) {
    put_varint(out, actor);
    put_varint(out, seq);
  }
}

bool get_applied(std::string_view* in, AppliedVector* out) {
  uint64_t n = 0;
  if (!get_varint(in, &n) || n > kMaxActors || n > in->size()) return false;
  out->clear();
  out->reserve(n);
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t actor = 0, seq = 0;
    if (!get_varint(in, &actor) || !get_varint(in, &seq)) return false;
    if (!out->empty() && out->back().first >= actor) return false;  // sorted, unique
    out->emplace_back(actor, seq);
  }
  return true;
}

// Item fields after the seq: key, hlc, [actor], flags, image.
void put_item(const Item& it, bool with_actor, std::string* out) {
  put_varint(out, it.seq);
  put_bytes(out, it.key);
  put_varint(out, it.hlc);
  if (with_actor) put_varint(out, it.actor);
  out->push_back(it.tomb ? 1 : 0);
  if (!it.tomb) put_bytes(out, it.image);
}

bool get_item(std::string_view* in, bool with_actor, Item* it) {
  std::string_view key, image;
  uint64_t flags = 0;
  if (!get_varint(in, &it->seq) || !get_bytes(in, &key) || !get_varint(in, &it->hlc)) {
    return false;
  }
  if (with_actor && !get_varint(in, &it->actor)) return false;
  if (in->empty()) return false;
  flags = static_cast<uint8_t>((*in)[0]);
  in->remove_prefix(1);
  if (flags > 1) return false;
  it->tomb = flags == 1;
  if (!it->tomb && (!get_bytes(in, &image) || image.empty())) return false;
  it->key.assign(key);
  it->image.assign(image);
  return true;
}

}  // namespace

size_t encoded_size(const Item& it) {
  return it.key.size() + it.image.size() + 32;
}

void encode(const Msg& m, std::string* out) {
  out->push_back(static_cast<char>(m.type));
  put_varint(out, m.actor);
  switch (m.type) {
    case MsgType::kStatus:
      put_applied(m.applied, out);
      out->push_back(m.resend ? 1 : 0);
      return;
    case MsgType::kEntries:
    case MsgType::kState:
      if (m.type == MsgType::kState) {
        put_varint(out, m.transfer);
        put_varint(out, m.part);
        out->push_back(m.last ? 1 : 0);
        if (m.last) put_applied(m.applied, out);
      }
      put_varint(out, m.items.size());
      for (const Item& it : m.items)
        put_item(it, m.type == MsgType::kState, out);
      return;
  }
}

bool decode(std::string_view in, Msg* out) {
  if (in.empty()) return false;
  const auto type = static_cast<uint8_t>(in[0]);
  if (type < 1 || type > 3) return false;
  in.remove_prefix(1);
  Msg m;
  m.type = static_cast<MsgType>(type);
  if (!get_varint(&in, &m.actor) || m.actor == 0) return false;
  if (m.type == MsgType::kStatus) {
    if (!get_applied(&in, &m.applied) || in.empty() || static_cast<uint8_t>(in[0]) > 1) {
      return false;
    }
    m.resend = in[0] == 1;
    in.remove_prefix(1);
  } else {
    if (m.type == MsgType::kState) {
      if (!get_varint(&in, &m.transfer) || !get_varint(&in, &m.part) || in.empty()) return false;
      const auto last = static_cast<uint8_t>(in[0]);
      in.remove_prefix(1);
      if (last > 1) return false;
      m.last = last == 1;
      if (m.last && !get_applied(&in, &m.applied)) return false;
    }
    uint64_t n = 0;
    // Every item takes at least 5 bytes: a count beyond that is a lie.
    if (!get_varint(&in, &n) || n > in.size() / 5 + 1) return false;
    m.items.resize(n);
    for (Item& it : m.items) {
      if (!get_item(&in, m.type == MsgType::kState, &it)) return false;
      if (m.type == MsgType::kEntries) it.actor = m.actor;
      if (it.actor == 0) return false;
    }
    if (m.type == MsgType::kEntries) {
      for (size_t i = 1; i < m.items.size(); ++i) {
        if (m.items[i].seq != m.items[i - 1].seq + 1) return false;  // a run, in order
      }
      if (!m.items.empty() && m.items[0].seq == 0) return false;
    }
  }
  if (!in.empty()) return false;
  *out = std::move(m);
  return true;
}

std::string encode_log_record(const Item& it) {
  std::string out;
  put_item(it, false, &out);
  return out;
}

bool decode_log_record(std::string_view in, uint64_t actor, Item* out) {
  Item it;
  if (!get_item(&in, false, &it) || !in.empty() || it.seq == 0) return false;
  it.actor = actor;
  *out = std::move(it);
  return true;
}

std::string encode_applied(const AppliedVector& v) {
  std::string out;
  put_applied(v, &out);
  return out;
}

bool decode_applied(std::string_view in, AppliedVector* out) {
  return get_applied(&in, out) && in.empty();
}

}  // namespace rkv::multileader
