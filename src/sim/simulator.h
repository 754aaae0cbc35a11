// The deterministic cluster simulator (DESIGN.md §2 "sim", §5 layer 2). Every node of a
// `primary` cluster runs in this process as a sans-IO rkv::Node driven by one discrete-event
// queue: a simulated network (delay, loss, duplication, reordering, partitions of every shape),
// simulated disks (MemStorage; a crash loses what was not synced and may tear the last write),
// simulated clocks (offset, drift, forward jumps), pauses, and simulated clients that go through
// Node::execute like real connections. One seeded rkv::Random drives everything, so a seed
// reproduces a run byte for byte; the trace hash proves it.
//
// A run has four phases:
//   safety     clients issue `ops` operations while the nemesis injects the seed's fault mix;
//              Raft invariants are checked after every event.
//   liveness   everything heals (partitions, crashed and paused nodes, loss); every client op
//              started now must succeed (retrying on errors, as clients do) within
//              liveness_bound_ms of simulated time.
//   final      reads of every set and counter key.
//   quiesce    replicas must converge to identical `accounts` contents.
// Then the histories go through check_linearizable / check_set / check_counter.
// The leaderless and multi-leader models (SimOptions::model) run the same phases on one keyspace
// of their model and judge it with their own checkers (docs/simulator.md). Multi-leader runs
// also spread the nodes over regions (sim/regions.h): WAN links between them.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "check/history.h"
#include "sim/options.h"

namespace rkv::sim {

struct SimStats {
  uint64_t events = 0;
  int64_t sim_us = 0;
  double wall_seconds = 0;
  int64_t ops_ok = 0, ops_fail = 0, ops_info = 0;
  uint64_t messages_sent = 0, messages_dropped = 0, messages_duplicated = 0;
  uint64_t crashes = 0, torn_crashes = 0, pauses = 0, partitions = 0, clock_jumps = 0;
  // Full-disk faults, and batches a full disk refused (each refused once, retried until written
  // or dropped by a crash).
  uint64_t disk_fulls = 0, refused_batches = 0;
  // Leadership transfers Raft leaders started because their disk was full (summed over every
  // incarnation of every node).
  uint64_t disk_handoffs = 0;
  uint64_t persists = 0, invariant_checks = 0;
  uint64_t max_term = 0;            // highest Raft term seen (elections happened)
  uint64_t max_snapshot_index = 0;  // highest snapshot index seen (the log was compacted)
  // Snapshot images a leader let go of and read back from their blob to send to a follower.
  uint64_t images_read_back = 0;
  // Images written in parts that did not finish: a part met a full disk.
  uint64_t images_cut_short = 0;
  bool raft_active = false;  // Node::raft_group returned groups: Raft was under test
  // Coverage of the modes' promises: acknowledged async writes the nodes listed as lost (by
  // LOSTWRITES), and follower reads that reported being behind (staleness or entries).
  uint64_t lost_writes_listed = 0, stale_follower_reads = 0;
  // Leaderless model: how long after the clients stopped every key's home replicas held equal
  // objects (-1: not measured), and coverage of its repair paths and conflict handling, summed
  // over the nodes' last incarnations (a crash resets a node's counters).
  int64_t converge_ms = -1;
  uint64_t max_siblings = 0, lww_discarded = 0, read_repairs = 0, hints_delivered = 0,
           sync_keys = 0, hints_left = 0;
  // Writes a replica refused (a full disk): sent on to a stand-in (sloppy), or failed short of W.
  uint64_t refusals_redirected = 0, writes_refused = 0;
  // Multi-leader model (converge_ms and lww_discarded too): coverage of its catch-up paths,
  // summed over the nodes' last incarnations.
  uint64_t resends = 0, state_transfers = 0, tombstones_collected = 0, clock_skew_reports = 0;
  // Multi-leader regions (sim/regions.h): how many, and the messages sent between two of them
  // (lost ones included) with the shortest and longest one-way delay drawn for them.
  int regions = 1;
  uint64_t wan_messages = 0;
  int64_t wan_delay_min_us = 0, wan_delay_max_us = 0;
  uint64_t siblings_created = 0;  // conflict = siblings (max_siblings: most keys holding >1)

  int64_t ops() const { return ops_ok + ops_fail + ops_info; }
};

struct SimResult {
  bool ok = true;
  std::string failure;  // what failed first (empty when ok), several lines
  std::string notes;    // non-fatal remarks (e.g. a checker's "unknown" verdict)
  std::string params;   // every parameter the seed drew, as printed
  uint64_t trace_hash = 0;
  SimStats stats;
  std::vector<check::Op> history;  // when options.collect_history
};

// Runs one seed. Progress and the drawn parameters go to `log` when it is non-null.
SimResult run_simulation(const SimOptions& options, std::ostream* log = nullptr);

}  // namespace rkv::sim
