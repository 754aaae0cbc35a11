#include "runtime/peer_transport.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <asio/ssl.hpp>
#include <cstring>

#include "core/assert.h"
#include "core/checksum.h"
#include "runtime/tls.h"

namespace rkv {

namespace {

using asio::ip::tcp;

constexpr std::string_view kMagic = "RKV1";
constexpr std::string_view kDefaultSecret = "replikv-default-cluster-secret-change-me";
constexpr std::string_view kAcceptorLabel = "rkv1 acceptor proof";
constexpr std::string_view kDialerLabel = "rkv1 dialer proof";
constexpr std::string_view kFrameKeyLabel = "rkv2 frame key";
constexpr size_t kInitialReadBuffer = 64 * 1024;
constexpr size_t kKeepReadBuffer = 1024 * 1024;  // shrink back when idle and larger than this
// Payloads up to this size are copied next to their header (one iovec for many small frames);
// larger ones are referenced in place.
constexpr size_t kInlinePayloadMax = 2048;

enum class MsgType : uint8_t { kHello = 1, kChallenge = 2, kResponse = 3, kOk = 4 };

// Bounds-checked cursor over a handshake payload.
class WireReader {
 public:
  explicit WireReader(std::string_view s) : s_(s) {}
  bool bytes(size_t n, std::string_view* out) {
    if (s_.size() - pos_ < n) return false;
    *out = s_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  bool u8(uint8_t* v) {
    std::string_view b;
    if (!bytes(1, &b)) return false;
    *v = static_cast<uint8_t>(b[0]);
    return true;
  }
  bool u32(uint32_t* v) {
    std::string_view b;
    if (!bytes(4, &b)) return false;
    *v = get_u32(b.data());
    return true;
  }
  bool u64(uint64_t* v) {
    std::string_view b;
    if (!bytes(8, &b)) return false;
    *v = get_u64(b.data());
    return true;
  }
  bool done() const { return pos_ == s_.size(); }

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

// The fields HELLO and CHALLENGE share.
struct Greeting {
  uint64_t fingerprint = 0;
  std::string_view nonce, mac, node_id;
};

// Parses HELLO (with_mac false) or CHALLENGE (with_mac true); returns an error text or "".
std::string parse_greeting(std::string_view payload, MsgType type, bool with_mac, Greeting* g) {
  WireReader r(payload);
  uint8_t t = 0;
  std::string_view magic;
  uint32_t version = 0, id_len = 0;
  if (!r.u8(&t) || t != static_cast<uint8_t>(type)) return "unexpected handshake message";
  if (!r.bytes(kMagic.size(), &magic) || magic != kMagic) return "bad magic";
  if (!r.u32(&version)) return "truncated handshake";
  if (version != PeerTransport::kProtocolVersion) {
    return fmt::format("unsupported protocol version {}", version);
  }
  if (!r.u64(&g->fingerprint) || !r.bytes(PeerTransport::kNonceBytes, &g->nonce)) {
    return "truncated handshake";
  }
  if (with_mac && !r.bytes(PeerTransport::kMacBytes, &g->mac)) return "truncated handshake";
  if (!r.u32(&id_len) || id_len > PeerTransport::kMaxNodeIdBytes || !r.bytes(id_len, &g->node_id)) {
    return "bad node id field";
  }
  if (!r.done()) return "trailing bytes in handshake";
  return "";
}

void put_str(std::string& out, std::string_view s) {
  put_u32(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}

// HMAC-SHA256(secret, label | nonce_d | nonce_a | dialer id | acceptor id | fingerprint).
std::string handshake_mac(std::string_view secret, std::string_view label, std::string_view nonce_d,
                          std::string_view nonce_a, std::string_view dialer_id,
                          std::string_view acceptor_id, uint64_t fingerprint) {
  std::string msg(label);
  msg.append(nonce_d);
  msg.append(nonce_a);
  put_str(msg, dialer_id);
  put_str(msg, acceptor_id);
  put_u64(msg, fingerprint);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int out_len = 0;
  unsigned char* r =
      HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), out, &out_len);
  RKV_ASSERT_MSG(r != nullptr && out_len == PeerTransport::kMacBytes, "HMAC-SHA256 failed");
  return std::string(reinterpret_cast<const char*>(out), out_len);
}

std::string endpoint_text(const tcp::socket& s) {
  asio::error_code ec;
  auto ep = s.remote_endpoint(ec);
  if (ec) return "?";
  return fmt::format("{}:{}", ep.address().to_string(), ep.port());
}

}  // namespace

namespace peer_wire {

std::string encode_frame(std::string_view payload) {
  std::string out;
  out.reserve(PeerTransport::kFrameHeaderBytes + payload.size());
  put_u32(out, static_cast<uint32_t>(payload.size()));
  put_u64(out, checksum64(payload));
  out.append(payload);
  return out;
}

FrameAuth::FrameAuth(std::string_view key) : key_(key.substr(0, 16)) {
  static EVP_MAC* const kSipHash = EVP_MAC_fetch(nullptr, "SIPHASH", nullptr);
  RKV_ASSERT_MSG(kSipHash != nullptr && key_.size() == 16, "SipHash unavailable");
  ctx_ = EVP_MAC_CTX_new(kSipHash);
  RKV_ASSERT_MSG(ctx_ != nullptr, "EVP_MAC_CTX_new failed");
}

FrameAuth::~FrameAuth() {
  EVP_MAC_CTX_free(static_cast<EVP_MAC_CTX*>(ctx_));
}

uint64_t FrameAuth::tag(uint64_t seq, std::string_view payload) {
  auto* ctx = static_cast<EVP_MAC_CTX*>(ctx_);
  unsigned char head[12];
  for (int i = 0; i < 8; ++i)
    head[i] = static_cast<unsigned char>(seq >> (8 * i));
  const auto len = static_cast<uint32_t>(payload.size());
  for (int i = 0; i < 4; ++i)
    head[8 + i] = static_cast<unsigned char>(len >> (8 * i));
  unsigned char out[8];
  size_t out_len = 0;
  size_t size = sizeof(out);  // SipHash-2-4 with a 64-bit tag
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size),
                               OSSL_PARAM_construct_end()};
  const bool ok = EVP_MAC_init(ctx, reinterpret_cast<const unsigned char*>(key_.data()),
                               key_.size(), params) == 1 &&
                  EVP_MAC_update(ctx, head, sizeof(head)) == 1 &&
                  EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(payload.data()),
                                 payload.size()) == 1 &&
                  EVP_MAC_final(ctx, out, &out_len, sizeof(out)) == 1 && out_len == sizeof(out);
  RKV_ASSERT_MSG(ok, "SipHash failed");
  uint64_t t = 0;
  for (int i = 7; i >= 0; --i)
    t = (t << 8) | out[i];
  return t;
}

