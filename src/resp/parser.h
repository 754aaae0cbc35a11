// Incremental RESP request parser: a pure function of the bytes it is shown. Understands
// multibulk requests (*N\r\n$len\r\n...\r\n) and inline commands (space-separated words ending
// in \n or \r\n, with Redis's quoting rules). It never allocates in proportion to a length a
// client merely announces: lengths are checked against ParseLimits before anything is
// reserved, so "*10000000\r\n" or "$2000000000\r\n" is refused at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rkv::resp {

struct ParseLimits {
  uint64_t max_bulk_len = 512ull << 20;
  uint64_t max_args = 1024 * 1024;
  uint64_t max_inline_len = 64 * 1024;
};

enum class ParseResult : unsigned char {
  kNeedMore,  // the buffer holds no complete command yet; call again with more bytes
  kCommand,   // one command parsed: args() and consumed are set
  kError,     // protocol error: error() holds the message; the connection must be closed
};

class Parser {
 public:
  explicit Parser(ParseLimits limits = {});

  // Parses one command from the front of `buf`. `buf` must start where the previous
  // kCommand's consumed bytes ended and hold the same bytes as the previous call plus any new
  // ones appended (the caller may move the buffer in memory between calls). Total work over
  // a command fed byte-by-byte is linear in its size.
  // kCommand: *consumed is the number of bytes used; args() views point into `buf` and stay
  //   valid until `buf` is modified. An empty inline line yields kCommand with no args
  //   (the caller skips it).
  // kNeedMore: *consumed = 0. expected_size() hints how many bytes the command needs in all
  //   when known (so the caller can reserve once, bounded by the limits).
  // kError: error() is a Redis-style message such as
  //   "Protocol error: invalid bulk length"; the parser must be reset() before reuse.
  ParseResult parse(std::string_view buf, size_t* consumed);

  const std::vector<std::string_view>& args() const { return args_; }
  const std::string& error() const { return error_; }
  size_t expected_size() const { return expected_size_; }
  void reset();

 private:
  ParseResult parse_multibulk(std::string_view buf, size_t* consumed);
  ParseResult parse_inline(std::string_view buf, size_t* consumed);
  ParseResult fail(std::string msg);

  ParseLimits limits_;
  std::vector<std::string_view> args_;
  std::string error_;
  size_t expected_size_ = 0;
  // Progress through a partially received multibulk command, as offsets (the buffer may move).
  bool in_multibulk_ = false;
  uint64_t want_args_ = 0;
  size_t pos_ = 0;                         // next unparsed byte
  std::vector<std::pair<size_t, size_t>> spans_;  // (offset, length) of args parsed so far
  size_t scan_from_ = 0;                   // inline: where to resume looking for '\n'
  std::vector<std::string> inline_storage_;  // unquoted inline args (quotes need rewriting)
};

}  // namespace rkv::resp
