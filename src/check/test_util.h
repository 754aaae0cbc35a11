// Builders for in-memory histories in tests.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "check/history.h"

namespace rkv::check::testing_util {

inline Op op(int process, OpType type, std::string key, std::optional<std::string> value,
             int64_t invoke, int64_t complete, OpStatus status = OpStatus::kOk) {
  Op o;
  o.process = process;
  o.type = type;
  o.key = std::move(key);
  o.value = std::move(value);
  o.invoke = invoke;
  o.complete = complete;
  o.status = status;
  return o;
}
inline Op set(int p, std::string key, std::string v, int64_t inv, int64_t comp,
              OpStatus st = OpStatus::kOk) {
  return op(p, OpType::kSet, std::move(key), std::move(v), inv, comp, st);
}
inline Op get(int p, std::string key, std::optional<std::string> v, int64_t inv, int64_t comp) {
  return op(p, OpType::kGet, std::move(key), std::move(v), inv, comp);
}
inline Op incr(int p, std::string key, int64_t delta, std::optional<std::string> result,
               int64_t inv, int64_t comp, OpStatus st = OpStatus::kOk) {
  Op o = op(p, OpType::kIncr, std::move(key), std::move(result), inv, comp, st);
  o.delta = delta;
  return o;
}

}  // namespace rkv::check::testing_util
