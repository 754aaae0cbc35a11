#include "sim/workload.h"

#include <gtest/gtest.h>

namespace rkv::sim {
namespace {

using check::OpStatus;
using check::OpType;

TEST(Workload, ErrorsThatProveNothingRanAreFail) {
  EXPECT_EQ(Workload::classify_error("TRYAGAIN no leader"), OpStatus::kFail);
  EXPECT_EQ(Workload::classify_error("MOVED 0 127.0.0.1:7002"), OpStatus::kFail);
  EXPECT_EQ(Workload::classify_error("ERR syntax error"), OpStatus::kFail);
  EXPECT_EQ(Workload::classify_error("ERR value is not an integer or out of range"),
            OpStatus::kFail);
  EXPECT_EQ(Workload::classify_error("TIMEOUT commit not confirmed"), OpStatus::kInfo);
  EXPECT_EQ(Workload::classify_error("ERR something new"), OpStatus::kInfo);
}

TEST(Workload, SplitMembers) {
  EXPECT_EQ(split_members("e1,e2,"), (std::vector<std::string>{"e1", "e2"}));
  EXPECT_EQ(split_members(""), std::vector<std::string>{});
  EXPECT_EQ(split_members(",e3,,e4"), (std::vector<std::string>{"e3", "e4"}));
}

TEST(Workload, RepliesBecomeOutcomes) {
  FaultMix mix;
  Workload w(WorkloadKind::kRegisters, mix, 1);
  ClientOp cas;
  cas.op.type = OpType::kCas;
  Reply nil;
  nil.kind = Reply::kNull;
  w.complete(cas, nil);
  EXPECT_EQ(cas.op.status, OpStatus::kFail);  // comparison failed: nothing written

  ClientOp incr;
  incr.op.type = OpType::kIncr;
  Reply n;
  n.kind = Reply::kInteger;
  n.integer = 5;
  w.complete(incr, n);
  EXPECT_EQ(incr.op.status, OpStatus::kOk);
  EXPECT_EQ(incr.op.value, "5");

  ClientOp get;
  get.op.type = OpType::kGet;
  w.complete(get, nil);
  EXPECT_EQ(get.op.status, OpStatus::kOk);
  EXPECT_FALSE(get.op.value.has_value());

  ClientOp smembers;
  smembers.op.type = OpType::kSmembers;
  Reply bulk;
  bulk.kind = Reply::kBulk;
  bulk.text = "e1,e9,";
  w.complete(smembers, bulk);
  EXPECT_EQ(smembers.op.members, (std::vector<std::string>{"e1", "e9"}));
}

TEST(Workload, DrawsAreDeterministicAndOnAccountsKeys) {
  FaultMix mix;
  Workload a(WorkloadKind::kAll, mix, 2), b(WorkloadKind::kAll, mix, 2);
  Random ra(5), rb(5);
  for (int i = 0; i < 500; ++i) {
    ClientOp x = a.next(i % 2, ra), y = b.next(i % 2, rb);
    EXPECT_EQ(x.args, y.args);
    EXPECT_EQ(x.op.key.rfind("accounts:", 0), 0u);
  }
}

}  // namespace
}  // namespace rkv::sim
