// The common answer of every checker.
#pragma once

#include <string>
#include <vector>

#include "check/history.h"

namespace rkv::check {

enum class Verdict : unsigned char {
  kValid,      // the history satisfies the model
  kViolation,  // the history provably does not
  kUnknown,    // the checker gave up (search budget exceeded); neither proven nor refuted
  kBadInput,   // the history holds operations the checker's model does not define
};

const char* verdict_name(Verdict v);

struct CheckResult {
  bool ok = true;  // verdict == kValid
  Verdict verdict = Verdict::kValid;
  std::string explanation;  // human-readable, several lines on a violation
  std::string failing_key;  // the key the explanation is about (smallest failing key)
  std::vector<Op> witness;  // the operations of failing_key that show the violation
  // Remarks that do not affect the verdict but deserve a reader's attention (e.g. a write
  // listed as lost that is present after all), one line each; empty for most checkers.
  std::vector<std::string> notes;
  int64_t ops = 0;   // operations considered
  int64_t keys = 0;  // distinct keys considered
};

inline const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::kValid:
      return "valid";
    case Verdict::kViolation:
      return "violation";
    case Verdict::kUnknown:
      return "unknown";
    case Verdict::kBadInput:
      return "bad input";
  }
  return "?";
}

}  // namespace rkv::check