std::string check_greeting(std::string_view payload, bool challenge) {
  Greeting g;
  return parse_greeting(payload, challenge ? MsgType::kChallenge : MsgType::kHello, challenge, &g);
}

std::string frame_key(std::string_view secret, std::string_view nonce_d, std::string_view nonce_a,
                      std::string_view dialer_id, std::string_view acceptor_id,
                      uint64_t fingerprint) {
  return handshake_mac(secret, kFrameKeyLabel, nonce_d, nonce_a, dialer_id, acceptor_id,
                       fingerprint);
}

std::string encode_data_frame(FrameAuth& auth, uint64_t seq, std::string_view payload) {
  std::string out;
  out.reserve(PeerTransport::kFrameHeaderBytes + payload.size());
  put_u32(out, static_cast<uint32_t>(payload.size()));
  put_u64(out, auth.tag(seq, payload));
  out.append(payload);
  return out;
}

uint64_t cluster_fingerprint(const std::vector<PeerConfig>& nodes) {
  std::vector<std::string_view> ids;
  ids.reserve(nodes.size());
  for (const auto& n : nodes)
    ids.push_back(n.id);
  std::sort(ids.begin(), ids.end());
  std::string buf;
  for (auto id : ids)
    put_str(buf, id);
  return checksum64(buf);
}

std::string encode_hello(std::string_view node_id, uint64_t fingerprint, std::string_view nonce) {
  std::string out(1, static_cast<char>(MsgType::kHello));
  out.append(kMagic);
  put_u32(out, PeerTransport::kProtocolVersion);
  put_u64(out, fingerprint);
  out.append(nonce);
  put_str(out, node_id);
  return out;
}

std::string encode_response(std::string_view mac) {
  std::string out(1, static_cast<char>(MsgType::kResponse));
  out.append(mac);
  return out;
}

}  // namespace peer_wire

// ---------------------------------------------------------------------------------------------

struct PeerTransport::Peer {
  explicit Peer(asio::io_context& io) : retry_timer(io) {}
  std::string id;
  std::string host;
  uint16_t port = 0;
  std::deque<Outgoing> queue;
  uint64_t queued_bytes = 0;
  size_t releasable = 0;  // the first `releasable` payloads of the queue may be written now
  LinkPtr out;            // outbound link (connecting, handshaking or ready)
  LinkPtr in;             // authenticated inbound link
  asio::steady_timer retry_timer;
  bool retry_pending = false;
  std::chrono::milliseconds backoff{0};
  uint64_t connects = 0;
  PeerStats stats;
};

class PeerTransport::Link {
 public:
  enum class Role : uint8_t { kOutbound, kInbound };
  enum class Step : uint8_t {
    kConnecting,
    kAwaitHello,
    kAwaitChallenge,
    kAwaitResponse,
    kAwaitOk,
    kReady,
    kClosed
  };
  static constexpr uint32_t kNoPeer = UINT32_MAX;

  Link(asio::io_context& io, tcp::socket s, Role r, uint32_t p)
      : socket(std::move(s)), deadline(io), role(r), peer(p) {}

  bool ready() const { return step == Step::kReady; }
  bool closed() const { return step == Step::kClosed; }

  // Reads and writes go through TLS when the link has it, else straight to the socket.
  template <typename Buffers, typename Handler>
  void write(const Buffers& b, Handler&& h) {
    if (tls) {
      asio::async_write(*tls, b, std::forward<Handler>(h));
    } else {
      asio::async_write(socket, b, std::forward<Handler>(h));
    }
  }
  template <typename Handler>
  void read_some(asio::mutable_buffer b, Handler&& h) {
    if (tls) {
      tls->async_read_some(b, std::forward<Handler>(h));
    } else {
      socket.async_read_some(b, std::forward<Handler>(h));
    }
  }

