#include "node/key_table.h"

#include <xxhash.h>

#include "node/list_value.h"
#include "node/zset_index.h"

namespace rkv {

namespace {
constexpr size_t kMinBuckets = 16;
// Buckets a resize under way moves with each insert or erase: with at least one per insert, a
// doubling finishes before the table has grown enough to need the next one.
constexpr size_t kStepBuckets = 2;
}  // namespace

std::string_view type_name(ValueType t) {
  switch (t) {
    case ValueType::kString:
      return "string";
    case ValueType::kHash:
      return "hash";
    case ValueType::kSet:
      return "set";
    case ValueType::kZset:
      return "zset";
    case ValueType::kList:
      return "list";
  }
  return "none";
}

Collection::Collection(ValueType t)
    : type(t),
      index(t == ValueType::kZset ? std::make_unique<ZsetIndex>() : nullptr),
      list(t == ValueType::kList ? std::make_unique<ListValue>() : nullptr) {}
Collection::~Collection() = default;
size_t Collection::size() const {
  return list ? list->size() : elems.size();
}
size_t Collection::payload_bytes() const {
  return list ? list->payload_bytes() : elems.payload_bytes();
}

void Collection::rebuild_index() {
  RKV_ASSERT(type == ValueType::kZset);
  index->clear();
  elems.for_each([&](const KeyTable::Entry& e) {
    double score = 0;
    const bool ok = decode_score(e.value.data, &score);
    RKV_ASSERT_MSG(ok, "a sorted set member without a valid score");
    index->insert(score, &e);
  });
}

Value::Value() = default;
Value::Value(std::string d, int64_t expire_at) : data(std::move(d)), expire_at_ms(expire_at) {}
Value::Value(ValueType t) : coll(std::make_unique<Collection>(t)) {
  RKV_ASSERT(t != ValueType::kString);
}
Value::~Value() = default;
Value::Value(Value&& o) noexcept = default;
Value& Value::operator=(Value&& o) noexcept = default;
Value::Value(const Value& o) : data(o.data), expire_at_ms(o.expire_at_ms) {
  if (!o.coll) return;
  coll = std::make_unique<Collection>(o.coll->type);
  if (o.coll->list) {
    *coll->list = *o.coll->list;
    return;
  }
  o.coll->elems.for_each([&](const KeyTable::Entry& e) {
    bool inserted = false;
    KeyTable::Entry* c = coll->elems.upsert(e.key, &inserted);
    c->value.data = e.value.data;
    coll->elems.adjust_payload(static_cast<int64_t>(e.value.data.size()));
  });
  if (coll->index) coll->rebuild_index();
}
Value& Value::operator=(const Value& o) {
  if (this != &o) *this = Value(o);
  return *this;
}
ValueType Value::type() const {
  return coll ? coll->type : ValueType::kString;
}

static_assert(sizeof(std::unique_ptr<KeyTable::Entry>) == sizeof(KeyTable::Entry*),
              "a bucket's head is a bare pointer, null when zero (KeyTable::Buckets)");

KeyTable::Buckets::Buckets(size_t n)
    : heads_(static_cast<std::unique_ptr<Entry>*>(std::calloc(n, sizeof(std::unique_ptr<Entry>)))),
      n_(n) {
  RKV_ASSERT_MSG(heads_ != nullptr || n == 0, "out of memory for a key table's buckets");
  RKV_ASSERT(n == 0 || heads_[0] == nullptr);
}

KeyTable::KeyTable() : buckets_(kMinBuckets) {}
KeyTable::~KeyTable() {
  clear();
}

void KeyTable::Key::assign(std::string_view k) {
  RKV_ASSERT(size_ == 0);  // set once, when the entry is made
  RKV_ASSERT(k.size() <= UINT32_MAX);
  size_ = static_cast<uint32_t>(k.size());
  if (size_ <= kInline) {
    if (!k.empty()) std::memcpy(buf_, k.data(), k.size());
    return;
  }
  char* p = new char[k.size()];
  std::memcpy(p, k.data(), k.size());
  std::memcpy(buf_, &p, sizeof(p));
}

uint64_t KeyTable::hash_of(std::string_view key) {
  return XXH3_64bits(key.data(), key.size());
}

uint64_t KeyTable::reverse_bits(uint64_t v) {
  v = ((v >> 1) & 0x5555555555555555ull) | ((v & 0x5555555555555555ull) << 1);
  v = ((v >> 2) & 0x3333333333333333ull) | ((v & 0x3333333333333333ull) << 2);
  v = ((v >> 4) & 0x0f0f0f0f0f0f0f0full) | ((v & 0x0f0f0f0f0f0f0f0full) << 4);
  v = ((v >> 8) & 0x00ff00ff00ff00ffull) | ((v & 0x00ff00ff00ff00ffull) << 8);
  v = ((v >> 16) & 0x0000ffff0000ffffull) | ((v & 0x0000ffff0000ffffull) << 16);
  return (v >> 32) | (v << 32);
}

std::unique_ptr<KeyTable::Entry>* KeyTable::locate(std::string_view key, uint64_t h) {
  if (rehashing()) {
    const size_t i = h & (old_.size() - 1);
    if (i >= migrated_) {
      for (std::unique_ptr<Entry>* link = &old_[i]; *link; link = &(*link)->next) {
        if ((*link)->hash == h && (*link)->key == key) return link;
      }
    }
  }
  std::unique_ptr<Entry>* link = &buckets_[h & (buckets_.size() - 1)];
  for (; *link; link = &(*link)->next) {
    if ((*link)->hash == h && (*link)->key == key) return link;
  }
  return link;
}

KeyTable::Entry* KeyTable::find(std::string_view key) {
  const uint64_t h = hash_of(key);
  if (!rehashing()) {  // the common case, kept to one chain walk
    for (Entry* e = buckets_[h & (buckets_.size() - 1)].get(); e; e = e->next.get()) {
      if (e->hash == h && e->key == key) return e;
    }
    return nullptr;
  }
  return locate(key, h)->get();
}

KeyTable::Entry* KeyTable::upsert(std::string_view key, bool* inserted) {
  rehash_step(kStepBuckets);
  const uint64_t h = hash_of(key);
  std::unique_ptr<Entry>* link = locate(key, h);
  if (*link) {
    *inserted = false;
    return link->get();
  }
  auto& head = buckets_[h & (buckets_.size() - 1)];
  auto e = std::make_unique<Entry>();
  e->key.assign(key);
  e->hash = h;
  e->next = std::move(head);
  head = std::move(e);
  Entry* result = head.get();
  ++size_;
  payload_bytes_ += key.size();
  *inserted = true;
  maybe_resize();
  return result;
}

bool KeyTable::erase(std::string_view key) {
  rehash_step(kStepBuckets);
  std::unique_ptr<Entry>* link = locate(key, hash_of(key));
  if (!*link) return false;
  Entry* e = link->get();
  payload_bytes_ -= e->key.size() + e->value.data.size();
  *link = std::move(e->next);  // destroys e
  --size_;
  maybe_resize();
  return true;
}

void KeyTable::maybe_resize() {
  if (rehashing()) return;  // the move under way finishes first
  if (size_ > buckets_.size()) {
    start_resize(buckets_.size() * 2);
  } else if (buckets_.size() > kMinBuckets && size_ < buckets_.size() / 8) {
    start_resize(buckets_.size() / 2);
  }
}

void KeyTable::start_resize(size_t new_buckets) {
  RKV_ASSERT((new_buckets & (new_buckets - 1)) == 0 && !rehashing());
  old_ = std::move(buckets_);
  buckets_ = Buckets(new_buckets);
  migrated_ = 0;
}

bool KeyTable::rehash_step(size_t max_buckets) {
  if (!rehashing()) return false;
  const uint64_t mask = buckets_.size() - 1;
  // Empty buckets cost little to pass, but are bounded too.
  size_t empty_budget = max_buckets * 10;
  while (max_buckets > 0 && migrated_ < old_.size()) {
    std::unique_ptr<Entry>& head = old_[migrated_];
    if (!head) {
      ++migrated_;
      if (--empty_budget == 0) break;
      continue;
    }
    while (head) {
      std::unique_ptr<Entry> e = std::move(head);
      head = std::move(e->next);
      auto& dst = buckets_[e->hash & mask];
      e->next = std::move(dst);
      dst = std::move(e);
    }
    ++migrated_;
    --max_buckets;
  }
  if (migrated_ < old_.size()) return true;
  old_ = Buckets();
  migrated_ = 0;
  return false;
}

void KeyTable::clear() {
  // Unlink chains iteratively: recursive unique_ptr destruction could overflow the stack.
  for (auto* t : {&buckets_, &old_}) {
    for (auto& head : *t) {
      while (head)
        head = std::move(head->next);
    }
  }
  old_ = Buckets();
  migrated_ = 0;
  buckets_ = Buckets(kMinBuckets);
  size_ = 0;
  payload_bytes_ = 0;
}

}  // namespace rkv
