// Incremental RESP request parser: a pure function of the bytes it is shown. Understands
// multibulk requests (*N\r\n$len\r\n...\r\n) and inline commands (space-separated words ending
// in \n or \r\n, with Redis's quoting rules). It never allocates in proportion to a length a
// client merely announces: lengths are checked against ParseLimits before anything is
// reserved, so "*10000000\r\n" or "$2000000000\r\n" is refused at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
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

// The second element (the key, for most commands) of the multibulk command at the front of
// `buf`, if its bytes are all there; nullopt otherwise (inline commands, fewer than two elements,
// malformed or partial input). Validates nothing beyond what it reads: a hint, not a parse.
std::optional<std::string_view> peek_first_key(std::string_view buf);

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
  //   when known (so the caller can reserve once, bounded by the limits). Once a '$' header
  //   has been read it is the offset just past that bulk's CRLF, a lower bound on the whole
  //   command; never more than buf.size() + max_bulk_len + 2. 0 when unknown.
  // kError: error() is a Redis-style message such as
  //   "Protocol error: invalid bulk length"; the parser must be reset() before reuse (until
  //   then it keeps answering kError). Bulk data not followed by CRLF gives "Protocol error:
  //   expected CRLF after bulk data"; an inline line with more than max_args words gives
  //   "Protocol error: too many arguments in inline request".
  ParseResult parse(std::string_view buf, size_t* consumed);

  const std::vector<std::string_view>& args() const { return args_; }
  const std::string& error() const { return error_; }
  size_t expected_size() const { return expected_size_; }
  void reset();

 private:
  ParseResult parse_multibulk(std::string_view buf, size_t* consumed);
  ParseResult parse_inline(std::string_view buf, size_t* consumed);
  ParseResult fail(std::string msg);
  // Reads the "<type><integer>\r\n" header line starting at buf[start].
  enum class HeaderScan : unsigned char { kDone, kNeedMore, kTooLong, kInvalid };
  HeaderScan scan_header(std::string_view buf, size_t start, int64_t* value, size_t* next);
  // nullptr on success, else the protocol error message.
  const char* split_inline(std::string_view line);
  std::string& next_storage();
  ParseResult finish(std::string_view buf, size_t end, size_t* consumed);

  ParseLimits limits_;
  std::vector<std::string_view> args_;
  std::string error_;
  size_t expected_size_ = 0;
  bool failed_ = false;  // sticky until reset()
  // Progress through a partially received multibulk command, as offsets (the buffer may move).
  bool in_multibulk_ = false;
  uint64_t want_args_ = 0;
  int64_t bulk_len_ = -1;  // length announced by the current '$' header; -1 until it is read
  size_t pos_ = 0;         // next unparsed byte
  // (offset, length) of args parsed so far; offset kInStorage means inline_storage_[length].
  std::vector<std::pair<size_t, size_t>> spans_;
  size_t scan_from_ = 0;  // where to resume looking for the end of the current line
  std::vector<std::string> inline_storage_;  // unquoted inline args (quotes need rewriting)
  size_t inline_used_ = 0;                   // entries of inline_storage_ in use
};

}  // namespace rkv::resp