  tcp::socket socket;
  std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls;
  asio::steady_timer deadline;  // connect + handshake
  Role role;
  Step step = Step::kConnecting;
  uint32_t peer;  // outbound: the peer dialed; inbound: kNoPeer until authenticated
  uint32_t claimed_peer = kNoPeer;  // inbound: the id HELLO named (not yet proven)
  std::string remote;               // "host:port" for logs
  std::string nonce_d, nonce_a;
  // Once authenticated: the MAC of the payload frames, and how many were sent (outbound) or
  // received (inbound) on this connection.
  std::unique_ptr<peer_wire::FrameAuth> auth;
  uint64_t frame_seq = 0;
  // Input: bytes [rbeg, rend) of rbuf are received and not yet parsed.
  std::unique_ptr<char[]> rbuf;
  size_t rcap = 0, rbeg = 0, rend = 0;
  // Output.
  bool writing = false;
  std::deque<std::string> control;  // handshake frames, written before any data
  std::string control_writing;
  std::vector<Outgoing> inflight;  // data frames of the current async_write
  std::string gather;              // headers and small payloads of the current async_write
  std::vector<asio::const_buffer> buffers;
  uint64_t inflight_bytes = 0;
};

// ---------------------------------------------------------------------------------------------

PeerTransport::PeerTransport(asio::io_context& io, const Config& cfg, uint32_t self_index,
                             MessageHandler on_message, PeerTransportOptions opts)
    : io_(io),
      cfg_(cfg),
      self_(self_index),
      on_message_(std::move(on_message)),
      opts_(opts),
      acceptor_(io),
      lazy_timer_(io) {
  std::random_device rd;
  std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
  rng_.seed(seq);
  for (const auto& n : cfg_.nodes) {
    auto p = std::make_unique<Peer>(io_);
    p->id = n.id;
    p->host = n.host;
    p->port = n.peer_port;
    p->backoff = opts_.reconnect_initial;
    peers_.push_back(std::move(p));
  }
}

PeerTransport::~PeerTransport() {
  stop();
}

Status PeerTransport::start() {
  RKV_ASSERT(!started_ && !stopped_);
  if (self_ >= cfg_.nodes.size()) {
    return Status::invalid_argument(
        fmt::format("peer transport: self index {} outside the node list", self_));
  }
  for (const auto& n : cfg_.nodes) {
    if (n.id.empty() || n.id.size() > kMaxNodeIdBytes) {
      return Status::invalid_argument(fmt::format("peer transport: bad node id \"{}\"", n.id));
    }
  }
  if (opts_.max_frame_bytes < kMaxHandshakeFrame || opts_.reconnect_initial.count() <= 0 ||
      opts_.reconnect_max < opts_.reconnect_initial || opts_.max_write_batch_frames == 0) {
    return Status::invalid_argument("peer transport: inconsistent options");
  }
  secret_ = cfg_.cluster_secret;
  if (secret_.empty()) {
    spdlog::warn(
        "cluster_secret is not set: peers authenticate with the built-in default secret; "
        "set cluster_secret in the config on every node");
    secret_ = kDefaultSecret;
  }
  fingerprint_ = peer_wire::cluster_fingerprint(cfg_.nodes);

  const auto& me = cfg_.nodes[self_];
  asio::error_code ec;
  tcp::resolver resolver(io_);
  auto results = resolver.resolve(me.host, std::to_string(me.peer_port),
                                  tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || results.empty()) {
    return Status::io_error(fmt::format("peer transport: cannot resolve {}: {}", me.host,
                                        ec ? ec.message() : "no address"));
  }
  tcp::endpoint ep = results.begin()->endpoint();
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    asio::error_code ignored;
    acceptor_.close(ignored);
    return Status::io_error(fmt::format("peer transport: cannot listen on {}:{}: {}", me.host,
                                        me.peer_port, ec.message()));
  }
  bound_port_ = acceptor_.local_endpoint(ec).port();
  started_ = true;
  alive_ = std::make_shared<char>(0);
  spdlog::info("peer transport of {} listening on {}:{}", me.id, me.host, bound_port_);
  start_accept();
  for (uint32_t i = 0; i < peers_.size(); ++i) {
    if (i != self_) dial(i);
  }
  return Status::ok();
}

void PeerTransport::stop() {
  if (stopped_) return;
  stopped_ = true;
  alive_.reset();
  asio::error_code ec;
  acceptor_.close(ec);
  lazy_timer_.cancel();
  lazy_armed_ = false;
  for (auto& p : peers_) {
    p->retry_timer.cancel();
    p->queue.clear();
    p->queued_bytes = 0;
    p->releasable = 0;
    p->out.reset();
    p->in.reset();
  }
  for (auto& link : links_) {
    link->step = Link::Step::kClosed;
    link->deadline.cancel();
    link->socket.close(ec);
  }
  links_.clear();
}

