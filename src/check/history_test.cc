#include "check/history.h"

#include <gtest/gtest.h>

#include <sstream>

namespace rkv::check {
namespace {

Result<std::vector<Op>> parse(const std::string& text) {
  std::istringstream in(text);
  return parse_history(in);
}

// Parses a single record and expects the error message to contain `needle`.
void expect_error(const std::string& line, const std::string& needle) {
  auto r = parse("\n" + line + "\n");
  ASSERT_FALSE(r.is_ok()) << line;
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("line 2: "), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find(needle), std::string::npos) << r.status().message();
}

TEST(HistoryTest, ParsesEveryOpType) {
  auto r = parse(
      R"({"process":3,"op":"set","key":"k1","value":"7","invoke":1000,"complete":2000,"status":"ok"}
{"process":1,"op":"get","key":"k1","value":null,"invoke":1,"complete":2,"status":"ok"}
{"process":1,"op":"get","key":"k1","value":"7","invoke":3,"complete":4,"status":"ok"}
{"process":1,"op":"del","key":"k1","invoke":5,"complete":6,"status":"fail"}
{"process":1,"op":"incr","key":"c","invoke":7,"complete":8,"status":"ok"}
{"process":1,"op":"incr","key":"c","delta":-4,"value":"-3","invoke":9,"complete":10,"status":"ok"}
{"process":2,"op":"cas","key":"k","expected":null,"value":"a","invoke":11,"status":"info"}
{"process":2,"op":"append","key":"k","value":"b","invoke":12,"complete":null,"status":"info"}
{"process":2,"op":"sadd","key":"s","value":"e","invoke":13,"complete":14,"status":"ok"}
{"process":2,"op":"smembers","key":"s","value":["e","f"],"invoke":15,"complete":16,"status":"ok","error":"x"}
)");
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  const auto& ops = *r;
  ASSERT_EQ(ops.size(), 10u);
  EXPECT_EQ(ops[0].process, 3);
  EXPECT_EQ(ops[0].type, OpType::kSet);
  EXPECT_EQ(ops[0].value, "7");
  EXPECT_EQ(ops[0].invoke, 1000);
  EXPECT_EQ(ops[0].complete, 2000);
  EXPECT_EQ(ops[0].line, 1);
  EXPECT_FALSE(ops[1].value.has_value());
  EXPECT_EQ(ops[3].status, OpStatus::kFail);
  EXPECT_EQ(ops[4].delta, 1);
  EXPECT_EQ(ops[5].delta, -4);
  EXPECT_EQ(ops[5].value, "-3");
  EXPECT_FALSE(ops[6].expected.has_value());
  EXPECT_EQ(ops[6].complete, kNoComplete);
  EXPECT_EQ(ops[7].complete, kNoComplete);
  EXPECT_EQ(ops[9].members, (std::vector<std::string>{"e", "f"}));
  EXPECT_EQ(ops[9].line, 10);
}

TEST(HistoryTest, BlankLinesAreSkippedButCounted) {
  auto r = parse(
      "\n  \n{\"process\":1,\"op\":\"del\",\"key\":\"k\",\"invoke\":0,\"complete\":1,"
      "\"status\":\"ok\"}\n");
  ASSERT_TRUE(r.is_ok());
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(r->front().line, 3);
}

TEST(HistoryTest, RejectsMalformedRecordsNamingTheLine) {
  expect_error(R"({"process":1,"op":"get",)", "malformed JSON");
  // A number beyond every JSON number type (found by fuzzing: it used to abort the process).
  expect_error(R"({"process":1,"op":"get","key":"k","invoke":)" + std::string(400, '6') + "}",
               "malformed JSON");
  expect_error(R"([1,2])", "JSON object");
  expect_error(R"({"op":"del","key":"k","invoke":0,"complete":1,"status":"ok"})",
               "missing field \"process\"");
  expect_error(R"({"process":1.5,"op":"del","key":"k","invoke":0,"complete":1,"status":"ok"})",
               "\"process\"");
  expect_error(R"({"process":1,"op":"hget","key":"k","invoke":0,"complete":1,"status":"ok"})",
               "unknown op \"hget\"");
  expect_error(R"({"process":1,"op":"del","key":7,"invoke":0,"complete":1,"status":"ok"})",
               "\"key\" must be a string");
  expect_error(R"({"process":1,"op":"del","key":"k","invoke":0,"complete":1,"status":"maybe"})",
               "unknown status");
  expect_error(R"({"process":1,"op":"del","key":"k","invoke":0,"status":"ok"})",
               "only when status is info");
  expect_error(R"({"process":1,"op":"del","key":"k","invoke":5,"complete":4,"status":"ok"})",
               "before \"invoke\"");
  expect_error(R"({"process":1,"op":"del","key":"k","invoke":-1,"complete":4,"status":"ok"})",
               ">= 0");
  expect_error(R"({"process":1,"op":"set","key":"k","invoke":0,"complete":1,"status":"ok"})",
               "set needs \"value\"");
  expect_error(
      R"({"process":1,"op":"set","key":"k","value":null,"invoke":0,"complete":1,"status":"ok"})",
      "set needs \"value\"");
  expect_error(R"({"process":1,"op":"get","key":"k","invoke":0,"complete":1,"status":"ok"})",
               "ok get needs \"value\"");
  expect_error(
      R"({"process":1,"op":"del","key":"k","value":"1","invoke":0,"complete":1,"status":"ok"})",
      "del takes no");
  expect_error(
      R"({"process":1,"op":"cas","key":"k","value":"1","invoke":0,"complete":1,"status":"ok"})",
      "cas needs \"expected\"");
  expect_error(
      R"({"process":1,"op":"set","key":"k","value":"1","expected":"0","invoke":0,"complete":1,"status":"ok"})",
      "only cas takes");
  expect_error(
      R"({"process":1,"op":"set","key":"k","value":"1","delta":2,"invoke":0,"complete":1,"status":"ok"})",
      "only incr takes");
  expect_error(
      R"({"process":1,"op":"incr","key":"k","delta":"2","invoke":0,"complete":1,"status":"ok"})",
      "\"delta\"");
  expect_error(
      R"({"process":1,"op":"smembers","key":"k","value":["a",1],"invoke":0,"complete":1,"status":"ok"})",
      "array of strings");
  expect_error(R"({"process":1,"op":"smembers","key":"k","invoke":0,"complete":1,"status":"ok"})",
               "ok smembers needs");
  expect_error(
      R"({"process":1,"op":"del","key":"k","invoke":0,"complete":1,"status":"ok","extra":1})",
      "unknown field \"extra\"");
}

TEST(HistoryTest, InfoAndFailReadsNeedNoValue) {
  auto r = parse(
      R"({"process":1,"op":"get","key":"k","invoke":0,"complete":1,"status":"info"}
{"process":1,"op":"smembers","key":"k","invoke":2,"complete":3,"status":"fail"})");
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->size(), 2u);
}

