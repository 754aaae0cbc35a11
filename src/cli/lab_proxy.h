// The fault lab's proxy on the peer links (`replikv lab --links proxy`, the default without
// root): one listening port per directed link (from, to); node `from`'s config names that port
// as `to`'s peer port, and the proxy forwards what it accepts there to `to`'s real peer port.
// A node's messages to a peer travel on the connection it dials, so each direction of each
// pair of nodes can be held up on its own:
//
//   cut    the proxy stops reading from the sender and stops writing what it holds: the
//          sender's socket buffers fill, as they do behind a firewall that drops packets, and
//          what was held is delivered once the cut ends (TCP retransmits, as it would after a
//          real partition);
//   delay  every chunk read from the sender is released `delay` ms later, plus a uniform
//          0..jitter ms, never before the chunk before it (a TCP stream stays in order);
//   loss   a chunk is held a further retransmission timeout (200 ms) with probability `loss`:
//          on a TCP link a lost segment is a late one, the bytes are never dropped.
//
// Replies the receiver sends back on the connection are forwarded at once, unless cut.
// Everything runs on one thread with poll(2); the controls are thread-safe.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace rkv {

class LinkProxy {
 public:
  struct Shape {
    bool cut = false;
    int delay_ms = 0, jitter_ms = 0;
    double loss = 0;  // 0..1
  };

  // Listens on proxy_port(from, to) for every from != to of `nodes`, forwarding to
  // target_port[to] on 127.0.0.1; nullptr (and why in *error) when a port cannot be bound.
  static std::unique_ptr<LinkProxy> start(int nodes, uint16_t first_port,
                                          const std::vector<uint16_t>& target_port,
                                          std::string* error);
  // The port node `from` dials to reach `to`.
  static uint16_t proxy_port(uint16_t first_port, int from, int to) {
    return static_cast<uint16_t>(first_port + from * 10 + to);
  }
  // 127.0.0.1:port.
  static sockaddr_in loopback(uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
  }
  virtual ~LinkProxy() = default;
  virtual void set(int from, int to, const Shape& shape) = 0;
  virtual void clear() = 0;  // every link back to passing everything at once
};

}  // namespace rkv
