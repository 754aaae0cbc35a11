#include "node/key_events.h"

#include <algorithm>
#include <cstring>
#include <utility>

namespace rkv {

std::string KeyEvents::slot(uint32_t ks, std::string_view key) {
  std::string s(sizeof(ks) + key.size(), '\0');
  std::memcpy(s.data(), &ks, sizeof(ks));
  std::memcpy(s.data() + sizeof(ks), key.data(), key.size());
  return s;
}

void KeyEvents::watch(uint64_t client, uint32_t ks, std::string_view key) {
  std::string s = slot(ks, key);
  std::vector<uint64_t>& clients = by_key_[s];
  if (std::find(clients.begin(), clients.end(), client) != clients.end()) return;
  clients.push_back(client);
  by_client_[client].push_back(std::move(s));
}

void KeyEvents::forget(uint64_t client) {
  auto it = by_client_.find(client);
  if (it == by_client_.end()) return;
  for (const std::string& s : it->second) {
    auto k = by_key_.find(s);
    if (k == by_key_.end()) continue;
    std::erase(k->second, client);
    if (k->second.empty()) by_key_.erase(k);
  }
  by_client_.erase(it);
}

void KeyEvents::fire(const std::string& s) {
  auto it = by_key_.find(s);
  if (it == by_key_.end()) return;
  const std::vector<uint64_t> clients = std::move(it->second);
  by_key_.erase(it);
  for (uint64_t c : clients) {
    forget(c);
    fired_.push_back(c);
  }
}

void KeyEvents::cleared(uint32_t ks) {
  std::vector<std::string> hit;
  for (const auto& [s, clients] : by_key_) {
    uint32_t k;
    std::memcpy(&k, s.data(), sizeof(k));
    if (k == ks) hit.push_back(s);
  }
  // by_key_'s order is the hash table's: fire in key order so the outcome is deterministic.
  std::sort(hit.begin(), hit.end());
  for (const std::string& s : hit)
    fire(s);
}

std::vector<uint64_t> KeyEvents::take_fired() {
  return std::exchange(fired_, {});
}

}  // namespace rkv
