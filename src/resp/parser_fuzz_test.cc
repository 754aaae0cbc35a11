// Deterministic randomized test of the parser: ~100k inputs (valid pipelines, mutated
// pipelines, protocol-flavoured garbage) fed whole and in random chunkings. It checks that
// - valid pipelines parse to exactly the commands that were encoded, however they are split;
// - any input gives the same commands and the same verdict whole or chunked;
// - errors are reported only as kError with a "Protocol error: " message;
// - nothing the parser returns or announces exceeds the limits.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "core/random.h"
#include "resp/parser.h"
#include "resp/parser_test_util.h"

namespace rkv::resp {
namespace {

using testing::Command;
using testing::multibulk;
using testing::Outcome;

constexpr uint64_t kSeed = 0x5eed2026;
constexpr int kIterations = 100000;

ParseLimits small_limits() {
  ParseLimits l;
  l.max_bulk_len = 64;
  l.max_args = 8;
  l.max_inline_len = 128;
  return l;
}

std::string random_bytes(Random& rng, size_t n, bool printable) {
  static constexpr std::string_view kPrintable = "abcdefgxyzABCXYZ0123456789 \t\"'\\-_*$:+";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    s.push_back(printable ? kPrintable[rng.uniform(kPrintable.size())]
                          : static_cast<char>(rng.uniform(256)));
  }
  return s;
}

Command random_command(Random& rng, const ParseLimits& limits) {
  Command c(rng.range(1, limits.max_args));
  const bool printable = rng.chance(0.6);
  for (auto& a : c)
    a = random_bytes(rng, rng.range(0, rng.chance(0.1) ? 64 : 8), printable);
  return c;
}

// Inline encoding that parses back to exactly `c`: every argument double-quoted and escaped.
std::string inline_encode(const Command& c, Random& rng) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  for (const auto& a : c) {
    s += rng.chance(0.5) ? " " : "\t ";
    s += '"';
    for (unsigned char ch : a) {
      if (ch == '"' || ch == '\\') {
        s += '\\';
        s += static_cast<char>(ch);
      } else if (ch == '\n') {
        s += "\\n";
      } else if (ch < 0x20 || ch >= 0x7f) {
        s += "\\x";
        s += kHex[ch >> 4];
        s += kHex[ch & 15];
      } else {
        s += static_cast<char>(ch);
      }
    }
    s += '"';
  }
  return s + (rng.chance(0.5) ? "\r\n" : "\n");
}

// A pipeline of commands within the limits, plus the commands it encodes.
std::string valid_stream(Random& rng, const ParseLimits& limits, std::vector<Command>* cmds) {
  std::string s;
  const size_t n = rng.range(1, 4);
  for (size_t i = 0; i < n; ++i) {
    Command c = random_command(rng, limits);
    std::string enc = multibulk(c);
    if (rng.chance(0.4)) {
      std::string line = inline_encode(c, rng);
      // The quoted form must fit the inline limit and must not start like a multibulk.
      const size_t content = line.size() - (line.ends_with("\r\n") ? 2 : 1);
      if (content <= limits.max_inline_len) enc = std::move(line);
    }
    s += enc;
    cmds->push_back(std::move(c));
  }
  return s;
}

std::string random_token(Random& rng) {
  static const std::vector<std::string> kTokens = {"*",
                                                   "$",
                                                   "\r\n",
                                                   "\r",
                                                   "\n",
                                                   "-1",
                                                   "0",
                                                   "3",
                                                   "64",
                                                   "65",
                                                   "99999999999999999999",
                                                   "\"",
                                                   "'",
                                                   "\\",
                                                   "\\x4",
                                                   "\\x41",
                                                   " ",
                                                   "\t",
                                                   "PING",
                                                   "*1\r\n$4\r\nPING\r\n",
                                                   "$-1",
                                                   "*0\r\n",
                                                   std::string(1, '\0')};
  if (rng.chance(0.2)) return std::to_string(rng.uniform(200));
  if (rng.chance(0.1)) return std::string(1, static_cast<char>(rng.uniform(256)));
  return kTokens[rng.uniform(kTokens.size())];
}

std::string garbage(Random& rng) {
  std::string s;
  const size_t n = rng.range(0, 40);
  for (size_t i = 0; i < n; ++i)
    s += random_token(rng);
  return s;
}

void mutate(Random& rng, std::string* s) {
  const size_t times = rng.range(1, 3);
  for (size_t t = 0; t < times; ++t) {
    const size_t at = s->empty() ? 0 : rng.uniform(s->size());
    switch (rng.uniform(5)) {
      case 0:
        if (!s->empty()) (*s)[at] = static_cast<char>(rng.uniform(256));
        break;
      case 1:
        s->insert(at, random_token(rng));
        break;
      case 2:
        s->erase(at, rng.range(1, 8));
        break;
      case 3:
        s->insert(at, s->substr(at, rng.range(1, 16)));
        break;
      case 4:
        s->resize(at);
        break;
    }
  }
}

