#include "check/check_cli.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace rkv::check {
namespace {

std::string testdata(const std::string& name) {
  return std::string(RKV_CHECK_TESTDATA) + "/" + name;
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

}  // namespace
}  // namespace rkv::check
