// PeerTransport: authenticated, framed TCP links between the nodes of a cluster. It moves opaque
// payloads (peer messages already encoded by the node layer) from this node to the others.
//
// Contract:
// - Threading: every method is called from the thread that runs `io`, and on_message runs there.
//   Nothing here is thread-safe. on_message may call send() and stop(); it must not destroy the
//   transport. The payload view is valid only during the call.
// - Topology: each node dials every other node for its OWN outbound traffic (one outbound TCP
//   connection per peer) and accepts the peers' connections, which only deliver. A pair of nodes
//   therefore has two connections and no tie-breaking is needed.
// - Delivery: per peer, payloads arrive in send order, at most once. A payload queued while the
//   peer is unreachable waits (up to the queue bounds) and goes out after the reconnect; a
//   payload being written when a connection breaks may be lost. Protocols on top (Raft, catch-up,
//   anti-entropy) already tolerate loss and retransmit.
// - Wire: every message is a frame [u32 LE payload length][u64 LE tag][payload]. The handshake's
//   frames are tagged with the XXH3 of their payload (a checksum: they prove themselves by their
//   MACs); every payload frame after the handshake is tagged with a MAC: SipHash-2-4 of
//   (u64 sequence number, u32 length, payload) under a key both sides derive from the cluster
//   secret and this connection's handshake (HMAC-SHA256(secret, kFrameKeyLabel | nonces | ids |
//   fingerprint)), the sequence counting the connection's payload frames from 0. So a frame that
//   was altered, injected, replayed (on this connection or from an earlier one: the key differs)
//   or reordered fails its check. An announced length above the limit, or a failed check, is a
//   protocol violation: the connection is closed, the violation logged (naming the remote
//   address) and counted; the node carries on. No buffer is ever sized from an unchecked length.
// - Handshake (frames of at most kMaxHandshakeFrame bytes, within handshake_timeout):
//     dialer   -> HELLO     {"RKV1", version, fingerprint, dialer nonce, dialer node id}
//     acceptor -> CHALLENGE {"RKV1", version, fingerprint, acceptor nonce, MAC_a, acceptor id}
//     dialer   -> RESPONSE  {MAC_d}
//     acceptor -> OK
//   fingerprint = XXH3 of the sorted node id list (both sides must have the same membership).
//   MAC_x = HMAC-SHA256(cluster_secret, label_x | nonce_d | nonce_a | dialer id | acceptor id |
//   fingerprint), with distinct labels for the two directions so neither can be reflected. Each
//   side checks the other's MAC; an unknown id, wrong fingerprint, wrong MAC, malformed message
//   or timeout closes the connection and counts as rejected. Frames are delivered to on_message
//   only after the handshake, tagged with the authenticated peer's index.
// - Limits: see PeerTransportOptions. A full send queue drops the NEW payload (counted).
#pragma once

#include <asio.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/status.h"

namespace rkv {

class TlsContext;

struct PeerTransportOptions {
  uint32_t max_frame_bytes = 64u << 20;               // largest payload sent or accepted
  uint64_t max_queued_bytes = 64ull << 20;            // payload bytes waiting per peer
  uint64_t max_queued_frames = 100'000;               // payloads waiting per peer
  std::chrono::milliseconds handshake_timeout{2000};  // connect + handshake deadline
  std::chrono::milliseconds reconnect_initial{50};    // first retry delay (doubles, jittered)
  std::chrono::milliseconds reconnect_max{1000};      // retry delay cap
  // A link whose sent bytes stay unacknowledged by the peer's kernel this long (or that is idle
  // and answers no keepalive probe for about as long) is closed and redialled (TCP_USER_TIMEOUT,
  // TCP keepalive): after a network cut heals, traffic resumes on a fresh connection at once
  // instead of waiting out TCP's retransmission backoff (seconds after a long cut).
  std::chrono::milliseconds dead_link_timeout{3000};
  uint64_t max_write_batch_bytes = 1u << 20;  // payload bytes gathered into one async_write
  uint32_t max_write_batch_frames = 1024;     // frames gathered into one async_write
  // A lazy payload waits at most this long for company (0: lazy payloads are sent like others).
  std::chrono::microseconds lazy_delay{0};
  // Set: every link runs over mutual TLS made from this context (both sides present their
  // certificate and verify the other's against the context's CA) before the handshake below,
  // which still runs inside it; a TLS failure closes the link like a failed handshake.
  std::shared_ptr<const TlsContext> tls;
};

// Counters for one peer. "Rejected" counts connections to or from this peer that were closed
// for a protocol or authentication violation once the peer's identity was known (our outbound
// link, or an authenticated inbound one); violations by unauthenticated connections are counted
// by PeerTransport::rejected_unauthenticated().
struct PeerStats {
  bool connected = false;                    // our outbound link to the peer is authenticated
  bool inbound_connected = false;            // the peer's link to us is authenticated
  uint64_t frames_sent = 0, bytes_sent = 0;  // payload frames/bytes written to the socket
  uint64_t frames_received = 0, bytes_received = 0;  // payload frames/bytes delivered
  uint64_t dropped = 0;                              // send() refused: the queue was full
  uint64_t oversized = 0;   // send() refused: payload larger than max_frame_bytes
  uint64_t rejected = 0;    // connections closed for a violation (see above)
  uint64_t bad_frames = 0;  // payload frames refused by their MAC (each closed its connection)
  uint64_t reconnects = 0;  // outbound links established after the first one
  uint64_t queued_frames = 0, queued_bytes = 0;  // waiting to be written
};

class PeerTransport {
 public:
  using MessageHandler = std::function<void(uint32_t from, std::string_view payload)>;

