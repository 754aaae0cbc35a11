// Helpers shared by the Store's command tests: run a command on a Store or a Node, dump a
// keyspace's content for comparisons, persist a node's pending batch.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "node/list_value.h"
#include "node/node.h"
#include "node/store.h"
#include "storage/storage.h"

namespace rkv::test {

inline constexpr std::string_view kWrongType =
    "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";

inline std::string exec(Store& store, std::vector<std::string_view> a, int proto = 2,
                        int64_t now = 0, ChangeSink* changes = nullptr) {
  const resp::CommandSpec* spec = resp::lookup_command(a[0]);
  EXPECT_NE(spec, nullptr) << a[0];
  if (!spec) return "";
  EXPECT_TRUE(resp::arity_ok(*spec, a.size())) << a[0];
  std::string out;
  resp::Writer w(&out, proto);
  NullSink none;
  store.execute(*spec, a, now, w, changes ? *changes : none);
  return out;
}

// Every key of a keyspace with its type and sorted content, to compare two stores.
inline std::map<std::string, std::string> dump(const Store& store, uint32_t ks = 0) {
  std::map<std::string, std::string> out;
  store.keyspace(ks).table.for_each([&](const KeyTable::Entry& e) {
    std::string v =
        std::string(type_name(e.value.type())) + "@" + std::to_string(e.value.expire_at_ms) + ":";
    if (!e.value.coll) {
      v += e.value.data;
    } else if (const ListValue* l = e.value.coll->list.get()) {  // in order
      l->for_each_from(0, false, [&](size_t, std::string_view x) {
        v += std::string(x) + ",";
        return true;
      });
    } else {
      std::vector<std::string> elems;
      e.value.coll->elems.for_each(
          [&](const KeyTable::Entry& el) { elems.push_back(el.key.str() + "=" + el.value.data); });
      std::sort(elems.begin(), elems.end());
      for (const std::string& s : elems)
        v += s + ",";
      if (e.value.coll->index) {  // a sorted set's order, as its index holds it
        v += "|";
        for (const ZsetIndex::Node* x = e.value.coll->index->first(); x; x = x->next())
          v += std::string(x->member()) + ",";
      }
    }
    out[e.key.str()] = v;
  });
  return out;
}

inline std::string node_run(Node& n, std::vector<std::string_view> a, int64_t now = 0) {
  std::string out;
  resp::Writer w(&out, 2);
  n.execute(*resp::lookup_command(a[0]), a, now, w);
  return out;
}

inline uint64_t persist(Node& n, Storage& s) {
  PersistRequest r = n.take_persist();
  const uint64_t bytes = r.batch.bytes();
  EXPECT_TRUE(s.write(r.batch, r.sync).is_ok());
  n.on_persisted(r.token);
  return bytes;
}

// A command: `head` (name, key, ...) followed by `rest`, which must outlive it.
inline std::vector<std::string_view> command(std::vector<std::string_view> head,
                                             const std::vector<std::string>& rest) {
  head.insert(head.end(), rest.begin(), rest.end());
  return head;
}

// A ZADD of `n` members "m<i>", the score of member i being score(i) (its text).
template <typename ScoreFn>
std::vector<std::string> zadd_pairs(int n, ScoreFn&& score) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(score(i));
    out.push_back("m" + std::to_string(i));
  }
  return out;
}

// A Store with the default keyspaces, and run() to execute a command on it.
class StoreTest : public ::testing::Test {
 protected:
  StoreTest() : store_(Config::defaults().keyspaces) {}
  std::string run(std::vector<std::string_view> a, int proto = 2) {
    return exec(store_, std::move(a), proto);
  }
  Store store_;
};

}  // namespace rkv::test
