#include "check/check_cli.h"

#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace rkv::check {
namespace {

std::string testdata(const std::string& name) {
  return std::string(RKV_CHECK_TESTDATA) + "/" + name;
}

// Writes `text` to a file under the test temp dir and returns its path.
std::string temp_file(const std::string& name, const std::string& text) {
  const std::string path = testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

bool contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

// Parses `args` as `replikv <args>` with only the check command, and runs it.
int run_command(const std::string& args, std::ostream& out, std::ostream& err) {
  CLI::App app;
  auto check = add_check_command(app);
  app.parse(args);
  EXPECT_TRUE(check->selected());
  return check->run(out, err);
}

TEST(CheckCliTest, ValidPrintsOneLineSummary) {
  std::ostringstream out, err;
  EXPECT_EQ(run_check("linearizable", testdata("linearizable.valid.sequential.jsonl"), out, err),
            kCheckValid);
  EXPECT_EQ(out.str().rfind("valid (linearizable): 9 ops, 1 keys, checked in ", 0), 0u)
      << out.str();
  const std::string text = out.str();
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1);
  EXPECT_TRUE(err.str().empty());
}

TEST(CheckCliTest, ViolationNamesTheKeyAndItsOperations) {
  std::ostringstream out, err;
  EXPECT_EQ(run_check("linearizable", testdata("linearizable.invalid.stale_read.jsonl"), out, err),
            kCheckViolation);
  EXPECT_NE(out.str().find("INVALID (linearizable)"), std::string::npos);
  EXPECT_NE(out.str().find("not linearizable: key \"k\""), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("cannot explain line 3: p2 get \"k\" -> \"1\" ok [40, 50]"),
            std::string::npos)
      << out.str();
  EXPECT_NE(out.str().find("  line 1: p1 set \"k\" \"1\" ok [0, 10]"), std::string::npos);
}

TEST(CheckCliTest, BadInputs) {
  std::ostringstream out, err;
  EXPECT_EQ(run_check("sequential", testdata("linearizable.valid.sequential.jsonl"), out, err),
            kCheckBadInput);
  EXPECT_NE(err.str().find("unknown model \"sequential\""), std::string::npos);
  EXPECT_EQ(run_check("set", testdata("does-not-exist.jsonl"), out, err), kCheckBadInput);
  // Register ops under the set model.
  err.str("");
  EXPECT_EQ(run_check("set", testdata("linearizable.valid.sequential.jsonl"), out, err),
            kCheckBadInput);
  EXPECT_NE(err.str().find("line 1:"), std::string::npos) << err.str();
  EXPECT_TRUE(out.str().empty());
}

TEST(CheckCliTest, BudgetExceededIsExitThree) {
  const std::string path = testing::TempDir() + "/rkv_check_cli_unknown.jsonl";
  {
    std::ofstream f(path);
    for (int i = 0; i < 20; ++i) {
      f << "{\"process\":" << i << ",\"op\":\"set\",\"key\":\"k\",\"value\":\"" << i
        << "\",\"invoke\":0,\"status\":\"info\"}\n";
    }
    for (int i = 0; i < 20; ++i) {
      f << "{\"process\":" << 50 + i << ",\"op\":\"get\",\"key\":\"k\",\"value\":\"" << i
        << "\",\"invoke\":" << 100 + 10 * i << ",\"complete\":" << 105 + 10 * i
        << ",\"status\":\"ok\"}\n";
    }
    f << R"({"process":99,"op":"get","key":"k","value":"0","invoke":400,"complete":410,"status":"ok"})"
      << "\n";
  }
  std::ostringstream out, err;
  LinearizabilityOptions small;
  small.max_steps_per_key = 50;
  EXPECT_EQ(run_check("linearizable", path, out, err, small), kCheckUnknown);
  EXPECT_NE(out.str().find("unknown: search budget exceeded"), std::string::npos) << out.str();
  std::remove(path.c_str());
}

TEST(CheckCliTest, BoundedStalenessUsesTheBounds) {
  const std::string path = testdata("bounded-staleness.invalid.missed_write.jsonl");
  std::ostringstream out, err;
  EXPECT_EQ(run_check("bounded-staleness", path, out, err), kCheckViolation);
  EXPECT_TRUE(contains(out.str(), "INVALID (bounded-staleness): 3 ops, 1 keys")) << out.str();
  EXPECT_TRUE(contains(out.str(),
                       "cutoff = 300000 - 10 ms * (1 + 0.01) - 50000 us slack = "
                       "239900"))
      << out.str();
  EXPECT_TRUE(contains(out.str(), "    line 2: p1 set \"k\" \"2\" ok [100000, 101000]"));
  // A slack that covers the missed write's completion makes the read acceptable.
  CheckOptions wide;
  wide.staleness.slack_us = 200'000;
  out.str("");
  EXPECT_EQ(run_check("bounded-staleness", path, out, err, wide), kCheckValid) << out.str();
  EXPECT_EQ(out.str().rfind("valid (bounded-staleness): 3 ops, 1 keys, checked in ", 0), 0u);
  CheckOptions negative;
  negative.staleness.rate_margin = -1;
  EXPECT_EQ(run_check("bounded-staleness", path, out, err, negative), kCheckBadInput);
  EXPECT_TRUE(contains(err.str(), "must be >= 0")) << err.str();
  EXPECT_TRUE(err.str().find("--slack-us") != std::string::npos);
}

TEST(CheckCliTest, CommandLineOptions) {
  const std::string path = testdata("bounded-staleness.invalid.missed_write.jsonl");
  std::ostringstream out, err;
  EXPECT_EQ(run_command("check --model bounded-staleness " + path, out, err), kCheckViolation);
  EXPECT_EQ(run_command("check --model bounded-staleness --slack-us 180000 " + path, out, err),
            kCheckViolation);
  EXPECT_EQ(run_command("check --model bounded-staleness --slack-us 180000 --rate-margin 1 " + path,
                        out, err),
            kCheckValid);
  EXPECT_EQ(run_command("check " + testdata("linearizable.valid.sequential.jsonl"), out, err),
            kCheckValid);
  EXPECT_TRUE(err.str().empty()) << err.str();
  // Options of another model are refused rather than ignored.
  EXPECT_EQ(
      run_command("check --model set --slack-us 5 " + testdata("set.valid.basic.jsonl"), out, err),
      kCheckBadInput);
  EXPECT_TRUE(contains(err.str(), "apply only to --model bounded-staleness")) << err.str();
  err.str("");
  EXPECT_EQ(run_command("check --model counter --lost " + testdata("set.valid.listed_loss.lost") +
                            " " + testdata("counter.valid.concurrent_negative.jsonl"),
                        out, err),
            kCheckBadInput);
  EXPECT_TRUE(contains(err.str(), "--lost applies only to --model set")) << err.str();
  err.str("");
  EXPECT_EQ(run_command("check --model set --lost " + testdata("set.valid.listed_loss.lost") + " " +
                            testdata("set.valid.listed_loss.jsonl"),
                        out, err),
            kCheckValid);
  EXPECT_TRUE(err.str().empty()) << err.str();
}

TEST(CheckCliTest, SetWithLostFile) {
  const std::string history = testdata("set.valid.listed_loss.jsonl");
  std::ostringstream out, err;
  // Without the listing the loss is a violation.
  EXPECT_EQ(run_check("set", history, out, err), kCheckViolation);
  CheckOptions options;
  options.lost_path = testdata("set.valid.listed_loss.lost");
  out.str("");
  EXPECT_EQ(run_check("set", history, out, err, options), kCheckValid) << out.str();
  const std::string summary = out.str();
  EXPECT_EQ(std::count(summary.begin(), summary.end(), '\n'), 1) << summary;

  // A listed element present in the final read: valid, with a note after the summary.
  options.lost_path = temp_file("rkv_check_cli_present.lost",
                                "{\"key\":\"s\",\"element\":\"b\"}\n\n"
                                "{\"key\":\"s\",\"element\":\"a\"}\n");
  out.str("");
  EXPECT_EQ(run_check("set", history, out, err, options), kCheckValid) << out.str();
  EXPECT_TRUE(contains(out.str(),
                       "\nnote: listed as lost but present in the final read: key "
                       "\"s\" element \"a\" (line 4: "))
      << out.str();
  std::remove(options.lost_path.c_str());

  options.lost_path = testdata("does-not-exist.lost");
  EXPECT_EQ(run_check("set", history, out, err, options), kCheckBadInput);
  EXPECT_TRUE(contains(err.str(), "cannot open lost-element file")) << err.str();
  err.str("");
  options.lost_path =
      temp_file("rkv_check_cli_bad.lost", "{\"key\":\"s\",\"element\":\"b\"}\n{\"key\":\"s\"}\n");
  EXPECT_EQ(run_check("set", history, out, err, options), kCheckBadInput);
  EXPECT_TRUE(contains(err.str(), "rkv_check_cli_bad.lost: line 2: missing field \"element\""))
      << err.str();
  std::remove(options.lost_path.c_str());
}

TEST(CheckCliTest, LostElementFileIsStrict) {
  auto parse = [](const std::string& text) {
    std::istringstream in(text);
    return parse_lost_elements(in);
  };
  auto ok = parse(
      "{\"key\":\"s\",\"element\":\"e1\"}\n  \n{\"element\":\"e2\",\"key\":\"t\"}\n"
      "{\"key\":\"s\",\"element\":\"e1\"}\n");
  ASSERT_TRUE(ok.is_ok()) << ok.status().to_string();
  EXPECT_EQ(*ok, (std::set<LostElement>{{"s", "e1"}, {"t", "e2"}}));
  EXPECT_TRUE(parse("").is_ok());
  auto error = [&](const std::string& text) { return parse(text).status().message(); };
  EXPECT_EQ(error("{\"key\":\"s\""), "line 1: malformed JSON at column 11");
  EXPECT_EQ(error("\n[1]"), "line 2: record must be a JSON object");
  EXPECT_EQ(error("{\"key\":\"s\",\"element\":\"e\",\"term\":3}"),
            "line 1: unknown field \"term\"");
  EXPECT_EQ(error("{\"element\":\"e\"}"), "line 1: missing field \"key\"");
  EXPECT_EQ(error("{\"key\":\"s\",\"element\":7}"), "line 1: field \"element\" must be a string");
}

}  // namespace
}  // namespace rkv::check
