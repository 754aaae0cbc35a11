#include "cli/lab_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <list>
#include <mutex>
#include <random>
#include <thread>

namespace rkv {

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kRetransmitMs = 200;
constexpr size_t kChunk = 64 * 1024;
constexpr size_t kMaxHeld = 4 * 1024 * 1024;  // per connection: reading pauses above this

void set_nonblocking(int fd) {
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

int listen_on(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  const sockaddr_in a = LinkProxy::loopback(port);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof(a)) != 0 || listen(fd, 64) != 0) {
    close(fd);
    return -1;
  }
  set_nonblocking(fd);
  return fd;
}

// A blocking connect on loopback: refused at once when nothing listens.
int connect_to(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  const sockaddr_in a = LinkProxy::loopback(port);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof(a)) != 0) {
    close(fd);
    return -1;
  }
  set_nonblocking(fd);
  return fd;
}

struct Held {
  Clock::time_point release;
  std::string bytes;
};

// One proxied connection: `in` accepted from the sender, `out` dialed to the receiver.
struct Pipe {
  int link = 0;
  int in = -1, out = -1;
  std::deque<Held> forward;  // sender -> receiver, released in order
  size_t held_bytes = 0;
  std::string back;        // receiver -> sender, not yet written
  bool in_closed = false;  // the sender closed: close once what is held is delivered
  bool dead = false;
};

class ProxyImpl final : public LinkProxy {
 public:
  ProxyImpl(int nodes, uint16_t first_port, std::vector<uint16_t> target)
      : nodes_(nodes),
        first_port_(first_port),
        target_(std::move(target)),
        shapes_(static_cast<size_t>(nodes * nodes)) {}
  ~ProxyImpl() override {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    for (auto& l : listeners_)
      close(l.fd);
    for (auto& p : pipes_)
      close_pipe(p);
  }

  bool open(std::string* error) {
    for (int from = 0; from < nodes_; ++from) {
      for (int to = 0; to < nodes_; ++to) {
        if (from == to) continue;
        const uint16_t port = proxy_port(first_port_, from, to);
        const int fd = listen_on(port);
        if (fd < 0) {
          *error =
              "cannot listen on proxy port " + std::to_string(port) + ": " + std::strerror(errno);
          return false;
        }
        listeners_.push_back({fd, from * nodes_ + to});
      }
    }
    thread_ = std::thread([this] { loop(); });
    return true;
  }

  void set(int from, int to, const Shape& shape) override {
    std::lock_guard lock(mu_);
    shapes_[static_cast<size_t>(from * nodes_ + to)] = shape;
  }
  void clear() override {
    std::lock_guard lock(mu_);
    for (auto& s : shapes_)
      s = Shape{};
  }

 private:
  struct Listener {
    int fd;
    int link;
  };

  Shape shape(int link) {
    std::lock_guard lock(mu_);
    return shapes_[static_cast<size_t>(link)];
  }

  static void close_pipe(Pipe& p) {
    if (p.in >= 0) close(p.in);
    if (p.out >= 0) close(p.out);
    p.in = p.out = -1;
    p.dead = true;
  }

  void accept_on(const Listener& l) {
    while (true) {
      const int in = accept(l.fd, nullptr, nullptr);
      if (in < 0) return;
      set_nonblocking(in);
      const int out = connect_to(target_[static_cast<size_t>(l.link % nodes_)]);
      if (out < 0) {  // the receiver is down: so is the link
        close(in);
        continue;
      }
      Pipe p;
      p.link = l.link;
      p.in = in;
      p.out = out;
      pipes_.push_back(std::move(p));
    }
  }