PeerStats& PeerTransport::peer_stats(uint32_t peer) {
  RKV_ASSERT(peer < peers_.size());
  return peers_[peer]->stats;
}

PeerStats PeerTransport::stats(uint32_t peer) const {
  RKV_ASSERT(peer < peers_.size());
  const Peer& p = *peers_[peer];
  PeerStats s = p.stats;
  s.connected = p.out && p.out->ready();
  s.inbound_connected = p.in && p.in->ready();
  s.queued_frames = p.queue.size();
  s.queued_bytes = p.queued_bytes;
  return s;
}

void PeerTransport::set_peer_port(uint32_t peer, uint16_t port) {
  RKV_ASSERT(peer < peers_.size() && peer != self_);
  Peer& p = *peers_[peer];
  p.port = port;
  if (!started_ || stopped_ || p.out) return;
  p.retry_timer.cancel();
  p.retry_pending = false;
  p.backoff = opts_.reconnect_initial;
  dial(peer);
}

// --- sending ---------------------------------------------------------------------------------

void PeerTransport::send(uint32_t to, std::string payload, bool lazy) {
  RKV_ASSERT(to < peers_.size() && to != self_);
  Peer& p = *peers_[to];
  if (payload.size() > opts_.max_frame_bytes) {
    ++p.stats.oversized;
    spdlog::warn("peer transport: refused a {}-byte message to {} (max_frame_bytes {})",
                 payload.size(), p.id, opts_.max_frame_bytes);
    return;
  }
  if (stopped_ || p.queue.size() >= opts_.max_queued_frames ||
      p.queued_bytes + payload.size() > opts_.max_queued_bytes) {
    ++p.stats.dropped;
    return;
  }
  p.queued_bytes += payload.size();
  p.queue.push_back(Outgoing{std::move(payload), false});
  std::weak_ptr<char> alive = alive_;
  if (lazy && opts_.lazy_delay.count() > 0) {
    if (!lazy_armed_) {
      lazy_armed_ = true;
      lazy_timer_.expires_after(opts_.lazy_delay);
      lazy_timer_.async_wait([this, alive](const asio::error_code& ec) {
        if (alive.expired() || ec) return;
        lazy_armed_ = false;
        release_all();
      });
    }
    return;
  }
  p.releasable = p.queue.size();
  // The write starts from a posted handler, after the handlers already queued on the loop have
  // run: messages produced by one pass of the loop (a Ready's appends, acknowledgements to
  // several frames read at once) leave in one write instead of one system call each.
  if (!flush_posted_) {
    flush_posted_ = true;
    asio::post(io_, [this, alive] {
      if (alive.expired()) return;
      flush_posted_ = false;
      for (auto& peer : peers_) {
        if (peer->out && peer->releasable > 0) flush(peer->out);
      }
    });
  }
}

void PeerTransport::release_all() {
  for (auto& peer : peers_) {
    peer->releasable = peer->queue.size();
    if (peer->out && peer->releasable > 0) flush(peer->out);
  }
}

void PeerTransport::send_raw_for_test(uint32_t to, std::string bytes) {
  RKV_ASSERT(to < peers_.size() && to != self_);
  Peer& p = *peers_[to];
  p.queued_bytes += bytes.size();
  p.queue.push_back(Outgoing{std::move(bytes), true});
  p.releasable = p.queue.size();
  if (p.out) flush(p.out);
}

void PeerTransport::write_control(const LinkPtr& link, std::string payload) {
  link->control.push_back(peer_wire::encode_frame(payload));
  flush(link);
}

// Starts one async_write if the link is idle: pending handshake frames first, then (outbound,
// authenticated) a batch of queued payloads gathered into one scatter/gather write.
void PeerTransport::flush(const LinkPtr& link) {
  if (link->writing || link->closed()) return;
  std::weak_ptr<char> alive = alive_;
  auto done = [this, alive, link](const asio::error_code& ec, size_t) {
    if (alive.expired()) return;
    on_written(link, ec);
  };
  if (!link->control.empty()) {
    link->control_writing.clear();
    for (auto& c : link->control)
      link->control_writing += c;
    link->control.clear();
    link->writing = true;
    link->write(asio::buffer(link->control_writing), std::move(done));
    return;
  }
  if (link->role != Link::Role::kOutbound || !link->ready()) return;
  Peer& p = *peers_[link->peer];
  if (p.releasable == 0) return;

  // Segments refer either to a range of `gather` or to a whole in-flight payload; buffers are
  // built only once `gather` stops growing.
  struct Segment {
    bool in_gather;
    size_t offset_or_index, len;
  };
  std::vector<Segment> segs;
  link->inflight.clear();
  link->gather.clear();
  link->inflight_bytes = 0;
  auto append_gather = [&](std::string_view bytes) {
    if (segs.empty() || !segs.back().in_gather) segs.push_back({true, link->gather.size(), 0});
    link->gather.append(bytes);
    segs.back().len += bytes.size();
  };
  while (p.releasable > 0 && link->inflight.size() < opts_.max_write_batch_frames &&
         (link->inflight.empty() || link->inflight_bytes < opts_.max_write_batch_bytes)) {
    Outgoing item = std::move(p.queue.front());
    p.queue.pop_front();
    --p.releasable;
    p.queued_bytes -= item.bytes.size();
    link->inflight_bytes += item.bytes.size();
    if (!item.raw) {
      std::string header;  // 12 bytes: fits the small-string buffer, no allocation
      put_u32(header, static_cast<uint32_t>(item.bytes.size()));
      put_u64(header, link->auth->tag(link->frame_seq++, item.bytes));
      append_gather(header);
    }
    if (item.bytes.size() <= kInlinePayloadMax) {
      append_gather(item.bytes);
    } else {
      segs.push_back({false, link->inflight.size(), item.bytes.size()});
    }
    link->inflight.push_back(std::move(item));
  }
  link->buffers.clear();
  for (const auto& s : segs) {
    if (s.in_gather) {
      link->buffers.emplace_back(link->gather.data() + s.offset_or_index, s.len);
    } else {
      link->buffers.emplace_back(link->inflight[s.offset_or_index].bytes.data(), s.len);
    }
  }
  link->writing = true;
  link->write(link->buffers, std::move(done));
}

