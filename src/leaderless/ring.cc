#include "leaderless/ring.h"

#include <xxhash.h>

#include <algorithm>
#include <set>
#include <tuple>

#include "core/assert.h"
#include "core/checksum.h"

namespace rkv::leaderless {

namespace {

constexpr double kTwoTo64 = 18446744073709551616.0;

// Above this many replicas wanted, collect() tracks seen nodes in a bitmap instead of scanning
// its output.
constexpr size_t kLinearScanMax = 8;

struct Candidate {
  uint64_t hash;
  const std::string* node;
  uint32_t index;  // token number within the node
  uint32_t owner;  // node index
};

}  // namespace

Ring::Ring(const std::vector<std::string>& members, uint32_t tokens_per_node,
           uint32_t position_bits)
    : members_(members), tokens_per_node_(tokens_per_node) {
  RKV_ASSERT(!members.empty());
  RKV_ASSERT(tokens_per_node >= 1);
  RKV_ASSERT(position_bits >= 1 && position_bits <= 64);
  const uint64_t step = position_bits == 64 ? 1 : uint64_t{1} << (64 - position_bits);
  const uint64_t mask = ~(step - 1);
  const size_t total = members.size() * tokens_per_node;
  RKV_ASSERT_MSG(position_bits == 64 || total <= (uint64_t{1} << position_bits),
                 "more tokens than positions");
  {
    std::vector<std::string> sorted = members;
    std::sort(sorted.begin(), sorted.end());
    RKV_ASSERT_MSG(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end(),
                   "ring members must be distinct");
  }

  std::vector<Candidate> candidates;
  candidates.reserve(total);
  for (uint32_t m = 0; m < members.size(); ++m) {
    for (uint32_t i = 0; i < tokens_per_node; ++i)
      candidates.push_back({token_hash(members[m], i) & mask, &members[m], i, m});
  }
  // A canonical order that does not depend on the config order of the members, so that
  // collisions resolve the same way everywhere.
  std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    return std::tie(a.hash, *a.node, a.index) < std::tie(b.hash, *b.node, b.index);
  });

  std::set<uint64_t> taken;
  std::vector<std::pair<uint64_t, uint32_t>> placed;
  placed.reserve(total);
  for (const Candidate& c : candidates) {
    uint64_t pos = c.hash;
    while (!taken.insert(pos).second)
      pos += step;  // wraps modulo 2^64; terminates because total <= positions
    placed.emplace_back(pos, c.owner);
  }
  std::sort(placed.begin(), placed.end());
  positions_.reserve(total);
  owners_.reserve(total);
  for (const auto& [pos, owner] : placed) {
    positions_.push_back(pos);
    owners_.push_back(owner);
  }
  RKV_ASSERT(std::adjacent_find(positions_.begin(), positions_.end()) == positions_.end());
}

uint64_t Ring::hash_key(std::string_view key) {
  return XXH3_64bits(key.data(), key.size());
}

uint64_t Ring::token_hash(std::string_view node, uint32_t i) {
  std::string buf;
  buf.reserve(node.size() + 8);
  put_u32(buf, static_cast<uint32_t>(node.size()));
  buf.append(node);
  put_u32(buf, i);
  return XXH3_64bits(buf.data(), buf.size());
}

size_t Ring::range_of(uint64_t key_hash) const {
  auto it = std::lower_bound(positions_.begin(), positions_.end(), key_hash);
  if (it == positions_.end()) return 0;  // past the last token: wraps to the first
  return static_cast<size_t>(it - positions_.begin());
}

void Ring::collect(size_t start, size_t n, std::vector<uint32_t>* out) const {
  out->clear();
  n = std::min(n, members_.size());
  if (n == 0) return;
  out->reserve(n);
  const size_t tokens = positions_.size();
  std::vector<bool> seen;
  if (n > kLinearScanMax) seen.assign(members_.size(), false);
  for (size_t k = 0; k < tokens && out->size() < n; ++k) {
    size_t t = start + k;
    if (t >= tokens) t -= tokens;
    const uint32_t owner = owners_[t];
    if (n > kLinearScanMax) {
      if (seen[owner]) continue;
      seen[owner] = true;
    } else if (std::find(out->begin(), out->end(), owner) != out->end()) {
      continue;
    }
    out->push_back(owner);
  }
  RKV_ASSERT(out->size() == n);  // every member owns at least one token
}

void Ring::preference_list(uint64_t key_hash, size_t n, std::vector<uint32_t>* out) const {
  collect(range_of(key_hash), n, out);
}

void Ring::walk(uint64_t key_hash, std::vector<uint32_t>* out) const {
  collect(range_of(key_hash), members_.size(), out);
}

void Ring::range_replicas(size_t range, size_t n, std::vector<uint32_t>* out) const {
  RKV_ASSERT(range < positions_.size());
  collect(range, n, out);
}

uint64_t Ring::range_end(size_t range) const {
  RKV_ASSERT(range < positions_.size());
  return positions_[range];
}

uint32_t Ring::range_owner(size_t range) const {
  RKV_ASSERT(range < owners_.size());
  return owners_[range];
}

const std::string& Ring::member(uint32_t node) const {
  RKV_ASSERT(node < members_.size());
  return members_[node];
}

std::vector<Ring::Ownership> Ring::ownership(size_t n) const {
  std::vector<Ownership> result(members_.size());
  for (uint32_t m = 0; m < members_.size(); ++m)
    result[m] = {m, tokens_per_node_, 0.0, 0.0};
  const size_t tokens = positions_.size();
  std::vector<uint32_t> replicas;
  for (size_t r = 0; r < tokens; ++r) {
    // Unsigned subtraction wraps, which is exactly the arc length of range 0. A single token
    // owns the whole circle, which the subtraction would call 0.
    const uint64_t prev = positions_[r == 0 ? tokens - 1 : r - 1];
    const double share = tokens == 1 ? 1.0 : static_cast<double>(positions_[r] - prev) / kTwoTo64;
    result[owners_[r]].primary_fraction += share;
    collect(r, n, &replicas);
    for (uint32_t node : replicas)
      result[node].replica_fraction += share;
  }
  return result;
}

}  // namespace rkv::leaderless
