#include "check/history.h"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <istream>
#include <nlohmann/json.hpp>
#include <ostream>

namespace rkv::check {
namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

constexpr std::array<const char*, 8> kOpNames = {"get", "set",    "del",  "incr",
                                                 "cas", "append", "sadd", "smembers"};
// Longest line parse_history accepts; a longer one is reported rather than buffered forever.
constexpr size_t kMaxLineBytes = 64u << 20;

bool is_blank(std::string_view s) {
  return s.find_first_not_of(" \t\r") == std::string_view::npos;
}

Status line_error(int64_t line, const std::string& what) {
  return Status::invalid_argument(fmt::format("line {}: {}", line, what));
}

// Reads an integer field that must fit in int64 (JSON numbers with a fraction are rejected).
Result<int64_t> get_int(const Json& j, const char* field) {
  const Json& v = j.at(field);
  if (v.is_number_integer() && !v.is_number_unsigned()) return v.get<int64_t>();
  if (v.is_number_unsigned()) {
    const auto u = v.get<uint64_t>();
    if (u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return static_cast<int64_t>(u);
    }
  }
  return Status::invalid_argument(fmt::format("field \"{}\" must be a 64-bit integer", field));
}

// A string-or-null field. `present` tells whether the field exists at all.
Result<std::optional<std::string>> get_nullable_string(const Json& j, const char* field) {
  const Json& v = j.at(field);
  if (v.is_null()) return std::optional<std::string>();
  if (v.is_string()) return std::optional<std::string>(v.get<std::string>());
  return Status::invalid_argument(fmt::format("field \"{}\" must be a string or null", field));
}

Status check_fields(const Json& j) {
  static constexpr std::array<const char*, 13> kKnown = {
      "process",        "op",     "key",      "value",  "expected", "delta", "staleness_ms",
      "entries_behind", "invoke", "complete", "status", "error",    "node"};
  for (const auto& [name, unused] : j.items()) {
    bool known = false;
    for (const char* k : kKnown)
      known = known || name == k;
    if (!known) return Status::invalid_argument(fmt::format("unknown field \"{}\"", name));
  }
  for (const char* required : {"process", "op", "key", "invoke", "status"}) {
    if (!j.contains(required)) {
      return Status::invalid_argument(fmt::format("missing field \"{}\"", required));
    }
  }
  if (j.contains("error") && !j["error"].is_string()) {
    return Status::invalid_argument("field \"error\" must be a string");
  }
  if (j.contains("node") && !j["node"].is_string()) {
    return Status::invalid_argument("field \"node\" must be a string");
  }
  return Status::ok();
}

Status decode_value(const Json& j, Op& op) {
  const bool has_value = j.contains("value");
  switch (op.type) {
    case OpType::kGet: {
      if (!has_value) {
        if (op.ok()) return Status::invalid_argument("ok get needs \"value\" (string or null)");
        return Status::ok();
      }
      auto v = get_nullable_string(j, "value");
      if (!v) return v.status();
      op.value = std::move(*v);
      return Status::ok();
    }
    case OpType::kSet:
    case OpType::kAppend:
    case OpType::kSadd:
    case OpType::kCas: {
      if (!has_value || !j["value"].is_string()) {
        return Status::invalid_argument(
            fmt::format("{} needs \"value\" as a string", op_type_name(op.type)));
      }
      op.value = j["value"].get<std::string>();
      return Status::ok();
    }
    case OpType::kDel:
      if (has_value) return Status::invalid_argument("del takes no \"value\"");
      return Status::ok();
    case OpType::kIncr: {
      if (!has_value) return Status::ok();
      auto v = get_nullable_string(j, "value");
      if (!v) return v.status();
      op.value = std::move(*v);
      return Status::ok();
    }
    case OpType::kSmembers: {
      if (!has_value) {
        if (op.ok()) return Status::invalid_argument("ok smembers needs \"value\" (array)");
        return Status::ok();
      }
      const Json& v = j["value"];
      if (v.is_null() && !op.ok()) return Status::ok();
      if (!v.is_array()) {
        return Status::invalid_argument("smembers \"value\" must be an array of strings");
      }
      for (const Json& m : v) {
        if (!m.is_string()) {
          return Status::invalid_argument("smembers \"value\" must be an array of strings");
        }
        op.members.push_back(m.get<std::string>());
      }
      return Status::ok();
    }
  }
  RKV_UNREACHABLE();
}

// One optional field of a get's staleness report ("staleness_ms", "entries_behind").
Status decode_report_field(const Json& j, OpType type, const char* field,
                           std::optional<int64_t>& out) {
  if (!j.contains(field)) return Status::ok();
  if (type != OpType::kGet) {
    return Status::invalid_argument(fmt::format("only get takes \"{}\"", field));
  }
  auto v = get_int(j, field);
  if (!v) return v.status();
  out = *v;
  return Status::ok();
}

Result<Op> decode_record(const Json& j) {
  if (!j.is_object()) return Status::invalid_argument("record must be a JSON object");
  RKV_RETURN_IF_ERROR(check_fields(j));
  Op op;
  auto process = get_int(j, "process");
  if (!process) return process.status();
  if (*process < std::numeric_limits<int>::min() || *process > std::numeric_limits<int>::max()) {
    return Status::invalid_argument("field \"process\" out of range");
  }
  op.process = static_cast<int>(*process);
  if (!j["op"].is_string()) return Status::invalid_argument("field \"op\" must be a string");
  auto type = op_type_from_name(j["op"].get<std::string>());
  if (!type) {
    return Status::invalid_argument(
        fmt::format("unknown op \"{}\" (expected get set del incr cas append sadd smembers)",
                    j["op"].get<std::string>()));
  }
  op.type = *type;
  if (!j["key"].is_string()) return Status::invalid_argument("field \"key\" must be a string");
  op.key = j["key"].get<std::string>();
  if (!j["status"].is_string())
    return Status::invalid_argument("field \"status\" must be a string");
  const std::string status = j["status"].get<std::string>();
  if (status == "ok") {
    op.status = OpStatus::kOk;
  } else if (status == "fail") {
    op.status = OpStatus::kFail;
  } else if (status == "info") {
    op.status = OpStatus::kInfo;
  } else {
    return Status::invalid_argument(
        fmt::format("unknown status \"{}\" (expected ok, fail or info)", status));
  }
  auto invoke = get_int(j, "invoke");
  if (!invoke) return invoke.status();
  op.invoke = *invoke;
  if (j.contains("complete") && !j["complete"].is_null()) {
    auto complete = get_int(j, "complete");
    if (!complete) return complete.status();
    op.complete = *complete;
  } else {
    op.complete = kNoComplete;
  }
  if (j.contains("expected")) {
    if (op.type != OpType::kCas) return Status::invalid_argument("only cas takes \"expected\"");
    auto e = get_nullable_string(j, "expected");
    if (!e) return e.status();
    op.expected = std::move(*e);
  } else if (op.type == OpType::kCas) {
    return Status::invalid_argument("cas needs \"expected\" (string, or null for absent)");
  }
  if (j.contains("delta")) {
    if (op.type != OpType::kIncr) return Status::invalid_argument("only incr takes \"delta\"");
    auto d = get_int(j, "delta");
    if (!d) return d.status();
    op.delta = *d;
  }
  RKV_RETURN_IF_ERROR(decode_value(j, op));
  RKV_RETURN_IF_ERROR(decode_report_field(j, op.type, "staleness_ms", op.staleness_ms));
  RKV_RETURN_IF_ERROR(decode_report_field(j, op.type, "entries_behind", op.entries_behind));
  RKV_RETURN_IF_ERROR(validate_op(op));
  return op;
}

OrderedJson encode(const Op& op) {
  OrderedJson j;
  j["process"] = op.process;
  j["op"] = op_type_name(op.type);
  j["key"] = op.key;
  if (op.type == OpType::kCas) {
    j["expected"] = op.expected ? OrderedJson(*op.expected) : OrderedJson(nullptr);
  }
  if (op.type == OpType::kIncr) j["delta"] = op.delta;
  if (op.type == OpType::kSmembers) {
    if (op.ok()) {
      OrderedJson arr = OrderedJson::array();
      for (const auto& m : op.members)
        arr.push_back(m);
      j["value"] = std::move(arr);
    }
  } else if (op.type == OpType::kGet) {
    if (op.ok() || op.value) j["value"] = op.value ? OrderedJson(*op.value) : OrderedJson(nullptr);
  } else if (op.value) {
    j["value"] = *op.value;
  }
  if (op.staleness_ms) j["staleness_ms"] = *op.staleness_ms;
  if (op.entries_behind) j["entries_behind"] = *op.entries_behind;
  j["invoke"] = op.invoke;
  j["complete"] = op.complete == kNoComplete ? OrderedJson(nullptr) : OrderedJson(op.complete);
  j["status"] = op_status_name(op.status);
  return j;
}

}  // namespace

