#include "check/random_history.h"

#include <algorithm>
#include <map>
#include <string>

namespace rkv::check {
namespace {

OpType pick_type(Random& rng, bool only_set_get_del) {
  const uint64_t r = rng.uniform(100);
  if (only_set_get_del) return r < 50 ? OpType::kGet : (r < 90 ? OpType::kSet : OpType::kDel);
  if (r < 40) return OpType::kGet;
  if (r < 65) return OpType::kSet;
  if (r < 70) return OpType::kDel;
  if (r < 80) return OpType::kCas;
  if (r < 92) return OpType::kIncr;
  return OpType::kAppend;
}

std::optional<int64_t> as_int(const std::optional<std::string>& v) {
  return v ? value_as_int(*v) : std::optional<int64_t>(0);
}

// Applies `p` to the register at its linearization point and fills in what the client saw.
// A write that cannot apply (cas mismatch, incr of a non-integer) fails, unless its outcome is
// unknown (info); an info write that could apply takes effect with probability 1/2.
void apply(Random& rng, Planned& p, std::optional<std::string>& reg, int64_t& next_value) {
  Op& op = p.op;
  bool can_apply = true;
  switch (op.type) {
    case OpType::kGet:
      op.value = reg;
      return;
    case OpType::kSet:
      op.value = std::to_string(next_value++);
      break;
    case OpType::kDel:
      break;
    case OpType::kAppend:
      op.value = "a";
      break;
    case OpType::kCas:
      op.value = std::to_string(next_value++);
      if (!rng.chance(0.6)) {
        op.expected = std::to_string(rng.uniform(static_cast<uint64_t>(next_value)));
      } else {
        op.expected = reg;
      }
      can_apply = op.expected == reg;
      break;
    case OpType::kIncr: {
      op.delta = static_cast<int64_t>(rng.uniform(7)) - 3;
      auto cur = as_int(reg);
      can_apply = cur.has_value();
      if (cur && !op.info()) op.value = std::to_string(*cur + op.delta);
      break;
    }
    case OpType::kSadd:
    case OpType::kSmembers:
      RKV_UNREACHABLE();
  }
  if (!can_apply) {
    if (op.ok()) op.status = OpStatus::kFail;
    return;
  }
  if (op.info() && !rng.chance(0.5)) return;  // an info write that never took effect
  switch (op.type) {
    case OpType::kSet:
    case OpType::kCas:
      reg = op.value;
      break;
    case OpType::kIncr:
      reg = std::to_string(*as_int(reg) + op.delta);
      break;
    case OpType::kDel:
      reg.reset();
      break;
    case OpType::kAppend:
      reg = reg.value_or("") + *op.value;
      break;
    default:
      break;
  }
}

}  // namespace

std::vector<Op> generate_register_history(Random& rng, const RegisterHistoryOptions& options) {
  RKV_ASSERT(options.processes > 0 && options.keys > 0 && options.max_latency > 0);
  std::vector<Planned> planned = plan_concurrent(
      rng, options.processes, options.ops, options.max_latency,
      [&](int64_t, int proc) {
        Op op;
        op.process = proc;
        op.key = "k" + std::to_string(rng.uniform(options.keys));
        op.type = pick_type(rng, options.only_set_get_del);
        return op;
      },
      [&](Planned& p) {
        if (p.op.type != OpType::kGet && rng.chance(options.info_fraction)) {
          p.op.status = OpStatus::kInfo;
          if (rng.chance(0.5)) p.op.complete = kNoComplete;
        }
      });
  std::map<std::string, std::optional<std::string>> registers;
  int64_t next_value = 1;
  for (Planned& p : planned)
    apply(rng, p, registers[p.op.key], next_value);
  std::vector<Op> ops;
  ops.reserve(planned.size());
  for (Planned& p : planned)
    ops.push_back(std::move(p.op));
  std::stable_sort(ops.begin(), ops.end(),
                   [](const Op& a, const Op& b) { return a.invoke < b.invoke; });
  for (size_t i = 0; i < ops.size(); ++i)
    ops[i].line = static_cast<int64_t>(i + 1);
  return ops;
}

}  // namespace rkv::check
