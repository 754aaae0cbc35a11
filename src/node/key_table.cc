#include "node/key_table.h"

#include <xxhash.h>

namespace rkv {

namespace {
constexpr size_t kMinBuckets = 16;
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

KeyTable::Entry* KeyTable::find(std::string_view key) {
  const uint64_t h = hash_of(key);
  for (Entry* e = buckets_[h & (buckets_.size() - 1)].get(); e; e = e->next.get()) {
    if (e->hash == h && e->key == key) return e;
  }
  return nullptr;
}

KeyTable::Entry* KeyTable::upsert(std::string_view key, bool* inserted) {
  const uint64_t h = hash_of(key);
  auto& head = buckets_[h & (buckets_.size() - 1)];
  for (Entry* e = head.get(); e; e = e->next.get()) {
    if (e->hash == h && e->key == key) {
      *inserted = false;
      return e;
    }
  }
  auto e = std::make_unique<Entry>();
  e->key.assign(key);
  e->hash = h;
  e->next = std::move(head);
  head = std::move(e);
  Entry* result = head.get();
  ++size_;
  payload_bytes_ += key.size();
  *inserted = true;
  if (size_ > buckets_.size()) resize(buckets_.size() * 2);
  return result;
}

bool KeyTable::erase(std::string_view key) {
  const uint64_t h = hash_of(key);
  std::unique_ptr<Entry>* link = &buckets_[h & (buckets_.size() - 1)];
  while (*link) {
    Entry* e = link->get();
    if (e->hash == h && e->key == key) {
      payload_bytes_ -= e->key.size() + e->value.data.size();
      *link = std::move(e->next);  // destroys e
      --size_;
      if (buckets_.size() > kMinBuckets && size_ < buckets_.size() / 8) {
        resize(buckets_.size() / 2);
      }
      return true;
    }
    link = &e->next;
  }
  return false;
}

void KeyTable::clear() {
  // Unlink chains iteratively: recursive unique_ptr destruction could overflow the stack.
  for (auto& head : buckets_) {
    while (head)
      head = std::move(head->next);
  }
  buckets_.clear();
  buckets_.resize(kMinBuckets);
  size_ = 0;
  payload_bytes_ = 0;
}

void KeyTable::resize(size_t new_buckets) {
  RKV_ASSERT((new_buckets & (new_buckets - 1)) == 0);
  std::vector<std::unique_ptr<Entry>> fresh(new_buckets);
  const uint64_t mask = new_buckets - 1;
  for (auto& head : buckets_) {
    while (head) {
      std::unique_ptr<Entry> e = std::move(head);
      head = std::move(e->next);
      auto& dst = fresh[e->hash & mask];
      e->next = std::move(dst);
      dst = std::move(e);
    }
  }
  buckets_ = std::move(fresh);
}

}  // namespace rkv
