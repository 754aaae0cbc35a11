// Gossip: who is alive, spread epidemically (Dynamo §4.8, Cassandra's gossiper, much reduced).
// Membership itself is static (the cluster config); what travels is each node's liveness: a
// generation, fixed for one run of the process (the caller picks one that grows across
// restarts, e.g. the start time), and a version, the node's own heartbeat counter. Every
// gossip interval a node bumps its version and sends every entry it knows to one random peer.
// An entry newer than ours, by (generation, version) in that order, is evidence that its node
// was alive recently, and counts as a heartbeat of that node in its PhiAccrual detector. A
// digest that arrives fresh always holds the sender's own, just-bumped entry, so the sender
// counts too; a duplicated or delayed digest holds nothing new and counts for nobody.
//
// Liveness is a judgment, not a fact: state() maps phi to up / suspect / down for the caller's
// threshold. A peer never heard from since we started is down (Cassandra's rule: nothing is
// assumed alive until gossip says so); a restarted peer (higher generation) gets a fresh
// detector, since its old rhythm says nothing about the new process.
//
// Push-pull is the recommended use: answer each pushed digest with digest() (no version bump).
// Measured with the cluster of gossip_test.cc (5 nodes, 100 ms interval, 1..20 ms delays,
// first_interval_ms = 100, other options default; 300 seeds x 10 s, the test runs 20):
// push-pull spreads news within 6 rounds (mean lag 0.72) and never showed a live node as down
// at threshold 8; push alone lags up to 13 rounds, and a live node then
// looks down 0.06% of the time unless acceptable_pause_ms is ~5 gossip intervals.
//
// Sans-IO and deterministic: time comes in as now_ms, randomness as a number the caller
// draws; encode/decode are the wire form, and decode is total. Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "leaderless/phi_accrual.h"

namespace rkv::leaderless {

struct GossipEntry {
  uint32_t node;
  uint64_t generation;  // bumps each restart (given by the caller)
  uint64_t version;     // the node's own heartbeat counter; 0 right after start()
  bool operator==(const GossipEntry&) const = default;
};

class Gossip {
 public:
  // Largest digest encode() writes and decode() accepts, in entries (one per member).
  static constexpr size_t kMaxDigestEntries = 1u << 16;

  // self < members; the PhiAccrual options apply to every peer's detector.
  Gossip(uint32_t self, size_t members, PhiAccrual::Options o = {});

  // Our own generation, once per process run, before beat(). It should exceed every
  // generation this node used before, or peers will ignore us as stale.
  void start(uint64_t generation);
  bool started() const { return known_[self_]; }

  // Called every gossip interval: bumps our version and returns the digest to send, one entry
  // per node we know (ourselves first, then by node index).
  std::vector<GossipEntry> beat();
  // The same digest without bumping our version: for answering a digest in kind (push-pull),
  // which halves how long news takes to spread without changing our heartbeat rhythm.
  std::vector<GossipEntry> digest() const;

  // A digest from peer `from`, received at now_ms (time never goes backwards). Every entry
  // newer than ours (by generation, then version) replaces it and counts as a heartbeat of its
  // node at now_ms (news of a node heard twice in the same millisecond is one heartbeat, not a
  // zero interval). Entries about ourselves, about unknown node indexes, and digests from
  // ourselves or from an unknown index are ignored. Returns true if anything was new.
  bool on_digest(uint32_t from, std::span<const GossipEntry> entries, int64_t now_ms);

  // The peer to gossip to next, uniform over the others, given a uniformly random number from
  // the caller. With a single member there is no peer: returns self, and the caller sends
  // nothing.
  uint32_t pick_peer(uint64_t random) const;

  enum class State {
    kUp,
    kSuspect,  // phi >= threshold / 2: still counted, but worth reporting
    kDown,     // phi >= threshold, or never heard from
  };
  // Self is always up.
  State state(uint32_t node, int64_t now_ms, double threshold) const;
  // 0 for self; +infinity for a peer never heard from (consistent with state(): down).
  double phi(uint32_t node, int64_t now_ms) const;

  // What we know of `node`: {node, 0, 0} until we hear of it.
  const GossipEntry& entry(uint32_t node) const;
  bool known(uint32_t node) const;
  const PhiAccrual& detector(uint32_t node) const;
  uint32_t self() const { return self_; }
  size_t member_count() const { return entries_.size(); }

  // Wire form: [u8 format = 1][u32 count][count x (u32 node, u64 generation, u64 version)],
  // little endian. encode appends to *out. decode clears *out, and returns false (with *out
  // empty) for anything but one exact, well-formed digest of at most kMaxDigestEntries.
  static void encode(std::span<const GossipEntry> entries, std::string* out);
  static bool decode(std::string_view in, std::vector<GossipEntry>* out);

 private:
  uint32_t self_;
  PhiAccrual::Options options_;
  std::vector<GossipEntry> entries_;   // by node index
  std::vector<bool> known_;            // entries_[i] came from start() or a digest
  std::vector<PhiAccrual> detectors_;  // by node index; self's is unused
};

}  // namespace rkv::leaderless
