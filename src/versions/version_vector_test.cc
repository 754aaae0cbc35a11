#include "versions/version_vector.h"

#include <gtest/gtest.h>

#include <cctype>
#include <string>

#include "core/random.h"
#include "core/varint.h"

namespace rkv::versions {
namespace {

using Order = VersionVector::Order;

VersionVector vv(std::initializer_list<std::pair<ActorId, uint64_t>> entries) {
  VersionVector v;
  for (const auto& [a, c] : entries)
    v.set(a, c);
  return v;
}

VersionVector random_vv(Random& rng, uint64_t actors, uint64_t max_counter) {
  VersionVector v;
  for (uint64_t a = 1; a <= actors; ++a)
    if (rng.chance(0.6)) v.set(a, rng.range(0, max_counter));
  return v;
}

// Actors anywhere in the 64-bit range, counters of every varint length.
VersionVector random_wide_vv(Random& rng) {
  VersionVector v;
  const uint64_t n = rng.uniform(12);
  for (uint64_t i = 0; i < n; ++i) {
    const ActorId a = rng.chance(0.1) ? ~uint64_t{0} : rng.next() >> rng.uniform(64);
    v.set(a, (rng.next() >> rng.uniform(64)) | 1);
  }
  return v;
}

std::string encoded(const VersionVector& v) {
  std::string out;
  v.encode(&out);
  return out;
}

TEST(VersionVector, SetIsExactAddIsMaxZeroRemoves) {
  VersionVector v;
  EXPECT_TRUE(v.empty());
  EXPECT_EQ(v.get(7), 0u);
  v.set(7, 5);
  v.set(3, 2);
  EXPECT_EQ(v.get(7), 5u);
  v.set(7, 1);  // set lowers
  EXPECT_EQ(v.get(7), 1u);
  v.add({7, 0});
  v.add({7, 4});
  v.add({7, 2});  // add never lowers
  EXPECT_EQ(v.get(7), 4u);
  v.add({9, 1});
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v.entries()[0], (std::pair<ActorId, uint64_t>{3, 2}));  // sorted by actor
  EXPECT_EQ(v.entries()[2], (std::pair<ActorId, uint64_t>{9, 1}));
  v.set(3, 0);
  v.set(100, 0);  // removing an absent actor is a no-op
  EXPECT_EQ(v, vv({{7, 4}, {9, 1}}));
}

TEST(VersionVector, CoversTheDotsAtOrBelowEachCounter) {
  const VersionVector v = vv({{1, 3}, {2, 1}});
  EXPECT_TRUE(v.covers({1, 1}));
  EXPECT_TRUE(v.covers({1, 3}));
  EXPECT_FALSE(v.covers({1, 4}));
  EXPECT_TRUE(v.covers({2, 1}));
  EXPECT_FALSE(v.covers({3, 1}));
  EXPECT_TRUE(v.covers({3, 0}));
}

TEST(VersionVector, CompareDistinguishesAllFourOrders) {
  EXPECT_EQ(vv({}).compare(vv({})), Order::kEqual);
  EXPECT_EQ(vv({{1, 2}}).compare(vv({{1, 2}})), Order::kEqual);
  EXPECT_EQ(vv({{1, 1}}).compare(vv({{1, 2}})), Order::kBefore);
  EXPECT_EQ(vv({}).compare(vv({{1, 1}})), Order::kBefore);
  EXPECT_EQ(vv({{1, 2}}).compare(vv({{1, 2}, {2, 1}})), Order::kBefore);  // absent actor = 0
  EXPECT_EQ(vv({{1, 2}, {2, 1}}).compare(vv({{1, 2}})), Order::kAfter);
  EXPECT_EQ(vv({{1, 3}}).compare(vv({{1, 2}, {2, 1}})), Order::kConcurrent);
  EXPECT_EQ(vv({{1, 1}}).compare(vv({{2, 1}})), Order::kConcurrent);
  EXPECT_TRUE(vv({{1, 2}, {2, 1}}).descends(vv({{1, 2}})));
  EXPECT_TRUE(vv({{1, 2}}).descends(vv({{1, 2}})));
  EXPECT_FALSE(vv({{1, 2}}).descends(vv({{2, 1}})));
}

TEST(VersionVector, CompareMergeAndDescendsAgreeWithPointwiseDefinitions) {
  Random rng(7);
  for (int i = 0; i < 3000; ++i) {
    const VersionVector a = random_vv(rng, 5, 3);
    const VersionVector b = random_vv(rng, 5, 3);
    bool le = true, ge = true;
    for (ActorId x = 1; x <= 5; ++x) {
      le &= a.get(x) <= b.get(x);
      ge &= a.get(x) >= b.get(x);
    }
    const Order expected = le && ge ? Order::kEqual
                           : le     ? Order::kBefore
                           : ge     ? Order::kAfter
                                    : Order::kConcurrent;
    ASSERT_EQ(a.compare(b), expected) << a.to_text() << " vs " << b.to_text();
    ASSERT_EQ(a.descends(b), ge);
    ASSERT_EQ(a == b, le && ge);

    VersionVector ab = a;
    ab.merge(b);
    VersionVector ba = b;
    ba.merge(a);
    ASSERT_EQ(ab, ba);
    for (ActorId x = 1; x <= 5; ++x)
      ASSERT_EQ(ab.get(x), std::max(a.get(x), b.get(x)));
    ASSERT_TRUE(ab.descends(a) && ab.descends(b));
    VersionVector aa = a;
    aa.merge(a);
    ASSERT_EQ(aa, a);
    for (const auto& [actor, counter] : ab.entries())
      ASSERT_GE(counter, 1u);
  }
}

TEST(VersionVector, EncodeDecodeRoundTripsAndConsumesExactlyItsBytes) {
  Random rng(11);
  for (int i = 0; i < 2000; ++i) {
    const VersionVector v = random_wide_vv(rng);
    std::string bytes = encoded(v);
    const size_t size = bytes.size();
    bytes += "tail";
    std::string_view in = bytes;
    VersionVector out = vv({{5, 5}});
    ASSERT_TRUE(VersionVector::decode(&in, &out)) << v.to_text();
    EXPECT_EQ(out, v);
    EXPECT_EQ(in, "tail");
    EXPECT_EQ(bytes.size() - in.size(), size);
  }
  EXPECT_EQ(encoded(VersionVector{}), std::string(1, '\0'));
  // Delta-coded actors: 3 nodes at epoch 1 with counters < 128 take 1 + 3 * (5 + 1) bytes (the
  // deltas, 2^32 apart, are as long as the first actor; small epochs cost nothing extra).
  EXPECT_EQ(
      encoded(vv({{(1ull << 32) | 1, 9}, {(2ull << 32) | 1, 100}, {(3ull << 32) | 1, 1}})).size(),
      1u + 3 * (5 + 1));
}

TEST(VersionVector, DecodeRefusesEveryTruncationAndLeavesInputAlone) {
  const std::string bytes = encoded(vv({{1, 300}, {1ull << 40, 2}, {~uint64_t{0}, 1}}));
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::string_view in(bytes.data(), n);
    VersionVector out = vv({{5, 5}});
    EXPECT_FALSE(VersionVector::decode(&in, &out)) << n;
    EXPECT_EQ(in.size(), n);
    EXPECT_EQ(out, vv({{5, 5}}));
  }
}

