// RESP reply encoding, RESP2 or RESP3 (chosen per connection by HELLO). Every function appends
// to the caller's buffer; nothing here allocates except by growing that buffer. Where RESP3 has
// a type that RESP2 lacks, the RESP2 form is the one Redis uses (null -> $-1, map -> flat
// array of 2N, set -> array, double -> bulk string, boolean -> integer 0/1).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace rkv::resp {

class Writer {
 public:
  explicit Writer(std::string* out, int proto = 2) : out_(out), proto_(proto) {}
  int proto() const { return proto_; }

  void simple(std::string_view s);   // +OK
  void error(std::string_view msg);  // -ERR ... (msg includes the prefix word)
  void integer(int64_t v);           // :42
  void bulk(std::string_view s);     // $3\r\nfoo
  void null();                       // $-1 or _
  void null_array();                 // *-1 or _
  void array(size_t n);              // *n
  void map(size_t n);                // %n or *2n
  void set(size_t n);                // ~n or *n
  void push(size_t n);               // >n or *n
  // |n in RESP3. RESP2 has no attributes: this writes nothing, and the caller must check
  // proto() and then also skip the attribute's n key/value pairs.
  void attribute(size_t n);
  void boolean(bool b);                                             // #t / :1
  void dbl(double d);                                               // ,1.5 or $3\r\n1.5
  void verbatim(std::string_view s, std::string_view fmt = "txt");  // =, or bulk in RESP2
  void ok() { out_->append("+OK\r\n", 5); }
  // Appends bytes that are already a complete RESP reply (encoded for this protocol).
  void raw(std::string_view encoded) { out_->append(encoded); }

 private:
  std::string* out_;
  int proto_;
};

}  // namespace rkv::resp
