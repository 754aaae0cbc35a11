// Client histories: one completed operation per record, as written by the simulator and the
// fault lab and read by the checkers. The on-disk form is JSONL, specified precisely in
// docs/history-format.md; this header is its in-memory form plus the reader and the writer.
#pragma once

#include <cstdint>
#include <fstream>
#include <iosfwd>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace rkv::check {

enum class OpType : unsigned char { kGet, kSet, kDel, kIncr, kCas, kAppend, kSadd, kSmembers };

// What the client learned about the operation.
enum class OpStatus : unsigned char {
  kOk,    // took effect exactly once, somewhere between invoke and complete
  kFail,  // definitely did not take effect
  kInfo,  // unknown: took effect at most once, at any time after invoke, or never
};

// `complete` of an info operation whose completion time is unknown: it stays concurrent with
// everything invoked after it. Written as JSON null.
inline constexpr int64_t kNoComplete = std::numeric_limits<int64_t>::max();

// The JSON "op" names, in OpType order.
const char* op_type_name(OpType t);
std::optional<OpType> op_type_from_name(std::string_view name);
const char* op_status_name(OpStatus s);

struct Op {
  int process = 0;
  OpType type = OpType::kGet;
  std::string key;
  // get: the value read (nullopt = key absent); set/append: the value written/appended;
  // cas: the new value; incr: the resulting value when known; sadd: the element added.
  std::optional<std::string> value;
  // cas only: the value compared against (nullopt = the key must be absent).
  std::optional<std::string> expected;
  int64_t delta = 1;                 // incr only
  std::vector<std::string> members;  // smembers only: the set read, as recorded
  // get only, optional (nullopt = not reported), >= 0: what the serving replica reported about
  // this read (a follower read's STALENESS): milliseconds since it last heard from its leader,
  // and log entries it knew were committed but had not applied. Checked by
  // check_bounded_staleness; the other checkers ignore them.
  std::optional<int64_t> staleness_ms;
  std::optional<int64_t> entries_behind;
  OpStatus status = OpStatus::kOk;
  int64_t invoke = 0;              // microseconds on the recorder's one monotonic clock
  int64_t complete = kNoComplete;  // >= invoke; kNoComplete only when status is kInfo
  int64_t line = 0;  // 1-based line in the file it was parsed from; 0 if built in memory

  bool ok() const { return status == OpStatus::kOk; }
  bool info() const { return status == OpStatus::kInfo; }
  bool fail() const { return status == OpStatus::kFail; }
};

// Strict JSONL parsing: every non-blank line must be one well-formed record; the first error is
// returned as InvalidArgument naming its line ("line 12: field \"invoke\" must be an integer").
Result<std::vector<Op>> parse_history(std::istream& in);
// parse_history on a file; NotFound/IOError if it cannot be opened.
Result<std::vector<Op>> load_history(const std::string& path);

// One record, without the trailing newline. Bytes that are not valid UTF-8 in strings are
// replaced by U+FFFD (use HistoryWriter, which rejects them instead, to keep data exact).
std::string to_jsonl(const Op& op);

// A one-line human-readable description used in checker explanations, e.g.
//   line 7: p2 get "k1" -> "3" ok [1500, 1800]
//   line 9: p3 get "k1" -> null ok [1900, 2000] staleness_ms=40 entries_behind=2
std::string describe_op(const Op& op);
// A string as a JSON literal ("a\"b"), or null; for explanations.
std::string json_quote(const std::optional<std::string>& s);

// Appends records to a stream or a file, one line per op, flushed after each record so that a
// crash of the recording process loses at most the record being written. Thread-safe: append
// may be called from several client threads. The stream passed to the constructor must
// outlive the writer.
class HistoryWriter {
 public:
  explicit HistoryWriter(std::ostream& out);
  // Opens `path` for appending (creating it if needed).
  static Result<std::unique_ptr<HistoryWriter>> open(const std::string& path);

  HistoryWriter(const HistoryWriter&) = delete;
  HistoryWriter& operator=(const HistoryWriter&) = delete;

  // InvalidArgument if the op is not a valid record (e.g. ok op without completion, strings
  // that are not UTF-8); IOError if the stream failed.
  Status append(const Op& op);
  int64_t records() const;

 private:
  std::unique_ptr<std::ofstream> file_;  // set when opened by path
  std::ostream* out_;
  mutable std::mutex mu_;
  int64_t records_ = 0;
};

// Checks the record-level rules of the format (the same ones parse_history enforces after
// JSON decoding). Returns InvalidArgument describing the first broken rule.
Status validate_op(const Op& op);

// A recorded value read as a decimal 64-bit integer (counters, INCR results); nullopt when it
// is not exactly one.
std::optional<int64_t> value_as_int(std::string_view v);

}  // namespace rkv::check