  static constexpr uint32_t kProtocolVersion = 2;  // 2: payload frames carry MACs
  static constexpr size_t kFrameHeaderBytes = 12;
  static constexpr uint32_t kMaxHandshakeFrame = 1024;
  static constexpr size_t kNonceBytes = 16;
  static constexpr size_t kMacBytes = 32;
  static constexpr size_t kMaxNodeIdBytes = 255;

  // cfg must outlive the transport only for the constructor (it is copied); cfg.nodes lists every
  // member, self_index names this node in it.
  PeerTransport(asio::io_context& io, const Config& cfg, uint32_t self_index,
                MessageHandler on_message, PeerTransportOptions opts = {});
  ~PeerTransport();
  PeerTransport(const PeerTransport&) = delete;
  PeerTransport& operator=(const PeerTransport&) = delete;

  // Listens on cfg.nodes[self].host:peer_port (0 picks a free port, see bound_port()) and starts
  // dialing every peer whose port is known. Errors (bad config, bind failure) are returned.
  Status start();
  // Queues payload for peer `to` (index in cfg.nodes, not self). Never blocks; refuses (and
  // counts) payloads above max_frame_bytes or beyond the queue bounds. A payload is written once
  // the loop's queued handlers have run, with everything else queued for the peer by then; a
  // `lazy` one waits up to opts.lazy_delay more, unless a payload that is not lazy follows it
  // (which takes it along). Either way a peer's payloads leave in the order they were queued.
  void send(uint32_t to, std::string payload, bool lazy = false);
  // Closes every socket and timer and discards queued payloads. Idempotent; the transport may be
  // destroyed right after, even with handlers still pending in io.
  void stop();

  uint16_t bound_port() const { return bound_port_; }
  PeerStats stats(uint32_t peer) const;
  uint64_t rejected_unauthenticated() const { return rejected_unauthenticated_; }

  // Test hooks. set_peer_port: tests use ephemeral ports and learn them after start(); dials now
  // if the peer has no outbound link. send_raw_for_test: bytes go on the wire as they are
  // (no framing) through the outbound link, to provoke protocol violations at the peer.
  void set_peer_port(uint32_t peer, uint16_t port);
  // Links made from now on use `tls` (a reloaded certificate); open links keep theirs. Only
  // when the transport was started with TLS.
  void set_tls(std::shared_ptr<const TlsContext> tls);
  void send_raw_for_test(uint32_t to, std::string bytes);

 private:
  class Link;  // one TCP connection, outbound or inbound (peer_transport.cc)
  using LinkPtr = std::shared_ptr<Link>;
  struct Outgoing {
    std::string bytes;
    bool raw = false;
  };
  struct Peer;