void PeerTransport::on_written(const LinkPtr& link, const asio::error_code& ec) {
  link->writing = false;
  if (link->closed()) return;
  if (ec) {
    close_link(link, {}, ec.message());
    return;
  }
  if (!link->inflight.empty()) {
    PeerStats& s = peer_stats(link->peer);
    for (const auto& o : link->inflight) {
      if (o.raw) continue;
      ++s.frames_sent;
      s.bytes_sent += o.bytes.size();
    }
    link->inflight.clear();
    link->inflight_bytes = 0;
    if (link->gather.capacity() > kKeepReadBuffer) std::string().swap(link->gather);
  }
  link->control_writing.clear();
  flush(link);
}

// --- connecting ------------------------------------------------------------------------------

void PeerTransport::start_accept() {
  std::weak_ptr<char> alive = alive_;
  acceptor_.async_accept([this, alive](const asio::error_code& ec, tcp::socket socket) {
    if (alive.expired()) return;
    if (ec) {
      if (ec == asio::error::operation_aborted) return;
      spdlog::warn("peer transport: accept failed: {}", ec.message());
    } else {
      auto link =
          std::make_shared<Link>(io_, std::move(socket), Link::Role::kInbound, Link::kNoPeer);
      link->remote = endpoint_text(link->socket);
      tune_socket(link->socket);
      links_.push_back(link);
      link->deadline.expires_after(opts_.handshake_timeout);
      link->deadline.async_wait([this, alive, link](const asio::error_code& tec) {
        if (alive.expired() || tec || link->ready() || link->closed()) return;
        close_link(link, "handshake timeout");
      });
      if (opts_.tls) {
        start_tls(link, &PeerTransport::await_hello);
      } else {
        await_hello(link);
      }
    }
    start_accept();
  });
}

void PeerTransport::dial(uint32_t peer) {
  Peer& p = *peers_[peer];
  RKV_ASSERT(!p.out);
  if (p.port == 0) {
    spdlog::debug("peer transport: no port known for {} yet; not dialing", p.id);
    return;
  }
  asio::error_code ec;
  auto addr = asio::ip::make_address(p.host, ec);
  if (ec) {
    // Host names are resolved synchronously: rare (configs name addresses) and only on dial.
    tcp::resolver resolver(io_);
    auto results = resolver.resolve(p.host, std::to_string(p.port), ec);
    if (ec || results.empty()) {
      spdlog::warn("peer transport: cannot resolve {} ({}): {}", p.id, p.host,
                   ec ? ec.message() : "no address");
      schedule_redial(peer);
      return;
    }
    addr = results.begin()->endpoint().address();
  }
  tcp::endpoint ep(addr, p.port);
  auto link = std::make_shared<Link>(io_, tcp::socket(io_), Link::Role::kOutbound, peer);
  link->remote = fmt::format("{}:{}", addr.to_string(), p.port);
  p.out = link;
  links_.push_back(link);
  std::weak_ptr<char> alive = alive_;
  link->deadline.expires_after(opts_.handshake_timeout);
  link->deadline.async_wait([this, alive, link](const asio::error_code& ec2) {
    if (alive.expired() || ec2 || link->ready() || link->closed()) return;
    if (link->step == Link::Step::kConnecting) {
      close_link(link, {}, "connect timeout");
    } else {
      close_link(link, "handshake timeout");
    }
  });
  link->socket.async_connect(ep, [this, alive, link](const asio::error_code& ec2) {
    if (alive.expired()) return;
    on_connected(link, ec2);
  });
}

void PeerTransport::tune_socket(tcp::socket& socket) const {
  asio::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  socket.set_option(asio::socket_base::keep_alive(true), ignored);
  const auto dead_ms = static_cast<int>(opts_.dead_link_timeout.count());
  if (dead_ms <= 0) return;
  // Failing to tune (not Linux, or an old kernel) leaves TCP's defaults: links then recover
  // more slowly after a cut, nothing else changes.
  const int fd = socket.native_handle();
  const int idle_s = std::max(1, dead_ms / 3000), interval_s = std::max(1, dead_ms / 3000);
  const int probes = 3;
  (void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &dead_ms, sizeof dead_ms);
  (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle_s, sizeof idle_s);
  (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval_s, sizeof interval_s);
  (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof probes);
}