std::string json_quote(const std::optional<std::string>& s) {
  if (!s) return "null";
  return Json(*s).dump(-1, ' ', false, Json::error_handler_t::replace);
}

const char* op_type_name(OpType t) {
  return kOpNames[static_cast<size_t>(t)];
}

std::optional<OpType> op_type_from_name(std::string_view name) {
  for (size_t i = 0; i < kOpNames.size(); ++i) {
    if (name == kOpNames[i]) return static_cast<OpType>(i);
  }
  return std::nullopt;
}

const char* op_status_name(OpStatus s) {
  switch (s) {
    case OpStatus::kOk:
      return "ok";
    case OpStatus::kFail:
      return "fail";
    case OpStatus::kInfo:
      return "info";
  }
  RKV_UNREACHABLE();
}

Status validate_op(const Op& op) {
  if (op.invoke < 0) return Status::invalid_argument("\"invoke\" must be >= 0");
  if (op.complete == kNoComplete) {
    if (!op.info()) {
      return Status::invalid_argument(
          "\"complete\" may be null or absent only when status is info");
    }
  } else if (op.complete < op.invoke) {
    return Status::invalid_argument(
        fmt::format("\"complete\" ({}) is before \"invoke\" ({})", op.complete, op.invoke));
  }
  const bool needs_value = op.type == OpType::kSet || op.type == OpType::kAppend ||
                           op.type == OpType::kSadd || op.type == OpType::kCas;
  if (needs_value && !op.value) {
    return Status::invalid_argument(fmt::format("{} needs a value", op_type_name(op.type)));
  }
  if (op.type == OpType::kDel && op.value) return Status::invalid_argument("del takes no value");
  if (op.type != OpType::kCas && op.expected) {
    return Status::invalid_argument("only cas takes \"expected\"");
  }
  if (op.type != OpType::kIncr && op.delta != 1) {
    return Status::invalid_argument("only incr takes \"delta\"");
  }
  if (op.type != OpType::kSmembers && !op.members.empty()) {
    return Status::invalid_argument("only smembers has members");
  }
  if (op.type != OpType::kGet && (op.staleness_ms || op.entries_behind)) {
    return Status::invalid_argument(
        fmt::format("only get takes \"{}\"", op.staleness_ms ? "staleness_ms" : "entries_behind"));
  }
  if (op.staleness_ms && *op.staleness_ms < 0) {
    return Status::invalid_argument("\"staleness_ms\" must be >= 0");
  }
  if (op.entries_behind && *op.entries_behind < 0) {
    return Status::invalid_argument("\"entries_behind\" must be >= 0");
  }
  return Status::ok();
}

