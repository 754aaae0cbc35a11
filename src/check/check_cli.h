// `replikv check --model M FILE`: load a JSONL history and run one checker on it.
#pragma once

#include <iosfwd>
#include <string>

#include "check/linearizability.h"

namespace rkv::check {

// Exit codes of run_check.
inline constexpr int kCheckValid = 0;      // one-line summary on `out`
inline constexpr int kCheckViolation = 1;  // explanation on `out`: failing key and its ops
inline constexpr int kCheckBadInput = 2;   // unreadable/malformed file or unknown model, on `err`
inline constexpr int kCheckUnknown = 3;    // search budget exceeded: neither valid nor refuted

// model: "linearizable" (registers), "set" (set-full) or "counter".
// `options` bounds the linearizability search (the other models are polynomial).
int run_check(const std::string& model, const std::string& path, std::ostream& out,
              std::ostream& err, const LinearizabilityOptions& options = {});

}  // namespace rkv::check
