// RESP encoding. Lengths and integers are formatted with std::to_chars into a stack buffer and
// appended in one piece, so a reply costs one or two appends to the output buffer.
//
// Attributes: in RESP2 attribute() writes nothing, and the caller must then also skip the
// attribute's key/value elements (check proto() first), because RESP2 has no way to mark them
// as out-of-band.
#include "resp/writer.h"

#include <charconv>
#include <cmath>

#include "core/assert.h"

namespace rkv::resp {

namespace {

// Enough for a type byte, a 64-bit integer with sign, and CRLF.
constexpr size_t kHeaderBuf = 1 + 20 + 2;

template <typename Int>
void append_header(std::string* out, char type, Int n) {
  char buf[kHeaderBuf];
  buf[0] = type;
  auto [end, ec] = std::to_chars(buf + 1, buf + sizeof(buf) - 2, n);
  RKV_ASSERT(ec == std::errc());
  *end++ = '\r';
  *end++ = '\n';
  out->append(buf, static_cast<size_t>(end - buf));
}

// A simple string or error line must not contain CR or LF; they would end the line early
// and desynchronize the client, so they become spaces (as Redis does for error messages).
void append_line(std::string* out, char type, std::string_view s) {
  const size_t at = out->size() + 1;
  out->push_back(type);
  out->append(s);
  for (size_t i = at; i < out->size(); ++i) {
    char& c = (*out)[i];
    if (c == '\r' || c == '\n') c = ' ';
  }
  out->append("\r\n", 2);
}

// Shortest text that reads back as the same double; "inf", "-inf", "nan" per RESP3.
std::string_view format_double(double d, char* buf, size_t cap) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  auto [end, ec] = std::to_chars(buf, buf + cap, d);
  RKV_ASSERT(ec == std::errc());
  return {buf, static_cast<size_t>(end - buf)};
}

}  // namespace

void Writer::simple(std::string_view s) {
  append_line(out_, '+', s);
}

void Writer::error(std::string_view msg) {
  append_line(out_, '-', msg);
}

void Writer::integer(int64_t v) {
  append_header(out_, ':', v);
}

void Writer::bulk(std::string_view s) {
  append_header(out_, '$', s.size());
  out_->append(s);
  out_->append("\r\n", 2);
}

void Writer::null() {
  if (proto_ >= 3) {
    out_->append("_\r\n", 3);
  } else {
    out_->append("$-1\r\n", 5);
  }
}

void Writer::null_array() {
  if (proto_ >= 3) {
    out_->append("_\r\n", 3);
  } else {
    out_->append("*-1\r\n", 5);
  }
}

void Writer::array(size_t n) {
  append_header(out_, '*', n);
}

void Writer::map(size_t n) {
  if (proto_ >= 3) {
    append_header(out_, '%', n);
  } else {
    append_header(out_, '*', n * 2);
  }
}

void Writer::set(size_t n) {
  append_header(out_, proto_ >= 3 ? '~' : '*', n);
}

void Writer::push(size_t n) {
  append_header(out_, proto_ >= 3 ? '>' : '*', n);
}

void Writer::attribute(size_t n) {
  if (proto_ >= 3) append_header(out_, '|', n);
}

void Writer::boolean(bool b) {
  if (proto_ >= 3) {
    out_->append(b ? "#t\r\n" : "#f\r\n", 4);
  } else {
    out_->append(b ? ":1\r\n" : ":0\r\n", 4);
  }
}

void Writer::dbl(double d) {
  char buf[64];
  const std::string_view text = format_double(d, buf, sizeof(buf));
  if (proto_ >= 3) {
    out_->push_back(',');
    out_->append(text);
    out_->append("\r\n", 2);
  } else {
    bulk(text);
  }
}

void Writer::verbatim(std::string_view s, std::string_view fmt) {
  if (proto_ < 3) {
    bulk(s);
    return;
  }
  RKV_ASSERT_MSG(fmt.size() == 3, "verbatim format must be exactly three bytes");
  append_header(out_, '=', s.size() + 4);
  out_->append(fmt);
  out_->push_back(':');
  out_->append(s);
  out_->append("\r\n", 2);
}

}  // namespace rkv::resp
