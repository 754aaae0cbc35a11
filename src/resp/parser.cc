// RESP request parsing. The parser remembers how far it got as offsets into the caller's
// buffer, so every byte of a command is examined a bounded number of times however the command
// is split across reads, and the buffer may move between calls.
#include "resp/parser.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <utility>

#include "core/assert.h"

namespace rkv::resp {

std::optional<std::string_view> peek_first_key(std::string_view buf) {
  size_t pos = 0;
  // Reads "<type><digits>\r\n" at pos; a short, positive count only.
  auto header = [&](char type, uint64_t* n) {
    if (pos >= buf.size() || buf[pos] != type) return false;
    ++pos;
    uint64_t v = 0;
    size_t digits = 0;
    while (pos < buf.size() && buf[pos] >= '0' && buf[pos] <= '9' && digits < 10) {
      v = v * 10 + static_cast<uint64_t>(buf[pos] - '0');
      ++pos;
      ++digits;
    }
    if (digits == 0 || buf.size() - pos < 2 || buf[pos] != '\r' || buf[pos + 1] != '\n') {
      return false;
    }
    pos += 2;
    *n = v;
    return true;
  };
  uint64_t count = 0, len = 0;
  if (!header('*', &count) || count < 2) return std::nullopt;
  if (!header('$', &len) || buf.size() - pos < len + 2) return std::nullopt;
  pos += len + 2;
  if (!header('$', &len) || buf.size() - pos < len) return std::nullopt;
  return buf.substr(pos, len);
}

namespace {

// Longest "*N" or "$N" header line accepted, type byte included, CRLF excluded. Any valid
// 64-bit length fits in far fewer bytes; a client that sends more is not speaking RESP.
constexpr size_t kMaxHeaderLen = 64;
// Marks a span whose bytes live in inline_storage_ (the span's length is then its index).
constexpr size_t kInStorage = SIZE_MAX;
// Initial room for the spans of one multibulk command; more is grown on demand, so a huge
// announced count costs nothing until its arguments actually arrive.
constexpr uint64_t kMaxSpanReserve = 1024;

// Strict decimal: optional '-', no '+', no spaces, no leading zeros, no "-0", fits int64.
bool parse_int(std::string_view s, int64_t* out) {
  if (s.empty()) return false;
  const size_t digits_at = s[0] == '-' ? 1 : 0;
  if (digits_at == s.size()) return false;
  if (s[digits_at] == '0' && (s.size() - digits_at > 1 || digits_at == 1)) return false;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

// Redis's isspace() set, used between inline arguments and after a closing quote.
bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}
// Bytes that end an unquoted inline argument (Redis's set: '\v' and '\f' do not).
bool ends_word(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

char unescape(char c) {
  switch (c) {
    case 'n':
      return '\n';
    case 'r':
      return '\r';
    case 't':
      return '\t';
    case 'b':
      return '\b';
    case 'a':
      return '\a';
    default:
      return c;  // covers \\ and \" and any other escaped byte
  }
}

// Continues an inline argument at line[*p] whose plain prefix is already in *out, following
// Redis's quoting rules. False on an unterminated quote or a closing quote that is followed by
// something other than a space.
bool read_quoted_word(std::string_view line, size_t* p, std::string* out) {
  const size_t n = line.size();
  size_t i = *p;
  char quote = 0;  // '"' or '\'' while inside quotes
  while (true) {
    if (quote == 0) {
      if (i >= n || ends_word(line[i])) break;
      if (line[i] == '"' || line[i] == '\'') {
        quote = line[i];
      } else {
        out->push_back(line[i]);
      }
      ++i;
      continue;
    }
    if (i >= n) return false;  // unterminated
    const char c = line[i];
    if (c == quote) {
      if (i + 1 < n && !is_space(line[i + 1])) return false;
      ++i;
      break;
    }
    if (quote == '"' && c == '\\' && i + 3 < n && line[i + 1] == 'x' &&
        hex_value(line[i + 2]) >= 0 && hex_value(line[i + 3]) >= 0) {
      out->push_back(static_cast<char>(hex_value(line[i + 2]) * 16 + hex_value(line[i + 3])));
      i += 4;
    } else if (quote == '"' && c == '\\' && i + 1 < n) {
      out->push_back(unescape(line[i + 1]));
      i += 2;
    } else if (quote == '\'' && c == '\\' && i + 1 < n && line[i + 1] == '\'') {
      out->push_back('\'');
      i += 2;
    } else {
      out->push_back(c);
      ++i;
    }
  }
  *p = i;
  return true;
}

}  // namespace

Parser::Parser(ParseLimits limits) : limits_(limits) {}

void Parser::reset() {
  args_.clear();
  error_.clear();
  expected_size_ = 0;
  failed_ = false;
  in_multibulk_ = false;
  want_args_ = 0;
  bulk_len_ = -1;
  pos_ = 0;
  spans_.clear();
  scan_from_ = 0;
  inline_used_ = 0;
}

ParseResult Parser::fail(std::string msg) {
  failed_ = true;
  error_ = std::move(msg);
  expected_size_ = 0;
  return ParseResult::kError;
}

ParseResult Parser::parse(std::string_view buf, size_t* consumed) {
  *consumed = 0;
  args_.clear();
  if (failed_) return ParseResult::kError;
  // The caller promised the buffer only grows between calls of one command.
  RKV_ASSERT(pos_ <= buf.size() && scan_from_ <= buf.size());
  if (buf.empty()) return ParseResult::kNeedMore;
  if (in_multibulk_ || buf[0] == '*') return parse_multibulk(buf, consumed);
  return parse_inline(buf, consumed);
}

Parser::HeaderScan Parser::scan_header(std::string_view buf, size_t start, int64_t* value,
                                       size_t* next) {
  // The '\r' may sit at most kMaxHeaderLen bytes after the type byte; looking no further
  // makes the verdict independent of how the bytes were split into reads.
  const size_t from = std::max(scan_from_, start + 1);
  const size_t limit = std::min(buf.size(), start + kMaxHeaderLen + 1);
  size_t cr = std::string_view::npos;
  if (from < limit) {
    cr = buf.substr(0, limit).find('\r', from);
  }
  if (cr == std::string_view::npos) {
    scan_from_ = std::max(from, limit);
    return buf.size() > start + kMaxHeaderLen ? HeaderScan::kTooLong : HeaderScan::kNeedMore;
  }
  if (cr + 1 >= buf.size()) {
    scan_from_ = cr;  // look at this '\r' again once its '\n' may have arrived
    return HeaderScan::kNeedMore;
  }
  if (buf[cr + 1] != '\n' || !parse_int(buf.substr(start + 1, cr - start - 1), value)) {
    return HeaderScan::kInvalid;
  }
  *next = cr + 2;
  return HeaderScan::kDone;
}

ParseResult Parser::parse_multibulk(std::string_view buf, size_t* consumed) {
  if (!in_multibulk_) {
    int64_t count = 0;
    size_t next = 0;
    switch (scan_header(buf, 0, &count, &next)) {
      case HeaderScan::kNeedMore:
        return ParseResult::kNeedMore;
      case HeaderScan::kTooLong:
        return fail("Protocol error: too big mbulk count string");
      case HeaderScan::kInvalid:
        return fail("Protocol error: invalid multibulk length");
      case HeaderScan::kDone:
        break;
    }
    if (count > 0 && static_cast<uint64_t>(count) > limits_.max_args) {
      return fail("Protocol error: invalid multibulk length");
    }
    pos_ = next;
    scan_from_ = next;
    if (count <= 0) return finish(buf, pos_, consumed);  // *0 and *-1: nothing to run
    in_multibulk_ = true;
    want_args_ = static_cast<uint64_t>(count);
    spans_.clear();
    spans_.reserve(std::min(want_args_, kMaxSpanReserve));
  }

  while (spans_.size() < want_args_) {
    if (bulk_len_ < 0) {
      if (pos_ >= buf.size()) return ParseResult::kNeedMore;
      if (buf[pos_] != '$') {
        char got = buf[pos_];
        if (got == '\r' || got == '\n') got = ' ';
        return fail(std::string("Protocol error: expected '$', got '") + got + "'");
      }
      int64_t len = 0;
      size_t next = 0;
      switch (scan_header(buf, pos_, &len, &next)) {
        case HeaderScan::kNeedMore:
          return ParseResult::kNeedMore;
        case HeaderScan::kTooLong:
          return fail("Protocol error: too big bulk count string");
        case HeaderScan::kInvalid:
          return fail("Protocol error: invalid bulk length");
        case HeaderScan::kDone:
          break;
      }
      if (len < 0 || static_cast<uint64_t>(len) > limits_.max_bulk_len) {
        return fail("Protocol error: invalid bulk length");
      }
      bulk_len_ = len;
      pos_ = next;
      scan_from_ = next;
      expected_size_ = pos_ + static_cast<size_t>(len) + 2;
    }
    const size_t end = pos_ + static_cast<size_t>(bulk_len_);
    if (buf.size() < end + 2) {
      if (buf.size() > end && buf[end] != '\r') {
        return fail("Protocol error: expected CRLF after bulk data");
      }
      return ParseResult::kNeedMore;
    }
    if (buf[end] != '\r' || buf[end + 1] != '\n') {
      return fail("Protocol error: expected CRLF after bulk data");
    }
    spans_.emplace_back(pos_, static_cast<size_t>(bulk_len_));
    pos_ = end + 2;
    scan_from_ = pos_;
    bulk_len_ = -1;
  }
  return finish(buf, pos_, consumed);
}

ParseResult Parser::parse_inline(std::string_view buf, size_t* consumed) {
  const size_t nl = buf.find('\n', scan_from_);
  if (nl == std::string_view::npos) {
    scan_from_ = buf.size();
    // A trailing '\r' may still become part of the terminator.
    const size_t line_at_least = buf.size() - (buf.back() == '\r' ? 1 : 0);
    if (line_at_least > limits_.max_inline_len) {
      return fail("Protocol error: too big inline request");
    }
    return ParseResult::kNeedMore;
  }
  size_t line_len = nl;
  if (line_len > 0 && buf[line_len - 1] == '\r') --line_len;
  if (line_len > limits_.max_inline_len) return fail("Protocol error: too big inline request");
  std::string_view line = buf.substr(0, line_len);
  // Redis splits the line as a C string: a NUL byte ends it.
  line = line.substr(0, line.find('\0'));
  spans_.clear();
  inline_used_ = 0;
  if (const char* err = split_inline(line)) {
    spans_.clear();
    return fail(err);
  }
  return finish(buf, nl + 1, consumed);
}

std::string& Parser::next_storage() {
  if (inline_used_ == inline_storage_.size()) inline_storage_.emplace_back();
  std::string& s = inline_storage_[inline_used_++];
  s.clear();
  return s;
}

const char* Parser::split_inline(std::string_view line) {
  const size_t n = line.size();
  size_t p = 0;
  while (true) {
    while (p < n && is_space(line[p]))
      ++p;
    if (p >= n) return nullptr;
    if (spans_.size() >= limits_.max_args)
      return "Protocol error: too many arguments in inline request";
    const size_t start = p;
    while (p < n && !ends_word(line[p]) && line[p] != '"' && line[p] != '\'')
      ++p;
    if (p >= n || ends_word(line[p])) {
      spans_.emplace_back(start, p - start);  // plain word: a view into the caller's buffer
      continue;
    }
    const size_t index = inline_used_;
    std::string& word = next_storage();
    word.assign(line.substr(start, p - start));
    if (!read_quoted_word(line, &p, &word)) return "Protocol error: unbalanced quotes in request";
    spans_.emplace_back(kInStorage, index);
  }
}

ParseResult Parser::finish(std::string_view buf, size_t end, size_t* consumed) {
  args_.clear();
  for (const auto& [offset, len] : spans_) {
    if (offset == kInStorage) {
      args_.emplace_back(inline_storage_[len]);
    } else {
      args_.emplace_back(buf.substr(offset, len));
    }
  }
  *consumed = end;
  spans_.clear();
  in_multibulk_ = false;
  want_args_ = 0;
  bulk_len_ = -1;
  pos_ = 0;
  scan_from_ = 0;
  expected_size_ = 0;
  return ParseResult::kCommand;
}

}  // namespace rkv::resp
