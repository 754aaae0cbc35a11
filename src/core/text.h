// Small text helpers shared by the command layers.
#pragma once

#include <string>
#include <string_view>

namespace rkv {

// ASCII case-insensitive equality (command names and options are ASCII).
inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + 32);
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + 32);
    if (x != y) return false;
  }
  return true;
}

// Lower-case hex of every byte (password hashes, names built from arbitrary bytes).
inline std::string to_hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * bytes.size());
  for (unsigned char b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
  return out;
}

// ASCII upper case (command names in error texts).
inline std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c);
  return out;
}

// Text for an error reply: at most max_len bytes, CR and LF replaced (they would break RESP
// framing; Redis replaces them too).
inline std::string sanitize(std::string_view s, size_t max_len) {
  std::string out;
  for (char c : s.substr(0, max_len))
    out.push_back(c == '\r' || c == '\n' ? ' ' : c);
  return out;
}

}  // namespace rkv
