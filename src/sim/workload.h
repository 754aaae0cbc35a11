// Client workloads whose correctness is checkable by construction (STYLE.md item 9), spread
// over the simulated keyspaces, each keyspace getting the workload its mode's promise can be
// checked on (check/promises.h):
//   linearizable (commit quorum|all, read linearizable|lease), keys "<ks>:r<i>", ":s<i>", ":c<i>":
//     registers  GET / SET / SET .. IFEQ (cas) / INCR               -> check_linearizable
//     set        SADD of unique elements; SMEMBERS                  -> check_set
//     counter    INCRBY random deltas; GET (half the counters: a hash
//                field, HINCRBY / HGET)                             -> check_counter
//                counters of even index only in transactions with a twin key ":c<i>t":
//                MULTI INCRBY c d; INCRBY twin d EXEC, MULTI GET c; GET twin EXEC: the twin
//                must read what the counter reads in every reply (all or nothing visible)
//   bounded staleness (read follower), keys "<ks>:r<i>": SET of unique values, GET (follower
//     reads, recorded with the staleness the node reported)      -> check_bounded_staleness;
//     the SETs with the final linearizable GETs                    -> check_linearizable
//   acknowledged or listed (commit async), keys "<ks>:s<i>": SADD unique elements, SMEMBERS;
//     the SADDs with the final linearizable SMEMBERS and LOSTWRITES -> check_set with listed
//     losses
//   leaderless (model = leaderless), keys "<ks>:l<i>": GET, MGET, SIBLINGS, SET of unique values
//     (some with EX, some with the CONTEXT a SIBLINGS returned), DEL; some with a CONSISTENCY
//     override                                                      -> check/leaderless_checker.h
//   multi-leader (model = multi-leader), keys "<ks>:m<i>" (strings) and "<ks>:ms0", ":mh0",
//     ":ml0" (a set, a hash, a list): GET, SET of unique values, DEL, SADD, HSET, RPUSH; few
//     keys, so that writes at different nodes collide -> the simulator's multi-leader checkers
//     (convergence, no silent loss, the LWW winner), over the nodes' state, not the history
// A Workload turns a draw into a command plus the check::Op it will be recorded as, and turns
// the node's reply into the op's outcome.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "check/history.h"
#include "check/promises.h"
#include "core/config.h"
#include "core/random.h"
#include "sim/options.h"
#include "sim/reply.h"

namespace rkv::sim {

enum class Family : unsigned char { kRegister, kSet, kCounter, kLeaderless, kMultiLeader };

// A keyspace the simulated clients use: its name (also its key prefix, name + ":") and mode.
struct SimKeyspace {
  std::string name;
  check::ModePromise mode;
  double weight = 1;  // share of the operations, relative to the other keyspaces' (> 0)
  // Set for a leaderless keyspace (its n, r, w, conflict); `mode` is then unused.
  std::optional<KeyspaceConfig> leaderless;
  bool multileader = false;  // a multi-leader keyspace (`mode` unused)
  bool crdt = false;         // multi-leader with conflict = crdt
  bool siblings = false;     // multi-leader with conflict = siblings
};

// One client operation in flight.
struct ClientOp {
  Family family = Family::kRegister;
  int keyspace = 0;                   // index into the workload's keyspaces
  int client = -1;                    // issuing client (registers: whose cas memory to update)
  int key_index = -1;                 // registers: index of the key
  std::optional<ReadMode> read_mode;  // a per-request override (READMODE); unset: the keyspace's
  bool final_read = false;            // issued after healing, to judge what the cluster kept
  std::optional<Consistency> consistency;  // leaderless: a per-request CONSISTENCY override
  int replicas = 0;                        // leaderless: replicas the request waits for (R or W)
  std::vector<std::string> args;           // the command, name first
  // Non-empty: sent as one transaction (MULTI ... EXEC) instead of args; the first command is
  // the one `op` records, the others the same on a twin key (counters).
  std::vector<std::vector<std::string>> transaction;
  check::Op op;  // invoke fields filled; status/complete set on completion
};

class Workload {
 public:
  // `keyspaces` must not be empty; `kind` chooses the families of the linearizable ones.
  Workload(WorkloadKind kind, const FaultMix& mix, int clients, std::vector<SimKeyspace> keyspaces);

