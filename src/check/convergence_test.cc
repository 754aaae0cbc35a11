#include "check/convergence.h"

#include <gtest/gtest.h>

namespace rkv::check {
namespace {

TEST(ConvergenceTest, EqualReplicasConverge) {
  EXPECT_TRUE(check_convergence({}).ok);
  const ReplicaState s = {{"a", "1"}, {"b", "2"}};
  const auto r = check_convergence({{"n1", s}, {"n2", s}, {"n3", s}});
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.keys, 2);
}

TEST(ConvergenceTest, ReportsFirstDifferingKeyWithEveryReplicasValue) {
  const ReplicaState s1 = {{"a", "1"}, {"b", "2"}, {"c", "3"}};
  const ReplicaState s2 = {{"a", "1"}, {"b", "X"}, {"c", "3"}};
  const ReplicaState s3 = {{"a", "1"}, {"c", "4"}};
  const auto r = check_convergence({{"n1", s1}, {"n2", s2}, {"n3", s3}});
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_EQ(r.failing_key, "b");
  EXPECT_EQ(r.explanation,
            "replicas diverge on 2 of 3 keys; first key \"b\":\n"
            "  n1: \"2\"\n  n2: \"X\"\n  n3: <absent>\n");
}

TEST(ConvergenceTest, KeyMissingOnFirstReplicaDiffers) {
  const auto r = check_convergence({{"n1", {}}, {"n2", {{"k", "v"}}}});
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.failing_key, "k");
}

}  // namespace
}  // namespace rkv::check