Result<std::vector<Op>> parse_history(std::istream& in) {
  std::vector<Op> ops;
  std::string text;
  int64_t line = 0;
  while (std::getline(in, text)) {
    ++line;
    if (text.size() > kMaxLineBytes) return line_error(line, "line too long");
    if (is_blank(text)) continue;
    Json j;
    try {
      j = Json::parse(text);
    } catch (const Json::parse_error& e) {
      // e.what() is "[json.exception...] parse error at line 1, column N: detail"; the line
      // is always 1 here, so keep the column and the detail.
      const std::string what = e.what();
      const size_t detail = what.find(": ", what.find("column "));
      return line_error(line,
                        fmt::format("malformed JSON at column {}: {}", e.byte,
                                    detail == std::string::npos ? what : what.substr(detail + 2)));
    } catch (const Json::exception& e) {  // e.g. a number too large for any JSON number type
      return line_error(line, fmt::format("malformed JSON: {}", e.what()));
    }
    auto op = decode_record(j);
    if (!op) return line_error(line, op.status().message());
    op->line = line;
    ops.push_back(std::move(*op));
  }
  if (in.bad()) return Status::io_error(fmt::format("read failed after line {}", line));
  return ops;
}

Result<std::vector<Op>> load_history(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::not_found(fmt::format("cannot open history file {}", path));
  auto ops = parse_history(in);
  if (!ops) {
    return Status(
        ops.status().code() == Code::kInvalidArgument
            ? Status::invalid_argument(fmt::format("{}: {}", path, ops.status().message()))
            : ops.status());
  }
  return ops;
}

