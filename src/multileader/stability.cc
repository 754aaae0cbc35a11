#include "multileader/stability.h"

#include <algorithm>
#include <utility>

namespace rkv::multileader {

void Stability::report(size_t m, uint64_t actor, AppliedVector applied) {
  members_[m].actor = actor;
  members_[m].applied = std::move(applied);
}

bool Stability::known_all() const {
  return std::all_of(members_.begin(), members_.end(),
                     [](const Member& m) { return m.actor.has_value(); });
}

uint64_t Stability::stable(uint64_t actor) const {
  if (!known_all() || members_.empty()) return 0;
  uint64_t s = UINT64_MAX;
  for (const Member& m : members_)
    s = std::min(s, applied_of(m.applied, actor));
  return s;
}

AppliedVector Stability::frontier() const {
  AppliedVector f;
  for (const Member& m : members_) {
    if (m.actor) f.emplace_back(*m.actor, applied_of(m.applied, *m.actor));
  }
  std::sort(f.begin(), f.end());
  return f;
}

bool Stability::covers(const AppliedVector& f) const {
  if (!known_all()) return false;
  return std::all_of(f.begin(), f.end(),
                     [&](const auto& p) { return stable(p.first) >= p.second; });
}

}  // namespace rkv::multileader