  // Draws the next operation of client `client`, on a keyspace drawn by weight.
  ClientOp next(int client, Random& rng);
  // Reads, with linearizable reads, of every key whose final state a checker judges: sets and
  // counters of linearizable keyspaces, registers of follower-read ones, sets of async ones.
  std::vector<ClientOp> final_reads() const;

  // Readies `c` to be sent again as a new history record (a retry after an error or timeout):
  // a register write whose checker needs unique values gets a fresh one.
  void prepare_retry(ClientOp& c);
  // Sets op.status (and the read value) from the reply.
  void complete(ClientOp& c, const Reply& r);
  // A reply that broke an invariant checked on the spot (a transaction seen in part), once.
  std::optional<std::string> take_violation() { return std::exchange(violation_, std::nullopt); }

  // Error replies that prove the command did not run (-TRYAGAIN, -MOVED, -ERR syntax, ...)
  // are kFail; -TIMEOUT and anything unrecognised are kInfo (it may have run).
  static check::OpStatus classify_error(std::string_view message);

  const std::vector<SimKeyspace>& keyspaces() const { return keyspaces_; }
  std::string register_key(int ks, int i) const { return key(ks, "r", i); }
  std::string set_key(int ks, int i) const { return key(ks, "s", i); }
  std::string counter_key(int ks, int i) const { return key(ks, "c", i); }
  // The family a key of this workload belongs to, from its name.
  static Family family_of(std::string_view key);

 private:
  std::string key(int ks, const char* family, int i) const {
    return keyspaces_[static_cast<size_t>(ks)].name + ":" + family + std::to_string(i);
  }
  ClientOp next_register(int ks, int client, Random& rng);
  ClientOp next_unique_register(int ks, Random& rng);
  ClientOp next_set(int ks, Random& rng);
  ClientOp next_counter(int ks, Random& rng);
  // Counters of even index change only in transactions that change their twin alike.
  static bool transactional_counter(int i) { return i % 2 == 0; }
  ClientOp counter_op(int ks, int i, check::OpType type, int64_t delta) const;
  void complete_one(ClientOp& c, const Reply& r);
  ClientOp next_leaderless(int ks, int client, Random& rng);
  void complete_leaderless(ClientOp& c, const Reply& r);
  // A SET of `client` names, most of the time, the context its last SIBLINGS of the key read.
  void with_context(ClientOp& c, int client, Random& rng);
  ClientOp next_multileader(int ks, int client, Random& rng);
  // conflict = siblings: GET, SIBLINGS, SET of unique values (some with the CONTEXT the
  // client's last SIBLINGS of the key returned), DEL.
  ClientOp next_multileader_siblings(int ks, int client, Random& rng);
  void complete_multileader(ClientOp& c, const Reply& r);
  std::string leaderless_key(int ks, int i) const { return key(ks, "l", i); }
  void note_value(const ClientOp& c, const std::optional<std::string>& v);
  // Half the counters (by keyspace and key index) are a field of a hash (HINCRBY / HGET), the
  // others strings.
  static constexpr const char* kCounterField = "n";
  static bool counter_hash(int ks, int k) { return (ks + k) % 2 == 1; }

  WorkloadKind kind_;
  FaultMix mix_;
  int clients_;
  std::vector<SimKeyspace> keyspaces_;
  // Last value each client saw per (keyspace, register key): the `expected` of its next cas.
  std::vector<std::optional<std::string>> seen_;
  uint64_t next_element_ = 0;  // unique set elements and unique register values
  // Leaderless and multi-leader siblings: the causal context each (client, key) last read with
  // SIBLINGS, for its next SET.
  std::map<std::pair<int, std::string>, std::string> contexts_;
  std::optional<std::string> violation_;
};

// Splits a recorded command ("SADD k e1") into its words (empty pieces dropped).
std::vector<std::string> split_words(std::string_view s);

}  // namespace rkv::sim