void PeerTransport::on_connected(const LinkPtr& link, const asio::error_code& ec) {
  if (link->closed()) return;
  if (ec) {
    close_link(link, {}, ec.message());
    return;
  }
  tune_socket(link->socket);
  if (opts_.tls) return start_tls(link, &PeerTransport::begin_hello);
  begin_hello(link);
}

void PeerTransport::begin_hello(const LinkPtr& link) {
  link->step = Link::Step::kAwaitChallenge;
  link->nonce_d = make_nonce();
  write_control(link, peer_wire::encode_hello(cfg_.nodes[self_].id, fingerprint_, link->nonce_d));
  start_read(link);
}

void PeerTransport::await_hello(const LinkPtr& link) {
  link->step = Link::Step::kAwaitHello;
  start_read(link);
}

void PeerTransport::set_tls(std::shared_ptr<const TlsContext> tls) {
  RKV_ASSERT(opts_.tls && tls);
  opts_.tls = std::move(tls);
}

void PeerTransport::start_tls(const LinkPtr& link, void (PeerTransport::*next)(const LinkPtr&)) {
  // The stream makes its SSL from the context and keeps no other hold on it (the SSL counts
  // its own reference), so a wrapper for the moment of construction suffices.
  SSL_CTX* native = opts_.tls->native();
  SSL_CTX_up_ref(native);
  {
    asio::ssl::context ctx(native);
    link->tls = std::make_unique<asio::ssl::stream<tcp::socket&>>(link->socket, ctx);
  }
  asio::error_code ignored;
  link->tls->set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert,
                             ignored);
  const bool dialer = link->role == Link::Role::kOutbound;
  link->step = dialer ? Link::Step::kAwaitChallenge : Link::Step::kAwaitHello;  // not kReady
  std::weak_ptr<char> alive = alive_;
  link->tls->async_handshake(
      dialer ? asio::ssl::stream_base::client : asio::ssl::stream_base::server,
      [this, alive, link, next](const asio::error_code& ec) {
        if (alive.expired() || link->closed()) return;
        if (ec) {
          std::string why = ec.message();
          const long verify = SSL_get_verify_result(link->tls->native_handle());
          if (verify != X509_V_OK) {
            why = fmt::format("certificate refused: {}", X509_verify_cert_error_string(verify));
          }
          return close_link(link, "failed TLS handshake", why);
        }
        (this->*next)(link);
      });
}

void PeerTransport::schedule_redial(uint32_t peer) {
  Peer& p = *peers_[peer];
  if (stopped_ || p.retry_pending || p.port == 0) return;
  // Full jitter over the upper half: delay in [backoff/2, backoff].
  auto half = p.backoff.count() / 2;
  std::uniform_int_distribution<int64_t> dist(half, p.backoff.count());
  auto delay = std::chrono::milliseconds(dist(rng_));
  p.backoff = std::min(p.backoff * 2, opts_.reconnect_max);
  p.retry_pending = true;
  p.retry_timer.expires_after(delay);
  std::weak_ptr<char> alive = alive_;
  p.retry_timer.async_wait([this, alive, peer](const asio::error_code& ec) {
    if (alive.expired() || ec) return;
    Peer& q = *peers_[peer];
    q.retry_pending = false;
    if (!q.out) dial(peer);
  });
}

// --- reading ---------------------------------------------------------------------------------

void PeerTransport::start_read(const LinkPtr& link) {
  if (!link->rbuf) {
    link->rbuf = std::make_unique<char[]>(kInitialReadBuffer);
    link->rcap = kInitialReadBuffer;
  }
  if (link->rend == link->rcap) {
    // process_input reserved room for the pending frame, so compacting always frees space.
    RKV_ASSERT(link->rbeg > 0);
    reserve_frame(*link, link->rend - link->rbeg + 1);
  }
  std::weak_ptr<char> alive = alive_;
  link->read_some(asio::buffer(link->rbuf.get() + link->rend, link->rcap - link->rend),
                  [this, alive, link](const asio::error_code& ec, size_t n) {
                    if (alive.expired()) return;
                    on_read(link, ec, n);
                  });
}

void PeerTransport::on_read(const LinkPtr& link, const asio::error_code& ec, size_t n) {
  if (link->closed()) return;
  if (ec) {
    if (link->ready()) {
      close_link(link, {}, ec == asio::error::eof ? "closed by peer" : ec.message());
    } else if (link->role == Link::Role::kOutbound) {
      spdlog::warn("peer {} closed the connection during the handshake (did it reject us?)",
                   link->remote);
      close_link(link, {}, ec.message());
    } else {
      close_link(link, "connection closed during handshake", ec.message());
    }
    return;
  }
  link->rend += n;
  process_input(link);
  if (!link->closed()) start_read(link);
}

