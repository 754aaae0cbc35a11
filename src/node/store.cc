#include "node/store.h"

#include <fmt/format.h>

#include <charconv>
#include <limits>

#include "core/checksum.h"
#include "core/text.h"
#include "node/glob.h"
#include "node/list_value.h"
#include "node/store_util.h"
#include "node/zset_index.h"

namespace rkv {

using resp::CommandId;
using Args = std::span<const std::string_view>;

using namespace store_util;

namespace {

// Milliseconds to the nearest second (halves up), as Redis's (ms + 500) / 1000 but without
// overflowing near INT64_MAX. Precondition: ms >= 0.
int64_t round_to_seconds(int64_t ms) {
  return ms / 1000 + (ms % 1000 + 500) / 1000;
}

void write_int_string(std::string* dst, int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  dst->assign(buf, end);
}

}  // namespace

bool parse_int64(std::string_view s, int64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  size_t i = 0;
  bool neg = false;
  if (s[0] == '-') {
    neg = true;
    i = 1;
    if (s.size() == 1) return false;
  }
  if (s[i] == '0' && s.size() > i + 1) return false;  // no leading zeros
  if (neg && s[i] == '0') return false;               // no "-0"
  uint64_t v = 0;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c < '0' || c > '9') return false;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - d) / 10) return false;
    v = v * 10 + d;
  }
  if (neg) {
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) + 1) return false;
    *out = static_cast<int64_t>(0 - v);
  } else {
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
    *out = static_cast<int64_t>(v);
  }
  return true;
}

Store::Store(const std::vector<KeyspaceConfig>& keyspaces, StoreLimits limits)
    : keyspaces_(keyspaces.size()), limits_(limits) {
  bool has_default = false;
  for (size_t i = 0; i < keyspaces.size(); ++i) {
    keyspaces_[i].config = keyspaces[i];
    if (keyspaces[i].name == "default") {
      default_index_ = static_cast<uint32_t>(i);
      has_default = true;
    }
  }
  RKV_ASSERT_MSG(has_default, "a Store needs a default keyspace");
}

uint32_t Store::route(std::string_view key) const {
  uint32_t best = default_index_;
  size_t best_len = 0;
  for (uint32_t i = 0; i < keyspaces_.size(); ++i) {
    const std::string& p = keyspaces_[i].config.prefix;
    if (!p.empty() && p.size() > best_len && key.starts_with(p)) {
      best = i;
      best_len = p.size();
    }
  }
  return best;
}

int Store::find_keyspace(std::string_view name) const {
  for (size_t i = 0; i < keyspaces_.size(); ++i) {
    if (keyspaces_[i].config.name == name) return static_cast<int>(i);
  }
  return -1;
}

KeyTable::Entry* Store::lookup(uint32_t ks, std::string_view key, int64_t now_ms,
                               ChangeSink& sink) {
  KeyTable::Entry* e = keyspaces_[ks].table.find(key);
  if (e && e->value.expire_at_ms != 0 && e->value.expire_at_ms <= now_ms) {
    if (keyspaces_[ks].replicated && !applying_) return nullptr;  // absent, not erased
    keyspaces_[ks].expired_keys++;
    erase(ks, key, sink);
    return nullptr;
  }
  if (e) touch(e, now_ms);
  return e;
}

void Store::set_expire(uint32_t ks, KeyTable::Entry* e, int64_t expire_at) {
  auto& exp = keyspaces_[ks].expiries;
  if (e->value.expire_at_ms != 0) exp.erase({e->value.expire_at_ms, e->key.str()});
  e->value.expire_at_ms = expire_at;
  if (expire_at != 0) exp.emplace(expire_at, e->key.str());
}

void Store::put(uint32_t ks, std::string_view key, std::string_view data, int64_t expire_at,
                ChangeSink& sink, KeyTable::Entry* known) {
  bool inserted = false;
  KeyTable& t = keyspaces_[ks].table;
  KeyTable::Entry* e = known ? known : t.upsert(key, &inserted);
  RKV_ASSERT(e->key == key);
  if (!known) touch(e, now_ms_);
  if (e->value.coll) {  // a string replaces a collection: its elements go
    count_collection(ks, *e->value.coll, -1);
    sink.on_erase(ks, key, e->value.coll->type);
    e->value.coll.reset();
  }
  t.adjust_payload(static_cast<int64_t>(data.size()) - static_cast<int64_t>(e->value.data.size()));
  e->value.data.assign(data.data(), data.size());
  if (e->value.expire_at_ms != expire_at) set_expire(ks, e, expire_at);
  sink.on_put(ks, key, e->value);
}

bool Store::erase(uint32_t ks, std::string_view key, ChangeSink& sink, const ValueType* reported) {
  Keyspace& k = keyspaces_[ks];
  KeyTable::Entry* e = k.table.find(key);
  if (!e) return false;
  const ValueType type = reported ? *reported : e->value.type();
  if (e->value.coll) count_collection(ks, *e->value.coll, -1);
  if (e->value.expire_at_ms != 0) k.expiries.erase({e->value.expire_at_ms, e->key.str()});
  k.table.erase(key);
  sink.on_erase(ks, key, type);
  return true;
}

void Store::clear_all(ChangeSink& sink) {
  for (uint32_t i = 0; i < keyspaces_.size(); ++i) {
    keyspaces_[i].table.clear();
    keyspaces_[i].expiries.clear();
    keyspaces_[i].elements = 0;
    keyspaces_[i].element_bytes = 0;
    sink.on_clear(i);
  }
}

void Store::restore(uint32_t ks, std::string_view key, Value value) {
  bool inserted = false;
  KeyTable& t = keyspaces_[ks].table;
  KeyTable::Entry* e = t.upsert(key, &inserted);
  t.adjust_payload(static_cast<int64_t>(value.data.size()) -
                   static_cast<int64_t>(e->value.data.size()));
  e->value.data = std::move(value.data);
  if (e->value.coll) count_collection(ks, *e->value.coll, -1);
  e->value.coll = std::move(value.coll);
  if (e->value.coll) count_collection(ks, *e->value.coll, +1);
  set_expire(ks, e, value.expire_at_ms);
}

bool Store::restore_element(uint32_t ks, std::string_view key, std::string_view elem,
                            std::string_view value) {
  KeyTable::Entry* e = keyspaces_[ks].table.find(key);
  if (!e || !e->value.coll) return false;
  if (ListValue* l = e->value.coll->list.get()) {
    // Rows come in key order, which is position order: each element follows the last.
    uint64_t pos;
    if (!ListValue::parse_position_id(elem, &pos)) return false;
    if (l->empty()) l->set_head_position(pos);
    if (pos != l->head_position() + l->size()) return false;  // rows not consecutive: corrupt
    l->push_back(value);
    keyspaces_[ks].elements++;
    keyspaces_[ks].element_bytes += value.size();
    return true;
  }
  ZsetIndex* index = e->value.coll->index.get();
  double score = 0;
  if (index && !decode_score(value, &score)) return false;
  bool inserted = false;
  KeyTable& t = e->value.coll->elems;
  const size_t before = t.payload_bytes();
  KeyTable::Entry* el = t.upsert(elem, &inserted);
  if (index) {
    double old = 0;
    if (!inserted && decode_score(el->value.data, &old)) index->erase(old, elem);
    index->insert(score, el);
  }
  t.adjust_payload(static_cast<int64_t>(value.size()) -
                   static_cast<int64_t>(el->value.data.size()));
  el->value.data.assign(value);
  if (inserted) keyspaces_[ks].elements++;
  keyspaces_[ks].element_bytes += t.payload_bytes() - before;
  return true;
}

