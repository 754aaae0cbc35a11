// resp_latency: a closed-loop RESP load generator that records every request's latency and
// reports percentiles per phase of a fault, for bench/leaderless.sh.
//
//   resp_latency --ports P1,P2 --clients 50 --op set|get --prefix quorum:key: [--keys 100000]
//                [--value-size 64] --phases H,S,A [--stop-pid PID] [--drain SECONDS]
//
// Clients are spread round-robin over the ports (127.0.0.1), one connection each, one request
// in flight per connection. The run has three phases of H, S and A seconds: "healthy", "stop"
// and "after". With --stop-pid, the process PID receives SIGSTOP when "stop" begins and SIGCONT
// when it ends (and on SIGINT/SIGTERM/exit, so it is never left stopped by this program). After
// the last phase no new request is sent; outstanding ones get up to --drain seconds (default 5)
// to complete, and whatever is still outstanding then is counted as unfinished.
//
// A request belongs to "stop" when it was sent during the stop or was still in flight when the
// stop began (so the requests the stop caught count there with their whole latency); to
// "healthy" when it was sent and answered before; to "after" when sent after SIGCONT. Per
// phase one line:
//   PHASE name=stop seconds=S sent=.. ok=.. errors=.. unfinished=.. rps=.. p50_ms=.. p99_ms=..
//         p999_ms=.. max_ms=.. err_max_ms=.. gap_ms=.. err_sample="..."
// Latency percentiles are over OK replies only; errors (RESP error replies, dropped
// connections) and unfinished requests are counted separately, err_max_ms is the longest wait
// for an error. rps counts OK replies COMPLETED within the phase's window over its length, and
// gap_ms is the longest stretch of that window in which no OK reply completed (the outage as
// the clients saw it), beginning gap_at_ms after the phase began. Keys: PREFIX plus 12 digits, uniform over KEYS, as redis-benchmark's
// __rand_int__ makes them.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { kMaxClients = 4096, kReadBuf = 1 << 16, kMaxPorts = 16, kPhases = 3 };
enum { kOk = 0, kErr = 1, kPending = 2 };

typedef struct {
  int64_t sent_ns;  // since start
  int64_t lat_ns;
  uint8_t status;
} Rec;

typedef struct {
  int fd;
  int port;
  uint64_t rng;
  int busy;         // a request is in flight
  size_t rec;       // its index in recs
  char *out;        // unsent bytes of the request
  size_t out_len, out_off;
  char *in;         // received bytes not yet parsed
  size_t in_len;
} Conn;

static Rec *recs;
static size_t nrecs, caprecs;
static volatile pid_t stop_pid;
static volatile sig_atomic_t stopped;
static char err_sample[kPhases][160];

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void resume(void) {
  if (stopped && stop_pid > 0) kill(stop_pid, SIGCONT);
  stopped = 0;
}

static void on_signal(int sig) {
  resume();
  signal(sig, SIG_DFL);
  raise(sig);
}

static void die(const char *what) {
  resume();
  fprintf(stderr, "resp_latency: %s: %s\n", what, strerror(errno));
  exit(2);
}

static uint64_t next_rand(uint64_t *s) {  // xorshift64*
  *s ^= *s >> 12;
  *s ^= *s << 25;
  *s ^= *s >> 27;
  return *s * 2685821657736338717ull;
}

// Length of one complete RESP value at b[0..n), 0 when incomplete, -1 when malformed.
static long parse_reply(const char *b, size_t n, int *is_err) {
  if (n < 3) return 0;
  const char *eol = memchr(b, '\n', n);
  if (!eol) return 0;
  long head = (long)(eol - b) + 1;
  char type = b[0];
  if (type == '-') *is_err = 1;
  if (type == '+' || type == '-' || type == ':' || type == '_' || type == ',' || type == '#')
    return head;
  long count = strtol(b + 1, NULL, 10);
  if (type == '$') {
    if (count < 0) return head;
    return (size_t)(head + count + 2) <= n ? head + count + 2 : 0;
  }
  if (type == '*' || type == '~' || type == '>' || type == '%') {
    if (count < 0) return head;
    if (type == '%') count *= 2;
    long off = head;
    for (long i = 0; i < count; ++i) {
      int inner_err = 0;
      long len = parse_reply(b + off, n - (size_t)off, &inner_err);
      if (len <= 0) return len;
      off += len;
    }
    return off;
  }
  return -1;
}