// Makes [rbeg, rbeg + frame_bytes) fit in the buffer, compacting or growing it. frame_bytes has
// already been checked against the frame limit.
void PeerTransport::reserve_frame(Link& link, size_t frame_bytes) {
  if (link.rcap - link.rbeg >= frame_bytes) return;
  size_t have = link.rend - link.rbeg;
  if (link.rcap >= frame_bytes) {
    std::memmove(link.rbuf.get(), link.rbuf.get() + link.rbeg, have);
  } else {
    size_t cap = std::max(frame_bytes, std::min(link.rcap * 2, frame_bytes * 2));
    auto fresh = std::make_unique<char[]>(cap);
    std::memcpy(fresh.get(), link.rbuf.get() + link.rbeg, have);
    link.rbuf = std::move(fresh);
    link.rcap = cap;
  }
  link.rbeg = 0;
  link.rend = have;
}

void PeerTransport::process_input(const LinkPtr& link) {
  while (!link->closed()) {
    size_t avail = link->rend - link->rbeg;
    if (avail < kFrameHeaderBytes) break;
    const char* p = link->rbuf.get() + link->rbeg;
    uint32_t len = get_u32(p);
    uint32_t limit = link->ready() ? opts_.max_frame_bytes : kMaxHandshakeFrame;
    if (len > limit) {
      close_link(link, "protocol violation",
                 fmt::format("announced frame of {} bytes exceeds the {}-byte limit", len, limit));
      return;
    }
    size_t frame = kFrameHeaderBytes + len;
    if (avail < frame) {
      reserve_frame(*link, frame);
      break;
    }
    std::string_view payload(p + kFrameHeaderBytes, len);
    if (link->ready()) {
      if (link->auth->tag(link->frame_seq, payload) != get_u64(p + 4)) {
        if (link->role == Link::Role::kInbound) ++peer_stats(link->peer).bad_frames;
        close_link(link, "protocol violation",
                   fmt::format("frame {} failed authentication (altered, injected, replayed or "
                               "reordered)",
                               link->frame_seq));
        return;
      }
      ++link->frame_seq;
    } else if (checksum64(payload) != get_u64(p + 4)) {
      close_link(link, "protocol violation", "frame checksum mismatch");
      return;
    }
    link->rbeg += frame;
    on_frame(link, payload);  // the buffer is not touched until on_frame returns
  }
  if (link->rbeg == link->rend) {
    link->rbeg = link->rend = 0;
    if (link->rcap > kKeepReadBuffer) {
      link->rbuf = std::make_unique<char[]>(kInitialReadBuffer);
      link->rcap = kInitialReadBuffer;
    }
  }
}

void PeerTransport::on_frame(const LinkPtr& link, std::string_view payload) {
  switch (link->step) {
    case Link::Step::kAwaitHello:
      return on_hello(link, payload);
    case Link::Step::kAwaitChallenge:
      return on_challenge(link, payload);
    case Link::Step::kAwaitResponse:
      return on_response(link, payload);
    case Link::Step::kAwaitOk:
      return on_ok(link, payload);
    case Link::Step::kReady:
      break;
    case Link::Step::kConnecting:
    case Link::Step::kClosed:
      RKV_UNREACHABLE();
  }
  if (link->role == Link::Role::kOutbound) {
    close_link(link, "protocol violation", "unexpected frame on an outbound link");
    return;
  }
  PeerStats& s = peer_stats(link->peer);
  ++s.frames_received;
  s.bytes_received += payload.size();
  on_message_(link->peer, payload);
}

// --- handshake -------------------------------------------------------------------------------

void PeerTransport::on_hello(const LinkPtr& link, std::string_view payload) {
  Greeting g;
  std::string err = parse_greeting(payload, MsgType::kHello, false, &g);
  if (!err.empty()) return close_link(link, "failed authentication", err);
  if (g.fingerprint != fingerprint_) {
    return close_link(link, "failed authentication", "cluster fingerprint mismatch");
  }
  uint32_t who = Link::kNoPeer;
  for (uint32_t i = 0; i < peers_.size(); ++i) {
    if (peers_[i]->id == g.node_id) who = i;
  }
  if (who == Link::kNoPeer) {
    return close_link(link, "failed authentication",
                      fmt::format("unknown node id \"{}\"", g.node_id));
  }
  if (who == self_) {
    return close_link(link, "failed authentication", "peer claims this node's own id");
  }
  link->claimed_peer = who;
  link->nonce_d = std::string(g.nonce);
  link->nonce_a = make_nonce();
  std::string mac =
      make_mac(kAcceptorLabel, link->nonce_d, link->nonce_a, g.node_id, cfg_.nodes[self_].id);
  std::string out(1, static_cast<char>(MsgType::kChallenge));
  out.append(kMagic);
  put_u32(out, kProtocolVersion);
  put_u64(out, fingerprint_);
  out.append(link->nonce_a);
  out.append(mac);
  put_str(out, cfg_.nodes[self_].id);
  link->step = Link::Step::kAwaitResponse;
  write_control(link, std::move(out));
}