void Store::count_collection(uint32_t ks, const Collection& c, int sign) {
  Keyspace& k = keyspaces_[ks];
  if (sign > 0) {
    k.elements += c.size();
    k.element_bytes += c.payload_bytes();
  } else {
    RKV_ASSERT(k.elements >= c.size() && k.element_bytes >= c.payload_bytes());
    k.elements -= c.size();
    k.element_bytes -= c.payload_bytes();
  }
}

void Store::report_value(uint32_t ks, std::string_view key, const Value& v, ChangeSink& sink) {
  sink.on_put(ks, key, v);
  if (!v.coll) return;
  if (const ListValue* l = v.coll->list.get()) {
    std::string elem;
    l->for_each_from(0, false, [&](size_t i, std::string_view x) {
      elem.assign(x);
      sink.on_element(ks, key, ListValue::position_id(l->position(i)), &elem);
      return true;
    });
    return;
  }
  v.coll->elems.for_each(
      [&](const KeyTable::Entry& el) { sink.on_element(ks, key, el.key, &el.value.data); });
}

void Store::put_value(uint32_t ks, std::string_view key, Value v, ChangeSink& sink,
                      KeyTable::Entry* known) {
  if (v.is_string()) return put(ks, key, v.data, v.expire_at_ms, sink, known);
  bool inserted = false;
  Keyspace& k = keyspaces_[ks];
  KeyTable::Entry* e = known ? known : k.table.upsert(key, &inserted);
  RKV_ASSERT(e->key == key);
  if (!known) touch(e, now_ms_);
  if (e->value.coll) {  // the old collection's elements go first
    count_collection(ks, *e->value.coll, -1);
    sink.on_erase(ks, key, e->value.coll->type);
  }
  k.table.adjust_payload(-static_cast<int64_t>(e->value.data.size()));
  e->value.data.clear();
  e->value.coll = std::move(v.coll);
  count_collection(ks, *e->value.coll, +1);
  if (e->value.expire_at_ms != v.expire_at_ms) set_expire(ks, e, v.expire_at_ms);
  report_value(ks, key, e->value, sink);
}

size_t Store::sweep_expired(int64_t now_ms, size_t max_keys, ChangeSink& sink) {
  size_t removed = 0;
  for (uint32_t ks = 0; ks < keyspaces_.size() && removed < max_keys; ++ks) {
    if (keyspaces_[ks].replicated) continue;
    auto& exp = keyspaces_[ks].expiries;
    while (!exp.empty() && removed < max_keys && exp.begin()->first <= now_ms) {
      std::string key = exp.begin()->second;
      keyspaces_[ks].expired_keys++;
      erase(ks, key, sink);
      ++removed;
    }
  }
  return removed;
}

bool Store::erase_if_expired(uint32_t ks, std::string_view key, int64_t now_ms, ChangeSink& sink) {
  KeyTable::Entry* e = keyspaces_[ks].table.find(key);
  if (!e || e->value.expire_at_ms == 0 || e->value.expire_at_ms > now_ms) return false;
  keyspaces_[ks].expired_keys++;
  return erase(ks, key, sink);
}

std::vector<std::string> Store::expired_keys(uint32_t ks, int64_t now_ms, size_t max) const {
  std::vector<std::string> out;
  for (const auto& [at, key] : keyspaces_[ks].expiries) {
    if (at > now_ms || out.size() >= max) break;
    out.push_back(key);
  }
  return out;
}

void Store::clear_keyspace(uint32_t ks, ChangeSink& sink) {
  keyspaces_[ks].table.clear();
  keyspaces_[ks].expiries.clear();
  keyspaces_[ks].elements = 0;
  keyspaces_[ks].element_bytes = 0;
  sink.on_clear(ks);
}

std::string Store::serialize_keyspace(uint32_t ks, const KeyOverrides* as_of) const {
  ImageBuild build(*this, ks, as_of ? *as_of : KeyOverrides{});
  while (!build.step(std::numeric_limits<size_t>::max())) {
  }
  return build.take();
}

Store::ImageBuild::ImageBuild(const Store& store, uint32_t ks, KeyOverrides as_of, bool streamed)
    : table_(store.keyspaces_[ks].table) {
  for (auto& [key, v] : as_of)
    remember(key, std::move(v));
  // Room for the keyspace as it is and an eighth again, so that the image is seldom copied to a
  // larger buffer while the keyspace grows during the build (a copy of the whole image in one
  // step is what building it in steps avoids). Reserved memory is touched only as written, but
  // counts as allocated (maxmemory) from now on: a larger margin made a leader near its limit
  // evict keys for room its image never used.
  // A streamed image is taken in parts as it is built: nothing of the kind is reserved.
  if (!streamed) {
    const size_t estimate = table_.payload_bytes() + table_.size() * 16 + 8;
    out_.reserve(estimate + estimate / 8);
  }
  put_u64(out_, 0);  // the count, written once known
}

void Store::ImageBuild::remember(std::string_view key, std::optional<Value> value) {
  before_.emplace(before_keys_.emplace_back(key), Before{std::move(value), false});
}

void Store::ImageBuild::note_change(std::string_view key) {
  if (done_ || before_.contains(key)) return;
  const KeyTable::Entry* e = table_.find(key);
  remember(key, e ? std::optional<Value>(e->value) : std::nullopt);
}

// Image layout: u64 count with kTypedImage set, then per key: u32 key length, key, u64 expiry,
// u8 ValueType, and then for a string: u32 length, bytes; for a hash: u32 fields, then per
// field u32 length, field, u32 length, value; for a set: u32 members, then per member u32
// length, member; for a sorted set as for a hash, the value being the encoded score (8 bytes);
// for a list: u32 elements, u64 the first element's position, then per element u32 length,
// element. (Images written before types existed have the flag clear and no type byte: every key
// a string. They still load.)
namespace {
constexpr uint64_t kTypedImage = 1ull << 63;
}

void Store::ImageBuild::add(std::string_view key, const Value& v) {
  put_u32(out_, static_cast<uint32_t>(key.size()));
  out_.append(key);
  append_value_image(v, &out_);
  ++count_;
}

