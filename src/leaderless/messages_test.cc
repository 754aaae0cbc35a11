// The leaderless peer messages: every type survives encode/decode, and decoding is total on
// damaged input (a peer speaking garbage is refused, never trusted or crashed on).
#include "leaderless/messages.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/random.h"

namespace rkv::leaderless {
namespace {

versions::Versioned object(const std::string& value) {
  versions::Versioned v;
  versions::Sibling s;
  s.hlc = 77;
  s.value = value;
  v.update(5, {}, s);
  return v;
}

std::vector<Msg> samples() {
  std::vector<Msg> out;
  Msg w;
  w.type = MsgType::kWrite;
  w.id = 9;
  w.kind = WriteKind::kHint;
  w.hint_for = 2;
  w.key = "k";
  w.object = object("v");
  out.push_back(w);
  Msg list;
  list.type = MsgType::kList;
  list.id = 10;
  list.range = kAllRanges;
  list.payload = "user:*";
  out.push_back(list);
  Msg one = list;
  one.range = 17;
  out.push_back(one);
  Msg reply;
  reply.type = MsgType::kListReply;
  reply.id = 10;
  reply.ok = false;
  reply.objects = {KeyedObject{"a", object("x").without_values()},
                   KeyedObject{"b", object("y").without_values()}};
  out.push_back(reply);
  reply.ok = true;
  reply.objects.clear();
  out.push_back(reply);
  Msg sync;
  sync.type = MsgType::kSyncResponse;
  sync.id = 11;
  sync.range = 3;
  sync.leaves = {1, 4};
  sync.objects = {KeyedObject{"c", object("z")}};
  out.push_back(sync);
  return out;
}

TEST(LeaderlessMessages, EveryTypeRoundTrips) {
  for (const Msg& m : samples()) {
    std::string bytes;
    encode(m, &bytes);
    Msg back;
    ASSERT_TRUE(decode(bytes, &back)) << static_cast<int>(m.type);
    EXPECT_EQ(back.type, m.type);
    EXPECT_EQ(back.id, m.id);
    EXPECT_EQ(back.key, m.key);
    EXPECT_EQ(back.object, m.object);
    EXPECT_EQ(back.range, m.range);
    EXPECT_EQ(back.payload, m.payload);
    EXPECT_EQ(back.ok, m.ok);
    ASSERT_EQ(back.objects.size(), m.objects.size());
    for (size_t i = 0; i < m.objects.size(); ++i) {
      EXPECT_EQ(back.objects[i].key, m.objects[i].key);
      EXPECT_EQ(back.objects[i].object, m.objects[i].object);
    }
  }
}

TEST(LeaderlessMessages, ListingsCarryNoValues) {
  const versions::Versioned v = object("a long value that a key listing must not carry");
  const versions::Versioned bare = v.without_values();
  EXPECT_EQ(bare.context(), v.context());
  ASSERT_EQ(bare.siblings().size(), 1u);
  EXPECT_TRUE(bare.siblings()[0].value.empty());
  EXPECT_EQ(bare.siblings()[0].dot, v.siblings()[0].dot);
  EXPECT_TRUE(bare.well_formed());
}

TEST(LeaderlessMessages, DamagedInputIsRefused) {
  Random rng(42);
  for (const Msg& m : samples()) {
    std::string bytes;
    encode(m, &bytes);
    for (size_t cut = 0; cut < bytes.size(); ++cut) {
      Msg out;
      EXPECT_FALSE(decode(std::string_view(bytes).substr(0, cut), &out)) << cut;
    }
    Msg out;
    EXPECT_FALSE(decode(bytes + "x", &out));  // trailing bytes
    for (int i = 0; i < 2000; ++i) {  // random corruption: decodes or refuses, never crashes
      std::string bad = bytes;
      bad[rng.uniform(bad.size())] = static_cast<char>(rng.next());
      Msg any;
      if (decode(bad, &any)) {
        for (const KeyedObject& ko : any.objects)
          EXPECT_TRUE(ko.object.well_formed());
      }
    }
  }
  Msg out;
  EXPECT_FALSE(decode(std::string(1, static_cast<char>(14)), &out));  // unknown type
  EXPECT_FALSE(decode(std::string(1, static_cast<char>(MsgType::kBatch)), &out));
}

}  // namespace
}  // namespace rkv::leaderless
