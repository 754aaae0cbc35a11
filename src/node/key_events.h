// KeyEvents: which clients wait for a change to which keys. WATCH (a transaction aborts when a
// watched key changed) and the blocking list pops (a blocked client retries once a key it waits
// on changed) both need to hear about every change applied on this node, whichever path applied
// it: a local write, a write forwarded from another node, a primary keyspace's log entry applied
// on a follower, a snapshot image installed, an expiry. The node reports each change here
// (Node::key_changed); the driver drains the clients it woke with take_fired().
//
// A registration fires once: the change wakes every client registered on the key, and each
// woken client's registrations (on that key and on any other) are dropped, because what it does
// next (abort its transaction, retry its pop and maybe register again) no longer needs them.
// Sans-IO and deterministic: fired clients come out in the order their keys changed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "node/store.h"

namespace rkv {

class KeyEvents {
 public:
  // client waits for a change to key (of keyspace ks). Registering twice is harmless.
  void watch(uint64_t client, uint32_t ks, std::string_view key);
  // Drops every registration of client (it disconnected, or stopped waiting).
  void forget(uint64_t client);
  // key of keyspace ks changed: fires the clients registered on it.
  void changed(uint32_t ks, std::string_view key) {
    if (!by_key_.empty()) fire(slot(ks, key));
  }
  // Every key of keyspace ks may have changed (cleared, or replaced by a snapshot image).
  void cleared(uint32_t ks);
  bool empty() const { return by_key_.empty(); }
  bool watching(uint64_t client) const { return by_client_.count(client) != 0; }
  // The clients fired since the last call, each once, in firing order.
  std::vector<uint64_t> take_fired();

 private:
  static std::string slot(uint32_t ks, std::string_view key);
  void fire(const std::string& slot);

  std::unordered_map<std::string, std::vector<uint64_t>> by_key_;     // slot -> clients
  std::unordered_map<uint64_t, std::vector<std::string>> by_client_;  // client -> slots
  std::vector<uint64_t> fired_;
};

// A ChangeSink that stores nothing and reports every change to a set of KeyEvents: the sink of
// keyspaces whose rows are not stored (a primary keyspace's state is its log), and the tap the
// node's storing sink calls too.
class KeyEventSink final : public ChangeSink {
 public:
  explicit KeyEventSink(std::vector<KeyEvents*> events) : events_(std::move(events)) {}
  void on_put(uint32_t ks, std::string_view key, const Value&) override { changed(ks, key); }
  void on_erase(uint32_t ks, std::string_view key, ValueType) override { changed(ks, key); }
  void on_element(uint32_t ks, std::string_view key, std::string_view,
                  const std::string*) override {
    changed(ks, key);
  }
  void on_clear(uint32_t ks) override {
    for (KeyEvents* e : events_)
      e->cleared(ks);
  }
  // A change made without going through a sink (the undo of a speculative write).
  void changed(uint32_t ks, std::string_view key) {
    for (KeyEvents* e : events_)
      e->changed(ks, key);
  }

 private:
  std::vector<KeyEvents*> events_;
};

}  // namespace rkv
