#include "node/key_events.h"

#include <gtest/gtest.h>

namespace rkv {
namespace {

using Fired = std::vector<uint64_t>;

TEST(KeyEvents, FiresEveryClientOfAKeyOnceAndDropsItsOtherRegistrations) {
  KeyEvents ev;
  ev.watch(1, 0, "a");
  ev.watch(1, 0, "b");
  ev.watch(2, 0, "a");
  ev.watch(2, 0, "a");  // twice: fires once
  ev.watch(3, 1, "a");  // same key name, another keyspace
  ev.changed(0, "zz");
  EXPECT_TRUE(ev.take_fired().empty());
  ev.changed(0, "a");
  EXPECT_EQ(ev.take_fired(), (Fired{1, 2}));
  EXPECT_FALSE(ev.watching(1));
  ev.changed(0, "b");  // client 1's registration on b went with the first firing
  EXPECT_TRUE(ev.take_fired().empty());
  EXPECT_TRUE(ev.watching(3));
  ev.changed(1, "a");
  EXPECT_EQ(ev.take_fired(), (Fired{3}));
  EXPECT_TRUE(ev.empty());
}

TEST(KeyEvents, ForgetAndClear) {
  KeyEvents ev;
  ev.watch(1, 0, "a");
  ev.watch(2, 0, "b");
  ev.watch(3, 1, "c");
  ev.forget(1);
  ev.changed(0, "a");
  EXPECT_TRUE(ev.take_fired().empty());
  ev.cleared(0);
  EXPECT_EQ(ev.take_fired(), (Fired{2}));
  EXPECT_TRUE(ev.watching(3));
  ev.forget(3);
  EXPECT_TRUE(ev.empty());
}

TEST(KeyEvents, SinkReportsEveryKindOfChange) {
  KeyEvents a, b;
  KeyEventSink sink({&a, &b});
  a.watch(1, 0, "k");
  b.watch(2, 0, "k");
  sink.on_element(0, "k", "f", nullptr);
  EXPECT_EQ(a.take_fired(), (Fired{1}));
  EXPECT_EQ(b.take_fired(), (Fired{2}));
  a.watch(1, 0, "k");
  sink.on_put(0, "k", Value("v", 0));
  EXPECT_EQ(a.take_fired(), (Fired{1}));
  a.watch(1, 0, "k");
  sink.on_erase(0, "k", ValueType::kString);
  EXPECT_EQ(a.take_fired(), (Fired{1}));
  a.watch(1, 0, "k");
  sink.on_clear(0);
  EXPECT_EQ(a.take_fired(), (Fired{1}));
}

}  // namespace
}  // namespace rkv