void Store::append_value_image(const Value& v, std::string* out) {
  put_u64(*out, static_cast<uint64_t>(v.expire_at_ms));
  out->push_back(static_cast<char>(v.type()));
  auto put_bytes = [&](std::string_view b) {
    put_u32(*out, static_cast<uint32_t>(b.size()));
    out->append(b);
  };
  if (!v.coll) {
    put_bytes(v.data);
    return;
  }
  RKV_ASSERT(v.coll->size() <= UINT32_MAX);
  put_u32(*out, static_cast<uint32_t>(v.coll->size()));
  if (const ListValue* l = v.coll->list.get()) {
    put_u64(*out, l->head_position());
    l->for_each_from(0, false, [&](size_t, std::string_view x) {
      put_bytes(x);
      return true;
    });
    return;
  }
  const bool valued = v.coll->type != ValueType::kSet;  // hash values, sorted-set scores
  v.coll->elems.for_each([&](const KeyTable::Entry& el) {
    put_bytes(el.key.view());
    if (valued) put_bytes(el.value.data);
  });
}

std::string Store::make_image(ValueType t, int64_t expire_at,
                              const std::vector<std::pair<std::string, std::string>>& elems) {
  std::string out;
  put_u64(out, static_cast<uint64_t>(expire_at));
  out.push_back(static_cast<char>(t));
  auto put_bytes = [&](std::string_view b) {
    put_u32(out, static_cast<uint32_t>(b.size()));
    out.append(b);
  };
  if (t == ValueType::kString) {
    RKV_ASSERT(elems.size() == 1);
    put_bytes(elems[0].second);
    return out;
  }
  RKV_ASSERT(t != ValueType::kList && elems.size() <= UINT32_MAX);
  put_u32(out, static_cast<uint32_t>(elems.size()));
  for (const auto& [e, v] : elems) {
    put_bytes(e);
    if (t != ValueType::kSet) put_bytes(v);
  }
  return out;
}

bool Store::parse_value_image(std::string_view image, size_t* at, bool typed, Value* out) {
  size_t pos = *at;
  auto bytes = [&](std::string_view* b) {
    if (image.size() - pos < 4) return false;
    const uint32_t len = get_u32(image.data() + pos);
    if (image.size() - pos - 4 < len) return false;
    *b = image.substr(pos + 4, len);
    pos += 4 + len;
    return true;
  };
  if (image.size() - pos < (typed ? 9u : 8u)) return false;
  const auto exp = static_cast<int64_t>(get_u64(image.data() + pos));
  pos += 8;
  ValueType type = ValueType::kString;
  if (typed) type = static_cast<ValueType>(image[pos++]);
  if (type == ValueType::kString) {
    std::string_view data;
    if (!bytes(&data)) return false;
    if (out) *out = Value(std::string(data), exp);
    *at = pos;
    return true;
  }
  const bool list = type == ValueType::kList;
  const bool valued = type == ValueType::kHash || type == ValueType::kZset;
  const bool known = valued || list || type == ValueType::kSet;
  if (!known || image.size() - pos < (list ? 12u : 4u)) return false;
  const uint32_t count = get_u32(image.data() + pos);
  pos += 4;
  if (count == 0) return false;  // an empty collection is never stored
  Value v = out ? Value(type) : Value();
  v.expire_at_ms = exp;
  if (list) {
    if (out) v.coll->list->set_head_position(get_u64(image.data() + pos));
    pos += 8;
  }
  for (uint32_t j = 0; j < count; ++j) {
    std::string_view elem, val;
    if (!bytes(&elem) || (valued && !bytes(&val))) return false;
    double score;
    if (type == ValueType::kZset && !decode_score(val, &score)) return false;
    if (!out) continue;
    if (list) {
      v.coll->list->push_back(elem);
      continue;
    }
    bool inserted = false;
    KeyTable::Entry* el = v.coll->elems.upsert(elem, &inserted);
    if (!inserted) continue;  // an element named twice: the first stands
    el->value.data.assign(val);
    v.coll->elems.adjust_payload(static_cast<int64_t>(val.size()));
  }
  if (out) {
    if (type == ValueType::kZset) v.coll->rebuild_index();
    *out = std::move(v);
  }
  *at = pos;
  return true;
}

std::optional<std::string> Store::key_image(uint32_t ks, std::string_view key) const {
  const KeyTable::Entry* e = keyspaces_[ks].table.find(key);
  if (!e) return std::nullopt;
  std::string out;
  append_value_image(e->value, &out);
  return out;
}

bool Store::put_image(uint32_t ks, std::string_view key, std::string_view image, ChangeSink& sink) {
  size_t pos = 0;
  Value v;
  if (!parse_value_image(image, &pos, true, &v) || pos != image.size()) return false;
  put_value(ks, key, std::move(v), sink);
  return true;
}

void Store::remove_key(uint32_t ks, std::string_view key, ChangeSink& sink) {
  erase(ks, key, sink);
}

bool Store::ImageBuild::step(size_t max_entries) {
  if (done_) return true;
  size_t visited = 0;
  do {
    cursor_ = table_.scan(cursor_, [&](const KeyTable::Entry& e) {
      visited += 1 + (e.value.coll ? e.value.coll->size() : 0);
      if (!before_.empty()) {
        if (auto it = before_.find(e.key.view()); it != before_.end()) {
          // Changed since the build began: what it was then (nothing, if created since).
          if (it->second.value && !it->second.emitted) add(e.key, *it->second.value);
          it->second.emitted = true;
          return;
        }
      }
      add(e.key, e.value);
    });
  } while (cursor_ != 0 && visited < max_entries);
  if (cursor_ != 0) return false;
  // Keys removed since the build began, before the scan reached them.
  for (std::string_view key : before_keys_) {
    const Before& b = before_.at(key);
    if (b.value && !b.emitted) add(key, *b.value);
  }
  put_u64(head_, count_ | kTypedImage);
  if (taken_ == 0) out_.replace(0, 8, head_);
  done_ = true;
  return true;
}

std::string Store::ImageBuild::take() {
  RKV_ASSERT(done_ && taken_ == 0);
  return std::move(out_);
}

std::string Store::ImageBuild::take_part(size_t min_bytes) {
  if (out_.size() < min_bytes && !done_) return {};
  std::string part;
  part.swap(out_);
  taken_ += part.size();
  return part;
}

bool Store::load_keyspace(uint32_t ks, std::string_view image, ChangeSink& sink) {
  if (image.size() < 8) return false;
  const uint64_t head = get_u64(image.data());
  const bool typed = (head & kTypedImage) != 0;
  const uint64_t n = head & ~kTypedImage;
  // Two passes over the same parser: the first only validates (the keyspace is untouched by a
  // malformed image), the second loads.
  auto parse = [&](bool apply) {
    size_t pos = 8;
    for (uint64_t i = 0; i < n; ++i) {
      if (image.size() - pos < 4) return false;
      const uint32_t len = get_u32(image.data() + pos);
      if (image.size() - pos - 4 < len) return false;
      std::string_view key = image.substr(pos + 4, len);
      pos += 4 + len;
      Value v;
      if (!parse_value_image(image, &pos, typed, apply ? &v : nullptr)) return false;
      if (apply) put_value(ks, key, std::move(v), sink);
    }
    return pos == image.size();
  };
  if (!parse(false)) return false;
  clear_keyspace(ks, sink);
  parse(true);
  return true;
}

void Store::background_step(size_t buckets) {
  for (Keyspace& k : keyspaces_)
    k.table.rehash_step(buckets);
}