  // Reads what the sender wrote, stamping each chunk with its release time.
  void read_forward(Pipe& p, const Shape& s, Clock::time_point now) {
    char buf[kChunk];
    const ssize_t n = read(p.in, buf, sizeof(buf));
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
      // The sender closed: deliver what is held first, then close.
      p.in_closed = true;
      if (p.forward.empty()) close_pipe(p);
      return;
    }
    if (n < 0) return;
    int extra = s.delay_ms;
    if (s.jitter_ms > 0) extra += static_cast<int>(rng_() % static_cast<uint32_t>(s.jitter_ms + 1));
    if (s.loss > 0 && std::uniform_real_distribution<double>(0, 1)(rng_) < s.loss) {
      extra += kRetransmitMs;
    }
    Clock::time_point release = now + std::chrono::milliseconds(extra);
    if (!p.forward.empty() && p.forward.back().release > release)
      release = p.forward.back().release;
    p.forward.push_back({release, std::string(buf, static_cast<size_t>(n))});
    p.held_bytes += static_cast<size_t>(n);
  }

  void write_forward(Pipe& p, Clock::time_point now) {
    while (!p.forward.empty() && p.forward.front().release <= now) {
      Held& h = p.forward.front();
      const ssize_t n = write(p.out, h.bytes.data(), h.bytes.size());
      if (n < 0) {
        if (errno != EAGAIN && errno != EINTR) close_pipe(p);
        return;
      }
      p.held_bytes -= static_cast<size_t>(n);
      if (static_cast<size_t>(n) < h.bytes.size()) {
        h.bytes.erase(0, static_cast<size_t>(n));
        return;
      }
      p.forward.pop_front();
    }
    if (p.forward.empty() && p.in_closed) close_pipe(p);
  }

  void pump_back(Pipe& p) {
    char buf[kChunk];
    if (p.back.size() < kMaxHeld) {
      const ssize_t n = read(p.out, buf, sizeof(buf));
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        close_pipe(p);
        return;
      }
      if (n > 0) p.back.append(buf, static_cast<size_t>(n));
    }
    if (!p.back.empty()) {
      const ssize_t w = write(p.in, p.back.data(), p.back.size());
      if (w < 0 && errno != EAGAIN && errno != EINTR) {
        close_pipe(p);
        return;
      }
      if (w > 0) p.back.erase(0, static_cast<size_t>(w));
    }
  }

  void loop() {
    std::vector<pollfd> fds;
    std::vector<std::pair<int, int>> what;  // (kind, index): 0 listener, 1 in, 2 out
    while (!stop_) {
      const auto now = Clock::now();
      fds.clear();
      what.clear();
      for (size_t i = 0; i < listeners_.size(); ++i) {
        fds.push_back({listeners_[i].fd, POLLIN, 0});
        what.emplace_back(0, static_cast<int>(i));
      }
      int timeout_ms = 20;
      size_t idx = 0;
      for (auto it = pipes_.begin(); it != pipes_.end();) {
        if (it->dead) {
          it = pipes_.erase(it);
          continue;
        }
        Pipe& p = *it;
        const Shape s = shape(p.link);
        short in_events = 0, out_events = POLLIN;
        if (!s.cut && !p.in_closed && p.held_bytes < kMaxHeld) in_events |= POLLIN;
        if (!p.back.empty()) in_events |= POLLOUT;
        if (!s.cut && !p.forward.empty()) {
          const auto wait =
              std::chrono::duration_cast<std::chrono::milliseconds>(p.forward.front().release - now)
                  .count();
          if (wait <= 0)
            out_events |= POLLOUT;
          else
            timeout_ms = std::min<int>(timeout_ms, static_cast<int>(wait));
        }
        // A sender that closed reports POLLHUP on every poll: not polled while what it sent
        // is still held (a cut), or the loop would spin.
        fds.push_back({p.in_closed ? -1 : p.in, in_events, 0});
        what.emplace_back(1, static_cast<int>(idx));
        fds.push_back({p.out, out_events, 0});
        what.emplace_back(2, static_cast<int>(idx));
        ++idx;
        ++it;
      }
      if (poll(fds.data(), fds.size(), timeout_ms) < 0 && errno != EINTR) return;
      const auto t = Clock::now();
      std::vector<Pipe*> by_index;  // the pipes polled, in order (accept_on appends others)
      for (auto& p : pipes_) {
        if (by_index.size() == idx) break;
        by_index.push_back(&p);
      }
      for (size_t i = 0; i < fds.size(); ++i) {
        const auto [kind, at] = what[i];
        if (kind == 0) {
          if (fds[i].revents & POLLIN) accept_on(listeners_[static_cast<size_t>(at)]);
          continue;
        }
        Pipe& p = *by_index[static_cast<size_t>(at)];
        if (p.dead) continue;
        const Shape s = shape(p.link);
        if (kind == 1) {
          if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) read_forward(p, s, t);
          if (!p.dead && (fds[i].revents & POLLOUT)) pump_back(p);
        } else {
          if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) pump_back(p);
          if (!p.dead && !s.cut) write_forward(p, t);
        }
      }
    }
  }

  int nodes_;
  uint16_t first_port_;
  std::vector<uint16_t> target_;
  std::mutex mu_;
  std::vector<Shape> shapes_;  // by from * nodes + to
  std::vector<Listener> listeners_;
  std::list<Pipe> pipes_;
  std::mt19937 rng_{12345};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace

std::unique_ptr<LinkProxy> LinkProxy::start(int nodes, uint16_t first_port,
                                            const std::vector<uint16_t>& target_port,
                                            std::string* error) {
  auto p = std::make_unique<ProxyImpl>(nodes, first_port, target_port);
  if (!p->open(error)) return nullptr;
  return p;
}

}  // namespace rkv
