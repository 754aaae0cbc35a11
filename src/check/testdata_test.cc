// Runs `replikv check` over every history in testdata/. File names say what must happen:
//   <model>.valid.<name>.jsonl     exit 0
//   <model>.invalid.<name>.jsonl   exit 1
//   malformed.<name>.jsonl         exit 2 under every model, with the line named
// A set history <name>.jsonl with a sidecar <name>.lost is checked with that file as --lost.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "check/check_cli.h"

namespace rkv::check {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> testdata_files() {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(RKV_CHECK_TESTDATA)) {
    if (entry.path().extension() == ".jsonl") names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

class TestdataTest : public testing::TestWithParam<std::string> {};

TEST_P(TestdataTest, ExitCodeMatchesName) {
  const std::string name = GetParam();
  const std::string path = std::string(RKV_CHECK_TESTDATA) + "/" + name;
  const std::string model = name.substr(0, name.find('.'));
  std::ostringstream out, err;
  if (model == "malformed") {
    // The line each malformed file breaks on.
    const std::map<std::string, int> bad_line = {
        {"malformed.bad_json.jsonl", 2},      {"malformed.ok_without_complete.jsonl", 3},
        {"malformed.unknown_op.jsonl", 1},    {"malformed.complete_before_invoke.jsonl", 1},
        {"malformed.unknown_field.jsonl", 1}, {"malformed.staleness_on_set.jsonl", 2},
    };
    ASSERT_TRUE(bad_line.count(name)) << "add " << name << " to the table";
    for (const char* m : {"linearizable", "set", "counter", "bounded-staleness"}) {
      EXPECT_EQ(run_check(m, path, out, err), kCheckBadInput);
      EXPECT_NE(err.str().find("line " + std::to_string(bad_line.at(name)) + ":"),
                std::string::npos)
          << err.str();
    }
    return;
  }
  const bool valid = name.find(".valid.") != std::string::npos;
  ASSERT_TRUE(valid || name.find(".invalid.") != std::string::npos) << name;
  CheckOptions options;
  const std::string lost = path.substr(0, path.size() - 6) + ".lost";
  if (fs::exists(lost)) options.lost_path = lost;
  const int rc = run_check(model, path, out, err, options);
  EXPECT_EQ(rc, valid ? kCheckValid : kCheckViolation) << out.str() << err.str();
  EXPECT_TRUE(err.str().empty()) << err.str();
}

INSTANTIATE_TEST_SUITE_P(Files, TestdataTest, testing::ValuesIn(testdata_files()),
                         [](const testing::TestParamInfo<std::string>& info) {
                           std::string n = info.param.substr(0, info.param.size() - 6);
                           std::replace(n.begin(), n.end(), '.', '_');
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

TEST(TestdataTest, EveryKindIsPresent) {
  const auto files = testdata_files();
  for (const char* prefix :
       {"linearizable.valid.", "linearizable.invalid.", "set.valid.", "set.invalid.",
        "counter.valid.", "counter.invalid.", "bounded-staleness.valid.",
        "bounded-staleness.invalid.", "malformed."}) {
    EXPECT_TRUE(std::any_of(files.begin(), files.end(), [&](const std::string& f) {
      return f.rfind(prefix, 0) == 0;
    })) << prefix;
  }
}

}  // namespace
}  // namespace rkv::check
