#include "sim/workload.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <utility>

#include "core/assert.h"

namespace rkv::sim {

using check::OpStatus;
using check::OpType;

std::vector<std::string> split_words(std::string_view s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < s.size()) {
    size_t end = s.find(' ', start);
    if (end == std::string_view::npos) end = s.size();
    if (end > start) out.emplace_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

Workload::Workload(WorkloadKind kind, const FaultMix& mix, int clients,
                   std::vector<SimKeyspace> keyspaces)
    : kind_(kind),
      mix_(mix),
      clients_(clients),
      keyspaces_(std::move(keyspaces)),
      seen_(keyspaces_.size() * static_cast<size_t>(clients) *
            static_cast<size_t>(mix.register_keys)) {
  RKV_ASSERT(!keyspaces_.empty());
}

Family Workload::family_of(std::string_view key) {
  const size_t colon = key.rfind(':');
  const char f = colon + 1 < key.size() ? key[colon + 1] : 'r';
  return f == 's'   ? Family::kSet
         : f == 'c' ? Family::kCounter
         : f == 'l' ? Family::kLeaderless
         : f == 'm' ? Family::kMultiLeader
                    : Family::kRegister;
}

ClientOp Workload::next(int client, Random& rng) {
  double total = 0;
  for (const SimKeyspace& k : keyspaces_)
    total += k.weight;
  double r = rng.unit() * total;
  int ks = 0;
  while (ks + 1 < static_cast<int>(keyspaces_.size()) &&
         (r -= keyspaces_[static_cast<size_t>(ks)].weight) >= 0) {
    ++ks;
  }
  if (keyspaces_[static_cast<size_t>(ks)].leaderless) return next_leaderless(ks, client, rng);
  if (keyspaces_[static_cast<size_t>(ks)].multileader) return next_multileader(ks, client, rng);
  const check::ModePromise& m = keyspaces_[static_cast<size_t>(ks)].mode;
  if (m.writes == check::Promise::kAckedOrListedLost) return next_set(ks, rng);
  if (m.reads == check::Promise::kBoundedStaleness) return next_unique_register(ks, rng);
  Family f = Family::kRegister;
  switch (kind_) {
    case WorkloadKind::kRegisters:
      break;
    case WorkloadKind::kSet:
      f = Family::kSet;
      break;
    case WorkloadKind::kCounter:
      f = Family::kCounter;
      break;
    case WorkloadKind::kAll: {
      const uint64_t r = rng.uniform(10);
      f = r < 6 ? Family::kRegister : r < 8 ? Family::kSet : Family::kCounter;
      break;
    }
  }
  switch (f) {
    case Family::kRegister:
      return next_register(ks, client, rng);
    case Family::kSet:
      return next_set(ks, rng);
    case Family::kCounter:
      return next_counter(ks, rng);
    case Family::kLeaderless:  // drawn above only for leaderless and multi-leader keyspaces
    case Family::kMultiLeader:
      break;
  }
  return next_register(ks, client, rng);
}

ClientOp Workload::next_register(int ks, int client, Random& rng) {
  ClientOp c;
  c.family = Family::kRegister;
  c.keyspace = ks;
  const int k = static_cast<int>(rng.uniform(static_cast<uint64_t>(mix_.register_keys)));
  c.op.key = register_key(ks, k);
  c.client = client;
  c.key_index = k;
  const uint64_t r = rng.uniform(100);
  if (r < 40) {
    c.op.type = OpType::kGet;
    c.args = {"GET", c.op.key};
  } else if (r < 65) {
    c.op.type = OpType::kSet;
    c.op.value = std::to_string(rng.uniform(1'000'000));
    c.args = {"SET", c.op.key, *c.op.value};
  } else if (r < 85) {
    // Compare against what this client last saw, so that many cas attempts can succeed.
    const auto& seen = seen_[(static_cast<size_t>(ks) * static_cast<size_t>(clients_) +
                              static_cast<size_t>(client)) *
                                 static_cast<size_t>(mix_.register_keys) +
                             static_cast<size_t>(k)];
    c.op.type = OpType::kCas;
    c.op.expected = seen ? *seen : std::to_string(rng.uniform(1'000'000));
    c.op.value = std::to_string(rng.uniform(1'000'000));
    c.args = {"SET", c.op.key, *c.op.value, "IFEQ", *c.op.expected};
  } else {
    c.op.type = OpType::kIncr;
    c.op.delta = 1;
    c.args = {"INCR", c.op.key};
  }
  return c;
}

ClientOp Workload::next_unique_register(int ks, Random& rng) {
  ClientOp c;
  c.family = Family::kRegister;
  c.keyspace = ks;
  c.op.key =
      register_key(ks, static_cast<int>(rng.uniform(static_cast<uint64_t>(mix_.register_keys))));
  if (rng.uniform(2) == 0) {
    c.op.type = OpType::kGet;
    c.args = {"GET", c.op.key};
  } else {
    c.op.type = OpType::kSet;
    c.op.value = "v" + std::to_string(next_element_++);
    c.args = {"SET", c.op.key, *c.op.value};
  }
  return c;
}

ClientOp Workload::next_set(int ks, Random& rng) {
  ClientOp c;
  c.family = Family::kSet;
  c.keyspace = ks;
  c.op.key = set_key(ks, static_cast<int>(rng.uniform(static_cast<uint64_t>(mix_.set_keys))));
  if (rng.uniform(4) == 0) {
    c.op.type = OpType::kSmembers;
    c.args = {"SMEMBERS", c.op.key};
  } else {
    c.op.type = OpType::kSadd;
    c.op.value = "e" + std::to_string(next_element_++);
    c.args = {"SADD", c.op.key, *c.op.value};
  }
  return c;
}

ClientOp Workload::next_counter(int ks, Random& rng) {
  const int i = static_cast<int>(rng.uniform(static_cast<uint64_t>(mix_.counter_keys)));
  if (rng.uniform(3) == 0) return counter_op(ks, i, OpType::kGet, 0);
  return counter_op(ks, i, OpType::kIncr, static_cast<int64_t>(rng.range(0, 12)) - 4);  // -4..8
}

ClientOp Workload::counter_op(int ks, int i, OpType type, int64_t delta) const {
  ClientOp c;
  c.family = Family::kCounter;
  c.keyspace = ks;
  c.op.key = counter_key(ks, i);
  c.op.type = type;
  const bool hash = counter_hash(ks, i);  // a field of a hash rather than a string
  const auto command = [&](const std::string& key) -> std::vector<std::string> {
    if (type == OpType::kGet) {
      return hash ? std::vector<std::string>{"HGET", key, kCounterField}
                  : std::vector<std::string>{"GET", key};
    }
    return hash ? std::vector<std::string>{"HINCRBY", key, kCounterField, std::to_string(delta)}
                : std::vector<std::string>{"INCRBY", key, std::to_string(delta)};
  };
  if (type == OpType::kIncr) c.op.delta = delta;
  c.args = command(c.op.key);
  if (transactional_counter(i)) c.transaction = {c.args, command(c.op.key + "t")};
  return c;
}

void Workload::prepare_retry(ClientOp& c) {
  check::Op& op = c.op;
  op.status = OpStatus::kOk;
  op.members.clear();
  op.staleness_ms.reset();
  op.entries_behind.reset();
  if (op.type == OpType::kGet || op.type == OpType::kIncr) op.value.reset();
  if (c.family == Family::kLeaderless || c.family == Family::kMultiLeader) {
    if (op.type == OpType::kSet) {  // every SET writes a value of its own (the ledger's key)
      op.value = "v" + std::to_string(next_element_++);
      c.args[2] = *op.value;
    }
    return;
  }
  const check::ModePromise& m = keyspaces_[static_cast<size_t>(c.keyspace)].mode;
  if (op.type == OpType::kSet && m.reads == check::Promise::kBoundedStaleness) {
    op.value = "v" + std::to_string(next_element_++);
    c.args = {"SET", op.key, *op.value};
  }
}

std::vector<ClientOp> Workload::final_reads() const {
  std::vector<ClientOp> out;
  auto read = [&](int ks, Family f, OpType t, std::string key) {
    ClientOp c;
    c.family = f;
    c.keyspace = ks;
    c.op.type = t;
    c.op.key = std::move(key);
    c.args = {t == OpType::kSmembers ? "SMEMBERS" : "GET", c.op.key};
    if (f != Family::kLeaderless) c.read_mode = ReadMode::kLinearizable;
    if (const auto& l = keyspaces_[static_cast<size_t>(ks)].leaderless) c.replicas = l->r;
    c.final_read = true;
    out.push_back(std::move(c));
  };
  const bool sets = kind_ == WorkloadKind::kSet || kind_ == WorkloadKind::kAll;
  const bool counters = kind_ == WorkloadKind::kCounter || kind_ == WorkloadKind::kAll;
  for (int ks = 0; ks < static_cast<int>(keyspaces_.size()); ++ks) {
    const check::ModePromise& m = keyspaces_[static_cast<size_t>(ks)].mode;
    if (keyspaces_[static_cast<size_t>(ks)].multileader) {
      continue;  // judged from the nodes' state once they converged
    }
    if (keyspaces_[static_cast<size_t>(ks)].leaderless) {
      for (int i = 0; i < mix_.register_keys; ++i)
        read(ks, Family::kLeaderless, OpType::kGet, leaderless_key(ks, i));
    } else if (m.writes == check::Promise::kAckedOrListedLost) {
      for (int i = 0; i < mix_.set_keys; ++i)
        read(ks, Family::kSet, OpType::kSmembers, set_key(ks, i));
    } else if (m.reads == check::Promise::kBoundedStaleness) {
      for (int i = 0; i < mix_.register_keys; ++i)
        read(ks, Family::kRegister, OpType::kGet, register_key(ks, i));
    } else {
      for (int i = 0; sets && i < mix_.set_keys; ++i)
        read(ks, Family::kSet, OpType::kSmembers, set_key(ks, i));
      for (int i = 0; counters && i < mix_.counter_keys; ++i) {
        ClientOp c = counter_op(ks, i, OpType::kGet, 0);
        c.read_mode = ReadMode::kLinearizable;
        c.final_read = true;
        out.push_back(std::move(c));
      }
    }
  }
  return out;
}

OpStatus Workload::classify_error(std::string_view m) {
  // Refusals that happen before anything is proposed or applied.
  // UNAVAILABLE: a leaderless coordinator found too few replicas up and applied nothing.
  static constexpr std::array<std::string_view, 14> kNotExecuted = {
      "TRYAGAIN",         "MOVED",      "ASK",         "NOTLEADER",
      "READONLY",         "LOADING",    "CLUSTERDOWN", "WRONGTYPE",
      "ERR wrong number", "ERR syntax", "ERR unknown", "ERR value is not",
      "NOLEADER",         "UNAVAILABLE"};
  for (std::string_view p : kNotExecuted) {
    if (m.substr(0, p.size()) == p) return OpStatus::kFail;
  }
  return OpStatus::kInfo;
}

namespace {

// A GET's reply: a bulk string is the value, nil is no value, anything else proves nothing.
void complete_get(check::Op& op, const Reply& r) {
  if (r.kind == Reply::kBulk) {
    op.value = r.text;
  } else if (r.kind == Reply::kNull) {
    op.value.reset();
  } else {
    op.status = OpStatus::kInfo;
  }
}

}  // namespace

void Workload::complete(ClientOp& c, const Reply& r) {
  if (c.family == Family::kLeaderless) return complete_leaderless(c, r);
  if (c.family == Family::kMultiLeader) return complete_multileader(c, r);
  if (c.transaction.empty() || r.kind == Reply::kError) return complete_one(c, r);
  // EXEC's reply: one reply per command, the recorded one first. Every other command did the
  // same to a twin key, so each must have answered alike: a difference shows a transaction
  // applied in part, or another command run in between.
  if (r.kind != Reply::kArray || r.elements.size() != c.transaction.size()) {
    violation_ = fmt::format("EXEC of {} commands answered {} (kind {})", c.transaction.size(),
                             r.elements.size(), static_cast<int>(r.kind));
    return;
  }
  const Reply& first = r.elements[0];
  for (const Reply& e : r.elements) {
    if (e.kind != first.kind || e.text != first.text || e.integer != first.integer) {
      violation_ = fmt::format("transaction on {} seen in part: replies differ ({} {} vs {} {})",
                               c.op.key, first.text, first.integer, e.text, e.integer);
    }
  }
  complete_one(c, first);
}

void Workload::complete_one(ClientOp& c, const Reply& r) {
  check::Op& op = c.op;
  if (r.kind == Reply::kError) {
    op.status = classify_error(r.text);
    return;
  }
  op.status = OpStatus::kOk;
  switch (op.type) {
    case OpType::kGet:
      complete_get(op, r);
      break;
    case OpType::kSmembers:  // an array of members; empty for a missing key
      if (r.kind != Reply::kArray) {
        op.status = OpStatus::kInfo;
        break;
      }
      for (const Reply& m : r.elements) {
        if (m.kind != Reply::kBulk) {
          op.status = OpStatus::kInfo;
          op.members.clear();
          break;
        }
        op.members.push_back(m.text);
      }
      break;
    case OpType::kSet:
      if (r.kind != Reply::kSimple) op.status = OpStatus::kInfo;
      break;
    case OpType::kCas:
      // OK: swapped; nil: the comparison failed, nothing was written.
      if (r.kind == Reply::kNull) {
        op.status = OpStatus::kFail;
      } else if (r.kind != Reply::kSimple) {
        op.status = OpStatus::kInfo;
      }
      break;
    case OpType::kIncr:
      if (r.kind == Reply::kInteger) {
        op.value = std::to_string(r.integer);
      } else {
        op.status = OpStatus::kInfo;
      }
      break;
    case OpType::kSadd:
    case OpType::kAppend:
      if (r.kind != Reply::kInteger) op.status = OpStatus::kInfo;
      break;
    case OpType::kDel:
      break;
  }
  if (c.family == Family::kRegister && c.client >= 0 && c.key_index >= 0 && op.ok()) {
    note_value(c, op.value);
  }
}

void Workload::with_context(ClientOp& c, int client, Random& rng) {
  auto ctx = contexts_.find({client, c.op.key});
  if (ctx != contexts_.end() && rng.chance(0.7)) {
    c.args.push_back("CONTEXT");
    c.args.push_back(ctx->second);
    contexts_.erase(ctx);
  }
}

ClientOp Workload::next_leaderless(int ks, int client, Random& rng) {
  const KeyspaceConfig& kc = *keyspaces_[static_cast<size_t>(ks)].leaderless;
  ClientOp c;
  c.family = Family::kLeaderless;
  c.keyspace = ks;
  c.client = client;
  const auto keys = static_cast<uint64_t>(mix_.register_keys);
  c.key_index = static_cast<int>(rng.uniform(keys));
  c.op.key = leaderless_key(ks, c.key_index);
  const uint64_t r = rng.uniform(100);
  bool write = false;
  if (r < 33) {
    c.op.type = OpType::kGet;
    c.args = {"GET", c.op.key};
  } else if (r < 40) {
    // MGET of this key and another: recorded as a GET of the first.
    c.op.type = OpType::kGet;
    c.args = {"MGET", c.op.key, leaderless_key(ks, static_cast<int>(rng.uniform(keys)))};
  } else if (r < 50) {
    c.op.type = OpType::kSmembers;  // SIBLINGS: the live values as members
    c.args = {"SIBLINGS", c.op.key};
  } else if (r < 90) {
    write = true;
    c.op.type = OpType::kSet;
    c.op.value = "v" + std::to_string(next_element_++);
    c.args = {"SET", c.op.key, *c.op.value};
    if (rng.chance(0.1)) {
      c.args.push_back("EX");  // far beyond the run: exercises expiry carried with the value
      c.args.push_back("100000");
    } else if (rng.chance(0.06)) {
      c.args.push_back("PX");  // dies during the run, on every replica at the same wall time
      c.args.push_back(std::to_string(rng.range(20, 3000)));
    }
    with_context(c, client, rng);
  } else {
    write = true;
    c.op.type = OpType::kDel;
    c.args = {"DEL", c.op.key};
  }
  c.replicas = write ? kc.w : kc.r;
  if (rng.chance(0.25)) {
    std::vector<std::pair<Consistency, int>> choices = {
        {Consistency::kOne, 1}, {Consistency::kQuorum, kc.n / 2 + 1}, {Consistency::kAll, kc.n}};
    if (kc.n >= 2) choices.emplace_back(Consistency::kTwo, 2);
    if (kc.n >= 3) choices.emplace_back(Consistency::kThree, 3);
    if (write) choices.emplace_back(Consistency::kAny, 1);
    const auto& [level, k] = choices[rng.uniform(choices.size())];
    c.consistency = level;
    c.replicas = k;
  }
  return c;
}

void Workload::complete_leaderless(ClientOp& c, const Reply& r) {
  check::Op& op = c.op;
  if (r.kind == Reply::kError) {
    op.status = classify_error(r.text);
    return;
  }
  op.status = OpStatus::kOk;
  auto bulk_or_null = [&](const Reply& x) {
    if (x.kind == Reply::kBulk) {
      op.value = x.text;
    } else if (x.kind == Reply::kNull) {
      op.value.reset();
    } else {
      op.status = OpStatus::kInfo;
    }
  };
  switch (op.type) {
    case OpType::kGet:
      if (c.args[0] == "MGET") {
        if (r.kind == Reply::kArray && !r.elements.empty()) {
          bulk_or_null(r.elements[0]);
        } else {
          op.status = OpStatus::kInfo;
        }
      } else {
        bulk_or_null(r);
      }
      break;
    case OpType::kSmembers: {  // SIBLINGS: the live values as members
      std::string context;
      auto values = sibling_values(r, &context);
      op.members.clear();
      if (!values) {
        op.status = OpStatus::kInfo;
        break;
      }
      op.members = std::move(*values);
      contexts_[{c.client, op.key}] = std::move(context);
      break;
    }
    case OpType::kSet:
      if (r.kind != Reply::kSimple) op.status = OpStatus::kInfo;
      break;
    case OpType::kDel:
      if (r.kind != Reply::kInteger) op.status = OpStatus::kInfo;
      break;
    default:
      op.status = OpStatus::kInfo;
      break;
  }
}

ClientOp Workload::next_multileader_siblings(int ks, int client, Random& rng) {
  ClientOp c;
  c.family = Family::kMultiLeader;
  c.keyspace = ks;
  c.client = client;
  // Few keys, so that writes at different nodes are concurrent and must all stay siblings.
  const auto keys = static_cast<uint64_t>(std::min(mix_.register_keys, 5));
  c.op.key = key(ks, "m", static_cast<int>(rng.uniform(keys)));
  const uint64_t r = rng.uniform(100);
  if (r < 20) {
    c.op.type = OpType::kGet;
    c.args = {"GET", c.op.key};
  } else if (r < 40) {
    c.op.type = OpType::kSmembers;  // SIBLINGS: the live values as members
    c.args = {"SIBLINGS", c.op.key};
  } else if (r < 88) {
    c.op.type = OpType::kSet;
    c.op.value = "v" + std::to_string(next_element_++);
    c.args = {"SET", c.op.key, *c.op.value};
    with_context(c, client, rng);
  } else {
    c.op.type = OpType::kDel;
    c.args = {"DEL", c.op.key};
  }
  return c;
}

ClientOp Workload::next_multileader(int ks, int client, Random& rng) {
  if (keyspaces_[static_cast<size_t>(ks)].siblings) {
    return next_multileader_siblings(ks, client, rng);
  }
  ClientOp c;
  c.family = Family::kMultiLeader;
  c.keyspace = ks;
  // At most five string keys: writes at different nodes collide, and LWW has to pick.
  const auto keys = static_cast<uint64_t>(std::min(mix_.register_keys, 5));
  c.op.key = key(ks, "m", static_cast<int>(rng.uniform(keys)));
  const uint64_t r = rng.uniform(100);
  const std::string value = "v" + std::to_string(next_element_++);
  if (r < 25) {
    c.op.type = OpType::kGet;
    c.args = {"GET", c.op.key};
  } else if (r < 65) {
    c.op.type = OpType::kSet;
    c.op.value = value;
    c.args = {"SET", c.op.key, value};
  } else if (r < 77) {
    c.op.type = OpType::kDel;
    c.args = {"DEL", c.op.key};
  } else {
    // Collection writes: with lww the whole value image is the unit of LWW, whatever the type;
    // with crdt a set (members added, never removed: every acknowledged one must stay), a hash,
    // and a counter (never deleted: every acknowledged increment must count) instead of a list.
    const bool crdt = keyspaces_[static_cast<size_t>(ks)].crdt;
    static constexpr std::array<const char*, 3> kCollections = {"ms0", "mh0", "ml0"};
    const size_t t = rng.uniform(kCollections.size());
    c.op.key =
        keyspaces_[static_cast<size_t>(ks)].name + ":" + (crdt && t == 2 ? "mc0" : kCollections[t]);
    c.op.value = value;
    if (crdt && t != 1) {
      if (t == 0) {
        c.op.type = OpType::kSadd;
        c.args = {"SADD", c.op.key, value};
      } else {
        c.op.type = OpType::kIncr;
        c.args = {"INCR", c.op.key};
      }
    } else if (rng.chance(0.1)) {
      c.op.type = OpType::kDel;
      c.args = {"DEL", c.op.key};
    } else if (t == 0) {
      c.op.type = OpType::kSadd;
      c.args = {"SADD", c.op.key, value};
    } else if (t == 1) {
      c.op.type = OpType::kAppend;
      c.args = {"HSET", c.op.key, "f" + std::to_string(rng.uniform(4)), value};
    } else {
      c.op.type = OpType::kAppend;
      c.args = {"RPUSH", c.op.key, value};
    }
  }
  return c;
}

void Workload::complete_multileader(ClientOp& c, const Reply& r) {
  // The same commands and replies as a leaderless keyspace's.
  if (keyspaces_[static_cast<size_t>(c.keyspace)].siblings) return complete_leaderless(c, r);
  check::Op& op = c.op;
  if (r.kind == Reply::kError) {
    op.status = classify_error(r.text);
    return;
  }
  op.status = OpStatus::kOk;
  if (op.type == OpType::kGet) complete_get(op, r);
}

void Workload::note_value(const ClientOp& c, const std::optional<std::string>& v) {
  seen_[(static_cast<size_t>(c.keyspace) * static_cast<size_t>(clients_) +
         static_cast<size_t>(c.client)) *
            static_cast<size_t>(mix_.register_keys) +
        static_cast<size_t>(c.key_index)] = v;
}

}  // namespace rkv::sim