size_t Store::total_keys() const {
  size_t n = 0;
  for (const auto& k : keyspaces_)
    n += k.table.size();
  return n;
}
size_t Store::total_bytes() const {
  size_t n = 0;
  for (const auto& k : keyspaces_)
    n += k.table.payload_bytes() + k.element_bytes;
  return n;
}
size_t Store::total_expiring() const {
  size_t n = 0;
  for (const auto& k : keyspaces_)
    n += k.expiries.size();
  return n;
}
uint64_t Store::total_expired() const {
  uint64_t n = 0;
  for (const auto& k : keyspaces_)
    n += k.expired_keys;
  return n;
}

void Store::execute(const resp::CommandSpec& spec, Args a, int64_t now, resp::Writer& w,
                    ChangeSink& s) {
  now_ms_ = now;
  switch (spec.id) {
    case CommandId::kGet:
      return cmd_get(a, now, w, s);
    case CommandId::kSet:
      return cmd_set(a, now, w, s);
    case CommandId::kSetnx:
      return cmd_setnx(a, now, w, s);
    case CommandId::kGetdel:
      return cmd_getdel(a, now, w, s);
    case CommandId::kMget:
      return cmd_mget(a, now, w, s);
    case CommandId::kMset:
      return cmd_mset(a, now, w, s);
    case CommandId::kDel:
    case CommandId::kUnlink:
      return cmd_del(a, now, w, s);
    case CommandId::kExists:
    case CommandId::kTouch:
      return cmd_exists(a, now, w, s);
    case CommandId::kRename:
    case CommandId::kRenamenx:
      return cmd_rename(a, now, spec.id == CommandId::kRenamenx, w, s);
    case CommandId::kCopy:
      return cmd_copy(a, now, w, s);
    case CommandId::kLpush:
    case CommandId::kRpush:
    case CommandId::kLpushx:
    case CommandId::kRpushx:
      return cmd_push(a, now, spec.id == CommandId::kLpush || spec.id == CommandId::kLpushx,
                      spec.id == CommandId::kLpushx || spec.id == CommandId::kRpushx, w, s);
    case CommandId::kLpop:
    case CommandId::kRpop:
      return cmd_pop(a, now, spec.id == CommandId::kLpop, w, s);
    case CommandId::kLlen:
      return cmd_card(a, now, ValueType::kList, w, s);
    case CommandId::kLrange:
      return cmd_lrange(a, now, w, s);
    case CommandId::kLindex:
      return cmd_lindex(a, now, w, s);
    case CommandId::kLset:
      return cmd_lset(a, now, w, s);
    case CommandId::kLinsert:
      return cmd_linsert(a, now, w, s);
    case CommandId::kLrem:
      return cmd_lrem(a, now, w, s);
    case CommandId::kLtrim:
      return cmd_ltrim(a, now, w, s);
    case CommandId::kLpos:
      return cmd_lpos(a, now, w, s);
    case CommandId::kLmove:
      return cmd_lmove(a, now, w, s);
    case CommandId::kRpoplpush:
      return move_element(a, now, false, true, w, s);
    case CommandId::kBlmove:
    case CommandId::kBrpoplpush:
      return cmd_blmove(a, now, w, s);
    case CommandId::kBlpop:
    case CommandId::kBrpop:
      return cmd_bpop(a, now, spec.id == CommandId::kBlpop, w, s);
    case CommandId::kLmpop:
    case CommandId::kBlmpop:
      return cmd_lmpop(a, now, spec.id == CommandId::kBlmpop, w, s);
    case CommandId::kRandomkey:
      return cmd_randomkey(now, w);
    case CommandId::kSetex:
      return cmd_setex(a, now, 1000, spec.name, w, s);
    case CommandId::kPsetex:
      return cmd_setex(a, now, 1, spec.name, w, s);
    case CommandId::kGetex:
      return cmd_getex(a, now, w, s);
    case CommandId::kGetset:
      return cmd_getset(a, now, w, s);
    case CommandId::kMsetnx:
      return cmd_msetnx(a, now, w, s);
    case CommandId::kIncrbyfloat:
      return cmd_incrbyfloat(a, now, w, s);
    case CommandId::kSetrange:
      return cmd_setrange(a, now, w, s);
    case CommandId::kGetrange:
    case CommandId::kSubstr:
      return cmd_getrange(a, now, w, s);
    case CommandId::kLcs:
      return cmd_lcs(a, now, w, s);
    case CommandId::kSetbit:
      return cmd_setbit(a, now, w, s);
    case CommandId::kGetbit:
      return cmd_getbit(a, now, w, s);
    case CommandId::kBitcount:
      return cmd_bitcount(a, now, w, s);
    case CommandId::kBitpos:
      return cmd_bitpos(a, now, w, s);
    case CommandId::kIncr:
      return cmd_incrby(a[1], 1, now, w, s);
    case CommandId::kDecr:
      return cmd_incrby(a[1], -1, now, w, s);
    case CommandId::kIncrby:
    case CommandId::kDecrby: {
      int64_t d;
      if (!parse_int64(a[2], &d)) return w.error(kErrNotInt);
      if (spec.id == CommandId::kDecrby) {
        if (d == std::numeric_limits<int64_t>::min()) {
          return w.error("ERR decrement would overflow");
        }
        d = -d;
      }
      return cmd_incrby(a[1], d, now, w, s);
    }
    case CommandId::kAppend:
      return cmd_append(a, now, w, s);
    case CommandId::kStrlen:
      return cmd_strlen(a, now, w, s);
    case CommandId::kExpire:
      return cmd_expire(a, now, 1000, now, spec.name, w, s);
    case CommandId::kPexpire:
      return cmd_expire(a, now, 1, now, spec.name, w, s);
    case CommandId::kExpireat:
      return cmd_expire(a, now, 1000, 0, spec.name, w, s);
    case CommandId::kPexpireat:
      return cmd_expire(a, now, 1, 0, spec.name, w, s);
    case CommandId::kExpiretime:
      return cmd_expiretime(a, now, 1000, w, s);
    case CommandId::kPexpiretime:
      return cmd_expiretime(a, now, 1, w, s);
    case CommandId::kTtl:
      return cmd_ttl(a, now, 1000, w, s);
    case CommandId::kPttl:
      return cmd_ttl(a, now, 1, w, s);
    case CommandId::kPersist:
      return cmd_persist(a, now, w, s);
    case CommandId::kType:
      return cmd_type(a, now, w, s);
    case CommandId::kScan:
      return cmd_scan(a, now, w);
    case CommandId::kKeys:
      return cmd_keys(a, now, w);
    case CommandId::kDbsize:
      return w.integer(static_cast<int64_t>(total_keys()));
    case CommandId::kFlushall:
    case CommandId::kFlushdb:
      if (a.size() > 2 || (a.size() == 2 && !iequals(a[1], "async") && !iequals(a[1], "sync"))) {
        return w.error(kErrSyntax);
      }
      clear_all(s);
      return w.ok();
    case CommandId::kKeyspaces:
      return cmd_keyspaces(w);
    case CommandId::kHset:
    case CommandId::kHmset:
      return cmd_hset(a, now, spec.id == CommandId::kHmset, w, s);
    case CommandId::kHsetnx:
      return cmd_hsetnx(a, now, w, s);
    case CommandId::kHget:
      return cmd_hget(a, now, w, s);
    case CommandId::kHmget:
      return cmd_hmget(a, now, w, s);
    case CommandId::kHdel:
      return cmd_remove_elements(a, now, ValueType::kHash, w, s);
    case CommandId::kHexists:
      return cmd_hexists(a, now, w, s);
    case CommandId::kHlen:
      return cmd_card(a, now, ValueType::kHash, w, s);
    case CommandId::kHstrlen:
      return cmd_hstrlen(a, now, w, s);
    case CommandId::kHkeys:
      return cmd_hgetall(a, now, true, false, w, s);
    case CommandId::kHvals:
      return cmd_hgetall(a, now, false, true, w, s);
    case CommandId::kHgetall:
      return cmd_hgetall(a, now, true, true, w, s);
    case CommandId::kHincrby:
      return cmd_hincrby(a, now, w, s);
    case CommandId::kHincrbyfloat:
      return cmd_hincrbyfloat(a, now, w, s);
    case CommandId::kHrandfield:
      return cmd_randfield(a, now, ValueType::kHash, w, s);
    case CommandId::kHscan:
      return cmd_cscan(a, now, ValueType::kHash, w, s);
    case CommandId::kSadd:
      return cmd_sadd(a, now, w, s);
    case CommandId::kSrem:
      return cmd_remove_elements(a, now, ValueType::kSet, w, s);
    case CommandId::kSismember:
      return cmd_sismember(a, now, false, w, s);
    case CommandId::kSmismember:
      return cmd_sismember(a, now, true, w, s);
    case CommandId::kScard:
      return cmd_card(a, now, ValueType::kSet, w, s);
    case CommandId::kSpop:
      return cmd_spop(a, now, w, s);
    case CommandId::kSrandmember:
      return cmd_srandmember(a, now, w, s);
    case CommandId::kSmove:
      return cmd_smove(a, now, w, s);
    case CommandId::kSmembers:
    case CommandId::kSinter:
      return cmd_setop(a, now, SetOp::kInter, false, w, s);
    case CommandId::kSunion:
      return cmd_setop(a, now, SetOp::kUnion, false, w, s);
    case CommandId::kSdiff:
      return cmd_setop(a, now, SetOp::kDiff, false, w, s);
    case CommandId::kSinterstore:
      return cmd_setop(a, now, SetOp::kInter, true, w, s);
    case CommandId::kSunionstore:
      return cmd_setop(a, now, SetOp::kUnion, true, w, s);
    case CommandId::kSdiffstore:
      return cmd_setop(a, now, SetOp::kDiff, true, w, s);
    case CommandId::kSintercard:
      return cmd_sintercard(a, now, w, s);
    case CommandId::kSscan:
      return cmd_cscan(a, now, ValueType::kSet, w, s);
    case CommandId::kObject:
      return cmd_object(a, now, w, s);
    case CommandId::kZadd:
      return cmd_zadd(a, now, false, w, s);
    case CommandId::kZincrby:
      return cmd_zadd(a, now, true, w, s);
    case CommandId::kZscore:
      return cmd_zscore(a, now, false, w, s);
    case CommandId::kZmscore:
      return cmd_zscore(a, now, true, w, s);
    case CommandId::kZrank:
      return cmd_zrank(a, now, false, w, s);
    case CommandId::kZrevrank:
      return cmd_zrank(a, now, true, w, s);
    case CommandId::kZcard:
      return cmd_card(a, now, ValueType::kZset, w, s);
    case CommandId::kZcount:
      return cmd_zcount(a, now, false, w, s);
    case CommandId::kZlexcount:
      return cmd_zcount(a, now, true, w, s);
    case CommandId::kZrange:
      return cmd_zrange(a, now, ZrangeBy::kAuto, ZrangeDir::kAuto, false, w, s);
    case CommandId::kZrangestore:
      return cmd_zrange(a, now, ZrangeBy::kAuto, ZrangeDir::kAuto, true, w, s);
    case CommandId::kZrevrange:
      return cmd_zrange(a, now, ZrangeBy::kRank, ZrangeDir::kReverse, false, w, s);
    case CommandId::kZrangebyscore:
      return cmd_zrange(a, now, ZrangeBy::kScore, ZrangeDir::kForward, false, w, s);
    case CommandId::kZrevrangebyscore:
      return cmd_zrange(a, now, ZrangeBy::kScore, ZrangeDir::kReverse, false, w, s);
    case CommandId::kZrangebylex:
      return cmd_zrange(a, now, ZrangeBy::kLex, ZrangeDir::kForward, false, w, s);
    case CommandId::kZrevrangebylex:
      return cmd_zrange(a, now, ZrangeBy::kLex, ZrangeDir::kReverse, false, w, s);
    case CommandId::kZrem:
      return cmd_zrem(a, now, w, s);
    case CommandId::kZremrangebyrank:
      return cmd_zremrange(a, now, ZrangeBy::kRank, w, s);
    case CommandId::kZremrangebyscore:
      return cmd_zremrange(a, now, ZrangeBy::kScore, w, s);
    case CommandId::kZremrangebylex:
      return cmd_zremrange(a, now, ZrangeBy::kLex, w, s);
    case CommandId::kZpopmin:
      return cmd_zpop(a, now, false, w, s);
    case CommandId::kZpopmax:
      return cmd_zpop(a, now, true, w, s);
    case CommandId::kZrandmember:
      return cmd_randfield(a, now, ValueType::kZset, w, s);
    case CommandId::kZunion:
      return cmd_zsetop(a, now, SetOp::kUnion, ZsetopOut::kReply, spec.name, w, s);
    case CommandId::kZinter:
      return cmd_zsetop(a, now, SetOp::kInter, ZsetopOut::kReply, spec.name, w, s);
    case CommandId::kZdiff:
      return cmd_zsetop(a, now, SetOp::kDiff, ZsetopOut::kReply, spec.name, w, s);
    case CommandId::kZunionstore:
      return cmd_zsetop(a, now, SetOp::kUnion, ZsetopOut::kStore, spec.name, w, s);
    case CommandId::kZinterstore:
      return cmd_zsetop(a, now, SetOp::kInter, ZsetopOut::kStore, spec.name, w, s);
    case CommandId::kZdiffstore:
      return cmd_zsetop(a, now, SetOp::kDiff, ZsetopOut::kStore, spec.name, w, s);
    case CommandId::kZintercard:
      return cmd_zsetop(a, now, SetOp::kInter, ZsetopOut::kCard, spec.name, w, s);
    case CommandId::kZscan:
      return cmd_cscan(a, now, ValueType::kZset, w, s);
    case CommandId::kSiblings:
      // Only replicated leaderless keyspaces keep concurrent versions; here a key has one.
      return w.error(fmt::format(
          "ERR SIBLINGS applies to keys of replicated leaderless keyspaces; '{}' belongs to "
          "keyspace '{}', which keeps a single version of each key",
          a[1], keyspaces_[route(a[1])].config.name));
    default:
      RKV_UNREACHABLE();
  }
}