std::string to_jsonl(const Op& op) {
  return encode(op).dump(-1, ' ', false, OrderedJson::error_handler_t::replace);
}

std::string describe_op(const Op& op) {
  std::string s;
  if (op.line > 0) s += fmt::format("line {}: ", op.line);
  s += fmt::format("p{} {} {}", op.process, op_type_name(op.type), json_quote(op.key));
  switch (op.type) {
    case OpType::kGet:
      if (op.ok()) s += " -> " + json_quote(op.value);
      break;
    case OpType::kSet:
    case OpType::kAppend:
    case OpType::kSadd:
      s += " " + json_quote(op.value);
      break;
    case OpType::kDel:
      break;
    case OpType::kCas:
      s += fmt::format(" {} -> {}", json_quote(op.expected), json_quote(op.value));
      break;
    case OpType::kIncr:
      s += fmt::format(" {:+}", op.delta);
      if (op.value) s += " -> " + json_quote(op.value);
      break;
    case OpType::kSmembers:
      if (op.ok()) {
        s += " -> {";
        for (size_t i = 0; i < op.members.size(); ++i) {
          s += (i ? ", " : "") + json_quote(op.members[i]);
        }
        s += "}";
      }
      break;
  }
  s += fmt::format(" {} [{}, {}]", op_status_name(op.status), op.invoke,
                   op.complete == kNoComplete ? std::string("?") : std::to_string(op.complete));
  if (op.staleness_ms) s += fmt::format(" staleness_ms={}", *op.staleness_ms);
  if (op.entries_behind) s += fmt::format(" entries_behind={}", *op.entries_behind);
  return s;
}

HistoryWriter::HistoryWriter(std::ostream& out) : out_(&out) {}

Result<std::unique_ptr<HistoryWriter>> HistoryWriter::open(const std::string& path) {
  auto file = std::make_unique<std::ofstream>(path, std::ios::app);
  if (!*file) return Status::io_error(fmt::format("cannot open {} for appending", path));
  auto writer = std::make_unique<HistoryWriter>(*file);
  writer->file_ = std::move(file);
  return writer;
}

Status HistoryWriter::append(const Op& op) {
  RKV_RETURN_IF_ERROR(validate_op(op));
  std::string record;
  try {
    record = encode(op).dump();  // strict: throws on invalid UTF-8
  } catch (const OrderedJson::type_error& e) {
    return Status::invalid_argument(fmt::format("op is not representable: {}", e.what()));
  }
  record += '\n';
  std::lock_guard<std::mutex> lock(mu_);
  out_->write(record.data(), static_cast<std::streamsize>(record.size()));
  out_->flush();
  if (!*out_) return Status::io_error("history write failed");
  ++records_;
  return Status::ok();
}

int64_t HistoryWriter::records() const {
  std::lock_guard<std::mutex> lock(mu_);
  return records_;
}

std::optional<int64_t> value_as_int(std::string_view v) {
  int64_t out = 0;
  const char* end = v.data() + v.size();
  auto [ptr, ec] = std::from_chars(v.data(), end, out);
  if (v.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  return out;
}

}  // namespace rkv::check
