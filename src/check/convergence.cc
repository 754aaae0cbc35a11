#include "check/convergence.h"

#include <fmt/format.h>

#include <optional>
#include <set>

namespace rkv::check {

CheckResult check_convergence(const std::map<std::string, ReplicaState>& replicas) {
  CheckResult result;
  std::set<std::string> keys;
  for (const auto& [id, state] : replicas) {
    for (const auto& [key, value] : state)
      keys.insert(key);
  }
  result.keys = static_cast<int64_t>(keys.size());
  const std::string* first = nullptr;
  size_t differing = 0;
  for (const std::string& key : keys) {
    std::optional<std::optional<std::string>> reference;  // first replica's value (or absent)
    bool differs = false;
    for (const auto& [id, state] : replicas) {
      auto it = state.find(key);
      const std::optional<std::string> value =
          it == state.end() ? std::nullopt : std::optional<std::string>(it->second);
      if (!reference) {
        reference = value;
      } else if (*reference != value) {
        differs = true;
      }
    }
    if (!differs) continue;
    ++differing;
    if (first == nullptr) first = &key;
  }
  if (first == nullptr) {
    result.explanation =
        fmt::format("converged: {} replicas agree on {} keys", replicas.size(), keys.size());
    return result;
  }
  result.ok = false;
  result.verdict = Verdict::kViolation;
  result.failing_key = *first;
  result.explanation = fmt::format("replicas diverge on {} of {} keys; first key {}:\n", differing,
                                   keys.size(), json_quote(*first));
  for (const auto& [id, state] : replicas) {
    auto it = state.find(*first);
    result.explanation += fmt::format(
        "  {}: {}\n", id, it == state.end() ? std::string("<absent>") : json_quote(it->second));
  }
  return result;
}

}  // namespace rkv::check
