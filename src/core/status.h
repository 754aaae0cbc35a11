// Status and Result<T>: expected failures as cheap values (no exceptions on hot paths).
// A Status is either OK (no allocation) or a code plus a human-readable message.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "core/assert.h"

namespace rkv {

enum class Code : unsigned char {
  kOk = 0,
  kInvalidArgument,  // caller's input is wrong (bad config, bad command arguments)
  kNotFound,
  kCorruption,   // a checksum or framing check failed on stored or received bytes
  kIOError,      // the OS or RocksDB reported an I/O failure
  kUnavailable,  // retryable: no leader, no quorum, peer down
  kTimeout,
  kResourceExhausted,  // a configured limit was hit
  kAborted,
  kInternal,
};

const char* code_name(Code c);

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status ok() { return Status(); }
  static Status invalid_argument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
  static Status not_found(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status corruption(std::string m) { return {Code::kCorruption, std::move(m)}; }
  static Status io_error(std::string m) { return {Code::kIOError, std::move(m)}; }
  static Status unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
  static Status timeout(std::string m) { return {Code::kTimeout, std::move(m)}; }
  static Status resource_exhausted(std::string m) {
    return {Code::kResourceExhausted, std::move(m)};
  }
  static Status aborted(std::string m) { return {Code::kAborted, std::move(m)}; }
  static Status internal(std::string m) { return {Code::kInternal, std::move(m)}; }

  bool is_ok() const { return code_ == Code::kOk; }
  explicit operator bool() const { return is_ok(); }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "Corruption: bad checksum in log record 7"
  std::string to_string() const;

 private:
  Status(Code c, std::string m) : code_(c), message_(std::move(m)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

// Result<T>: a T or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status s) : status_(std::move(s)) {     // NOLINT: implicit by design
    RKV_ASSERT_MSG(!status_.is_ok(), "Result built from an OK status without a value");
  }
  bool is_ok() const { return value_.has_value(); }
  explicit operator bool() const { return is_ok(); }
  const Status& status() const { return status_; }
  T& value() & {
    RKV_ASSERT(value_.has_value());
    return *value_;
  }
  const T& value() const& {
    RKV_ASSERT(value_.has_value());
    return *value_;
  }
  T&& value() && {
    RKV_ASSERT(value_.has_value());
    return std::move(*value_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace rkv

// Propagate a non-OK Status to the caller.
#define RKV_RETURN_IF_ERROR(expr)                 \
  do {                                            \
    ::rkv::Status rkv_status_ = (expr);           \
    if (!rkv_status_.is_ok()) return rkv_status_; \
  } while (0)