void Store::cmd_get(Args a, int64_t now, resp::Writer& w, ChangeSink& s) {
  KeyTable::Entry* e = lookup(route(a[1]), a[1], now, s);
  if (!e) return w.null();
  if (not_string(e, w)) return;
  w.bulk(e->value.data);
}

ExpireKind store_util::expire_kind(std::string_view opt) {
  if (iequals(opt, "ex")) return ExpireKind::kEx;
  if (iequals(opt, "px")) return ExpireKind::kPx;
  if (iequals(opt, "exat")) return ExpireKind::kExat;
  if (iequals(opt, "pxat")) return ExpireKind::kPxat;
  return ExpireKind::kNone;
}

std::string store_util::resolve_expire(ExpireKind kind, std::string_view value, int64_t now_ms,
                                       std::string_view cmd, int64_t* at) {
  int64_t v;
  if (!parse_int64(value, &v)) return std::string(kErrNotInt);
  const bool seconds = kind == ExpireKind::kEx || kind == ExpireKind::kExat;
  const bool relative = kind == ExpireKind::kEx || kind == ExpireKind::kPx;
  if (v <= 0 || (seconds && !checked_mul(v, 1000, &v)) ||
      (relative && !checked_add(v, now_ms, &v)) || v <= 0) {
    return fmt::format("ERR invalid expire time in '{}' command", cmd);
  }
  *at = v;
  return {};
}