  void start_accept();
  void dial(uint32_t peer);
  void schedule_redial(uint32_t peer);
  void on_connected(const LinkPtr& link, const asio::error_code& ec);
  // With opts_.tls: runs the TLS handshake of a connected or accepted link, then `next`.
  void start_tls(const LinkPtr& link, void (PeerTransport::*next)(const LinkPtr&));
  void begin_hello(const LinkPtr& link);  // dialer: sends HELLO
  void await_hello(const LinkPtr& link);  // acceptor: waits for HELLO
  // No Nagle delay; dead links detected within dead_link_timeout.
  void tune_socket(asio::ip::tcp::socket& socket) const;
  void start_read(const LinkPtr& link);
  void on_read(const LinkPtr& link, const asio::error_code& ec, size_t n);
  void process_input(const LinkPtr& link);
  void reserve_frame(Link& link, size_t frame_bytes);
  void on_frame(const LinkPtr& link, std::string_view payload);
  void on_hello(const LinkPtr& link, std::string_view payload);
  void on_challenge(const LinkPtr& link, std::string_view payload);
  void on_response(const LinkPtr& link, std::string_view payload);
  void on_ok(const LinkPtr& link, std::string_view payload);
  void write_control(const LinkPtr& link, std::string payload);
  void flush(const LinkPtr& link);
  // Lets every queued payload of every peer go out, and starts the writes.
  void release_all();
  void on_written(const LinkPtr& link, const asio::error_code& ec);
  // Closes link. A non-empty violation is logged as a warning and counted as rejected.
  void close_link(const LinkPtr& link, std::string_view violation, std::string_view detail = {});
  void forget_link(const LinkPtr& link);
  std::string make_mac(std::string_view label, std::string_view nonce_d, std::string_view nonce_a,
                       std::string_view dialer_id, std::string_view acceptor_id) const;
  std::string make_nonce();
  PeerStats& peer_stats(uint32_t peer);

  asio::io_context& io_;
  Config cfg_;
  uint32_t self_;
  MessageHandler on_message_;
  PeerTransportOptions opts_;
  std::string secret_;
  uint64_t fingerprint_ = 0;
  std::mt19937_64 rng_;
  asio::ip::tcp::acceptor acceptor_;
  uint16_t bound_port_ = 0;
  bool started_ = false;
  bool stopped_ = false;
  bool flush_posted_ = false;  // a handler that starts the queued writes is pending
  bool lazy_armed_ = false;    // lazy_timer_ will release what lazy payloads are queued
  asio::steady_timer lazy_timer_;
  // Handlers hold a weak_ptr to this token: once it is gone (stop/destruction) they do nothing.
  std::shared_ptr<char> alive_;
  std::vector<std::unique_ptr<Peer>> peers_;  // indexed like cfg.nodes; self has an idle entry
  std::vector<LinkPtr> links_;                // every open link (connecting, handshaking or ready)
  uint64_t rejected_unauthenticated_ = 0;
};

// Wire helpers, exposed so tests can speak the protocol from a raw socket.
namespace peer_wire {
// A handshake frame: [u32 length][u64 checksum][payload]
std::string encode_frame(std::string_view payload);
// The MAC of a connection's payload frames (see Wire above), keyed by the first 16 bytes of the
// derived frame key.
class FrameAuth {
 public:
  explicit FrameAuth(std::string_view key);
  ~FrameAuth();
  FrameAuth(const FrameAuth&) = delete;
  FrameAuth& operator=(const FrameAuth&) = delete;
  uint64_t tag(uint64_t seq, std::string_view payload);

 private:
  std::string key_;
  void* ctx_;  // EVP_MAC_CTX
};
// The frame key of a connection: HMAC-SHA256 over the handshake's values.
std::string frame_key(std::string_view secret, std::string_view nonce_d, std::string_view nonce_a,
                      std::string_view dialer_id, std::string_view acceptor_id,
                      uint64_t fingerprint);
// A payload frame as the sender of the connection writes its seq-th one.
std::string encode_data_frame(FrameAuth& auth, uint64_t seq, std::string_view payload);
// XXH3 of the sorted node ids (each length-prefixed).
uint64_t cluster_fingerprint(const std::vector<PeerConfig>& nodes);
std::string encode_hello(std::string_view node_id, uint64_t fingerprint, std::string_view nonce);
std::string encode_response(std::string_view mac);
// Parses a HELLO (challenge false) or CHALLENGE handshake payload as a node does: "" when it is
// well formed, else the reason it would be refused (fuzzing and tests).
std::string check_greeting(std::string_view payload, bool challenge);
}  // namespace peer_wire

}  // namespace rkv