// Connects (blocking: loopback) and registers with epoll; false when the connect failed.
static int conn_open(Conn *c, int ep) {
  c->fd = socket(AF_INET, SOCK_STREAM, 0);
  if (c->fd < 0) die("socket");
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0) {
    close(c->fd);
    c->fd = -1;
    return 0;
  }
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) die("epoll_ctl");
  c->in_len = 0;
  return 1;
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

// The q-quantile of sorted[0..n) in milliseconds (-1 when empty).
static double pct_ms(const int64_t *sorted, size_t n, double q) {
  if (n == 0) return -1;
  size_t i = (size_t)(q * (double)n);
  return (double)sorted[i < n ? i : n - 1] / 1e6;
}

// The phase of a request sent at `sent` and answered at `done` (-1: not answered).
static int phase_of(int64_t sent, int64_t done, const int64_t *ends) {
  if (sent >= ends[1]) return 2;
  if (sent < ends[0] && done >= 0 && done < ends[0]) return 0;
  return 1;
}

static void finish(Conn *c, int status, int64_t t, const char *msg, size_t msg_len,
                   const int64_t *ends) {
  Rec *r = &recs[c->rec];
  r->lat_ns = t - r->sent_ns;
  r->status = (uint8_t)status;
  c->busy = 0;
  char *sample = err_sample[phase_of(r->sent_ns, t, ends)];
  if (status == kErr && !sample[0]) {
    size_t n = msg_len < 120 ? msg_len : 120;
    for (size_t i = 0; i < n; ++i)
      sample[i] = (msg[i] == '\r' || msg[i] == '\n' || msg[i] == '"') ? ' ' : msg[i];
  }
}

