// Test helper: drives a Parser the way a connection does (append what arrives, parse until the
// parser needs more, drop the consumed prefix) and records what came out.
#pragma once

#include <algorithm>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "resp/parser.h"

namespace rkv::resp::testing {

using Command = std::vector<std::string>;

struct Outcome {
  std::vector<Command> commands;  // empty commands (blank lines, *0) are kept
  std::string error;              // set when the parser reported kError
  size_t leftover = 0;            // unconsumed bytes at the end
  size_t max_expected = 0;        // largest expected_size() seen, minus the bytes buffered
  friend bool operator==(const Outcome&, const Outcome&) = default;
};

// Feeds `input` in chunks whose sizes `next_chunk` picks (each at least 1). When `move_buffer`
// is set, the pending bytes are copied to a fresh allocation before every parse call, so any
// pointer the parser kept into an old buffer would be caught by the sanitizers.
inline Outcome run_parser(Parser& parser, std::string_view input,
                          const std::function<size_t()>& next_chunk, bool move_buffer = false) {
  Outcome out;
  std::string buf;
  size_t fed = 0;
  while (fed < input.size()) {
    const size_t n = std::min(std::max<size_t>(next_chunk(), 1), input.size() - fed);
    buf.append(input.substr(fed, n));
    fed += n;
    while (!buf.empty()) {
      if (move_buffer) {
        std::string fresh;
        fresh.reserve(buf.size() + 16);
        fresh.assign(buf);
        buf.swap(fresh);
      }
      size_t consumed = 12345;
      const ParseResult r = parser.parse(buf, &consumed);
      if (r == ParseResult::kError) {
        out.error = parser.error();
        out.leftover = buf.size();
        return out;
      }
      if (r == ParseResult::kNeedMore) {
        if (consumed != 0) out.error = "BUG: consumed set on kNeedMore";
        if (parser.expected_size() > buf.size()) {
          out.max_expected = std::max(out.max_expected, parser.expected_size() - buf.size());
        }
        break;
      }
      if (consumed == 0 || consumed > buf.size()) {
        out.error = "BUG: bad consumed on kCommand";
        return out;
      }
      out.commands.emplace_back(parser.args().begin(), parser.args().end());
      buf.erase(0, consumed);
    }
  }
  out.leftover = buf.size();
  return out;
}

inline Outcome run_whole(Parser& parser, std::string_view input) {
  return run_parser(parser, input, [&] { return input.size(); });
}

inline Outcome run_fixed(Parser& parser, std::string_view input, size_t chunk,
                         bool move_buffer = false) {
  return run_parser(
      parser, input, [chunk] { return chunk; }, move_buffer);
}

// RESP multibulk encoding of a command.
inline std::string multibulk(const Command& args) {
  std::string s = "*" + std::to_string(args.size()) + "\r\n";
  for (const auto& a : args)
    s += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  return s;
}

}  // namespace rkv::resp::testing
