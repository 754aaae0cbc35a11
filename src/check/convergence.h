// Convergence: after the cluster heals and quiesces, every replica holds the same data.
#pragma once

#include <map>
#include <string>

#include "check/check_result.h"

namespace rkv::check {

// key -> value as read from one replica. Callers canonicalise values that have no single
// string form (sets: sorted members joined; siblings: sorted) before comparing.
using ReplicaState = std::map<std::string, std::string>;

// replica id -> its state. Valid when all states are equal (a key missing on one replica and
// present on another is a difference). On a difference the explanation names the first
// differing key in key order with every replica's value and counts the differing keys.
CheckResult check_convergence(const std::map<std::string, ReplicaState>& replicas);

}  // namespace rkv::check
