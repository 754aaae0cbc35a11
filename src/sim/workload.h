// Client workloads whose correctness is checkable by construction (STYLE.md item 9), all on
// keys of the replicated `accounts` keyspace:
//   registers  GET / SET / SET .. IFEQ (cas) / INCR on a few keys      -> check_linearizable
//   set        APPEND "e<n>," of unique elements; GET parsed as members -> check_set
//   counter    INCRBY random deltas; GET                                -> check_counter
// A Workload turns a draw into a command plus the check::Op it will be recorded as, and turns
// the node's reply into the op's outcome.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "check/history.h"
#include "core/random.h"
#include "sim/options.h"
#include "sim/reply.h"

namespace rkv::sim {

enum class Family : unsigned char { kRegister, kSet, kCounter };

// One client operation in flight.
struct ClientOp {
  Family family = Family::kRegister;
  int client = -1;                // issuing client (registers: whose cas memory to update)
  int key_index = -1;             // registers: index of the key
  std::vector<std::string> args;  // the command, name first
  check::Op op;                   // invoke fields filled; status/complete set on completion
};

class Workload {
 public:
  Workload(WorkloadKind kind, const FaultMix& mix, int clients);

  // Draws the next operation of client `client`.
  ClientOp next(int client, Random& rng);
  // Reads of every set and counter key (issued once writes stop, before the final checks).
  std::vector<ClientOp> final_reads() const;

  // Sets op.status (and the read value) from the reply.
  void complete(ClientOp& c, const Reply& r);

  // Error replies that prove the command did not run (-TRYAGAIN, -MOVED, -ERR syntax, ...)
  // are kFail; -TIMEOUT and anything unrecognised are kInfo (it may have run).
  static check::OpStatus classify_error(std::string_view message);

  std::string register_key(int i) const { return "accounts:r" + std::to_string(i); }
  std::string set_key(int i) const { return "accounts:s" + std::to_string(i); }
  std::string counter_key(int i) const { return "accounts:c" + std::to_string(i); }

 private:
  ClientOp next_register(int client, Random& rng);
  ClientOp next_set(Random& rng);
  ClientOp next_counter(Random& rng);
  void note_value(int client, int key, const std::optional<std::string>& v);

  WorkloadKind kind_;
  FaultMix mix_;
  // Last value each client saw per register key: the `expected` of its next cas.
  std::vector<std::vector<std::optional<std::string>>> seen_;
  uint64_t next_element_ = 0;
};

// Splits an APPENDed "e1,e2," string into its members (empty pieces dropped).
std::vector<std::string> split_members(std::string_view s);

}  // namespace rkv::sim