// As Redis: every option is parsed (a syntax error wins) before the expiry is validated; a
// repeated EX (PX, ...) replaces the earlier one, while different expiry options exclude each
// other and KEEPTTL.
void Store::cmd_set(Args a, int64_t now, resp::Writer& w, ChangeSink& s) {
  bool nx = false, xx = false, get = false, keepttl = false, ifeq = false;
  std::string_view expected;
  ExpireKind exp_kind = ExpireKind::kNone;
  std::string_view exp_value;
  for (size_t i = 3; i < a.size(); ++i) {
    std::string_view opt = a[i];
    const ExpireKind k = expire_kind(opt);
    if (iequals(opt, "nx") && !xx && !ifeq) {
      nx = true;
    } else if (iequals(opt, "ifeq") && !nx && !xx && !ifeq && i + 1 < a.size()) {
      ifeq = true;  // compare-and-set: only when the current value equals `expected`
      expected = a[++i];
    } else if (iequals(opt, "xx") && !nx && !ifeq) {
      xx = true;
    } else if (iequals(opt, "get")) {
      get = true;
    } else if (iequals(opt, "keepttl") && exp_kind == ExpireKind::kNone) {
      keepttl = true;
    } else if (k != ExpireKind::kNone && !keepttl &&
               (exp_kind == ExpireKind::kNone || exp_kind == k) && i + 1 < a.size()) {
      exp_kind = k;
      exp_value = a[++i];
    } else {
      return w.error(kErrSyntax);
    }
  }
  int64_t expire_at = 0;
  if (exp_kind != ExpireKind::kNone) {
    std::string err = resolve_expire(exp_kind, exp_value, now, "set", &expire_at);
    if (!err.empty()) return w.error(err);
  }
  if (a[2].size() > limits_.max_value_len) return w.error(kErrTooBig);
  uint32_t ks = route(a[1]);
  KeyTable::Entry* e = lookup(ks, a[1], now, s);
  if ((get || ifeq) && not_string(e, w)) return;
  std::string old;
  bool had_old = e != nullptr;
  if (get && e) old = e->value.data;
  if ((nx && e) || (xx && !e) || (ifeq && (!e || e->value.data != expected))) {
    if (get) return had_old ? w.bulk(old) : w.null();
    return w.null();
  }
  if (keepttl && e) expire_at = e->value.expire_at_ms;
  put(ks, a[1], a[2], expire_at, s, e);
  if (get) return had_old ? w.bulk(old) : w.null();
  w.ok();
}

void Store::cmd_setnx(Args a, int64_t now, resp::Writer& w, ChangeSink& s) {
  if (a[2].size() > limits_.max_value_len) return w.error(kErrTooBig);
  uint32_t ks = route(a[1]);
  if (lookup(ks, a[1], now, s)) return w.integer(0);
  put(ks, a[1], a[2], 0, s);
  w.integer(1);
}

void Store::cmd_getdel(Args a, int64_t now, resp::Writer& w, ChangeSink& s) {
  uint32_t ks = route(a[1]);
  KeyTable::Entry* e = lookup(ks, a[1], now, s);
  if (!e) return w.null();
  if (not_string(e, w)) return;
  std::string v = std::move(e->value.data);
  e->value.data.clear();
  keyspaces_[ks].table.adjust_payload(-static_cast<int64_t>(v.size()));
  erase(ks, a[1], s);
  w.bulk(v);
}

void Store::cmd_mget(Args a, int64_t now, resp::Writer& w, ChangeSink& s) {
  w.array(a.size() - 1);
  for (size_t i = 1; i < a.size(); ++i) {
    KeyTable::Entry* e = lookup(route(a[i]), a[i], now, s);
    if (e && e->value.is_string()) {
      w.bulk(e->value.data);
    } else {
      w.null();
    }
  }
}

void Store::cmd_mset(Args a, int64_t now, resp::Writer& w, ChangeSink& s) {
  if (a.size() % 2 != 1) return w.error("ERR wrong number of arguments for 'mset' command");
  for (size_t i = 2; i < a.size(); i += 2) {
    if (a[i].size() > limits_.max_value_len) return w.error(kErrTooBig);
  }
  for (size_t i = 1; i < a.size(); i += 2)
    put(route(a[i]), a[i], a[i + 1], 0, s);
  w.ok();
}

void Store::cmd_del(Args a, int64_t now, resp::Writer& w, ChangeSink& s) {
  int64_t n = 0;
  for (size_t i = 1; i < a.size(); ++i) {
    uint32_t ks = route(a[i]);
    if (lookup(ks, a[i], now, s) && erase(ks, a[i], s)) ++n;
  }
  w.integer(n);
}

void Store::cmd_exists(Args a, int64_t now, resp::Writer& w, ChangeSink& s) {
  int64_t n = 0;
  for (size_t i = 1; i < a.size(); ++i)
    n += lookup(route(a[i]), a[i], now, s) ? 1 : 0;
  w.integer(n);
}

void Store::cmd_incrby(std::string_view key, int64_t delta, int64_t now, resp::Writer& w,
                       ChangeSink& s) {
  uint32_t ks = route(key);
  KeyTable::Entry* e = lookup(ks, key, now, s);
  if (not_string(e, w)) return;
  int64_t cur = 0;
  if (e && !parse_int64(e->value.data, &cur)) return w.error(kErrNotInt);
  int64_t next;
  if (!checked_add(cur, delta, &next)) return w.error("ERR increment or decrement would overflow");
  std::string text;
  write_int_string(&text, next);
  put(ks, key, text, e ? e->value.expire_at_ms : 0, s, e);
  w.integer(next);
}