bool decodes(const std::string& bytes) {
  std::string_view in = bytes;
  VersionVector out;
  return VersionVector::decode(&in, &out);
}

TEST(VersionVector, DecodeRefusesMalformedEntries) {
  std::string ok;
  put_varint(&ok, 2);
  put_varint(&ok, 4);
  put_varint(&ok, 1);
  put_varint(&ok, 3);
  put_varint(&ok, 1);
  EXPECT_TRUE(decodes(ok));  // {4:1, 7:1}

  std::string dup;  // second delta 0: actor 4 twice
  for (uint64_t x : {2, 4, 1, 0, 1})
    put_varint(&dup, x);
  EXPECT_FALSE(decodes(dup));

  std::string zero;  // a zero counter
  for (uint64_t x : {1, 4, 0})
    put_varint(&zero, x);
  EXPECT_FALSE(decodes(zero));

  std::string wrap;  // actor 2^64-1, then +1: would wrap around to 0
  for (uint64_t x : {uint64_t{2}, ~uint64_t{0}, uint64_t{1}, uint64_t{1}, uint64_t{1}})
    put_varint(&wrap, x);
  EXPECT_FALSE(decodes(wrap));

  EXPECT_FALSE(decodes(std::string("\x01\x84\x00\x01", 4)));  // overlong varint (4)
  EXPECT_FALSE(decodes(std::string(11, '\xff')));             // 11-byte varint
  EXPECT_FALSE(decodes(std::string("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 10)));  // > 2^64
  std::string huge;  // a count far beyond what the input could hold
  put_varint(&huge, 1'000'000);
  huge += std::string(100, '\x01');
  EXPECT_FALSE(decodes(huge));
}

TEST(VersionVector, DecodeOfRandomGarbageNeverCrashesAndIsCanonical) {
  Random rng(23);
  int accepted = 0;
  for (int i = 0; i < 5000; ++i) {
    std::string bytes(rng.uniform(24), '\0');
    for (char& c : bytes)
      c = static_cast<char>(rng.chance(0.5) ? rng.uniform(4) : rng.uniform(256));
    std::string_view in = bytes;
    VersionVector out;
    if (!VersionVector::decode(&in, &out)) {
      ASSERT_EQ(in.size(), bytes.size());
      continue;
    }
    ++accepted;
    // Whatever is accepted is well-formed and re-encodes to exactly the bytes consumed.
    ASSERT_EQ(encoded(out), bytes.substr(0, bytes.size() - in.size()));
    for (const auto& [actor, counter] : out.entries())
      ASSERT_GE(counter, 1u);
  }
  EXPECT_GT(accepted, 100);  // the generator does reach the accepting paths
}

TEST(VersionVector, ToTextShowsActorsInHexAndCountersInDecimal) {
  EXPECT_EQ(VersionVector{}.to_text(), "{}");
  EXPECT_EQ(vv({{(1ull << 32) | 2, 3}, {0xab, 12}}).to_text(), "{ab:12,100000002:3}");
  EXPECT_EQ(vv({{0, 1}}).to_text(), "{0:1}");
}

TEST(VersionVector, ContextRoundTripsThroughBase64Url) {
  Random rng(5);
  for (int i = 0; i < 2000; ++i) {
    const VersionVector v = random_wide_vv(rng);
    const std::string ctx = v.to_context();
    for (char c : ctx)
      ASSERT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') << ctx;
    VersionVector out;
    ASSERT_TRUE(VersionVector::from_context(ctx, &out)) << ctx;
    ASSERT_EQ(out, v);
  }
  EXPECT_EQ(VersionVector{}.to_context(), "AA");
  VersionVector out = vv({{1, 1}});
  EXPECT_TRUE(VersionVector::from_context("", &out));  // no context: the empty vector
  EXPECT_TRUE(out.empty());
}

TEST(VersionVector, FromContextRefusesGarbageAndLeavesTheOutputAlone) {
  const VersionVector sentinel = vv({{42, 42}});
  const std::string good = vv({{1, 3}, {2, 7}}).to_context();
  const std::string bad[] = {
      "A",                                    // a length no encoding has
      good + "=",                             // padding is not part of the alphabet
      good.substr(0, good.size() - 1) + "+",  // standard base64, not base64url
      " " + good,                             // whitespace
      good + "AA",                            // trailing bytes after the vector
      "AB",  // non-zero unused bits (the canonical spelling of 0x00 is "AA")
      "_w",  // 0xff: truncated varint
      "hello world",
      std::string("A\0", 2),
  };
  for (const std::string& text : bad) {
    VersionVector out = sentinel;
    EXPECT_FALSE(VersionVector::from_context(text, &out)) << text;
    EXPECT_EQ(out, sentinel);
  }
  Random rng(99);
  for (int i = 0; i < 5000; ++i) {
    std::string text(rng.uniform(20), '\0');
    static constexpr char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/ \n";
    for (char& c : text)
      c = rng.chance(0.9) ? kAlphabet[rng.uniform(sizeof(kAlphabet) - 1)]
                          : static_cast<char>(rng.uniform(256));
    VersionVector out = sentinel;
    if (VersionVector::from_context(text, &out)) {
      ASSERT_EQ(out.to_context(), text.empty() ? "AA" : text);  // one spelling per vector
    } else {
      ASSERT_EQ(out, sentinel);
    }
  }
}

}  // namespace
}  // namespace rkv::versions