TEST(HistoryTest, GetsMayCarryAStalenessReport) {
  auto r = parse(
      R"({"process":1,"op":"get","key":"k","value":"1","staleness_ms":40,"entries_behind":2,"invoke":0,"complete":1,"status":"ok"}
{"process":1,"op":"get","key":"k","value":null,"staleness_ms":0,"invoke":2,"complete":3,"status":"ok"}
{"process":1,"op":"get","key":"k","value":null,"invoke":4,"complete":5,"status":"ok"}
{"process":1,"op":"get","key":"k","entries_behind":7,"invoke":6,"status":"info"})");
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  const auto& ops = *r;
  ASSERT_EQ(ops.size(), 4u);
  EXPECT_EQ(ops[0].staleness_ms, 40);
  EXPECT_EQ(ops[0].entries_behind, 2);
  EXPECT_EQ(ops[1].staleness_ms, 0);
  EXPECT_FALSE(ops[1].entries_behind.has_value());
  EXPECT_FALSE(ops[2].staleness_ms.has_value());
  EXPECT_FALSE(ops[2].entries_behind.has_value());
  EXPECT_EQ(ops[3].entries_behind, 7);
}

TEST(HistoryTest, StalenessReportOnlyOnGetAndNonNegative) {
  expect_error(
      R"({"process":1,"op":"set","key":"k","value":"1","staleness_ms":3,"invoke":0,"complete":1,"status":"ok"})",
      "only get takes \"staleness_ms\"");
  expect_error(
      R"({"process":1,"op":"smembers","key":"k","value":[],"entries_behind":0,"invoke":0,"complete":1,"status":"ok"})",
      "only get takes \"entries_behind\"");
  expect_error(
      R"({"process":1,"op":"get","key":"k","value":"1","staleness_ms":-1,"invoke":0,"complete":1,"status":"ok"})",
      "\"staleness_ms\" must be >= 0");
  expect_error(
      R"({"process":1,"op":"get","key":"k","value":"1","entries_behind":-5,"invoke":0,"complete":1,"status":"ok"})",
      "\"entries_behind\" must be >= 0");
  expect_error(
      R"({"process":1,"op":"get","key":"k","value":"1","staleness_ms":1.5,"invoke":0,"complete":1,"status":"ok"})",
      "\"staleness_ms\" must be a 64-bit integer");
  expect_error(
      R"({"process":1,"op":"get","key":"k","value":"1","entries_behind":null,"invoke":0,"complete":1,"status":"ok"})",
      "\"entries_behind\" must be a 64-bit integer");

  Op set;
  set.type = OpType::kSet;
  set.value = "1";
  set.complete = 1;
  set.entries_behind = 0;
  EXPECT_EQ(validate_op(set).code(), Code::kInvalidArgument);
  set.type = OpType::kGet;
  EXPECT_TRUE(validate_op(set).is_ok());
  set.staleness_ms = -1;
  EXPECT_EQ(validate_op(set).code(), Code::kInvalidArgument);
}

