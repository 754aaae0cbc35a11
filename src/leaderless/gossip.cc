#include "leaderless/gossip.h"

#include <limits>
#include <tuple>

#include "core/assert.h"
#include "core/checksum.h"

namespace rkv::leaderless {

namespace {

constexpr uint8_t kDigestFormat = 1;
constexpr size_t kHeaderBytes = 1 + 4;
constexpr size_t kEntryBytes = 4 + 8 + 8;

bool newer(const GossipEntry& a, const GossipEntry& b) {
  return std::tie(a.generation, a.version) > std::tie(b.generation, b.version);
}

}  // namespace

Gossip::Gossip(uint32_t self, size_t members, PhiAccrual::Options o)
    : self_(self), options_(o), known_(members, false), detectors_(members, PhiAccrual(o)) {
  RKV_ASSERT(self < members);
  RKV_ASSERT(members <= kMaxDigestEntries);
  entries_.reserve(members);
  for (uint32_t n = 0; n < members; ++n)
    entries_.push_back({n, 0, 0});
}

void Gossip::start(uint64_t generation) {
  RKV_ASSERT_MSG(!started(), "start() once per process run");
  entries_[self_] = {self_, generation, 0};
  known_[self_] = true;
}

std::vector<GossipEntry> Gossip::beat() {
  RKV_ASSERT_MSG(started(), "beat() before start()");
  ++entries_[self_].version;
  return digest();
}

std::vector<GossipEntry> Gossip::digest() const {
  RKV_ASSERT_MSG(started(), "digest() before start()");
  std::vector<GossipEntry> digest;
  digest.reserve(entries_.size());
  digest.push_back(entries_[self_]);
  for (uint32_t n = 0; n < entries_.size(); ++n) {
    if (n != self_ && known_[n]) digest.push_back(entries_[n]);
  }
  return digest;
}

bool Gossip::on_digest(uint32_t from, std::span<const GossipEntry> entries, int64_t now_ms) {
  if (from >= entries_.size() || from == self_) return false;
  bool any_new = false;
  for (const GossipEntry& e : entries) {
    if (e.node >= entries_.size() || e.node == self_) continue;
    GossipEntry& ours = entries_[e.node];
    if (known_[e.node] && !newer(e, ours)) continue;
    if (known_[e.node] && e.generation != ours.generation) {
      detectors_[e.node] = PhiAccrual(options_);  // a new process: its old rhythm is void
    }
    ours = e;
    known_[e.node] = true;
    PhiAccrual& d = detectors_[e.node];
    if (!d.has_heartbeat() || d.last_heartbeat_ms() != now_ms) d.heartbeat(now_ms);
    any_new = true;
  }
  return any_new;
}

uint32_t Gossip::pick_peer(uint64_t random) const {
  const uint64_t peers = entries_.size() - 1;
  if (peers == 0) return self_;
  // Multiply-high maps the 64-bit number onto [0, peers) without the bias of a modulo.
  const auto k = static_cast<uint32_t>((static_cast<unsigned __int128>(random) * peers) >> 64);
  return k >= self_ ? k + 1 : k;
}

Gossip::State Gossip::state(uint32_t node, int64_t now_ms, double threshold) const {
  RKV_ASSERT(node < entries_.size());
  if (node == self_) return State::kUp;
  const double p = phi(node, now_ms);
  if (p >= threshold) return State::kDown;
  if (p >= threshold / 2) return State::kSuspect;
  return State::kUp;
}

double Gossip::phi(uint32_t node, int64_t now_ms) const {
  RKV_ASSERT(node < entries_.size());
  if (node == self_) return 0;
  if (!known_[node]) return std::numeric_limits<double>::infinity();
  return detectors_[node].phi(now_ms);
}

const GossipEntry& Gossip::entry(uint32_t node) const {
  RKV_ASSERT(node < entries_.size());
  return entries_[node];
}

bool Gossip::known(uint32_t node) const {
  RKV_ASSERT(node < entries_.size());
  return known_[node];
}

const PhiAccrual& Gossip::detector(uint32_t node) const {
  RKV_ASSERT(node < entries_.size());
  return detectors_[node];
}

void Gossip::encode(std::span<const GossipEntry> entries, std::string* out) {
  RKV_ASSERT(entries.size() <= kMaxDigestEntries);
  out->reserve(out->size() + kHeaderBytes + entries.size() * kEntryBytes);
  out->push_back(static_cast<char>(kDigestFormat));
  put_u32(*out, static_cast<uint32_t>(entries.size()));
  for (const GossipEntry& e : entries) {
    put_u32(*out, e.node);
    put_u64(*out, e.generation);
    put_u64(*out, e.version);
  }
}

bool Gossip::decode(std::string_view in, std::vector<GossipEntry>* out) {
  out->clear();
  if (in.size() < kHeaderBytes) return false;
  if (static_cast<uint8_t>(in[0]) != kDigestFormat) return false;
  const uint32_t count = get_u32(in.data() + 1);
  // Checked before any allocation, so a forged count costs nothing.
  if (count > kMaxDigestEntries) return false;
  if (in.size() != kHeaderBytes + size_t{count} * kEntryBytes) return false;
  out->reserve(count);
  const char* p = in.data() + kHeaderBytes;
  for (uint32_t i = 0; i < count; ++i, p += kEntryBytes)
    out->push_back({get_u32(p), get_u64(p + 4), get_u64(p + 12)});
  return true;
}

}  // namespace rkv::leaderless
