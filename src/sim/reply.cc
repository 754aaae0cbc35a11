#include "sim/reply.h"

#include <charconv>

namespace rkv::sim {
namespace {

constexpr int kMaxDepth = 8;  // the client model never reads deeper replies

bool read_line(std::string_view in, size_t* pos, std::string_view* line) {
  size_t end = in.find("\r\n", *pos);
  if (end == std::string_view::npos) return false;
  *line = in.substr(*pos, end - *pos);
  *pos = end + 2;
  return true;
}

bool to_int(std::string_view s, int64_t* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

Reply parse_at(std::string_view in, size_t* pos, int depth) {
  Reply r;
  if (*pos >= in.size() || depth > kMaxDepth) return r;
  const char type = in[*pos];
  ++*pos;
  std::string_view line;
  if (!read_line(in, pos, &line)) return r;
  switch (type) {
    case '+':
      r.kind = Reply::kSimple;
      r.text.assign(line);
      return r;
    case '-':
      r.kind = Reply::kError;
      r.text.assign(line);
      return r;
    case ':':
      if (to_int(line, &r.integer)) r.kind = Reply::kInteger;
      return r;
    case '#':
      r.kind = Reply::kInteger;
      r.integer = line == "t" ? 1 : 0;
      return r;
    case ',':
      r.kind = Reply::kBulk;
      r.text.assign(line);
      return r;
    case '_':
      r.kind = Reply::kNull;
      return r;
    case '$': {
      int64_t n = 0;
      if (!to_int(line, &n)) return r;
      if (n < 0) {
        r.kind = Reply::kNull;
        return r;
      }
      if (in.size() - *pos < static_cast<size_t>(n) + 2) return r;
      r.text.assign(in.substr(*pos, static_cast<size_t>(n)));
      *pos += static_cast<size_t>(n) + 2;
      r.kind = Reply::kBulk;
      return r;
    }
    case '*':
    case '~':
    case '>': {
      int64_t n = 0;
      if (!to_int(line, &n)) return r;
      if (n < 0) {
        r.kind = Reply::kNull;
        return r;
      }
      r.elements.reserve(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) {
        Reply e = parse_at(in, pos, depth + 1);
        if (e.kind == Reply::kInvalid) return Reply{};
        r.elements.push_back(std::move(e));
      }
      r.kind = Reply::kArray;
      return r;
    }
    default:
      return r;
  }
}

}  // namespace

Reply parse_reply(std::string_view bytes) {
  size_t pos = 0;
  return parse_at(bytes, &pos, 0);
}

std::optional<std::vector<std::string>> sibling_values(const Reply& r, std::string* context) {
  if (r.kind != Reply::kArray || r.elements.size() != 2 || r.elements[0].kind != Reply::kBulk ||
      r.elements[1].kind != Reply::kArray) {
    return std::nullopt;
  }
  std::vector<std::string> values;
  for (const Reply& s : r.elements[1].elements) {
    if (s.kind != Reply::kArray || s.elements.empty()) return std::nullopt;
    if (s.elements[0].kind == Reply::kBulk) values.push_back(s.elements[0].text);
  }
  if (context) *context = r.elements[0].text;
  return values;
}

std::map<std::string, Reply> reply_fields(const Reply& r) {
  std::map<std::string, Reply> fields;
  for (size_t i = 0; i + 1 < r.elements.size(); i += 2)
    fields[r.elements[i].text] = r.elements[i + 1];
  return fields;
}

}  // namespace rkv::sim
