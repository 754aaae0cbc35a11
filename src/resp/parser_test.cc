#include "resp/parser.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "core/random.h"
#include "resp/parser_test_util.h"

// Counts heap allocations so the steady-state test can prove the parser reuses its vectors.
namespace {
std::atomic<size_t> g_allocations{0};
}  // namespace

// GCC pairs the malloc/free below with the new/delete expressions that call them and warns;
// the pairing is in fact consistent because both operators are replaced together.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, size_t) noexcept {
  std::free(p);
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

namespace rkv::resp {
namespace {

using testing::Command;
using testing::multibulk;
using testing::Outcome;
using testing::run_fixed;
using testing::run_whole;

using namespace std::string_literals;

Outcome parse_whole(std::string_view input, ParseLimits limits = {}) {
  Parser p(limits);
  return run_whole(p, input);
}

// Parses one complete command given as a single buffer and returns its args.
Command parse_one(std::string_view input) {
  Parser p;
  size_t consumed = 0;
  EXPECT_EQ(p.parse(input, &consumed), ParseResult::kCommand) << p.error();
  EXPECT_EQ(consumed, input.size());
  return Command(p.args().begin(), p.args().end());
}

std::string parse_error(std::string_view input, ParseLimits limits = {}) {
  Parser p(limits);
  size_t consumed = 7;
  EXPECT_EQ(p.parse(input, &consumed), ParseResult::kError) << "input: " << input;
  EXPECT_EQ(consumed, 0u);
  return p.error();
}

ParseResult parse_status(std::string_view input, ParseLimits limits = {}) {
  Parser p(limits);
  size_t consumed = 0;
  return p.parse(input, &consumed);
}

// ---- multibulk ----

TEST(ParserMultibulk, ParsesCommand) {
  EXPECT_EQ(parse_one("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n"),
            (Command{"SET", "key", "value"}));
  EXPECT_EQ(parse_one("*1\r\n$4\r\nPING\r\n"), (Command{"PING"}));
}

TEST(ParserMultibulk, BulkIsBinarySafe) {
  const std::string value = "a\r\nb\0c$*\n"s;
  EXPECT_EQ(parse_one(multibulk({"SET", "k", value})), (Command{"SET", "k", value}));
}

TEST(ParserMultibulk, EmptyBulk) {
  EXPECT_EQ(parse_one("*2\r\n$4\r\nECHO\r\n$0\r\n\r\n"), (Command{"ECHO", ""}));
}

TEST(ParserMultibulk, ArgsViewTheCallersBuffer) {
  const std::string input = "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
  Parser p;
  size_t consumed = 0;
  ASSERT_EQ(p.parse(input, &consumed), ParseResult::kCommand);
  ASSERT_EQ(p.args().size(), 2u);
  EXPECT_EQ(p.args()[0].data(), input.data() + 8);
  EXPECT_EQ(p.args()[1].data(), input.data() + 17);
}

TEST(ParserMultibulk, ZeroAndNegativeCountAreEmptyCommands) {
  for (const std::string in : {"*0\r\n", "*-1\r\n", "*-5\r\n"}) {
    Parser p;
    size_t consumed = 0;
    ASSERT_EQ(p.parse(in, &consumed), ParseResult::kCommand) << in;
    EXPECT_EQ(consumed, in.size());
    EXPECT_TRUE(p.args().empty());
  }
  Outcome o = parse_whole("*0\r\n*1\r\n$4\r\nPING\r\n");
  EXPECT_EQ(o.commands, (std::vector<Command>{{}, {"PING"}}));
}

TEST(ParserMultibulk, NeedsMoreUntilComplete) {
  const std::string full = multibulk({"SET", "key", "value"});
  for (size_t n = 0; n < full.size(); ++n) {
    Parser p;
    size_t consumed = 99;
    EXPECT_EQ(p.parse(std::string_view(full).substr(0, n), &consumed), ParseResult::kNeedMore)
        << "prefix " << n;
    EXPECT_EQ(consumed, 0u);
  }
}

TEST(ParserMultibulk, Pipeline) {
  const std::string in = multibulk({"SET", "a", "1"}) + multibulk({"GET", "a"}) +
                         multibulk({"PING"}) + "*2\r\n$3\r\nGET";
  Outcome o = parse_whole(in);
  EXPECT_EQ(o.error, "");
  EXPECT_EQ(o.commands, (std::vector<Command>{{"SET", "a", "1"}, {"GET", "a"}, {"PING"}}));
  EXPECT_EQ(o.leftover, 11u);
}

TEST(ParserMultibulk, ConsumedStopsAtCommandEnd) {
  const std::string first = multibulk({"GET", "a"});
  const std::string in = first + multibulk({"GET", "b"});
  Parser p;
  size_t consumed = 0;
  ASSERT_EQ(p.parse(in, &consumed), ParseResult::kCommand);
  EXPECT_EQ(consumed, first.size());
  ASSERT_EQ(p.parse(std::string_view(in).substr(consumed), &consumed), ParseResult::kCommand);
  EXPECT_EQ(p.args()[1], "b");
}

TEST(ParserMultibulk, ExpectedSizeAfterBulkHeader) {
  const std::string in = "*2\r\n$3\r\nfoo\r\n$100\r\n";
  Parser p;
  size_t consumed = 0;
  EXPECT_EQ(p.parse("*2\r\n", &consumed), ParseResult::kNeedMore);
  EXPECT_EQ(p.expected_size(), 0u);  // no bulk header yet
  ASSERT_EQ(p.parse(in, &consumed), ParseResult::kNeedMore);
  EXPECT_EQ(p.expected_size(), in.size() + 100 + 2);
  const std::string full = in + std::string(100, 'x') + "\r\n";
  ASSERT_EQ(p.parse(full, &consumed), ParseResult::kCommand);
  EXPECT_EQ(consumed, full.size());
  EXPECT_EQ(p.expected_size(), 0u);
}

// ---- inline ----

TEST(ParserInline, SplitsOnSpaces) {
  EXPECT_EQ(parse_one("SET key value\r\n"), (Command{"SET", "key", "value"}));
  EXPECT_EQ(parse_one("PING\n"), (Command{"PING"}));
  EXPECT_EQ(parse_one("  GET \t  k  \r\n"), (Command{"GET", "k"}));
}

TEST(ParserInline, EmptyLinesAreEmptyCommands) {
  EXPECT_EQ(parse_one("\r\n"), Command{});
  EXPECT_EQ(parse_one("\n"), Command{});
  EXPECT_EQ(parse_one("   \r\n"), Command{});
}

TEST(ParserInline, UnquotedWordsViewTheCallersBuffer) {
  const std::string in = "GET key\r\n";
  Parser p;
  size_t consumed = 0;
  ASSERT_EQ(p.parse(in, &consumed), ParseResult::kCommand);
  EXPECT_EQ(p.args()[1].data(), in.data() + 4);
}

TEST(ParserInline, DoubleQuotes) {
  EXPECT_EQ(parse_one("SET \"foo bar\" baz\r\n"), (Command{"SET", "foo bar", "baz"}));
  EXPECT_EQ(parse_one("ECHO \"\"\r\n"), (Command{"ECHO", ""}));
  EXPECT_EQ(parse_one("ECHO \"a\"\n"), (Command{"ECHO", "a"}));
}

TEST(ParserInline, DoubleQuoteEscapes) {
  EXPECT_EQ(parse_one(R"(ECHO "\n\r\t\b\a\\\"\q")"
                      "\r\n"),
            (Command{"ECHO", "\n\r\t\b\a\\\"q"}));
  EXPECT_EQ(parse_one(R"(ECHO "\x41\x4a\x00\xfF")"
                      "\n"),
            (Command{"ECHO", "AJ\0\xff"s}));
  // \x without two hex digits is just an escaped 'x'.
  EXPECT_EQ(parse_one(R"(ECHO "\xZZ" "\x4")"
                      "\n"),
            (Command{"ECHO", "xZZ", "x4"}));
}

TEST(ParserInline, SingleQuotes) {
  EXPECT_EQ(parse_one(R"(ECHO 'it\'s' 'a\nb' 'x "y"')"
                      "\r\n"),
            (Command{"ECHO", "it's", "a\\nb", "x \"y\""}));
}

TEST(ParserInline, QuoteInsideWordJoinsWord) {
  EXPECT_EQ(parse_one("ECHO foo\"bar baz\"\r\n"), (Command{"ECHO", "foobar baz"}));
  EXPECT_EQ(parse_one("ECHO ab'c d'\r\n"), (Command{"ECHO", "abc d"}));
}

TEST(ParserInline, VerticalTabDoesNotSplitWords) {
  EXPECT_EQ(parse_one("ECHO a\vb\r\n"), (Command{"ECHO", "a\vb"}));
  EXPECT_EQ(parse_one("ECHO\va\r\n"), (Command{"ECHO\va"}));
}

TEST(ParserInline, NulEndsTheLine) {
  EXPECT_EQ(parse_one("GET a\0 b\r\n"s), (Command{"GET", "a"}));
}

TEST(ParserInline, UnbalancedQuotes) {
  const std::string msg = "Protocol error: unbalanced quotes in request";
  EXPECT_EQ(parse_error("SET \"foo bar\r\n"), msg);
  EXPECT_EQ(parse_error("SET 'foo\r\n"), msg);
  EXPECT_EQ(parse_error("SET \"foo\"bar\r\n"), msg);  // closing quote must end the word
  EXPECT_EQ(parse_error("SET 'foo'bar\n"), msg);
  EXPECT_EQ(parse_error("SET \"foo\\\"\r\n"), msg);  // escaped quote does not close
  EXPECT_EQ(parse_error("SET \"foo\\\n"), msg);      // backslash at end of line
}

TEST(ParserInline, Pipeline) {
  Outcome o = parse_whole("PING\r\nECHO \"a b\"\nGET k\r\nGE");
  EXPECT_EQ(o.error, "");
  EXPECT_EQ(o.commands, (std::vector<Command>{{"PING"}, {"ECHO", "a b"}, {"GET", "k"}}));
  EXPECT_EQ(o.leftover, 2u);
}

TEST(ParserInline, QuotedArgsSurviveBufferChanges) {
  // Quoted args live in the parser, so they must not point into the caller's buffer.
  std::string in = "ECHO \"hello world, this is longer than SSO\"\r\n";
  Parser p;
  size_t consumed = 0;
  ASSERT_EQ(p.parse(in, &consumed), ParseResult::kCommand);
  in.assign(in.size(), '#');
  EXPECT_EQ(p.args()[1], "hello world, this is longer than SSO");
}

TEST(ParserMixed, MultibulkAndInlineInOnePipeline) {
  Outcome o =
      parse_whole(multibulk({"GET", "a"}) + "PING\r\n" + multibulk({"DEL", "a", "b"}) + "\r\n");
  EXPECT_EQ(o.error, "");
  EXPECT_EQ(o.commands, (std::vector<Command>{{"GET", "a"}, {"PING"}, {"DEL", "a", "b"}, {}}));
  EXPECT_EQ(o.leftover, 0u);
}

// ---- incremental feeding ----

const std::vector<std::string>& sample_streams() {
  static const std::vector<std::string> streams = {
      multibulk({"SET", "key", "value"}),
      multibulk({"SET", "k", "a\r\nb\0c"s}) + multibulk({"GET", "k"}),
      multibulk({"ECHO", std::string(300, 'z')}) + "*0\r\n",
      "SET \"foo bar\" 'x\\'y' \"\\x41\\n\"\r\nPING\n\r\nGET k\r\n",
      multibulk({"PING"}) + "PING\r\n" + multibulk({"MSET", "a", "1", "b", "2"}),
      "*-1\r\n" + multibulk({"", ""}),
  };
  return streams;
}

TEST(ParserIncremental, EverySplitPointGivesTheSameCommands) {
  for (const std::string& in : sample_streams()) {
    Parser whole_parser;
    const Outcome whole = run_whole(whole_parser, in);
    ASSERT_EQ(whole.error, "");
    ASSERT_EQ(whole.leftover, 0u);
    ASSERT_FALSE(whole.commands.empty());
    for (size_t split = 1; split < in.size(); ++split) {
      Parser p;
      bool first = true;
      const Outcome o = testing::run_parser(p, in, [&] {
        const size_t n = first ? split : in.size();
        first = false;
        return n;
      });
      EXPECT_EQ(o.commands, whole.commands) << "split at " << split;
      EXPECT_EQ(o.error, "");
      EXPECT_EQ(o.leftover, 0u);
    }
  }
}

TEST(ParserIncremental, ByteByByteWithMovingBuffer) {
  for (const std::string& in : sample_streams()) {
    Parser p1, p2;
    const Outcome whole = run_whole(p1, in);
    const Outcome bytes = run_fixed(p2, in, 1, /*move_buffer=*/true);
    EXPECT_EQ(bytes.commands, whole.commands) << in;
    EXPECT_EQ(bytes.error, "");
    EXPECT_EQ(bytes.leftover, 0u);
  }
}

TEST(ParserIncremental, ParserIsReusableAcrossCommands) {
  Parser p;
  for (int i = 0; i < 3; ++i) {
    const Outcome o = run_fixed(p, sample_streams()[3], 3);
    EXPECT_EQ(o.commands.size(), 4u);
    EXPECT_EQ(o.error, "");
  }
}

TEST(ParserIncremental, LargeCommandInSmallReadsIsLinear) {
  // 200k one-byte args (~1.4 MB) fed 16 bytes at a time: ~90k parse calls. Rescanning from
  // the start on each call would cost ~10^10 steps; progress kept as offsets makes it instant.
  constexpr size_t kArgs = 200000;
  std::string in = "*" + std::to_string(kArgs) + "\r\n";
  for (size_t i = 0; i < kArgs; ++i)
    in += "$1\r\na\r\n";
  Parser p;
  const auto start = std::chrono::steady_clock::now();
  const Outcome o = run_fixed(p, in, 16);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_EQ(o.commands.size(), 1u);
  EXPECT_EQ(o.commands[0].size(), kArgs);
  EXPECT_LT(elapsed, std::chrono::seconds(10));
}

TEST(ParserIncremental, LongBulkInSmallReadsIsLinear) {
  const std::string in = multibulk({"SET", "k", std::string(4 << 20, 'v')});
  Parser p;
  const auto start = std::chrono::steady_clock::now();
  const Outcome o = run_fixed(p, in, 64);
  ASSERT_EQ(o.commands.size(), 1u);
  EXPECT_EQ(o.commands[0][2].size(), 4u << 20);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST(ParserSteadyState, NoAllocationPerCommand) {
  const std::string in = multibulk({"SET", "key", "value"}) + multibulk({"MGET", "a", "b", "c"}) +
                         "ECHO \"a quoted argument longer than the SSO buffer\" x\r\n" +
                         "GET plain\r\n";
  Parser p;
  auto run = [&] {
    std::string_view rest = in;
    size_t n = 0;
    while (!rest.empty()) {
      size_t consumed = 0;
      if (p.parse(rest, &consumed) != ParseResult::kCommand) return size_t{0};
      rest.remove_prefix(consumed);
      ++n;
    }
    return n;
  };
  ASSERT_EQ(run(), 4u);  // warm-up grows the vectors once
  const size_t before = g_allocations.load();
  ASSERT_EQ(run(), 4u);
  ASSERT_EQ(run(), 4u);
  EXPECT_EQ(g_allocations.load() - before, 0u);
}

// ---- errors ----

TEST(ParserErrors, InvalidMultibulkLength) {
  const std::string msg = "Protocol error: invalid multibulk length";
  EXPECT_EQ(parse_error("*abc\r\n"), msg);
  EXPECT_EQ(parse_error("*\r\n"), msg);
  EXPECT_EQ(parse_error("*+1\r\n"), msg);
  EXPECT_EQ(parse_error("*01\r\n"), msg);
  EXPECT_EQ(parse_error("*-0\r\n"), msg);
  EXPECT_EQ(parse_error("*1 \r\n"), msg);
  EXPECT_EQ(parse_error("*99999999999999999999\r\n"), msg);
  EXPECT_EQ(parse_error("*3\rX"), msg);  // CR not followed by LF
}

TEST(ParserErrors, InvalidBulkLength) {
  const std::string msg = "Protocol error: invalid bulk length";
  EXPECT_EQ(parse_error("*1\r\n$abc\r\n"), msg);
  EXPECT_EQ(parse_error("*1\r\n$\r\n"), msg);
  EXPECT_EQ(parse_error("*1\r\n$-1\r\n"), msg);
  EXPECT_EQ(parse_error("*1\r\n$03\r\n"), msg);
  EXPECT_EQ(parse_error("*1\r\n$3\rx"), msg);
}

TEST(ParserErrors, ExpectedDollar) {
  EXPECT_EQ(parse_error("*1\r\nfoo\r\n"), "Protocol error: expected '$', got 'f'");
  EXPECT_EQ(parse_error("*2\r\n$1\r\na\r\n:1\r\n"), "Protocol error: expected '$', got ':'");
  // A line break is shown as a space so the error line stays one line.
  EXPECT_EQ(parse_error("*1\r\n\r\n"), "Protocol error: expected '$', got ' '");
}

TEST(ParserErrors, MissingCrlfAfterBulk) {
  const std::string msg = "Protocol error: expected CRLF after bulk data";
  EXPECT_EQ(parse_error("*1\r\n$3\r\nfooXY"), msg);
  EXPECT_EQ(parse_error("*1\r\n$3\r\nfoo\rX"), msg);
  EXPECT_EQ(parse_error("*1\r\n$3\r\nfooX"), msg);  // detected before the second byte arrives
  EXPECT_EQ(parse_error("*1\r\n$3\r\nfoo\n\r"), msg);
  EXPECT_EQ(parse_status("*1\r\n$3\r\nfoo\r"), ParseResult::kNeedMore);
}

TEST(ParserErrors, ErrorIsStickyUntilReset) {
  Parser p;
  size_t consumed = 0;
  ASSERT_EQ(p.parse("*x\r\n", &consumed), ParseResult::kError);
  EXPECT_EQ(p.parse("PING\r\n", &consumed), ParseResult::kError);
  EXPECT_FALSE(p.error().empty());
  p.reset();
  EXPECT_TRUE(p.error().empty());
  ASSERT_EQ(p.parse("PING\r\n", &consumed), ParseResult::kCommand);
  EXPECT_EQ(p.args().size(), 1u);
}

TEST(ParserErrors, ResetDropsPartialCommand) {
  Parser p;
  size_t consumed = 0;
  ASSERT_EQ(p.parse("*2\r\n$3\r\nGET\r\n$1", &consumed), ParseResult::kNeedMore);
  p.reset();
  ASSERT_EQ(p.parse("PING\r\n", &consumed), ParseResult::kCommand);
  EXPECT_EQ(p.args().size(), 1u);
  EXPECT_EQ(p.args()[0], "PING");
}

// ---- limits ----

TEST(ParserLimits, HugeArgCountRefusedAtOnce) {
  EXPECT_EQ(parse_error("*10000000\r\n"), "Protocol error: invalid multibulk length");
  EXPECT_EQ(parse_error("*2147483648\r\n"), "Protocol error: invalid multibulk length");
}

TEST(ParserLimits, HugeBulkRefusedAtOnce) {
  EXPECT_EQ(parse_error("*1\r\n$2000000000\r\n"), "Protocol error: invalid bulk length");
}

TEST(ParserLimits, ArgCountAtTheEdge) {
  ParseLimits limits;
  limits.max_args = 3;
  EXPECT_EQ(parse_whole(multibulk({"a", "b", "c"}), limits).commands.size(), 1u);
  EXPECT_EQ(parse_error("*4\r\n", limits), "Protocol error: invalid multibulk length");
  EXPECT_EQ(parse_whole("a b c\r\n", limits).commands.size(), 1u);
  EXPECT_EQ(parse_error("a b c d\r\n", limits),
            "Protocol error: too many arguments in inline request");
}

TEST(ParserLimits, BulkLengthAtTheEdge) {
  ParseLimits limits;
  limits.max_bulk_len = 10;
  EXPECT_EQ(parse_whole(multibulk({"ECHO", std::string(10, 'x')}), limits).commands.size(), 1u);
  EXPECT_EQ(parse_status("*2\r\n$4\r\nECHO\r\n$10\r\n", limits), ParseResult::kNeedMore);
  EXPECT_EQ(parse_error("*2\r\n$4\r\nECHO\r\n$11\r\n", limits),
            "Protocol error: invalid bulk length");
}

TEST(ParserLimits, DefaultBulkLimitEdge) {
  const std::string at = "*1\r\n$" + std::to_string(512u << 20) + "\r\n";
  const std::string over = "*1\r\n$" + std::to_string((512u << 20) + 1) + "\r\n";
  Parser p;
  size_t consumed = 0;
  EXPECT_EQ(p.parse(at, &consumed), ParseResult::kNeedMore);
  EXPECT_EQ(p.expected_size(), at.size() + (512u << 20) + 2);
  EXPECT_EQ(parse_error(over), "Protocol error: invalid bulk length");
}

TEST(ParserLimits, InlineLengthAtTheEdge) {
  ParseLimits limits;
  limits.max_inline_len = 16;
  const std::string at(16, 'a');
  const std::string over(17, 'a');
  const std::string msg = "Protocol error: too big inline request";
  EXPECT_EQ(parse_whole(at + "\r\n", limits).commands, (std::vector<Command>{{at}}));
  EXPECT_EQ(parse_whole(at + "\n", limits).commands, (std::vector<Command>{{at}}));
  EXPECT_EQ(parse_status(at, limits), ParseResult::kNeedMore);
  EXPECT_EQ(parse_status(at + "\r", limits), ParseResult::kNeedMore);
  EXPECT_EQ(parse_error(over, limits), msg);
  EXPECT_EQ(parse_error(over + "\r\n", limits), msg);
  EXPECT_EQ(parse_error(at + "\r\r", limits), msg);
  // Fed byte by byte, the refusal comes as soon as the 17th byte arrives.
  Parser p(limits);
  const Outcome o = run_fixed(p, over + std::string(1000, 'b'), 1);
  EXPECT_EQ(o.error, msg);
  EXPECT_EQ(o.leftover, 17u);
}

TEST(ParserLimits, DefaultInlineLimitRefusesWithoutNewline) {
  EXPECT_EQ(parse_status(std::string(64 * 1024, 'a')), ParseResult::kNeedMore);
  EXPECT_EQ(parse_error(std::string(64 * 1024 + 1, 'a')), "Protocol error: too big inline request");
}

TEST(ParserLimits, HeaderLineLength) {
  // A header line may hold 64 bytes (type byte included) before its CRLF.
  const std::string at = "*" + std::string(63, '1');
  EXPECT_EQ(parse_status(at), ParseResult::kNeedMore);
  EXPECT_EQ(parse_status(at + "\r"), ParseResult::kNeedMore);
  EXPECT_EQ(parse_error(at + "1"), "Protocol error: too big mbulk count string");
  EXPECT_EQ(parse_error(at + "1\r"), "Protocol error: too big mbulk count string");
  EXPECT_EQ(parse_error(at + "1\r\n"), "Protocol error: too big mbulk count string");
  EXPECT_EQ(parse_error(at + "\r\n"), "Protocol error: invalid multibulk length");
  const std::string bulk_at = "*1\r\n$" + std::string(63, '1');
  EXPECT_EQ(parse_status(bulk_at), ParseResult::kNeedMore);
  EXPECT_EQ(parse_error(bulk_at + "1"), "Protocol error: too big bulk count string");
  // The verdict does not depend on how the bytes arrive.
  Parser p;
  EXPECT_EQ(run_fixed(p, at + "1\r\n", 1).error, "Protocol error: too big mbulk count string");
}

TEST(PeekFirstKey, NamesTheSecondElementOfACompleteHeader) {
  EXPECT_EQ(peek_first_key("*3\r\n$3\r\nSET\r\n$5\r\nuser1\r\n$1\r\nv\r\n"), "user1");
  // Only the key's bytes need to be there.
  EXPECT_EQ(peek_first_key("*3\r\n$3\r\nSET\r\n$5\r\nuser1"), "user1");
  EXPECT_EQ(peek_first_key("*2\r\n$3\r\nGET\r\n$0\r\n\r\n"), "");
  EXPECT_EQ(peek_first_key("*3\r\n$3\r\nSET\r\n$5\r\nuse"), std::nullopt);
  EXPECT_EQ(peek_first_key("*1\r\n$4\r\nPING\r\n"), std::nullopt);
  EXPECT_EQ(peek_first_key("SET k v\r\n"), std::nullopt);  // inline
  EXPECT_EQ(peek_first_key(""), std::nullopt);
  EXPECT_EQ(peek_first_key("*2\r\n$3\r\nGETX\r\n$1\r\nk\r\n"), std::nullopt);
  EXPECT_EQ(peek_first_key("*2\r\n$-1\r\n"), std::nullopt);
  EXPECT_EQ(peek_first_key("*2\r\n$99999999999999999999\r\n"), std::nullopt);
  EXPECT_EQ(peek_first_key("*2\r"), std::nullopt);
  // Whatever the bytes, it reads only inside them.
  Random rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string junk = "*" + std::to_string(rng.uniform(4));
    const size_t n = rng.uniform(40);
    for (size_t k = 0; k < n; ++k)
      junk.push_back("$\r\n0123456789kv*"[rng.uniform(16)]);
    auto key = peek_first_key(junk);
    if (key) {
      EXPECT_GE(key->data(), junk.data());
      EXPECT_LE(key->data() + key->size(), junk.data() + junk.size());
    }
  }
}

}  // namespace
}  // namespace rkv::resp