static void flush_out(Conn *c, int ep) {
  while (c->out_off < c->out_len) {
    ssize_t k = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
    if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (k <= 0) return;  // the read side reports the broken connection
    c->out_off += (size_t)k;
  }
  struct epoll_event ev = {.events = EPOLLIN | (c->out_off < c->out_len ? EPOLLOUT : 0),
                           .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

int main(int argc, char **argv) {
  int ports[kMaxPorts], nports = 0, clients = 50, keys = 100000, value_size = 64;
  const char *op = "set", *prefix = "key:";
  double phase_s[kPhases] = {10, 10, 5}, drain_s = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    const char *k = argv[i], *v = argv[i + 1];
    if (!strcmp(k, "--ports")) {
      for (char *s = strtok(strdup(v), ","); s && nports < kMaxPorts; s = strtok(NULL, ","))
        ports[nports++] = atoi(s);
    } else if (!strcmp(k, "--clients")) {
      clients = atoi(v);
    } else if (!strcmp(k, "--op")) {
      op = v;
    } else if (!strcmp(k, "--prefix")) {
      prefix = v;
    } else if (!strcmp(k, "--keys")) {
      keys = atoi(v);
    } else if (!strcmp(k, "--value-size")) {
      value_size = atoi(v);
    } else if (!strcmp(k, "--phases")) {
      sscanf(v, "%lf,%lf,%lf", &phase_s[0], &phase_s[1], &phase_s[2]);
    } else if (!strcmp(k, "--stop-pid")) {
      stop_pid = atoi(v);
    } else if (!strcmp(k, "--drain")) {
      drain_s = atof(v);
    } else {
      fprintf(stderr, "resp_latency: unknown option %s\n", k);
      return 2;
    }
  }
  int is_set = !strcmp(op, "set");
  if (nports == 0 || clients < 1 || clients > kMaxClients || keys < 1 || value_size < 0 ||
      (!is_set && strcmp(op, "get"))) {
    fprintf(stderr, "resp_latency: need --ports, 1 <= --clients <= %d, --op set|get\n",
            kMaxClients);
    return 2;
  }
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  signal(SIGHUP, on_signal);
  atexit(resume);

  char *value = malloc((size_t)value_size + 1);
  memset(value, 'v', (size_t)value_size);
  value[value_size] = 0;
  const size_t key_len = strlen(prefix) + 12;
  const size_t req_cap = 64 + key_len + (size_t)value_size;

  int ep = epoll_create1(0);
  if (ep < 0) die("epoll_create1");
  Conn *conns = calloc((size_t)clients, sizeof(Conn));
  for (int i = 0; i < clients; ++i) {
    Conn *c = &conns[i];
    c->port = ports[i % nports];
    c->rng = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1) ^ (uint64_t)now_ns();
    c->out = malloc(req_cap);
    c->in = malloc(kReadBuf);
    if (!conn_open(c, ep)) die("connect");
  }
  caprecs = 1 << 20;
  recs = malloc(caprecs * sizeof(Rec));
  if (!recs) die("malloc");

  const int64_t start = now_ns();
  int64_t ends[kPhases];
  double acc = 0;
  for (int p = 0; p < kPhases; ++p) {
    acc += phase_s[p];
    ends[p] = (int64_t)(acc * 1e9);
  }
  // The stop phase's bounds move to the moments SIGSTOP and SIGCONT were actually sent.
  const int64_t stop_at = ends[0], cont_at = ends[1], send_end = ends[2];
  const int64_t drain_end = send_end + (int64_t)(drain_s * 1e9);
  int cont_done = 0;
  struct epoll_event evs[256];
  for (;;) {
    int64_t t = now_ns() - start;
    if (stop_pid > 0 && !stopped && !cont_done && t >= stop_at && t < cont_at) {
      if (kill(stop_pid, SIGSTOP) != 0) die("kill -STOP");
      stopped = 1;
      ends[0] = now_ns() - start;
    }
    if (stopped && t >= cont_at) {
      resume();
      cont_done = 1;
      ends[1] = now_ns() - start;
    }
    if (t >= drain_end) break;
    int outstanding = 0;
    for (int i = 0; i < clients; ++i) {
      Conn *c = &conns[i];
      if (c->fd < 0 && t < send_end) conn_open(c, ep);  // dropped earlier: retry every pass
      if (!c->busy && c->fd >= 0 && t < send_end) {
        if (nrecs == caprecs) {
          caprecs *= 2;
          recs = realloc(recs, caprecs * sizeof(Rec));
          if (!recs) die("realloc");
        }
        char key[96];
        snprintf(key, sizeof key, "%s%012llu", prefix,
                 (unsigned long long)(next_rand(&c->rng) % (uint64_t)keys));
        if (is_set) {
          c->out_len = (size_t)snprintf(c->out, req_cap, "*3\r\n$3\r\nSET\r\n$%zu\r\n%s\r\n$%d\r\n%s\r\n",
                                        strlen(key), key, value_size, value);
        } else {
          c->out_len = (size_t)snprintf(c->out, req_cap, "*2\r\n$3\r\nGET\r\n$%zu\r\n%s\r\n",
                                        strlen(key), key);
        }
        c->out_off = 0;
        c->rec = nrecs;
        recs[nrecs++] = (Rec){.sent_ns = now_ns() - start, .lat_ns = -1, .status = kPending};
        c->busy = 1;
        flush_out(c, ep);
      }
      outstanding += c->busy;
    }
    if (t >= send_end && outstanding == 0) break;
    int64_t next = t < stop_at ? stop_at : t < cont_at ? cont_at : t < send_end ? send_end : drain_end;
    int wait_ms = (int)((next - t) / 1000000) + 1;
    if (wait_ms > 10) wait_ms = 10;
    int n = epoll_wait(ep, evs, 256, wait_ms);
    if (n < 0 && errno != EINTR) die("epoll_wait");
    for (int e = 0; e < n; ++e) {
      Conn *c = evs[e].data.ptr;
      if (evs[e].events & EPOLLOUT) flush_out(c, ep);
      if (!(evs[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) continue;
      ssize_t k = recv(c->fd, c->in + c->in_len, kReadBuf - c->in_len, 0);
      if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
      int64_t tr = now_ns() - start;
      if (k <= 0) {  // closed or reset: the request in flight failed
        if (c->busy) finish(c, kErr, tr, "connection closed", 17, ends);
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
        continue;
      }
      c->in_len += (size_t)k;
      int is_err = 0;
      long len = parse_reply(c->in, c->in_len, &is_err);
      if (len < 0 || (len == 0 && c->in_len == kReadBuf)) {
        errno = EPROTO;
        die("unparsable reply");
      }
      if (len == 0) continue;
      if (c->busy) finish(c, is_err ? kErr : kOk, tr, c->in + 1, (size_t)len - 1, ends);
      memmove(c->in, c->in + len, c->in_len - (size_t)len);
      c->in_len -= (size_t)len;
    }
  }
  resume();

  static const char *names[kPhases] = {"healthy", "stop", "after"};
  // Completion times of OK replies, sorted: throughput and gaps per window.
  int64_t *done = malloc((nrecs + 1) * sizeof(int64_t));
  size_t ndone = 0;
  for (size_t i = 0; i < nrecs; ++i)
    if (recs[i].status == kOk) done[ndone++] = recs[i].sent_ns + recs[i].lat_ns;
  qsort(done, ndone, sizeof(int64_t), cmp_i64);
  int64_t *lat = malloc((nrecs + 1) * sizeof(int64_t));
  for (int p = 0; p < kPhases; ++p) {
    const int64_t lo = p == 0 ? 0 : ends[p - 1], hi = ends[p];
    size_t sent = 0, ok = 0, errs = 0, unfinished = 0, in_window = 0;
    int64_t err_max = 0, gap = 0, gap_at = 0, prev = lo;
    for (size_t i = 0; i < nrecs; ++i) {
      const Rec *r = &recs[i];
      if (phase_of(r->sent_ns, r->status == kPending ? -1 : r->sent_ns + r->lat_ns, ends) != p)
        continue;
      ++sent;
      if (r->status == kOk) {
        lat[ok++] = r->lat_ns;
      } else if (r->status == kErr) {
        ++errs;
        if (r->lat_ns > err_max) err_max = r->lat_ns;
      } else {
        ++unfinished;
      }
    }
    for (size_t i = 0; i < ndone; ++i) {
      if (done[i] < lo || done[i] >= hi) continue;
      ++in_window;
      if (done[i] - prev > gap) {
        gap = done[i] - prev;
        gap_at = prev - lo;
      }
      prev = done[i];
    }
    if (hi - prev > gap) {
      gap = hi - prev;
      gap_at = prev - lo;
    }
    qsort(lat, ok, sizeof(int64_t), cmp_i64);
    const double secs = (double)(hi - lo) / 1e9;
    printf("PHASE name=%s seconds=%.2f sent=%zu ok=%zu errors=%zu unfinished=%zu rps=%.1f "
           "p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f err_max_ms=%.3f gap_ms=%.3f "
           "gap_at_ms=%.0f err_sample=\"%s\"\n",
           names[p], secs, sent, ok, errs, unfinished, (double)in_window / secs,
           pct_ms(lat, ok, 0.50), pct_ms(lat, ok, 0.99), pct_ms(lat, ok, 0.999),
           pct_ms(lat, ok, 1.0), (double)err_max / 1e6, (double)gap / 1e6, (double)gap_at / 1e6, err_sample[p]);
  }
  return 0;
}