Op make(OpType type, std::optional<std::string> value, OpStatus status = OpStatus::kOk) {
  Op op;
  op.process = 4;
  op.type = type;
  op.key = "key \"q\"";
  op.value = std::move(value);
  op.status = status;
  op.invoke = 10;
  op.complete = 20;
  return op;
}

TEST(HistoryTest, WriterOutputParsesBackToTheSameOps) {
  std::vector<Op> ops;
  ops.push_back(make(OpType::kSet, "v\n1"));
  ops.push_back(make(OpType::kGet, std::nullopt));
  Op cas = make(OpType::kCas, "new", OpStatus::kInfo);
  cas.expected = std::nullopt;
  cas.complete = kNoComplete;
  ops.push_back(cas);
  Op incr = make(OpType::kIncr, "5");
  incr.delta = -2;
  ops.push_back(incr);
  Op members = make(OpType::kSmembers, std::nullopt);
  members.members = {"a", "b"};
  ops.push_back(members);
  ops.push_back(make(OpType::kDel, std::nullopt, OpStatus::kFail));
  Op follower_read = make(OpType::kGet, "x");
  follower_read.staleness_ms = 25;
  follower_read.entries_behind = 3;
  ops.push_back(follower_read);

  std::ostringstream out;
  HistoryWriter writer(out);
  for (const Op& op : ops)
    ASSERT_TRUE(writer.append(op).is_ok());
  EXPECT_EQ(writer.records(), 7);
  auto back = parse(out.str());
  ASSERT_TRUE(back.is_ok()) << back.status().to_string();
  ASSERT_EQ(back->size(), ops.size());
  for (size_t i = 0; i < ops.size(); ++i) {
    const Op& a = ops[i];
    const Op& b = (*back)[i];
    EXPECT_EQ(to_jsonl(a), to_jsonl(b));
    EXPECT_EQ(a.type, b.type);
    EXPECT_EQ(a.key, b.key);
    EXPECT_EQ(a.value, b.value);
    EXPECT_EQ(a.expected, b.expected);
    EXPECT_EQ(a.delta, b.delta);
    EXPECT_EQ(a.members, b.members);
    EXPECT_EQ(a.status, b.status);
    EXPECT_EQ(a.invoke, b.invoke);
    EXPECT_EQ(a.complete, b.complete);
    EXPECT_EQ(a.staleness_ms, b.staleness_ms);
    EXPECT_EQ(a.entries_behind, b.entries_behind);
    EXPECT_EQ(b.line, static_cast<int64_t>(i + 1));
  }
}

