#include "resp/reply_scan.h"

#include <charconv>
#include <cstdint>

namespace rkv::resp {

namespace {

// A header line's number ("$5", "*3", "$-1"): false when malformed.
bool parse_len(std::string_view s, int64_t* n) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *n);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

}  // namespace

size_t reply_length(std::string_view bytes) {
  size_t pos = 0;
  uint64_t pending = 1;  // replies still to be read
  while (pending > 0) {
    if (pos >= bytes.size()) return 0;
    const size_t eol = bytes.find("\r\n", pos);
    if (eol == std::string_view::npos) return 0;
    const char type = bytes[pos];
    const std::string_view line = bytes.substr(pos + 1, eol - pos - 1);
    pos = eol + 2;
    --pending;
    int64_t n = 0;
    switch (type) {
      case '+':
      case '-':
      case ':':
      case '_':
      case ',':
      case '#':
      case '(':
        break;
      case '$':  // bulk, verbatim, bulk error: n bytes and CRLF follow (n < 0: null)
      case '=':
      case '!':
        if (!parse_len(line, &n)) return 0;
        if (n < 0) break;
        if (bytes.size() - pos < static_cast<uint64_t>(n) + 2) return 0;
        pos += static_cast<size_t>(n) + 2;
        break;
      case '*':  // array, set, push: n replies follow (n < 0: null)
      case '~':
      case '>':
        if (!parse_len(line, &n)) return 0;
        if (n > 0) pending += static_cast<uint64_t>(n);
        break;
      case '%':  // map: n pairs; attribute: n pairs and then the reply it annotates
      case '|':
        if (!parse_len(line, &n) || n < 0) return 0;
        pending += 2 * static_cast<uint64_t>(n) + (type == '|' ? 1 : 0);
        break;
      default:
        return 0;
    }
    if (pending > bytes.size()) return 0;  // more replies announced than bytes could hold
  }
  return pos;
}

bool split_array(std::string_view bytes, std::vector<std::string_view>* elements) {
  elements->clear();
  const size_t eol = bytes.find("\r\n");
  int64_t n = 0;
  if (bytes.empty() || bytes[0] != '*' || eol == std::string_view::npos ||
      !parse_len(bytes.substr(1, eol - 1), &n) || n < 0) {
    return false;
  }
  bytes.remove_prefix(eol + 2);
  for (int64_t i = 0; i < n; ++i) {
    const size_t len = reply_length(bytes);
    if (len == 0) return false;
    elements->push_back(bytes.substr(0, len));
    bytes.remove_prefix(len);
  }
  return bytes.empty();
}

}  // namespace rkv::resp
