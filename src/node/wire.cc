#include "node/wire.h"

#include <charconv>

#include "core/checksum.h"

namespace rkv {

namespace {

constexpr uint32_t kMaxArgs = 1u << 20;

void put_args(std::string& out, std::span<const std::string_view> args) {
  put_u32(out, static_cast<uint32_t>(args.size()));
  for (std::string_view a : args) {
    put_u32(out, static_cast<uint32_t>(a.size()));
    out.append(a);
  }
}

// Bounds-checked reader over a byte string.
class Reader {
 public:
  explicit Reader(std::string_view d) : d_(d) {}
  bool u8(uint8_t* v) {
    if (d_.size() - pos_ < 1) return false;
    *v = static_cast<uint8_t>(d_[pos_++]);
    return true;
  }
  bool u32(uint32_t* v) {
    if (d_.size() - pos_ < 4) return false;
    *v = get_u32(d_.data() + pos_);
    pos_ += 4;
    return true;
  }
  bool u64(uint64_t* v) {
    if (d_.size() - pos_ < 8) return false;
    *v = get_u64(d_.data() + pos_);
    pos_ += 8;
    return true;
  }
  bool bytes(size_t n, std::string_view* v) {
    if (d_.size() - pos_ < n) return false;
    *v = d_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  bool args(std::vector<std::string_view>* out) {
    uint32_t n;
    if (!u32(&n) || n > kMaxArgs || n > (d_.size() - pos_) / 4) return false;
    out->clear();
    out->reserve(n);
    for (uint32_t i = 0; i < n; ++i) {
      uint32_t len;
      std::string_view a;
      if (!u32(&len) || !bytes(len, &a)) return false;
      out->push_back(a);
    }
    return true;
  }
  std::string_view rest() const { return d_.substr(pos_); }
  bool done() const { return pos_ == d_.size(); }

 private:
  std::string_view d_;
  size_t pos_ = 0;
};

}  // namespace

std::string encode_logged(LoggedCommand::Kind kind, uint32_t proposer, int64_t now_ms,
                          std::span<const std::string_view> args) {
  std::string out;
  size_t n = 1 + 4 + 8 + 4;
  for (auto a : args)
    n += 4 + a.size();
  out.reserve(n);
  out.push_back(static_cast<char>(kind));
  put_u32(out, proposer);
  put_u64(out, static_cast<uint64_t>(now_ms));
  put_args(out, args);
  return out;
}

bool decode_logged(std::string_view data, LoggedCommand* out) {
  Reader r(data);
  uint8_t kind;
  uint64_t now;
  if (!r.u8(&kind) || (kind != LoggedCommand::kClient && kind != LoggedCommand::kExpire &&
                       kind != LoggedCommand::kMulti && kind != LoggedCommand::kEvict)) {
    return false;
  }
  if (!r.u32(&out->proposer) || !r.u64(&now) || !r.args(&out->args) || !r.done()) return false;
  out->kind = static_cast<LoggedCommand::Kind>(kind);
  out->now_ms = static_cast<int64_t>(now);
  return kind == LoggedCommand::kMulti || !out->args.empty();
}

std::string encode_command(std::span<const std::string_view> args) {
  std::string out;
  put_args(out, args);
  return out;
}

bool decode_command(std::string_view data, std::vector<std::string_view>* args) {
  Reader r(data);
  return r.args(args) && r.done() && !args->empty();
}

std::optional<std::string_view> logged_key(std::string_view data) {
  Reader r(data);
  uint8_t kind;
  uint32_t proposer, n, len;
  uint64_t now;
  std::string_view a;
  if (!r.u8(&kind) || kind != LoggedCommand::kClient || !r.u32(&proposer) || !r.u64(&now) ||
      !r.u32(&n) || n < 2 || !r.u32(&len) || !r.bytes(len, &a) || !r.u32(&len) ||
      !r.bytes(len, &a)) {
    return std::nullopt;
  }
  return a;
}

std::vector<std::string> encode_relayed_transaction(const Transaction& t) {
  std::vector<std::string> out;
  out.reserve(3 + t.watched.size() + t.commands.size());
  out.emplace_back("EXEC");
  out.push_back(std::to_string(t.checked_through));
  out.push_back(std::to_string(t.watched.size()));
  out.insert(out.end(), t.watched.begin(), t.watched.end());
  for (const auto& c : t.commands) {
    std::vector<std::string_view> v(c.begin(), c.end());
    out.push_back(encode_command(v));
  }
  return out;
}

bool is_relayed_transaction(std::span<const std::string_view> args) {
  return args.size() >= 3 && args[0] == "EXEC";
}

namespace {
bool parse_u64(std::string_view s, uint64_t* v) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}
}  // namespace

bool decode_relayed_transaction(std::span<const std::string_view> args, Transaction* out) {
  uint64_t n_watched = 0;
  if (!is_relayed_transaction(args) || !parse_u64(args[1], &out->checked_through) ||
      !parse_u64(args[2], &n_watched) || n_watched > args.size() - 3) {
    return false;
  }
  out->watched.assign(args.begin() + 3, args.begin() + 3 + static_cast<ptrdiff_t>(n_watched));
  out->commands.clear();
  std::vector<std::string_view> cmd;
  for (size_t i = 3 + n_watched; i < args.size(); ++i) {
    if (!decode_command(args[i], &cmd)) return false;
    out->commands.emplace_back(cmd.begin(), cmd.end());
  }
  return true;
}

std::string encode_forward(uint64_t id, uint64_t leader_term, uint8_t proto, uint8_t read_mode,
                           std::span<const std::string_view> args) {
  std::string out;
  out.push_back(kPeerForward);
  put_u64(out, id);
  put_u64(out, leader_term);
  out.push_back(static_cast<char>(proto));
  out.push_back(static_cast<char>(read_mode));
  put_args(out, args);
  return out;
}

bool decode_forward(std::string_view payload, ForwardRequest* out) {
  Reader r(payload);
  return r.u64(&out->id) && r.u64(&out->leader_term) && r.u8(&out->proto) &&
         r.u8(&out->read_mode) && (out->proto == 2 || out->proto == 3) && out->read_mode <= 3 &&
         r.args(&out->args) && !out->args.empty() && r.done();
}

std::string encode_forward_reply(uint64_t id, std::string_view reply) {
  std::string out;
  out.reserve(reply.size() + 9);
  out.push_back(kPeerReply);
  put_u64(out, id);
  out.append(reply);
  return out;
}

bool decode_forward_reply(std::string_view payload, uint64_t* id, std::string_view* reply) {
  Reader r(payload);
  if (!r.u64(id)) return false;
  *reply = r.rest();
  return true;
}

}  // namespace rkv