void Store::cmd_append(Args a, int64_t now, resp::Writer& w, ChangeSink& s) {
  uint32_t ks = route(a[1]);
  KeyTable::Entry* e = lookup(ks, a[1], now, s);
  if (not_string(e, w)) return;
  size_t old_len = e ? e->value.data.size() : 0;
  if (old_len + a[2].size() > limits_.max_value_len) return w.error(kErrTooBig);
  if (!e) {
    put(ks, a[1], a[2], 0, s);
    return w.integer(static_cast<int64_t>(a[2].size()));
  }
  e->value.data.append(a[2]);
  keyspaces_[ks].table.adjust_payload(static_cast<int64_t>(a[2].size()));
  s.on_put(ks, a[1], e->value);
  w.integer(static_cast<int64_t>(e->value.data.size()));
}

void Store::cmd_strlen(Args a, int64_t now, resp::Writer& w, ChangeSink& s) {
  KeyTable::Entry* e = lookup(route(a[1]), a[1], now, s);
  if (not_string(e, w)) return;
  w.integer(e ? static_cast<int64_t>(e->value.data.size()) : 0);
}

// EXPIRE, PEXPIRE (relative to now), EXPIREAT, PEXPIREAT (absolute: base 0). As Redis: the
// options are checked before the time, the time before the key.
void Store::cmd_expire(Args a, int64_t now, int64_t unit_ms, int64_t base_ms, std::string_view name,
                       resp::Writer& w, ChangeSink& s) {
  bool nx = false, xx = false, gt = false, lt = false;
  for (size_t i = 3; i < a.size(); ++i) {
    if (iequals(a[i], "nx")) {
      nx = true;
    } else if (iequals(a[i], "xx")) {
      xx = true;
    } else if (iequals(a[i], "gt")) {
      gt = true;
    } else if (iequals(a[i], "lt")) {
      lt = true;
    } else {
      return w.error(fmt::format("ERR Unsupported option {}", a[i]));
    }
  }
  if (nx && (xx || gt || lt)) {
    return w.error("ERR NX and XX, GT or LT options at the same time are not compatible");
  }
  if (gt && lt) return w.error("ERR GT and LT options at the same time are not compatible");
  int64_t v;
  if (!parse_int64(a[2], &v)) return w.error(kErrNotInt);
  int64_t at;
  if (!checked_mul(v, unit_ms, &at) || !checked_add(at, base_ms, &at)) {
    return w.error(fmt::format("ERR invalid expire time in '{}' command", name));
  }
  uint32_t ks = route(a[1]);
  KeyTable::Entry* e = lookup(ks, a[1], now, s);
  if (!e) return w.integer(0);
  int64_t cur = e->value.expire_at_ms;  // 0 = persistent, which counts as infinite TTL
  if (nx && cur != 0) return w.integer(0);
  if (xx && cur == 0) return w.integer(0);
  if (gt && (cur == 0 || at <= cur)) return w.integer(0);
  if (lt && cur != 0 && at >= cur) return w.integer(0);
  if (at <= now) {
    erase(ks, a[1], s);
    return w.integer(1);
  }
  set_expire(ks, e, at);
  s.on_put(ks, a[1], e->value);
  w.integer(1);
}

void Store::cmd_ttl(Args a, int64_t now, int64_t unit_ms, resp::Writer& w, ChangeSink& s) {
  KeyTable::Entry* e = lookup(route(a[1]), a[1], now, s);
  if (!e) return w.integer(-2);
  if (e->value.expire_at_ms == 0) return w.integer(-1);
  int64_t left = e->value.expire_at_ms - now;
  w.integer(unit_ms == 1 ? left : round_to_seconds(left));
}

// EXPIRETIME rounds to the nearest second, as Redis does.
void Store::cmd_expiretime(Args a, int64_t now, int64_t unit_ms, resp::Writer& w, ChangeSink& s) {
  KeyTable::Entry* e = lookup(route(a[1]), a[1], now, s);
  if (!e) return w.integer(-2);
  const int64_t at = e->value.expire_at_ms;
  if (at == 0) return w.integer(-1);
  w.integer(unit_ms == 1 ? at : round_to_seconds(at));
}

void Store::cmd_persist(Args a, int64_t now, resp::Writer& w, ChangeSink& s) {
  uint32_t ks = route(a[1]);
  KeyTable::Entry* e = lookup(ks, a[1], now, s);
  if (!e || e->value.expire_at_ms == 0) return w.integer(0);
  set_expire(ks, e, 0);
  s.on_put(ks, a[1], e->value);
  w.integer(1);
}

void Store::cmd_type(Args a, int64_t now, resp::Writer& w, ChangeSink& s) {
  const KeyTable::Entry* e = lookup(route(a[1]), a[1], now, s);
  w.simple(e ? type_name(e->value.type()) : "none");
}

// RENAME and RENAMENX move the value with its expiry. As Redis: a missing source is an error
// even when both names are the same; the same name existing is a no-op.
void Store::cmd_rename(Args a, int64_t now, bool nx, resp::Writer& w, ChangeSink& s) {
  const uint32_t src_ks = route(a[1]), dst_ks = route(a[2]);
  if (!lookup(src_ks, a[1], now, s)) return w.error("ERR no such key");
  if (a[1] == a[2]) return nx ? w.integer(0) : w.ok();
  KeyTable::Entry* dst = lookup(dst_ks, a[2], now, s);
  if (dst && nx) return w.integer(0);
  // The destination lookup may have erased an expired key; entries never move, but look the
  // source up again rather than rely on it.
  // A collection moves in memory; its rows are rewritten under the new name (O(elements)).
  KeyTable::Entry* src = keyspaces_[src_ks].table.find(a[1]);
  RKV_ASSERT(src != nullptr);
  const ValueType type = src->value.type();
  Value v = std::move(src->value);
  src->value.data.clear();
  keyspaces_[src_ks].table.adjust_payload(-static_cast<int64_t>(v.data.size()));
  if (v.coll) count_collection(src_ks, *v.coll, -1);
  erase(src_ks, a[1], s, &type);
  put_value(dst_ks, a[2], std::move(v), s, dst);
  nx ? w.integer(1) : w.ok();
}

// COPY source destination [DB 0] [REPLACE]: only database 0 exists.
void Store::cmd_copy(Args a, int64_t now, resp::Writer& w, ChangeSink& s) {
  bool replace = false;
  for (size_t i = 3; i < a.size(); ++i) {
    if (iequals(a[i], "replace")) {
      replace = true;
    } else if (iequals(a[i], "db") && i + 1 < a.size()) {
      int64_t db;
      if (!parse_int64(a[++i], &db)) return w.error(kErrNotInt);
      if (db < std::numeric_limits<int>::min() || db > std::numeric_limits<int>::max()) {
        return w.error("ERR value is out of range, value must between -2147483648 and 2147483647");
      }
      if (db != 0) return w.error("ERR DB index is out of range");
    } else {
      return w.error(kErrSyntax);
    }
  }
  if (a[1] == a[2]) return w.error("ERR source and destination objects are the same");
  const KeyTable::Entry* src = lookup(route(a[1]), a[1], now, s);
  if (!src) return w.integer(0);
  Value v = src->value;
  const uint32_t dst_ks = route(a[2]);
  KeyTable::Entry* dst = lookup(dst_ks, a[2], now, s);
  if (dst && !replace) return w.integer(0);
  put_value(dst_ks, a[2], std::move(v), s, dst);
  w.integer(1);
}

