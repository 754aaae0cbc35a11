// What each replication mode of a primary keyspace promises its clients, declared in one
// place. The simulator and the fault lab run keyspaces in every mode side by side, look each
// mode up here, and judge its histories with the checker its promise names; the one-line texts
// say in words what a verdict is about.
#pragma once

#include <span>
#include <string>

#include "core/config.h"

namespace rkv::check {

// A checkable promise, and the checker that verifies it.
enum class Promise : unsigned char {
  kNone,               // nothing checkable: the histories are recorded, not judged
  kLinearizable,       // check_linearizable (registers); check_set / check_counter per workload
  kBoundedStaleness,   // check_bounded_staleness, with the replica's reported staleness
  kAckedOrListedLost,  // check_set with SetCheckOptions::listed_lost, judged on the final reads
};

// "none", "linearizable", "bounded-staleness", "acked-or-listed-lost".
const char* promise_name(Promise p);

// The promise of one (commit, read) mode, for its reads and for its writes.
struct ModePromise {
  CommitMode commit;
  ReadMode read;
  Promise reads;
  const char* reads_text;  // one line, no trailing period
  Promise writes;
  const char* writes_text;
};

// The promise of a primary keyspace configured with `commit` and `read`. Every combination
// has one; the reference is to static storage.
const ModePromise& mode_promise(CommitMode commit, ReadMode read);

// Every (commit, read) combination of a primary keyspace, each once, ordered by commit mode then
// read mode (enum order): what a simulator iterates to run "every mode".
std::span<const ModePromise> every_mode();

// "commit=quorum read=follower: reads bounded-staleness (...); writes linearizable (...)".
std::string describe_mode_promise(const ModePromise& m);

}  // namespace rkv::check
