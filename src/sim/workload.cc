#include "sim/workload.h"

#include <array>

namespace rkv::sim {

using check::OpStatus;
using check::OpType;

std::vector<std::string> split_members(std::string_view s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < s.size()) {
    size_t end = s.find(',', start);
    if (end == std::string_view::npos) end = s.size();
    if (end > start) out.emplace_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

Workload::Workload(WorkloadKind kind, const FaultMix& mix, int clients)
    : kind_(kind),
      mix_(mix),
      seen_(static_cast<size_t>(clients),
            std::vector<std::optional<std::string>>(static_cast<size_t>(mix.register_keys))) {}

ClientOp Workload::next(int client, Random& rng) {
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
      return next_register(client, rng);
    case Family::kSet:
      return next_set(rng);
    case Family::kCounter:
      return next_counter(rng);
  }
  return next_register(client, rng);
}

ClientOp Workload::next_register(int client, Random& rng) {
  ClientOp c;
  c.family = Family::kRegister;
  const int k = static_cast<int>(rng.uniform(static_cast<uint64_t>(mix_.register_keys)));
  c.op.key = register_key(k);
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
    const auto& seen = seen_[static_cast<size_t>(client)][static_cast<size_t>(k)];
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

ClientOp Workload::next_set(Random& rng) {
  ClientOp c;
  c.family = Family::kSet;
  c.op.key = set_key(static_cast<int>(rng.uniform(static_cast<uint64_t>(mix_.set_keys))));
  if (rng.uniform(4) == 0) {
    c.op.type = OpType::kSmembers;
    c.args = {"GET", c.op.key};
  } else {
    c.op.type = OpType::kSadd;
    c.op.value = "e" + std::to_string(next_element_++);
    c.args = {"APPEND", c.op.key, *c.op.value + ","};
  }
  return c;
}

ClientOp Workload::next_counter(Random& rng) {
  ClientOp c;
  c.family = Family::kCounter;
  c.op.key = counter_key(static_cast<int>(rng.uniform(static_cast<uint64_t>(mix_.counter_keys))));
  if (rng.uniform(3) == 0) {
    c.op.type = OpType::kGet;
    c.args = {"GET", c.op.key};
  } else {
    c.op.type = OpType::kIncr;
    c.op.delta = static_cast<int64_t>(rng.range(0, 12)) - 4;  // -4 .. 8
    c.args = {"INCRBY", c.op.key, std::to_string(c.op.delta)};
  }
  return c;
}

std::vector<ClientOp> Workload::final_reads() const {
  std::vector<ClientOp> out;
  const bool sets = kind_ == WorkloadKind::kSet || kind_ == WorkloadKind::kAll;
  const bool counters = kind_ == WorkloadKind::kCounter || kind_ == WorkloadKind::kAll;
  for (int i = 0; sets && i < mix_.set_keys; ++i) {
    ClientOp c;
    c.family = Family::kSet;
    c.op.type = OpType::kSmembers;
    c.op.key = set_key(i);
    c.args = {"GET", c.op.key};
    out.push_back(std::move(c));
  }
  for (int i = 0; counters && i < mix_.counter_keys; ++i) {
    ClientOp c;
    c.family = Family::kCounter;
    c.op.type = OpType::kGet;
    c.op.key = counter_key(i);
    c.args = {"GET", c.op.key};
    out.push_back(std::move(c));
  }
  return out;
}

OpStatus Workload::classify_error(std::string_view m) {
  // Refusals that happen before anything is proposed or applied.
  static constexpr std::array<std::string_view, 13> kNotExecuted = {
      "TRYAGAIN",         "MOVED",      "ASK",         "NOTLEADER",
      "READONLY",         "LOADING",    "CLUSTERDOWN", "WRONGTYPE",
      "ERR wrong number", "ERR syntax", "ERR unknown", "ERR value is not",
      "NOLEADER"};
  for (std::string_view p : kNotExecuted) {
    if (m.substr(0, p.size()) == p) return OpStatus::kFail;
  }
  return OpStatus::kInfo;
}

void Workload::complete(ClientOp& c, const Reply& r) {
  check::Op& op = c.op;
  if (r.kind == Reply::kError) {
    op.status = classify_error(r.text);
    return;
  }
  op.status = OpStatus::kOk;
  switch (op.type) {
    case OpType::kGet:
      if (r.kind == Reply::kBulk) {
        op.value = r.text;
      } else if (r.kind == Reply::kNull) {
        op.value.reset();
      } else {
        op.status = OpStatus::kInfo;
      }
      break;
    case OpType::kSmembers:
      if (r.kind == Reply::kBulk) {
        op.members = split_members(r.text);
      } else if (r.kind != Reply::kNull) {
        op.status = OpStatus::kInfo;
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
  if (c.family == Family::kRegister && c.client >= 0 && op.ok()) {
    note_value(c.client, c.key_index, op.value);
  }
}

void Workload::note_value(int client, int key, const std::optional<std::string>& v) {
  seen_[static_cast<size_t>(client)][static_cast<size_t>(key)] = v;
}

}  // namespace rkv::sim