void PeerTransport::on_challenge(const LinkPtr& link, std::string_view payload) {
  Greeting g;
  std::string err = parse_greeting(payload, MsgType::kChallenge, true, &g);
  if (!err.empty()) return close_link(link, "failed authentication", err);
  if (g.fingerprint != fingerprint_) {
    return close_link(link, "failed authentication", "cluster fingerprint mismatch");
  }
  const std::string& expected_id = peers_[link->peer]->id;
  if (g.node_id != expected_id) {
    return close_link(link, "failed authentication",
                      fmt::format("answered as \"{}\", expected \"{}\"", g.node_id, expected_id));
  }
  link->nonce_a = std::string(g.nonce);
  const std::string& my_id = cfg_.nodes[self_].id;
  std::string want = make_mac(kAcceptorLabel, link->nonce_d, link->nonce_a, my_id, expected_id);
  if (CRYPTO_memcmp(want.data(), g.mac.data(), kMacBytes) != 0) {
    return close_link(link, "failed authentication", "bad MAC");
  }
  link->step = Link::Step::kAwaitOk;
  link->auth = std::make_unique<peer_wire::FrameAuth>(peer_wire::frame_key(
      secret_, link->nonce_d, link->nonce_a, my_id, expected_id, fingerprint_));
  write_control(link, peer_wire::encode_response(make_mac(kDialerLabel, link->nonce_d,
                                                          link->nonce_a, my_id, expected_id)));
}

void PeerTransport::on_response(const LinkPtr& link, std::string_view payload) {
  WireReader r(payload);
  uint8_t t = 0;
  std::string_view mac;
  if (!r.u8(&t) || t != static_cast<uint8_t>(MsgType::kResponse) || !r.bytes(kMacBytes, &mac) ||
      !r.done()) {
    return close_link(link, "failed authentication", "malformed response");
  }
  uint32_t who = link->claimed_peer;
  std::string want =
      make_mac(kDialerLabel, link->nonce_d, link->nonce_a, peers_[who]->id, cfg_.nodes[self_].id);
  if (CRYPTO_memcmp(want.data(), mac.data(), kMacBytes) != 0) {
    return close_link(link, "failed authentication", "bad MAC");
  }
  link->peer = who;
  link->auth = std::make_unique<peer_wire::FrameAuth>(peer_wire::frame_key(
      secret_, link->nonce_d, link->nonce_a, peers_[who]->id, cfg_.nodes[self_].id, fingerprint_));
  link->step = Link::Step::kReady;
  link->deadline.cancel();
  Peer& p = *peers_[who];
  if (p.in) close_link(p.in, {}, "replaced by a newer connection from the same peer");
  p.in = link;
  spdlog::info("peer transport: accepted {} from {}", p.id, link->remote);
  write_control(link, std::string(1, static_cast<char>(MsgType::kOk)));
}

void PeerTransport::on_ok(const LinkPtr& link, std::string_view payload) {
  if (payload.size() != 1 || payload[0] != static_cast<char>(MsgType::kOk)) {
    return close_link(link, "failed authentication", "malformed handshake acknowledgement");
  }
  link->step = Link::Step::kReady;
  link->deadline.cancel();
  Peer& p = *peers_[link->peer];
  if (p.connects++ > 0) ++p.stats.reconnects;
  p.backoff = opts_.reconnect_initial;
  spdlog::info("peer transport: connected to {} at {}", p.id, link->remote);
  flush(link);
}

std::string PeerTransport::make_mac(std::string_view label, std::string_view nonce_d,
                                    std::string_view nonce_a, std::string_view dialer_id,
                                    std::string_view acceptor_id) const {
  return handshake_mac(secret_, label, nonce_d, nonce_a, dialer_id, acceptor_id, fingerprint_);
}

std::string PeerTransport::make_nonce() {
  std::string n;
  put_u64(n, rng_());
  put_u64(n, rng_());
  return n;
}

// --- closing ---------------------------------------------------------------------------------

void PeerTransport::close_link(const LinkPtr& link, std::string_view violation,
                               std::string_view detail) {
  if (link->closed()) return;
  const bool authenticated = link->ready();
  link->step = Link::Step::kClosed;
  uint32_t known =
      link->role == Link::Role::kOutbound || authenticated ? link->peer : Link::kNoPeer;
  if (!violation.empty()) {
    const char* dir = link->role == Link::Role::kOutbound ? "outbound" : "inbound";
    std::string who = known != Link::kNoPeer ? fmt::format(" ({})", peers_[known]->id) : "";
    spdlog::warn("peer {}{} {}{}{} [{} link]", link->remote, who, violation,
                 detail.empty() ? "" : ": ", detail, dir);
    if (known != Link::kNoPeer) {
      ++peers_[known]->stats.rejected;
    } else {
      ++rejected_unauthenticated_;
    }
  } else {
    spdlog::debug("peer transport: link to {} closed: {}", link->remote, detail);
  }
  asio::error_code ec;
  link->deadline.cancel();
  link->socket.shutdown(tcp::socket::shutdown_both, ec);
  link->socket.close(ec);
  forget_link(link);
}

void PeerTransport::forget_link(const LinkPtr& link) {
  links_.erase(std::remove(links_.begin(), links_.end(), link), links_.end());
  if (link->role == Link::Role::kInbound) {
    if (link->peer != Link::kNoPeer && peers_[link->peer]->in == link)
      peers_[link->peer]->in.reset();
    return;
  }
  Peer& p = *peers_[link->peer];
  if (p.out == link) {
    p.out.reset();
    schedule_redial(link->peer);
  }
}

}  // namespace rkv