TEST(HistoryTest, RecordFieldOrderIsReadable) {
  EXPECT_EQ(to_jsonl(make(OpType::kSet, "7")),
            R"({"process":4,"op":"set","key":"key \"q\"","value":"7","invoke":10,)"
            R"("complete":20,"status":"ok"})");
  Op read = make(OpType::kGet, "7");
  read.staleness_ms = 25;
  read.entries_behind = 0;
  EXPECT_EQ(to_jsonl(read),
            R"({"process":4,"op":"get","key":"key \"q\"","value":"7","staleness_ms":25,)"
            R"("entries_behind":0,"invoke":10,"complete":20,"status":"ok"})");
}

TEST(HistoryTest, WriterRejectsInvalidOps) {
  std::ostringstream out;
  HistoryWriter writer(out);
  Op no_complete = make(OpType::kSet, "1");
  no_complete.complete = kNoComplete;
  EXPECT_EQ(writer.append(no_complete).code(), Code::kInvalidArgument);
  EXPECT_EQ(writer.append(make(OpType::kSet, std::string("\xff\xfe", 2))).code(),
            Code::kInvalidArgument);
  EXPECT_EQ(writer.append(make(OpType::kSet, std::nullopt)).code(), Code::kInvalidArgument);
  EXPECT_TRUE(out.str().empty());
  EXPECT_EQ(writer.records(), 0);
}

TEST(HistoryTest, FileWriterAppendsAndLoadReadsBack) {
  const std::string path = testing::TempDir() + "/rkv_history_test.jsonl";
  std::remove(path.c_str());
  {
    auto w = HistoryWriter::open(path);
    ASSERT_TRUE(w.is_ok());
    ASSERT_TRUE((*w)->append(make(OpType::kSet, "1")).is_ok());
  }
  {
    auto w = HistoryWriter::open(path);
    ASSERT_TRUE(w.is_ok());
    ASSERT_TRUE((*w)->append(make(OpType::kGet, "1")).is_ok());
  }
  auto ops = load_history(path);
  ASSERT_TRUE(ops.is_ok()) << ops.status().to_string();
  EXPECT_EQ(ops->size(), 2u);
  std::remove(path.c_str());
  EXPECT_EQ(load_history(path).status().code(), Code::kNotFound);
}

TEST(HistoryTest, DescribeOpIsOneReadableLine) {
  Op op = make(OpType::kGet, "3");
  op.line = 7;
  EXPECT_EQ(describe_op(op), R"(line 7: p4 get "key \"q\"" -> "3" ok [10, 20])");
  op.staleness_ms = 40;
  op.entries_behind = 2;
  EXPECT_EQ(describe_op(op),
            R"(line 7: p4 get "key \"q\"" -> "3" ok [10, 20] staleness_ms=40 entries_behind=2)");
  op.staleness_ms.reset();
  op.entries_behind.reset();
  op.status = OpStatus::kInfo;
  op.complete = kNoComplete;
  op.type = OpType::kCas;
  op.expected = std::nullopt;
  EXPECT_EQ(describe_op(op), R"(line 7: p4 cas "key \"q\"" null -> "3" info [10, ?])");
}

}  // namespace
}  // namespace rkv::check
