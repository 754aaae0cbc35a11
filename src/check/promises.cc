#include "check/promises.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "core/assert.h"

namespace rkv::check {
namespace {

using CM = CommitMode;
using RM = ReadMode;
using P = Promise;

constexpr const char* kQuorumWrites =
    "linearizable: acknowledged once committed on a majority and applied; never lost";
constexpr const char* kAllWrites =
    "linearizable: acknowledged once every replica's log holds them; never lost";
constexpr const char* kFollowerQuorumWrites =
    "linearizable: acknowledged once committed on a majority; never lost (checked with the "
    "final linearizable reads)";
constexpr const char* kFollowerAllWrites =
    "linearizable: acknowledged once every replica's log holds them; never lost (checked with "
    "the final linearizable reads)";
constexpr const char* kAsyncWrites =
    "every acknowledged write missing afterwards is listed by LOSTWRITES, and nothing else is "
    "missing (checked on the final reads after healing)";
constexpr const char* kReadIndexReads =
    "linearizable: the leader confirms it still leads with a majority before serving (ReadIndex)";
constexpr const char* kLeaseReads =
    "linearizable while clock rates drift less than the lease margin (lease_drift_ticks); "
    "ReadIndex when no lease is held";
constexpr const char* kFollowerReads =
    "bounded-stale: a read misses at most entries_behind of the writes acknowledged before its "
    "invoke minus the reported staleness (STALENESS)";
constexpr const char* kAsyncLeaderReads =
    "none: reads may observe acknowledged writes that a failover later loses";
constexpr const char* kAsyncFollowerReads =
    "none: reads may be stale and may observe acknowledged writes that a failover later loses";

// One row per mode, commit-major in enum order.
constexpr std::array<ModePromise, 9> kModes = {{
    {CM::kQuorum, RM::kLinearizable, P::kLinearizable, kReadIndexReads, P::kLinearizable,
     kQuorumWrites},
    {CM::kQuorum, RM::kLease, P::kLinearizable, kLeaseReads, P::kLinearizable, kQuorumWrites},
    {CM::kQuorum, RM::kFollower, P::kBoundedStaleness, kFollowerReads, P::kLinearizable,
     kFollowerQuorumWrites},
    {CM::kAll, RM::kLinearizable, P::kLinearizable, kReadIndexReads, P::kLinearizable, kAllWrites},
    {CM::kAll, RM::kLease, P::kLinearizable, kLeaseReads, P::kLinearizable, kAllWrites},
    {CM::kAll, RM::kFollower, P::kBoundedStaleness, kFollowerReads, P::kLinearizable,
     kFollowerAllWrites},
    {CM::kAsync, RM::kLinearizable, P::kNone, kAsyncLeaderReads, P::kAckedOrListedLost,
     kAsyncWrites},
    {CM::kAsync, RM::kLease, P::kNone, kAsyncLeaderReads, P::kAckedOrListedLost, kAsyncWrites},
    {CM::kAsync, RM::kFollower, P::kNone, kAsyncFollowerReads, P::kAckedOrListedLost, kAsyncWrites},
}};

}  // namespace

const char* promise_name(Promise p) {
  switch (p) {
    case Promise::kNone:
      return "none";
    case Promise::kLinearizable:
      return "linearizable";
    case Promise::kBoundedStaleness:
      return "bounded-staleness";
    case Promise::kAckedOrListedLost:
      return "acked-or-listed-lost";
  }
  RKV_UNREACHABLE();
}

const ModePromise& mode_promise(CommitMode commit, ReadMode read) {
  const auto it = std::find_if(kModes.begin(), kModes.end(), [&](const ModePromise& m) {
    return m.commit == commit && m.read == read;
  });
  RKV_ASSERT_MSG(it != kModes.end(), "a mode without a declared promise");
  return *it;
}

std::span<const ModePromise> every_mode() {
  return kModes;
}

std::string describe_mode_promise(const ModePromise& m) {
  return fmt::format("commit={} read={}: reads {} ({}); writes {} ({})", to_string(m.commit),
                     to_string(m.read), promise_name(m.reads), m.reads_text, promise_name(m.writes),
                     m.writes_text);
}

}  // namespace rkv::check