// Checks the properties every outcome must have; returns a description of the first breach.
std::string check_outcome(const Outcome& o, const ParseLimits& limits) {
  if (!o.error.empty() && o.error.rfind("Protocol error: ", 0) != 0) return "bad error: " + o.error;
  if (o.max_expected > limits.max_bulk_len + 2) return "expected_size beyond the bulk limit";
  for (const Command& c : o.commands) {
    if (c.size() > limits.max_args) return "too many args";
    for (const auto& a : c) {
      if (a.size() > std::max(limits.max_bulk_len, limits.max_inline_len)) return "arg too long";
    }
  }
  return "";
}

std::string printable(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

TEST(ParserFuzz, RandomAndMutatedInputsInRandomChunkings) {
  const ParseLimits limits = small_limits();
  Random rng(kSeed);
  Parser whole_parser(limits);
  Parser chunk_parser(limits);
  int failures = 0;
  size_t commands_seen = 0, errors_seen = 0, valid_checked = 0;
  for (int iter = 0; iter < kIterations && failures < 5; ++iter) {
    std::vector<Command> encoded;
    std::string input;
    const uint64_t kind = rng.uniform(3);
    if (kind == 0) {
      input = garbage(rng);
    } else {
      input = valid_stream(rng, limits, &encoded);
      if (kind == 2) mutate(rng, &input);
    }
    // Chunk sizes: mostly tiny, sometimes the rest of the input at once.
    const uint64_t max_chunk = rng.chance(0.3) ? 1 : rng.range(2, 24);
    whole_parser.reset();
    chunk_parser.reset();
    const Outcome whole = testing::run_whole(whole_parser, input);
    const Outcome chunked = testing::run_parser(chunk_parser, input, [&] {
      return rng.chance(0.05) ? input.size() : rng.range(1, max_chunk);
    });

    std::string why = check_outcome(whole, limits);
    if (why.empty()) why = check_outcome(chunked, limits);
    if (why.empty() && (whole.commands != chunked.commands || whole.error != chunked.error)) {
      why = "whole and chunked parses differ: '" + whole.error + "' vs '" + chunked.error + "'";
    }
    if (why.empty() && whole.error.empty() && whole.leftover != chunked.leftover) {
      why = "leftover differs";
    }
    if (why.empty() && kind == 1) {
      ++valid_checked;
      if (!whole.error.empty() || whole.commands != encoded || whole.leftover != 0) {
        why = "valid stream misparsed: " + whole.error;
      }
    }
    if (!why.empty()) {
      ++failures;
      ADD_FAILURE() << "iteration " << iter << ": " << why << "\ninput: " << printable(input);
    }
    commands_seen += whole.commands.size();
    errors_seen += whole.error.empty() ? 0 : 1;
    // After an error and a reset the parser works again.
    if (!chunked.error.empty()) {
      chunk_parser.reset();
      size_t consumed = 0;
      if (chunk_parser.parse("PING\r\n", &consumed) != ParseResult::kCommand || consumed != 6) {
        ++failures;
        ADD_FAILURE() << "parser unusable after reset, iteration " << iter;
      }
    }
  }
  // The generators must actually reach both outcomes, or the test proves little.
  EXPECT_GT(commands_seen, static_cast<size_t>(kIterations));
  EXPECT_GT(errors_seen, static_cast<size_t>(kIterations / 10));
  EXPECT_GT(valid_checked, static_cast<size_t>(kIterations / 4));
}

TEST(ParserFuzz, DefaultLimitsNeverAnnounceMoreThanTheBulkLimit) {
  Random rng(kSeed + 1);
  Parser parser;
  const ParseLimits limits;
  for (int iter = 0; iter < 20000; ++iter) {
    // Headers announcing lengths around and far beyond the limits.
    const uint64_t len =
        rng.chance(0.5) ? rng.uniform(limits.max_bulk_len + 3) : rng.next() >> rng.uniform(64);
    const std::string input = "*" + std::to_string(rng.range(1, 3)) + "\r\n$" +
                              std::to_string(len) + "\r\n" + random_bytes(rng, 10, false);
    parser.reset();
    size_t consumed = 0;
    const ParseResult r = parser.parse(input, &consumed);
    if (len > limits.max_bulk_len) {
      ASSERT_EQ(r, ParseResult::kError) << len;
      ASSERT_EQ(parser.error(), "Protocol error: invalid bulk length");
    } else if (r == ParseResult::kNeedMore) {
      ASSERT_LE(parser.expected_size(), input.size() + limits.max_bulk_len + 2);
      ASSERT_GE(parser.expected_size(), static_cast<size_t>(len));
    }
  }
}

}  // namespace
}  // namespace rkv::resp
