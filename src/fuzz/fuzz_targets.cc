#include "fuzz/fuzz_targets.h"

#include <sstream>
#include <string>
#include <vector>

#include "check/history.h"
#include "core/assert.h"
#include "core/config.h"
#include "leaderless/gossip.h"
#include "leaderless/messages.h"
#include "multileader/messages.h"
#include "node/node.h"
#include "node/store.h"
#include "node/wire.h"
#include "raft/codec.h"
#include "raft/log_store.h"
#include "resp/commands.h"
#include "resp/parser.h"
#include "resp/writer.h"
#include "runtime/peer_transport.h"
#include "versions/crdt.h"
#include "versions/dvv.h"
#include "versions/version_vector.h"

namespace rkv::fuzz {

namespace {

std::string_view as_view(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace

// The input is split into chunks of a size its first byte gives, fed as a connection would;
// every verdict is checked against the parser's contract.
int resp(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t chunk = data[0] % 16 + 1;
  const std::string_view input = as_view(data + 1, size - 1);
  resp::ParseLimits limits;
  limits.max_bulk_len = 1024;
  limits.max_args = 64;
  limits.max_inline_len = 256;
  resp::Parser parser(limits);
  std::string buf;
  size_t fed = 0;
  while (fed < input.size()) {
    const size_t n = std::min(chunk, input.size() - fed);
    buf.append(input.substr(fed, n));
    fed += n;
    while (!buf.empty()) {
      size_t consumed = 0;
      const auto r = parser.parse(buf, &consumed);
      if (r == resp::ParseResult::kError) return 0;
      if (r == resp::ParseResult::kNeedMore) {
        RKV_ASSERT(consumed == 0);
        RKV_ASSERT(parser.expected_size() <= buf.size() + limits.max_bulk_len + 2);
        break;
      }
      RKV_ASSERT(consumed > 0 && consumed <= buf.size());
      RKV_ASSERT(parser.args().size() <= limits.max_args);
      buf.erase(0, consumed);
    }
  }
  return 0;
}

// The first byte chooses what reads the rest: what a peer may send after (Raft, leaderless,
// multi-leader and node messages) or before (handshake) authentication.
int peer(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view in = as_view(data + 1, size - 1);
  switch (data[0] % 10) {
    case 0: {
      auto r = raft::decode_message(in);
      (void)r;
      break;
    }
    case 1: {
      leaderless::Msg m;
      (void)leaderless::decode(in, &m);
      break;
    }
    case 2: {
      std::vector<std::string_view> parts;
      if (leaderless::split_batch(in, &parts)) {
        for (std::string_view p : parts) {
          RKV_ASSERT(p.data() >= in.data() && p.data() + p.size() <= in.data() + in.size());
          leaderless::Msg m;
          (void)leaderless::decode(p, &m);
        }
      }
      break;
    }
    case 3: {
      std::vector<leaderless::GossipEntry> entries;
      (void)leaderless::Gossip::decode(in, &entries);
      break;
    }
    case 4: {
      ForwardRequest fr;
      (void)decode_forward(in, &fr);
      break;
    }
    case 5: {
      uint64_t id = 0;
      std::string_view reply;
      (void)decode_forward_reply(in, &id, &reply);
      break;
    }
    case 6:
      (void)peer_wire::check_greeting(in, false);
      break;
    case 7:
      (void)peer_wire::check_greeting(in, true);
      break;
    case 8: {
      multileader::Msg m;
      (void)multileader::decode(in, &m);
      break;
    }
    case 9: {
      // A convergent object from a peer's delta: what decodes re-encodes to the same object.
      versions::CrdtObject o;
      if (versions::CrdtObject::decode(in, &o)) {
        std::string again;
        o.encode(&again);
        versions::CrdtObject back;
        RKV_ASSERT(versions::CrdtObject::decode(again, &back) && back == o);
      }
      break;
    }
  }
  return 0;
}

// A config file's text: loading either fails with a message or yields a config that
// validation accepts or refuses with a message.
int config(const uint8_t* data, size_t size) {
  auto r = parse_config(as_view(data, size), "fuzz");
  if (r.is_ok()) (void)validate_config(r.value());
  return 0;
}

int history(const uint8_t* data, size_t size) {
  std::istringstream in{std::string(as_view(data, size))};
  auto r = check::parse_history(in);
  (void)r;
  return 0;
}

// The first byte chooses the decoder of what storage holds: a key's value row, a Raft log
// entry, a logged command, versions (leaderless objects, contexts), a snapshot image.
int records(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view in = as_view(data + 1, size - 1);
  switch (data[0] % 6) {
    case 0: {
      Value v;
      if (Node::decode_value(in, &v)) {
        // What decodes encodes to a record that decodes to the same value.
        Value again;
        RKV_ASSERT(Node::decode_value(Node::encode_value(v), &again));
        RKV_ASSERT(again.type() == v.type() && again.expire_at_ms == v.expire_at_ms &&
                   again.data == v.data);
      }
      break;
    }
    case 1: {
      auto r = raft::decode_entry(in);
      (void)r;
      break;
    }
    case 2: {
      LoggedCommand cmd;
      (void)decode_logged(in, &cmd);
      break;
    }
    case 3: {
      std::string_view rest = in;
      versions::Versioned v;
      if (versions::Versioned::decode(&rest, &v)) {
        std::string enc;
        v.encode(&enc);
        std::string_view again_in = enc;
        versions::Versioned again;
        RKV_ASSERT(versions::Versioned::decode(&again_in, &again));
      }
      break;
    }
    case 4: {
      std::string_view rest = in;
      versions::VersionVector v;
      if (versions::VersionVector::decode(&rest, &v)) {
        std::string enc;
        v.encode(&enc);
        std::string_view again_in = enc;
        versions::VersionVector again;
        RKV_ASSERT(versions::VersionVector::decode(&again_in, &again));
        RKV_ASSERT(again == v);
      }
      break;
    }
    case 5: {
      // A snapshot image: loaded or refused; once loaded, its own image loads to the same.
      Store store(Config::defaults().keyspaces);
      NullSink sink;
      if (store.load_keyspace(0, in, sink)) {
        Store again(Config::defaults().keyspaces);
        RKV_ASSERT(again.load_keyspace(0, store.serialize_keyspace(0), sink));
        RKV_ASSERT(again.keyspace(0).table.size() == store.keyspace(0).table.size());
      }
      break;
    }
  }
  return 0;
}

std::vector<std::string> seeds(std::string_view target) {
  std::vector<std::string> out;
  auto tagged = [&](int tag, std::string body) {
    out.push_back(std::string(1, static_cast<char>(tag)) + std::move(body));
  };
  const std::vector<std::string_view> set_args = {"SET", "k", "v"};
  if (target == "resp") {
    tagged(3, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
    tagged(0, "PING\r\nECHO \"a b\"\r\n");
    tagged(15, "*1\r\n$4\r\nPING\r\n*-1\r\n");
  } else if (target == "peer") {
    raft::Message m;
    m.type = raft::MessageType::kApp;
    m.from = 1;
    m.to = 2;
    m.term = 3;
    m.index = 4;
    m.log_term = 3;
    m.commit = 4;
    raft::Entry e;
    e.term = 3;
    e.index = 5;
    e.data = SharedBytes(encode_logged(LoggedCommand::kClient, 0, 1000, set_args));
    m.entries.push_back(e);
    tagged(0, raft::encode_message("default", m));
    leaderless::Msg lm;
    lm.type = leaderless::MsgType::kWrite;
    lm.id = 9;
    lm.key = "k";
    std::string enc;
    leaderless::encode(lm, &enc);
    tagged(1, enc);
    tagged(2, enc);
    std::vector<leaderless::GossipEntry> g(2);
    std::string gossip;
    leaderless::Gossip::encode(g, &gossip);
    tagged(3, gossip);
    tagged(4, encode_forward(7, 3, 2, 0, set_args));
    tagged(5, encode_forward_reply(7, "+OK\r\n"));
    tagged(6, peer_wire::encode_hello("n1", 42, std::string(PeerTransport::kNonceBytes, 'x')));
    multileader::Msg mm;
    mm.type = multileader::MsgType::kEntries;
    mm.actor = 5;
    multileader::Item it;
    it.seq = 1;
    it.key = "k";
    it.hlc = 99;
    it.image = "x";
    mm.items.push_back(it);
    std::string ml;
    multileader::encode(mm, &ml);
    tagged(8, ml);
    versions::CrdtObject obj;
    obj.set_type(2, 7, 5);
    obj.write(2, "m", "", {5, 1, 0}, 7);
    obj.increment(0, "", 5, 2, 3);
    std::string co;
    obj.encode(&co);
    tagged(9, co);
  } else if (target == "config") {
    out.push_back(
        "[node]\nid = \"n1\"\nport = 6379\nfsync = \"batch\"\nrequirepass = \"pw\"\n"
        "[cluster]\nsecret = \"s\"\n[[cluster.node]]\nid = \"n1\"\nhost = \"127.0.0.1\"\n"
        "port = 7001\npeer_port = 7101\n[[cluster.node]]\nid = \"n2\"\nport = 7002\n"
        "peer_port = 7102\n[raft]\ntick_ms = 20\n[[keyspace]]\nname = \"default\"\n"
        "model = \"primary\"\ncommit = \"quorum\"\n[[keyspace]]\nname = \"prefs\"\n"
        "prefix = \"prefs:\"\nmodel = \"leaderless\"\nn = 3\nr = 2\nw = 2\n");
    out.push_back("[limits]\nmax_value_len = 1024\n");
  } else if (target == "history") {
    out.push_back(
        "{\"process\":3,\"op\":\"set\",\"key\":\"k1\",\"value\":\"7\",\"invoke\":1000,"
        "\"complete\":2000,\"status\":\"ok\"}\n"
        "{\"process\":2,\"op\":\"incr\",\"key\":\"c\",\"delta\":-2,\"value\":\"5\","
        "\"invoke\":2100,\"complete\":2300,\"status\":\"ok\"}\n"
        "{\"process\":1,\"op\":\"smembers\",\"key\":\"s\",\"value\":[\"e1\"],"
        "\"invoke\":2400,\"complete\":null,\"status\":\"info\"}\n");
  } else if (target == "records") {
    tagged(0, Node::encode_value(Value("hello", 1234)));
    tagged(0, Node::encode_value(Value(ValueType::kHash)));
    raft::Entry e;
    e.term = 2;
    e.index = 7;
    e.data = SharedBytes(encode_logged(LoggedCommand::kClient, 1, 99, set_args));
    tagged(1, raft::encode_entry(e));
    tagged(2, encode_logged(LoggedCommand::kClient, 1, 99, set_args));
    versions::VersionVector vv;
    std::string vv_enc;
    vv.encode(&vv_enc);
    tagged(4, vv_enc);
    // A keyspace image with a string, a hash and a set.
    Store store(Config::defaults().keyspaces);
    NullSink sink;
    std::string ignored;
    resp::Writer w(&ignored, 2);
    const std::vector<std::vector<std::string_view>> commands = {{"SET", "s", "v", "PX", "100000"},
                                                                 {"HSET", "h", "f", "1", "g", "2"},
                                                                 {"SADD", "m", "a", "b"}};
    for (const auto& c : commands)
      store.execute(*resp::lookup_command(c[0]), c, 0, w, sink);
    tagged(5, store.serialize_keyspace(0));
  }
  return out;
}

}  // namespace rkv::fuzz