// A key chosen at random among the live keys this node holds: a keyspace weighted by its size,
// then the first non-empty bucket from a random SCAN cursor (as Redis picks a random bucket).
// The generator is the Store's own, fixed-seed one: the choice is a function of the sequence
// of RANDOMKEY calls and the tables, never of the clock or the OS. Read-only: expired keys are
// skipped, not erased.
uint64_t Store::next_random() {
  uint64_t z = (random_state_ += 0x9E3779B97F4A7C15ull);  // splitmix64
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

void Store::cmd_randomkey(int64_t now, resp::Writer& w) {
  const size_t total = total_keys();
  if (total == 0) return w.null();
  uint64_t pick = next_random() % total;
  uint32_t first = 0;
  while (pick >= keyspaces_[first].table.size()) {
    pick -= keyspaces_[first].table.size();
    ++first;
  }
  std::vector<std::string_view> live;
  for (uint32_t n = 0; n < keyspaces_.size(); ++n) {
    const KeyTable& t = keyspaces_[(first + n) % keyspaces_.size()].table;
    if (t.size() == 0) continue;
    auto visit = [&](const KeyTable::Entry& e) {
      if (e.value.expire_at_ms == 0 || e.value.expire_at_ms > now) live.push_back(e.key.view());
    };
    // From a random cursor to the end of the iteration, then (only when every key seen so far
    // was expired) once more from the start: at most two passes over the table.
    uint64_t c = next_random() & (t.bucket_count() - 1);
    do {
      c = t.scan(c, visit);
    } while (live.empty() && c != 0);
    if (live.empty()) {
      do {
        c = t.scan(c, visit);
      } while (live.empty() && c != 0);
    }
    if (!live.empty()) return w.bulk(live[next_random() % live.size()]);
  }
  w.null();
}

// SCAN cursor layout: the low bits (below kKsBits) name the keyspace, the rest is that
// keyspace table's reverse-binary cursor. 0 starts and ends a full iteration.
namespace {
constexpr int kKsBits = 8;
}

bool parse_scan(std::span<const std::string_view> a, ScanRequest* out, std::string* error) {
  ScanRequest r;
  std::string_view c = a[1];
  auto [p, ec] = std::from_chars(c.data(), c.data() + c.size(), r.cursor);
  if (ec != std::errc() || p != c.data() + c.size()) {
    *error = "ERR invalid cursor";
    return false;
  }
  for (size_t i = 2; i < a.size(); ++i) {
    if (iequals(a[i], "match") && i + 1 < a.size()) {
      r.pattern = a[++i];
      if (r.pattern == "*") r.pattern = {};
    } else if (iequals(a[i], "count") && i + 1 < a.size()) {
      if (!parse_int64(a[++i], &r.count)) {
        *error = kErrNotInt;
        return false;
      }
      if (r.count < 1) {
        *error = kErrSyntax;
        return false;
      }
    } else if (iequals(a[i], "type") && i + 1 < a.size()) {
      r.type = a[++i];
    } else {
      *error = kErrSyntax;
      return false;
    }
  }
  *out = r;
  return true;
}

std::optional<uint64_t> Store::scan_keys(const ScanRequest& r, int64_t now,
                                         std::vector<std::string_view>* found) const {
  uint32_t ks = static_cast<uint32_t>(r.cursor & ((1u << kKsBits) - 1));
  uint64_t tc = r.cursor >> kKsBits;
  if (ks >= keyspaces_.size()) return std::nullopt;
  // Visit buckets until `count` keys were looked at or the iteration ends; bounded work per
  // call as with Redis (each call visits at least one bucket).
  int64_t visited = 0;
  while (true) {
    const Keyspace& k = keyspaces_[ks];
    tc = k.table.scan(tc, [&](const KeyTable::Entry& e) {
      ++visited;
      if (!r.type.empty() && !iequals(r.type, type_name(e.value.type()))) return;
      if (e.value.expire_at_ms != 0 && e.value.expire_at_ms <= now) return;
      if (!r.pattern.empty() && !glob_match(r.pattern, e.key)) return;
      found->push_back(e.key.view());
    });
    if (tc == 0) {
      ++ks;
      if (ks >= keyspaces_.size()) return 0;
    }
    if (visited >= r.count) return (tc << kKsBits) | ks;
  }
}

void Store::cmd_scan(Args a, int64_t now, resp::Writer& w) {
  ScanRequest r;
  std::string error;
  if (!parse_scan(a, &r, &error)) return w.error(error);
  std::vector<std::string_view> found;
  std::optional<uint64_t> next = scan_keys(r, now, &found);
  if (!next) return w.error("ERR invalid cursor");
  w.array(2);
  w.bulk(std::to_string(*next));
  w.array(found.size());
  for (std::string_view k : found)
    w.bulk(k);
}

void Store::collect_keys(std::string_view pattern, int64_t now,
                         std::vector<std::string_view>* found) const {
  bool all = pattern == "*";
  for (const Keyspace& k : keyspaces_) {
    uint64_t c = 0;
    do {
      c = k.table.scan(c, [&](const KeyTable::Entry& e) {
        if (e.value.expire_at_ms != 0 && e.value.expire_at_ms <= now) return;
        if (all || glob_match(pattern, e.key)) found->push_back(e.key.view());
      });
    } while (c != 0);
  }
}

void Store::cmd_keys(Args a, int64_t now, resp::Writer& w) {
  std::vector<std::string_view> found;
  collect_keys(a[1], now, &found);
  w.array(found.size());
  for (std::string_view k : found)
    w.bulk(k);
}

void Store::cmd_keyspaces(resp::Writer& w) {
  w.array(keyspaces_.size());
  for (const Keyspace& k : keyspaces_) {
    const KeyspaceConfig& c = k.config;
    size_t fields = 5;
    if (c.model == Model::kPrimary) fields += 2;
    if (c.model == Model::kMultiLeader) fields += 1;
    if (c.model == Model::kLeaderless) fields += 3;
    w.map(fields);
    w.bulk("name");
    w.bulk(c.name);
    w.bulk("prefix");
    w.bulk(c.prefix);
    w.bulk("model");
    w.bulk(to_string(c.model));
    w.bulk("keys");
    w.integer(static_cast<int64_t>(k.table.size()));
    w.bulk("expiring");
    w.integer(static_cast<int64_t>(k.expiries.size()));
    if (c.model == Model::kPrimary) {
      w.bulk("commit");
      w.bulk(to_string(c.commit));
      w.bulk("read");
      w.bulk(to_string(c.read));
    } else if (c.model == Model::kMultiLeader) {
      w.bulk("conflict");
      w.bulk(to_string(c.conflict));
    } else {
      w.bulk("n");
      w.integer(c.n);
      w.bulk("r");
      w.integer(c.r);
      w.bulk("w");
      w.integer(c.w);
    }
  }
}

}  // namespace rkv
