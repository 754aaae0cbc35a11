#include "node/versioned_commands.h"

#include <fmt/format.h>

#include <algorithm>
#include <tuple>
#include <utility>

#include "core/text.h"
#include "node/store.h"

namespace rkv::versioned {

using versions::Sibling;
using versions::Versioned;
using versions::VersionVector;

std::optional<Command> command_of(resp::CommandId id) {
  using resp::CommandId;
  static constexpr std::pair<CommandId, Command> kCommands[] = {
      {CommandId::kGet, Command::kGet},       {CommandId::kMget, Command::kMget},
      {CommandId::kExists, Command::kExists}, {CommandId::kTtl, Command::kTtl},
      {CommandId::kPttl, Command::kPttl},     {CommandId::kSiblings, Command::kSiblings},
      {CommandId::kSet, Command::kSet},       {CommandId::kDel, Command::kDel},
  };
  for (const auto& [from, to] : kCommands) {
    if (from == id) return to;
  }
  return std::nullopt;
}

std::string refusal(const resp::CommandSpec& spec, std::string_view where) {
  using resp::CommandId;
  switch (spec.id) {
    case CommandId::kIncr:
    case CommandId::kIncrby:
    case CommandId::kDecr:
    case CommandId::kDecrby:
      return fmt::format(
          "ERR {} is not available on {}: its nodes accept concurrent writes, so a "
          "read-modify-write counter would lose increments; keep counters in a primary keyspace",
          upper(spec.name), where);
    default:
      return fmt::format(
          "ERR {} is not available on {} (supported: GET, MGET, EXISTS, TTL, PTTL, SIBLINGS, "
          "SET, DEL)",
          upper(spec.name), where);
  }
}

bool live(const Sibling& s, int64_t now_ms) {
  return !s.tombstone && (s.expire_at_ms == 0 || s.expire_at_ms > now_ms);
}

const Sibling* visible(const Versioned& o, int64_t now_ms) {
  const Sibling* best = nullptr;
  for (const Sibling& s : o.siblings()) {
    if (!live(s, now_ms)) continue;
    if (!best || std::tie(s.hlc, s.dot) > std::tie(best->hlc, best->dot)) best = &s;
  }
  return best;
}

void reply_read(Command c, size_t keys, const std::function<const Versioned*(size_t)>& object,
                int64_t now_ms, resp::Writer& w) {
  auto shown = [&](size_t i) -> const Sibling* {
    const Versioned* o = object(i);
    return o ? visible(*o, now_ms) : nullptr;
  };
  switch (c) {
    case Command::kGet: {
      const Sibling* s = shown(0);
      s ? w.bulk(s->value) : w.null();
      break;
    }
    case Command::kMget:
      w.array(keys);
      for (size_t i = 0; i < keys; ++i) {
        const Sibling* s = shown(i);
        s ? w.bulk(s->value) : w.null();
      }
      break;
    case Command::kExists: {
      int64_t n = 0;
      for (size_t i = 0; i < keys; ++i)
        n += shown(i) ? 1 : 0;
      w.integer(n);
      break;
    }
    case Command::kTtl:
    case Command::kPttl: {
      const Sibling* s = shown(0);
      if (!s) {
        w.integer(-2);
      } else if (s->expire_at_ms == 0) {
        w.integer(-1);
      } else {
        const int64_t ms = s->expire_at_ms - now_ms;
        w.integer(c == Command::kPttl ? ms : (ms + 500) / 1000);
      }
      break;
    }
    case Command::kSiblings: {
      // Tombstones and expired values show as nil, so that a client sees that a delete is
      // among the concurrent versions.
      const Versioned empty;
      const Versioned* found = object(0);
      const Versioned& o = found ? *found : empty;
      w.array(2);
      w.bulk(o.context().to_context());
      w.array(o.siblings().size());
      for (const Sibling& s : o.siblings()) {
        w.array(4);
        live(s, now_ms) ? w.bulk(s.value) : w.null();
        w.integer(static_cast<int64_t>(s.hlc));
        w.bulk(fmt::format("{:x}:{}", s.dot.actor, s.dot.counter));
        w.integer(s.expire_at_ms);
      }
      break;
    }
    case Command::kSet:
    case Command::kDel:
      break;  // writes answer when they are done, in their engine's terms
  }
}

bool parse_write(Command c, std::span<const std::string_view> args, int64_t now_ms,
                 size_t max_value_len, std::string_view where, Write* out, std::string* error) {
  Write wr;
  if (c != Command::kSet) {
    wr.sibling.tombstone = true;
    *out = std::move(wr);
    return true;
  }
  Sibling& s = wr.sibling;
  s.value.assign(args[2]);
  if (s.value.size() > max_value_len) {
    *error = "ERR value is larger than max_value_len";
    return false;
  }
  for (size_t i = 3; i < args.size(); ++i) {
    const std::string_view a = args[i];
    auto is = [&](std::string_view word) { return iequals(a, word); };
    const bool has_arg = i + 1 < args.size();
    int64_t v = 0;
    if ((is("ex") || is("px") || is("exat") || is("pxat")) && has_arg) {
      if (!parse_int64(args[i + 1], &v) || v <= 0) {
        *error = "ERR invalid expire time in 'set' command";
        return false;
      }
      if (is("ex")) {
        s.expire_at_ms = now_ms + v * 1000;
      } else if (is("px")) {
        s.expire_at_ms = now_ms + v;
      } else if (is("exat")) {
        s.expire_at_ms = v * 1000;
      } else {
        s.expire_at_ms = v;
      }
      ++i;
    } else if (is("context") && has_arg) {
      if (!VersionVector::from_context(args[i + 1], &wr.context)) {
        *error = "ERR CONTEXT is not a causal context returned by SIBLINGS";
        return false;
      }
      ++i;
    } else if (is("nx") || is("xx") || is("get") || is("keepttl")) {
      *error = fmt::format(
          "ERR SET {} is not available on {}: it needs a read and a write that no concurrent "
          "writer can interleave; read, then write with CONTEXT",
          a, where);
      return false;
    } else {
      *error = "ERR syntax error";
      return false;
    }
  }
  *out = std::move(wr);
  return true;
}

uint64_t stamp_above(const Versioned& obj, uint64_t hlc) {
  for (const Sibling& old : obj.siblings())
    hlc = std::max(hlc, old.hlc + 1);
  return hlc;
}

}  // namespace rkv::versioned
