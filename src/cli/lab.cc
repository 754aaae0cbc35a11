#include "cli/lab.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <hiredis/hiredis.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "check/convergence.h"
#include "check/counter_checker.h"
#include "check/history.h"
#include "check/leaderless_blackbox.h"
#include "check/linearizability.h"
#include "check/promises.h"
#include "check/set_checker.h"
#include "cli/cluster.h"
#include "cli/cluster_control.h"
#include "cli/lab_proxy.h"
#include "cli/lab_report.h"
#include "core/random.h"
#include "sim/judge.h"
#include "sim/options.h"
#include "sim/partition.h"
#include "sim/reply.h"
#include "sim/workload.h"

namespace rkv {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::atomic<bool> g_interrupted{false};
void on_interrupt(int) {
  g_interrupted = true;
}

constexpr const char* kAsyncKeyspace = "async";   // --model primary-async
constexpr const char* kLeaseKeyspace = "leased";  // --model primary-lease
constexpr const char* kDynKeyspace = "dyn";       // --model leaderless, leaderless-lww
constexpr const char* kAllKeyspace = "allacks";   // --model primary-all
constexpr int kThinkMs = 20;                      // a client's pause between operations
constexpr int kClientTimeoutMs = 3000;  // a client gives up on a reply (the op becomes info)
// --model primary-lease (docs/lab.md "Catching a broken build"): every pause stops the
// leader, for longer than a client's timeout: a new leader is elected and takes writes, and a
// client of the paused leader gives up on its operation and sends a fresh one while the leader
// is still stopped (invoked after those writes; the old leader answers it when resumed). A
// whole machine's pause (a VM stopped or suspended) holds its network too, and a resumed node
// hears of the newer leader only when the peers' retransmissions reach it: the lab cuts the
// paused node's peer links (iptables, root) from SIGSTOP until kLeaseResumeCutMs after SIGCONT,
// longer than a lease (election - drift ticks, 200 ms by default). The register keys are few,
// so the reads the resumed node answers touch keys the new leader wrote.
constexpr int kLeasePauseMinMs = kClientTimeoutMs + 500;
constexpr int kLeasePauseMaxMs = kClientTimeoutMs + 2000;
constexpr int kLeaseResumeCutMs = 400;
constexpr int kLeaseRegisterKeys = 2;
constexpr int kSettleMaxMs = 30'000;  // healing to every node answering a linearizable read
constexpr int64_t kRegisterEpochUs = 30'000'000;  // a register key's lifetime (client_loop)
constexpr int kLeaderlessCutMinMs = 3000;
constexpr int kLeaderlessCutMaxMs = 5000;
constexpr double kOwnedKeyShare = 0.5;  // leaderless: ops on single-writer keys (owned_key_op)
// --model primary-follower: a follower read whose node could not bound its staleness (as the
// simulator's), and the allowance beyond the reported staleness: the staleness tick (25 ms), a
// loopback delay, and the scheduling of three nodes and the lab on a small machine.
constexpr int64_t kUnknownStalenessMs = 1'000'000'000'000;
constexpr int64_t kStalenessSlackUs = 100'000;
constexpr const char* kFollowerKeyspace = "follow";
constexpr const char* kMlLwwKeyspace = "mllww";       // --model multi-leader-lww
constexpr const char* kMlSiblingsKeyspace = "mlsib";  // --model multi-leader-siblings
// --faults disk (root): each node's data dir is a tmpfs of this size; a fault fills it with a
// file until kDiskLeftBytes remain, below the node's disk reserve (by default an eighth of the
// file system: 32 MiB).
constexpr const char* kDiskMountSize = "256m";
constexpr uint64_t kDiskLeftBytes = 8ull << 20;

bool port_free(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  const sockaddr_in a = LinkProxy::loopback(port);
  bool ok = bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof(a)) == 0;
  close(fd);
  return ok;
}

// Peer ports (base + 10000 + i) stay below Linux's ephemeral range (32768 up), where any
// process's outgoing connection could take one between this check and the node's bind.
// The proxy's ports (--links proxy) are base + kProxyPortOffset + from * 10 + to.
constexpr int kProxyPortOffset = 5000;

uint16_t free_base_port(int nodes) {
  for (int base = 21000; base + 10000 + nodes < 32768; base += 100) {
    bool ok = true;
    for (int off : {0, 1000, 10000})
      for (int i = 0; i < nodes && ok; ++i)
        ok = port_free(static_cast<uint16_t>(base + off + i));
    for (int from = 0; from < nodes && ok; ++from)
      for (int to = 0; to < nodes && ok; ++to)
        ok = port_free(
            LinkProxy::proxy_port(static_cast<uint16_t>(base + kProxyPortOffset), from, to));
    if (ok) return static_cast<uint16_t>(base);
  }
  return 0;
}

// Removes the isolation rules of lab runs whose process is gone ("rkv-lab:<pid>:...").
void remove_stale_lab_rules() {
  std::string listing;
  if (run_command({"iptables", "-w", "-S", "OUTPUT"}, &listing) != 0) return;
  std::istringstream lines(listing);
  for (std::string line; std::getline(lines, line);) {
    auto at = line.find("rkv-lab:");
    if (at == std::string::npos) continue;
    const pid_t pid = std::atoi(line.c_str() + at + 8);
    if (pid > 0 && kill(pid, 0) != 0 && errno == ESRCH)
      remove_firewall_rules(fmt::format("rkv-lab:{}:", pid));
  }
}

// Unmounts the data dir file systems of lab runs whose process is gone (tmpfs "rkv-lab:<pid>").
void remove_stale_lab_mounts() {
  std::ifstream mounts("/proc/mounts");
  for (std::string source, target, rest;
       mounts >> source >> target && std::getline(mounts, rest);) {
    if (!source.starts_with("rkv-lab:")) continue;
    const pid_t pid = std::atoi(source.c_str() + 8);
    if (pid > 0 && kill(pid, 0) != 0 && errno == ESRCH) run_command({"umount", "-l", target});
  }
}

sim::Reply to_reply(const redisReply* r) {
  sim::Reply out;
  switch (r->type) {
    case REDIS_REPLY_STATUS:
      out.kind = sim::Reply::kSimple;
      out.text.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.kind = sim::Reply::kError;
      out.text.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.kind = sim::Reply::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_STRING:
      out.kind = sim::Reply::kBulk;
      out.text.assign(r->str, r->len);
      break;
    case REDIS_REPLY_NIL:
      out.kind = sim::Reply::kNull;
      break;
    case REDIS_REPLY_ARRAY:
      out.kind = sim::Reply::kArray;
      for (size_t i = 0; i < r->elements; ++i)
        out.elements.push_back(to_reply(r->element[i]));
      break;
    default:
      out.kind = sim::Reply::kInvalid;
  }
  return out;
}

void append_command(redisContext* c, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  redisAppendCommandArgv(c, static_cast<int>(args.size()), argv.data(), lens.data());
}

// One client connection to one node. Sends a command (or MULTI ... EXEC) and returns the reply
// that decides the op (EXEC's for a transaction), or nullopt when the connection failed or
// timed out (the op's effect is then unknown).
class Conn {
 public:
  explicit Conn(uint16_t port) : port_(port) {}
  ~Conn() { drop(); }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  // `staleness`: set, the op is a follower read, and STALENESS is sent right after it on the
  // same connection; its reply lands there.
  std::optional<sim::Reply> call(const sim::ClientOp& op, sim::Reply* staleness = nullptr) {
    if (!ctx_ && !connect()) return std::nullopt;
    size_t replies = 1;
    // A leaderless op's replica count and a read's mode are per connection (CONSISTENCY,
    // READMODE): set before every op that differs from the connection's current one (their
    // replies skipped).
    const Consistency level = op.consistency.value_or(Consistency::kDefault);
    const std::string mode = op.read_mode ? to_string(*op.read_mode) : "default";
    size_t skip = 0;
    if (op.family == sim::Family::kLeaderless && level != level_) {
      append_command(ctx_, {"CONSISTENCY", to_string(level)});
      ++skip;
    }
    if (op.family != sim::Family::kLeaderless && mode != mode_) {
      append_command(ctx_, {"READMODE", mode});
      ++skip;
    }
    if (op.transaction.empty()) {
      append_command(ctx_, op.args);
    } else {
      append_command(ctx_, {"MULTI"});
      for (const auto& cmd : op.transaction)
        append_command(ctx_, cmd);
      append_command(ctx_, {"EXEC"});
      replies = op.transaction.size() + 2;
    }
    if (staleness) append_command(ctx_, {"STALENESS"});
    std::optional<sim::Reply> last, failed_setting;
    for (size_t i = 0; i < skip + replies + (staleness ? 1 : 0); ++i) {
      void* raw = nullptr;
      if (redisGetReply(ctx_, &raw) != REDIS_OK || raw == nullptr) {
        drop();
        return std::nullopt;
      }
      sim::Reply r = to_reply(static_cast<redisReply*>(raw));
      freeReplyObject(raw);
      if (i < skip) {
        if (r.kind != sim::Reply::kSimple) failed_setting = r;  // CONSISTENCY/READMODE refused
      } else if (i < skip + replies) {
        last = std::move(r);
      } else {
        *staleness = std::move(r);
      }
    }
    if (failed_setting) return failed_setting;
    level_ = level;
    mode_ = mode;
    return last;
  }

 private:
  bool connect() {
    timeval tv{kClientTimeoutMs / 1000, (kClientTimeoutMs % 1000) * 1000};
    ctx_ = redisConnectWithTimeout("127.0.0.1", port_, tv);
    if (!ctx_ || ctx_->err) {
      drop();
      return false;
    }
    redisSetTimeout(ctx_, tv);
    return true;
  }
  void drop() {
    if (ctx_) redisFree(ctx_);
    ctx_ = nullptr;
    level_ = Consistency::kDefault;  // a new connection starts at the keyspace's r / w
    mode_ = "default";
  }

  uint16_t port_;
  Consistency level_ = Consistency::kDefault;
  std::string mode_ = "default";
  redisContext* ctx_ = nullptr;
};

class Lab {
 public:
  Lab(const LabOptions& o, std::string self_exe) : o_(o), self_exe_(std::move(self_exe)) {}
  ~Lab() { teardown(); }

  int run();

 private:
  bool lease_model() const { return o_.model == "primary-lease"; }
  bool leaderless_model() const { return o_.model.starts_with("leaderless"); }
  bool follower_model() const { return o_.model == "primary-follower"; }
  // `family` is one of --faults' comma-separated names.
  bool has_family(const std::string& family) const {
    return ("," + o_.faults + ",").find("," + family + ",") != std::string::npos;
  }
  bool clock_faults() const { return has_family("clock"); }
  bool disk_faults() const { return has_family("disk"); }
  uint16_t proxy_first_port() const {
    return static_cast<uint16_t>(o_.base_port + kProxyPortOffset);
  }
  std::string data_dir(int i) const { return fmt::format("{}/cluster/n{}", o_.out_dir, i + 1); }
  // Fills node i's file system (a file of all but kDiskLeftBytes of its free space) and
  // returns the bytes written, 0 when it could not.
  uint64_t fill_disk(int i);
  bool slow_disk_faults() const { return has_family("slow-disk"); }
  bool controls() const { return clock_faults() || slow_disk_faults(); }
  // Node i's control file, read by the node every 50 ms (serve --lab-control-file): its wall
  // clock's offset and its syncer's delay.
  std::string control_file(int i) const { return fmt::format("{}/control-n{}", o_.out_dir, i + 1); }
  void set_control(int i, int64_t clock_offset_ms, int64_t sync_delay_ms) {
    const std::string path = control_file(i);
    std::ofstream(path + ".tmp") << "clock_offset_ms " << clock_offset_ms << "\nsync_delay_ms "
                                 << sync_delay_ms << "\n";
    std::error_code ec;
    fs::rename(path + ".tmp", path, ec);
  }
  int64_t now_us() const {
    return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0_).count();
  }
  bool start_cluster();
  void client_loop(int client);
  // Leaderless: an op on a key only `client` writes ("dyn:lo<client>"), read by every client:
  // with one writer no other write can replace an acknowledged one, so a quorum read that
  // misses it is caught (check_leaderless_blackbox rule 3c) even while the shared keys are
  // written by everyone.
  sim::ClientOp owned_key_op(int client, Random& rng);
  void run_op(int node, Conn& conn, int& process, sim::ClientOp c);
  void nemesis();
  void hold(int64_t ms);
  void apply_partition(const sim::Partition& p);
  void heal_partition();
  // Per (from, to): messages `to` reports having received from `from` (its /metrics); links
  // whose receiver does not answer are missing.
  std::map<std::pair<int, int>, uint64_t> frames_received();
  // The node that the keyspace under test names as leader in its admin /status, if any.
  std::optional<int> leader();
  bool start_node(int i);
  void kill_node(int i, int sig);
  void heal_all();
  bool settle();
  void final_reads();
  // Every node's LOSTWRITES, as set elements by keyspace (SADD records only).
  void collect_lost_writes();
  void judge();
  // Multi-leader (crdt): every node's copy of every key converges, and no acknowledged SADD or
  // INCR is lost (check_set / check_counter on the writes plus each node's final read).
  void check_multileader();
  // Leaderless: every node's copy of every key converges (read at CONSISTENCY ONE, which a home
  // replica answers from its own store), and check_leaderless_blackbox on the history and the
  // healed cluster's values.
  void check_leaderless();
  // Every node's copy of `keys` until they agree (at most 30 s), recorded as a convergence
  // check named `what`; the live values of the versioned string keys into `finals`.
  std::map<std::string, check::ReplicaState> converge(const std::set<std::string>& keys,
                                                      const std::string& what,
                                                      check::FinalValues* finals);
  // The live values node `conn` holds for a versioned string key (SIBLINGS; multi-leader lww:
  // GET), sorted; nullopt when it did not answer.
  std::optional<std::vector<std::string>> live_values(Conn& conn, const std::string& key);
  // A key whose values check_leaderless_blackbox judges (leaderless; multi-leader lww and
  // siblings strings).
  bool versioned_string(const std::string& key) const;
  // check_leaderless_blackbox over the versioned string keys' ops, recorded as check `what`;
  // with LWW the nodes' discards are reported as measured.
  void judge_versioned(const std::string& what, const check::BlackboxFacts& facts,
                       const check::FinalValues& finals);
  // INFO keyspace_replication's `name` for the keyspace under test, summed over the nodes.
  uint64_t sum_info_field(const std::string& name);
  // Node i's copy of `key`, rendered canonically by type (set members and hash fields sorted).
  std::optional<std::string> render_key(Conn& conn, const std::string& key);
  void teardown();
  void note_fault(int64_t start, const std::string& kind, const std::string& what) {
    std::lock_guard lock(mu_);
    run_.timeline.push_back({start, now_us(), kind, what});
    std::printf("lab: t=%.1fs %s: %s\n", static_cast<double>(start) / 1e6, kind.c_str(),
                what.c_str());
    std::fflush(stdout);
  }

  LabOptions o_;
  std::string self_exe_;
  std::string tag_;       // the iptables comment of this run's rules
  std::string keyspace_;  // the keyspace under test
  Clock::time_point t0_ = Clock::now();
  std::vector<NodeRecord> nodes_;
  std::vector<bool> paused_;
  std::vector<std::string> mounts_;  // the tmpfs data dirs this run mounted (--faults disk)
  bool use_proxy_ = false;           // --links proxy (or auto without root)
  std::unique_ptr<LinkProxy> proxy_;
  std::atomic<bool> stop_clients_{false};
  std::atomic<bool> stop_nemesis_{false};
  int64_t fault_end_us_ = 0;

  std::mutex mu_;  // guards everything below
  std::unique_ptr<sim::Workload> workload_;
  std::vector<check::Op> history_;
  lab::Run run_;
  int next_process_ = 0;
  std::map<std::string, std::set<check::LostElement>> listed_lost_;
  // Leaderless: every op with the replicas it waited for and the values its CONTEXT named; the
  // live values each (client, key) last read with SIBLINGS (what a CONTEXT from it names).
  std::vector<check::BlackboxOp> leaderless_ops_;
  uint64_t owned_writes_ = 0;
  std::map<std::pair<int, std::string>, std::vector<std::string>> last_siblings_;
  check::BlackboxFacts leaderless_facts_;
};

bool Lab::start_node(int i) {
  NodeRecord& n = nodes_[static_cast<size_t>(i)];
  return spawn_node(self_exe_, n, true) > 0;
}

void Lab::kill_node(int i, int sig) {
  NodeRecord& n = nodes_[static_cast<size_t>(i)];
  if (n.pid <= 0) return;
  if (paused_[static_cast<size_t>(i)]) kill(n.pid, SIGCONT);
  paused_[static_cast<size_t>(i)] = false;
  kill(n.pid, sig);
  int st = 0;
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (waitpid(n.pid, &st, WNOHANG) == 0) {
    if (Clock::now() > deadline) {
      kill(n.pid, SIGKILL);
      waitpid(n.pid, &st, 0);
      break;
    }
    std::this_thread::sleep_for(milliseconds(10));
  }
  n.pid = 0;
}

bool Lab::start_cluster() {
  ClusterOptions co;
  co.nodes = o_.nodes;
  co.base_port = o_.base_port;
  co.data_dir = o_.out_dir + "/cluster";
  co.fsync = "batch";
  if (write_cluster_configs(co) != 0) return false;
  // The configs `cluster up` writes hold `accounts` (primary, quorum, linearizable) and
  // `carts` (multi-leader, crdt); the other models' keyspaces are added to every node's.
  const auto keyspace = [](const char* name, const char* model, const std::string& settings) {
    return fmt::format("\n[[keyspace]]\nname = \"{0}\"\nprefix = \"{0}:\"\nmodel = \"{1}\"\n{2}",
                       name, model, settings);
  };
  const auto primary = [&](const char* name, const char* commit, const char* read) {
    return keyspace(name, "primary", fmt::format("commit = \"{}\"\nread = \"{}\"\n", commit, read));
  };
  std::string extra;
  if (o_.model == "primary-async") extra = primary(kAsyncKeyspace, "async", "linearizable");
  if (o_.model == "primary-all") extra = primary(kAllKeyspace, "all", "linearizable");
  if (follower_model()) extra = primary(kFollowerKeyspace, "quorum", "follower");
  if (o_.model.starts_with("multi-leader-")) {
    const bool lww = o_.model == "multi-leader-lww";
    extra = keyspace(lww ? kMlLwwKeyspace : kMlSiblingsKeyspace, "multi-leader",
                     fmt::format("conflict = \"{}\"\n", lww ? "lww" : "siblings"));
  }
  // A primary keyspace whose leader serves reads under its lease (no round trip).
  if (lease_model()) extra = primary(kLeaseKeyspace, "quorum", "lease");
  if (leaderless_model()) {
    // A strict-quorum leaderless keyspace (R + W > N among the home replicas: read-your-writes
    // is promised and checked).
    extra = keyspace(kDynKeyspace, "leaderless",
                     fmt::format("n = {0}\nr = {1}\nw = {1}\nsloppy = false\nconflict = \"{2}\"\n",
                                 leaderless_facts_.n, leaderless_facts_.n / 2 + 1,
                                 leaderless_facts_.lww ? "lww" : "siblings"));
  }
  for (int i = 0; i < o_.nodes && !extra.empty(); ++i)
    std::ofstream(fmt::format("{}/node-{}.toml", co.data_dir, i + 1), std::ios::app) << extra;
  if (use_proxy_) {
    // Node i dials node j through the proxy: its config names the proxy's port for (i, j) as
    // j's peer port (nodes match each other by id, so the configs may differ in ports).
    std::vector<uint16_t> real(static_cast<size_t>(o_.nodes));
    for (int j = 0; j < o_.nodes; ++j)
      real[static_cast<size_t>(j)] = static_cast<uint16_t>(o_.base_port + 10000 + j);
    for (int i = 0; i < o_.nodes; ++i) {
      const std::string path = fmt::format("{}/node-{}.toml", co.data_dir, i + 1);
      std::ifstream in(path);
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      for (int j = 0; j < o_.nodes; ++j) {
        if (j == i) continue;
        const std::string from = fmt::format("peer_port = {}\n", real[static_cast<size_t>(j)]);
        const auto at = text.find(from);
        if (at == std::string::npos) return false;
        text.replace(
            at, from.size(),
            fmt::format("peer_port = {}\n", LinkProxy::proxy_port(proxy_first_port(), i, j)));
      }
      std::ofstream(path, std::ios::trunc) << text;
    }
    std::string error;
    proxy_ = LinkProxy::start(o_.nodes, proxy_first_port(), real, &error);
    if (!proxy_) {
      std::fprintf(stderr, "replikv lab: %s\n", error.c_str());
      return false;
    }
  }
  for (int i = 0; i < o_.nodes && disk_faults(); ++i) {
    // A file system of its own per node, so that filling it fills only that node's disk.
    std::error_code ec;
    fs::create_directories(data_dir(i), ec);
    if (run_command({"mount", "-t", "tmpfs", "-o", std::string("size=") + kDiskMountSize,
                     fmt::format("rkv-lab:{}", getpid()), data_dir(i)}) != 0) {
      std::fprintf(stderr, "replikv lab: could not mount a tmpfs on %s\n", data_dir(i).c_str());
      return false;
    }
    mounts_.push_back(data_dir(i));
  }
  for (int i = 0; i < o_.nodes; ++i) {
    nodes_.push_back(node_record(co, i, geteuid() == 0, o_.out_dir));
    if (!o_.bug.empty()) nodes_.back().extra_args = {"--lab-unsafe-bug", o_.bug};
    if (controls()) {
      set_control(i, 0, 0);
      nodes_.back().extra_args.push_back("--lab-control-file");
      nodes_.back().extra_args.push_back(control_file(i));
    }
    paused_.push_back(false);
  }
  for (int i = 0; i < o_.nodes; ++i)
    if (!start_node(i)) return false;
  // Every node answers and `accounts` has a leader every node follows: a write goes through.
  auto deadline = Clock::now() + std::chrono::seconds(30);
  Conn conn(nodes_[0].port);
  while (Clock::now() < deadline && !g_interrupted) {
    sim::ClientOp probe;
    probe.args = {"SET", "accounts:lab-ready", "1"};
    auto r = conn.call(probe);
    if (r && r->kind == sim::Reply::kSimple) return true;
    std::this_thread::sleep_for(milliseconds(100));
  }
  return false;
}

void Lab::run_op(int node, Conn& conn, int& process, sim::ClientOp c) {
  c.op.process = process;
  c.op.invoke = now_us();
  // A follower read: what the node reports of its staleness, asked right after on the same
  // connection (the bounded-staleness checker's input).
  const bool follower_read = follower_model() && c.op.type == check::OpType::kGet &&
                             !c.final_read && c.transaction.empty();
  sim::Reply staleness;
  auto reply = conn.call(c, follower_read ? &staleness : nullptr);
  const int64_t end = now_us();
  std::lock_guard lock(mu_);
  if (reply) {
    workload_->complete(c, *reply);
    if (auto v = workload_->take_violation()) run_.anomalies.push_back(*v);
  } else {
    c.op.status = check::OpStatus::kInfo;
  }
  if (c.op.info()) {
    c.op.complete = check::kNoComplete;
    process = next_process_++;  // a process with an op of unknown outcome is never reused
  } else {
    c.op.complete = std::max(end, c.op.invoke);
  }
  if (follower_read && c.op.ok()) {
    const auto fields = sim::reply_fields(staleness);
    const auto ms = fields.find("ms_since_leader_contact");
    const auto behind = fields.find("entries_behind");
    if (ms == fields.end() || behind == fields.end()) {
      run_.anomalies.push_back("lab: STALENESS after a follower read did not answer its fields");
    } else {
      // -1: the node has not known its leader's commit index since it started: no bound.
      c.op.staleness_ms = ms->second.integer < 0 ? kUnknownStalenessMs : ms->second.integer;
      c.op.entries_behind = behind->second.integer;
    }
  }
  if (c.family == sim::Family::kLeaderless ||
      (c.family == sim::Family::kMultiLeader && versioned_string(c.op.key))) {
    check::BlackboxOp b;
    const auto has = [&](const char* word) {
      return std::find(c.args.begin(), c.args.end(), word) != c.args.end();
    };
    if (c.op.type == check::OpType::kSet && has("CONTEXT")) {
      b.covered = last_siblings_[{c.client, c.op.key}];
    }
    if (c.op.type == check::OpType::kSmembers && c.op.ok()) {
      last_siblings_[{c.client, c.op.key}] = c.op.members;
    }
    b.expires_soon = has("PX");
    b.replicas = c.family == sim::Family::kLeaderless ? c.replicas : 1;
    b.op = c.op;
    leaderless_ops_.push_back(std::move(b));
  }
  history_.push_back(c.op);
  run_.samples.push_back({node, c.op.invoke, end, c.op.status, c.final_read});
}

void Lab::client_loop(int client) {
  const int node = client % o_.nodes;
  Conn conn(nodes_[static_cast<size_t>(node)].port);
  Random rng(o_.seed * 1000003 + static_cast<uint64_t>(client) + 1);
  int process;
  {
    std::lock_guard lock(mu_);
    process = next_process_++;
  }
  while (!stop_clients_ && !g_interrupted) {
    sim::ClientOp c;
    {
      std::lock_guard lock(mu_);
      c = leaderless_model() && rng.chance(kOwnedKeyShare) ? owned_key_op(client, rng)
                                                           : workload_->next(client, rng);
    }
    // Long runs: each register key is used for one epoch, then replaced by a fresh one, so
    // that no key gathers more operations (and ops of unknown outcome, which stay concurrent
    // with everything after them) than the linearizability search can take.
    if (const int64_t epoch = now_us() / kRegisterEpochUs;
        epoch > 0 && c.family == sim::Family::kRegister && c.transaction.empty()) {
      const std::string key = fmt::format("{}e{}", c.op.key, epoch);
      for (auto& a : c.args)
        if (a == c.op.key) a = key;
      c.op.key = key;
    }
    run_op(node, conn, process, std::move(c));
    std::this_thread::sleep_for(milliseconds(kThinkMs));
  }
}

sim::ClientOp Lab::owned_key_op(int client, Random& rng) {
  sim::ClientOp c;
  c.family = sim::Family::kLeaderless;
  c.client = client;
  const int owner =
      rng.chance(0.5) ? client : static_cast<int>(rng.uniform(static_cast<uint64_t>(o_.clients)));
  c.op.key = fmt::format("{}:lo{}", kDynKeyspace, owner);
  const int r = leaderless_facts_.n / 2 + 1;  // the keyspace's r and w
  c.replicas = r;
  if (owner == client && rng.chance(0.7)) {
    c.op.type = check::OpType::kSet;
    c.op.value = fmt::format("o{}.{}", client, owned_writes_++);
    c.args = {"SET", c.op.key, *c.op.value};
  } else if (rng.chance(0.5)) {
    c.op.type = check::OpType::kGet;
    c.args = {"GET", c.op.key};
  } else {
    c.op.type = check::OpType::kSmembers;
    c.args = {"SIBLINGS", c.op.key};
  }
  return c;
}

void Lab::hold(int64_t ms) {
  auto until = Clock::now() + milliseconds(ms);
  while (Clock::now() < until && !stop_nemesis_ && !g_interrupted)
    std::this_thread::sleep_for(milliseconds(20));
}

void Lab::apply_partition(const sim::Partition& p) {
  for (int from = 0; from < o_.nodes; ++from) {
    for (int to = 0; to < o_.nodes; ++to) {
      if (from == to || p.can_send(from, to)) continue;
      if (proxy_) {
        proxy_->set(from, to, LinkProxy::Shape{.cut = true});
        continue;
      }
      const auto& f = nodes_[static_cast<size_t>(from)];
      const auto& t = nodes_[static_cast<size_t>(to)];
      // `from`'s messages to `to` travel on the connection `from` dials to `to`'s peer port.
      if (!add_drop_rule({"-m", "owner", "--gid-owner", std::to_string(f.gid), "--dport",
                          std::to_string(t.peer_port)},
                         tag_)) {
        std::lock_guard lock(mu_);
        run_.anomalies.push_back("lab: iptables refused a partition rule");
      }
    }
  }
}

std::map<std::pair<int, int>, uint64_t> Lab::frames_received() {
  std::map<std::pair<int, int>, uint64_t> out;
  const std::string metric = "replikv_peer_frames_received_total{peer=\"n";
  for (int to = 0; to < o_.nodes; ++to) {
    httplib::Client cli("127.0.0.1", nodes_[static_cast<size_t>(to)].admin_port);
    cli.set_connection_timeout(1, 0);
    cli.set_read_timeout(2, 0);
    auto res = cli.Get("/metrics");
    if (!res || res->status != 200) continue;
    std::istringstream lines(res->body);
    for (std::string line; std::getline(lines, line);) {
      if (!line.starts_with(metric)) continue;
      const int from = std::atoi(line.c_str() + metric.size()) - 1;
      const auto space = line.rfind(' ');
      if (from < 0 || from >= o_.nodes || space == std::string::npos) continue;
      out[{from, to}] = std::strtoull(line.c_str() + space + 1, nullptr, 10);
    }
  }
  return out;
}

std::optional<int> Lab::leader() {
  for (const auto& n : nodes_) {
    httplib::Client cli("127.0.0.1", n.admin_port);
    cli.set_connection_timeout(0, 300'000);
    cli.set_read_timeout(0, 500'000);
    auto res = cli.Get("/status");
    if (!res || res->status != 200) continue;
    auto j = nlohmann::json::parse(res->body, nullptr, false);
    if (j.is_discarded()) continue;
    for (const auto& g : j.value("replication", nlohmann::json::array())) {
      if (g.value("keyspace", "") != keyspace_ || g.value("role", "") != "leader") continue;
      for (int i = 0; i < o_.nodes; ++i)
        if (nodes_[static_cast<size_t>(i)].id == n.id) return i;
    }
  }
  return std::nullopt;
}

void Lab::heal_partition() {
  if (proxy_)
    proxy_->clear();
  else
    remove_firewall_rules(tag_);
}

// One fault at a time: a quiet spell, a fault held for a while, its repair.
void Lab::nemesis() {
  std::vector<std::string> families;
  std::istringstream in(o_.faults);
  for (std::string f; std::getline(in, f, ',');)
    if (!f.empty() && f != "none") families.push_back(f);
  Random rng(o_.seed);
  const int64_t end = static_cast<int64_t>(o_.duration_s) * 1'000'000;
  while (!stop_nemesis_ && !g_interrupted && now_us() < end) {
    hold(static_cast<int64_t>(rng.range(500, 2000)));
    if (families.empty() || stop_nemesis_ || g_interrupted || now_us() >= end) continue;
    const std::string kind = families[rng.uniform(families.size())];
    int victim = static_cast<int>(rng.uniform(static_cast<uint64_t>(o_.nodes)));
    // Half the faults hit the keyspace's leader, where a fault costs the most.
    bool leader_fault = rng.chance(0.5);
    // Only a leader holds a lease: with --model primary-lease every pause stops the leader.
    if (lease_model() && kind == "pause") leader_fault = true;
    if (leader_fault && kind != "partition") victim = leader().value_or(victim);
    const bool lease_pause = lease_model() && kind == "pause";
    // Leaderless: a partition outlasts the coordinators' request timeout (2 s), so that the
    // writes a cut-off coordinator was waiting on are answered (or wrongly acknowledged) while
    // the other side still cannot have them.
    const bool long_cut = leaderless_model() && kind == "partition";
    const int64_t held =
        static_cast<int64_t>(lease_pause ? rng.range(kLeasePauseMinMs, kLeasePauseMaxMs)
                             : long_cut  ? rng.range(kLeaderlessCutMinMs, kLeaderlessCutMaxMs)
                                         : rng.range(1000, 4000));
    const int64_t start = now_us();
    const std::string& id = nodes_[static_cast<size_t>(victim)].id;
    if (kind == "kill") {
      kill_node(victim, SIGKILL);
      hold(held);
      start_node(victim);
      note_fault(start, kind, fmt::format("kill -9 {}, restarted after {} ms", id, held));
    } else if (kind == "pause") {
      // --model primary-lease, as root: the machine's pause, network included (above).
      const bool cut = lease_model() && (use_proxy_ || geteuid() == 0);
      if (cut) {
        apply_partition(sim::Partition::cut_off(o_.nodes, static_cast<uint8_t>(1u << victim),
                                                "the paused node's peer links"));
      }
      kill(nodes_[static_cast<size_t>(victim)].pid, SIGSTOP);
      paused_[static_cast<size_t>(victim)] = true;
      hold(held);
      kill(nodes_[static_cast<size_t>(victim)].pid, SIGCONT);
      paused_[static_cast<size_t>(victim)] = false;
      if (cut) {
        hold(kLeaseResumeCutMs);
        heal_partition();
      }
      note_fault(start, kind,
                 cut ? fmt::format("SIGSTOP {} for {} ms, its peer links cut until {} ms after "
                                   "SIGCONT",
                                   id, held, kLeaseResumeCutMs)
                     : fmt::format("SIGSTOP {} for {} ms", id, held));
    } else if (kind == "disk") {
      // The disk fills up: the node must refuse writes (MISCONF), keep serving reads and stay
      // up; a leader hands its leadership over. Space returns when the hold ends.
      const uint64_t filled = fill_disk(victim);
      hold(std::min<int64_t>(held, 1500));
      std::string state = "up";
      if (kill(nodes_[static_cast<size_t>(victim)].pid, 0) != 0) {
        state = "EXITED";
      } else {
        Conn conn(nodes_[static_cast<size_t>(victim)].port);
        sim::ClientOp ping;
        ping.args = {"PING"};
        auto r = conn.call(ping);
        if (!r || r->text != "PONG") state = "not answering PING";
      }
      if (state != "up") {
        std::lock_guard lock(mu_);
        run_.anomalies.push_back(fmt::format("lab: {} {} while its disk was full", id, state));
      }
      hold(held - std::min<int64_t>(held, 1500));
      std::error_code ec;
      fs::remove(data_dir(victim) + "/lab-filler", ec);
      note_fault(start, kind,
                 fmt::format("{}'s disk filled ({} MiB written, {} MiB left) for {} ms; the node "
                             "was {} 1.5 s in",
                             id, filled >> 20, kDiskLeftBytes >> 20, held, state));
    } else if (kind == "delay") {
      // A slow network (--links proxy): every link, or every link of one node, delayed by
      // 20-150 ms with up to 50 ms of jitter, some with retransmission stalls (loss).
      LinkProxy::Shape shape;
      shape.delay_ms = static_cast<int>(rng.range(20, 150));
      shape.jitter_ms = static_cast<int>(rng.range(0, 50));
      shape.loss = rng.chance(0.5) ? static_cast<double>(rng.range(1, 10)) / 100 : 0;
      const bool one = rng.chance(0.5);
      for (int from = 0; from < o_.nodes; ++from)
        for (int to = 0; to < o_.nodes; ++to)
          if (from != to && (!one || from == victim || to == victim)) proxy_->set(from, to, shape);
      hold(held);
      proxy_->clear();
      note_fault(start, kind,
                 fmt::format("{}: {} ms delay, 0-{} ms jitter, {:.0f}% of chunks stalled 200 ms "
                             "(loss) for {} ms",
                             one ? "links of " + id : std::string("every link"), shape.delay_ms,
                             shape.jitter_ms, shape.loss * 100, held));
    } else if (kind == "slow-disk") {
      // Every fsync of the node takes 50-500 ms longer: a dying or saturated disk. Its writes
      // slow down; as a leader it must keep its followers (heartbeats are not held up by its
      // disk) or hand over; as a follower it falls behind and catches up.
      const int64_t delay = static_cast<int64_t>(rng.range(50, 500));
      set_control(victim, 0, delay);
      hold(held);
      set_control(victim, 0, 0);
      note_fault(start, kind,
                 fmt::format("every fsync of {} held {} ms longer for {} ms", id, delay, held));
    } else if (kind == "clock") {
      // A skew (the clock running ahead or behind by up to 2 s, past multi-leader's
      // max_clock_skew_ms) or a jump (a minute or two either way, as a stepped clock), held and
      // then stepped back: the wall clock stamps expiry deadlines and hybrid logical clocks;
      // Raft's elections and leases run on the monotonic clock and must not notice.
      const int64_t sign = rng.chance(0.5) ? 1 : -1;
      const bool jump = rng.chance(0.4);
      const int64_t offset =
          sign * static_cast<int64_t>(jump ? rng.range(30'000, 120'000) : rng.range(200, 2000));
      set_control(victim, offset, 0);
      hold(held);
      set_control(victim, 0, 0);
      note_fault(start, kind,
                 fmt::format("{} of {}'s wall clock by {:+} ms for {} ms, then back",
                             jump ? "jump" : "skew", id, offset, held));
    } else if (kind == "restart") {
      kill_node(victim, SIGTERM);
      start_node(victim);
      note_fault(start, kind, fmt::format("graceful restart of {}", id));
    } else if (kind == "partition") {
      std::vector<sim::PartitionShape> shapes;
      for (int s = 0; s < sim::kShapeCount; ++s) {
        auto shape = static_cast<sim::PartitionShape>(s);
        if (shape == sim::PartitionShape::kRing && o_.nodes < 5) continue;
        if (shape == sim::PartitionShape::kBridge && o_.nodes < 3) continue;
        shapes.push_back(shape);
      }
      auto p = sim::Partition::make(shapes[rng.uniform(shapes.size())], o_.nodes, rng);
      if (leader_fault) {  // the leader cut off from everyone, while its clients still reach it
        if (auto l = leader()) {
          p = sim::Partition::cut_off(o_.nodes, static_cast<uint8_t>(1u << *l),
                                      fmt::format("isolate the leader {}", *l));
        } else if (leaderless_model()) {
          // No leader: one coordinator (and its clients) cut off from the other replicas.
          p = sim::Partition::cut_off(o_.nodes, static_cast<uint8_t>(1u << victim),
                                      fmt::format("isolate {}", victim));
        }
      }
      apply_partition(p);
      hold(300);  // frames already in flight land
      auto before = frames_received();
      // Only peer links are cut: every node still answers its clients.
      std::string unreachable;
      for (const auto& n : nodes_) {
        Conn conn(n.port);
        sim::ClientOp ping;
        ping.args = {"PING"};
        auto r = conn.call(ping);
        if (!r || r->text != "PONG") unreachable += " " + n.id;
      }
      if (!unreachable.empty()) {
        std::lock_guard lock(mu_);
        run_.anomalies.push_back("lab: clients could not reach" + unreachable +
                                 " during a partition");
      }
      hold(held);
      auto after = frames_received();
      heal_partition();
      // The cut is real only if no message crossed a cut link while it was in force.
      int cut = 0;
      std::string leaks;
      for (const auto& [link, n] : after) {
        if (p.can_send(link.first, link.second)) continue;
        ++cut;
        auto b = before.find(link);
        if (b != before.end() && n > b->second) {
          leaks += fmt::format(" n{}->n{} +{}", link.first + 1, link.second + 1, n - b->second);
        }
      }
      if (!leaks.empty()) {
        std::lock_guard lock(mu_);
        run_.anomalies.push_back("lab: messages crossed cut links:" + leaks);
      }
      note_fault(start, kind,
                 fmt::format("{} for {} ms (nodes numbered from 0: 0 = n1); {} cut links "
                             "checked, {}; {}",
                             p.description(), held, cut,
                             leaks.empty() ? "no message crossed them" : "LEAKED:" + leaks,
                             unreachable.empty() ? "every node answered PING"
                                                 : "no PING answer from" + unreachable));
    }
  }
}

uint64_t Lab::fill_disk(int i) {
  struct statvfs st {};
  if (statvfs(data_dir(i).c_str(), &st) != 0) return 0;
  const uint64_t free_bytes = static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
  if (free_bytes <= kDiskLeftBytes) return 0;
  const uint64_t size = free_bytes - kDiskLeftBytes;
  std::ofstream filler(data_dir(i) + "/lab-filler", std::ios::binary);
  const std::string block(1 << 20, '\0');
  uint64_t written = 0;
  while (written < size && filler) {
    const uint64_t n = std::min<uint64_t>(block.size(), size - written);
    filler.write(block.data(), static_cast<std::streamsize>(n));
    written += n;
  }
  return written;
}

void Lab::heal_all() {
  heal_partition();
  for (int i = 0; i < o_.nodes && disk_faults(); ++i) {
    std::error_code ec;
    fs::remove(data_dir(i) + "/lab-filler", ec);
  }
  for (int i = 0; i < o_.nodes && controls(); ++i)
    set_control(i, 0, 0);
  for (int i = 0; i < o_.nodes; ++i) {
    auto& n = nodes_[static_cast<size_t>(i)];
    if (paused_[static_cast<size_t>(i)] && n.pid > 0) kill(n.pid, SIGCONT);
    paused_[static_cast<size_t>(i)] = false;
    if (n.pid == 0) start_node(i);
  }
}

// Every node answers a linearizable read of the keyspace (a leader serves it through them all).
bool Lab::settle() {
  auto deadline = Clock::now() + milliseconds(kSettleMaxMs);
  for (const auto& n : nodes_) {
    Conn conn(n.port);
    while (true) {
      if (Clock::now() > deadline || g_interrupted) return false;
      sim::ClientOp probe;
      probe.args = {"GET", "accounts:lab-ready"};
      auto r = conn.call(probe);
      if (r && r->kind == sim::Reply::kBulk) break;
      std::this_thread::sleep_for(milliseconds(100));
    }
  }
  return true;
}

void Lab::final_reads() {
  std::vector<sim::ClientOp> reads;
  int process;
  {
    std::lock_guard lock(mu_);
    reads = workload_->final_reads();
    process = next_process_++;
  }
  Conn conn(nodes_[0].port);
  for (auto& c : reads) {
    for (int attempt = 0; attempt < 5 && !g_interrupted; ++attempt) {
      run_op(0, conn, process, c);
      std::lock_guard lock(mu_);
      if (history_.back().ok()) break;
    }
  }
}

void Lab::collect_lost_writes() {
  for (const auto& n : nodes_) {
    Conn conn(n.port);
    sim::ClientOp c;
    c.args = {"LOSTWRITES"};
    auto r = conn.call(c);
    if (!r || r->kind != sim::Reply::kArray) {
      run_.anomalies.push_back(fmt::format("lab: LOSTWRITES on {} did not answer", n.id));
      continue;
    }
    for (const sim::Reply& rec : r->elements) {
      auto fields = sim::reply_fields(rec);
      const auto words = sim::split_words(fields["command"].text);
      if (words.size() < 3 || words[0] != "SADD") continue;
      for (size_t i = 2; i < words.size(); ++i)
        listed_lost_[fields["keyspace"].text].insert({words[1], words[i]});
    }
  }
  for (const auto& [keyspace, lost] : listed_lost_) {
    for (const auto& e : lost)
      run_.lost_listed.push_back(e.key + " " + e.element);
    run_.measured.push_back(fmt::format(
        "keyspace {}: {} element(s) of acknowledged writes lost in failovers and listed by "
        "LOSTWRITES (commit = async promises no more)",
        keyspace, lost.size()));
  }
}

std::optional<std::string> Lab::render_key(Conn& conn, const std::string& key) {
  auto call = [&](std::vector<std::string> args) {
    sim::ClientOp c;
    c.args = std::move(args);
    return conn.call(c);
  };
  auto type = call({"TYPE", key});
  if (!type || type->kind != sim::Reply::kSimple) return std::nullopt;
  std::optional<sim::Reply> r;
  if (type->text == "none") return "none";
  if (type->text == "string") r = call({"GET", key});
  if (type->text == "set") r = call({"SMEMBERS", key});
  if (type->text == "hash") r = call({"HGETALL", key});
  if (type->text == "list") r = call({"LRANGE", key, "0", "-1"});
  if (!r || r->kind == sim::Reply::kError || r->kind == sim::Reply::kInvalid) return std::nullopt;
  std::vector<std::string> parts;
  if (r->kind != sim::Reply::kArray)
    parts.push_back(r->kind == sim::Reply::kInteger ? std::to_string(r->integer) : r->text);
  for (size_t i = 0; i < r->elements.size(); ++i) {
    if (type->text == "hash" && i + 1 < r->elements.size()) {
      parts.push_back(r->elements[i].text + "=" + r->elements[i + 1].text);
      ++i;
    } else {
      parts.push_back(r->elements[i].text);
    }
  }
  if (type->text == "set" || type->text == "hash") std::sort(parts.begin(), parts.end());
  return type->text + ":" + fmt::format("{}", fmt::join(parts, ","));
}

std::optional<std::vector<std::string>> Lab::live_values(Conn& conn, const std::string& key) {
  sim::ClientOp c;
  c.family = leaderless_model() ? sim::Family::kLeaderless : sim::Family::kMultiLeader;
  c.consistency = Consistency::kOne;  // leaderless only (Conn sends CONSISTENCY for those)
  c.args = {o_.model == "multi-leader-lww" ? "GET" : "SIBLINGS", key};
  auto r = conn.call(c);
  if (!r) return std::nullopt;
  if (r->kind == sim::Reply::kNull) return std::vector<std::string>{};
  if (r->kind == sim::Reply::kBulk) return std::vector<std::string>{r->text};
  auto values = sim::sibling_values(*r);
  if (values) std::sort(values->begin(), values->end());
  return values;
}

std::map<std::string, check::ReplicaState> Lab::converge(const std::set<std::string>& keys,
                                                         const std::string& what,
                                                         check::FinalValues* finals) {
  // Peers catch up asynchronously (hints, anti-entropy, shipping): poll until every node holds
  // the same, for a bounded time. Keys of versioned strings (values the black-box checker
  // judges) are read as their live values; the others by type.
  check::CheckResult conv;
  std::map<std::string, check::ReplicaState> replicas;
  auto deadline = Clock::now() + std::chrono::seconds(30);
  do {
    replicas.clear();
    finals->clear();
    for (const auto& n : nodes_) {
      Conn conn(n.port);
      auto& st = replicas[n.id];
      for (const auto& k : keys) {
        if (!versioned_string(k)) {
          st[k] = render_key(conn, k).value_or("(no answer)");
          continue;
        }
        auto values = live_values(conn, k);
        st[k] = values ? fmt::format("{}", fmt::join(*values, ",")) : "(no answer)";
        // With nodes that did not converge, the union of their values is judged (lenient).
        for (const auto& v : values.value_or(std::vector<std::string>{}))
          (*finals)[k].insert(v);
      }
    }
    conv = check::check_convergence(replicas);
    if (!conv.ok) std::this_thread::sleep_for(milliseconds(500));
  } while (!conv.ok && Clock::now() < deadline && !g_interrupted);
  run_.checks.push_back({what + ": convergence of every node's copy",
                         check::verdict_name(conv.verdict), conv.explanation, conv.notes});
  return replicas;
}

bool Lab::versioned_string(const std::string& key) const {
  if (leaderless_model()) return true;
  if (o_.model == "multi-leader") return false;  // crdt: sets, counters, hashes
  // Multi-leader lww / siblings: the string keys "<ks>:m<i>" (collections are "<ks>:ms0" ...).
  const size_t colon = key.rfind(':');
  return colon + 2 < key.size() && key[colon + 1] == 'm' &&
         std::isdigit(static_cast<unsigned char>(key[colon + 2]));
}

uint64_t Lab::sum_info_field(const std::string& name) {
  uint64_t sum = 0;
  for (const auto& n : nodes_) {
    Conn conn(n.port);
    sim::ClientOp c;
    c.args = {"INFO", "keyspace_replication"};
    auto info = conn.call(c);
    if (!info || info->kind != sim::Reply::kBulk) continue;
    const std::string field = name + "=";
    const auto line = info->text.find("keyspace_" + keyspace_ + ":");
    const auto at = line == std::string::npos ? line : info->text.find(field, line);
    if (at != std::string::npos)
      sum += std::strtoull(info->text.c_str() + at + field.size(), nullptr, 10);
  }
  return sum;
}

void Lab::check_multileader() {
  std::set<std::string> keys;
  for (const auto& op : history_)
    keys.insert(op.key);
  const std::string where = fmt::format(
      "keyspace {} (multi-leader, conflict = {})", keyspace_,
      o_.model == "multi-leader" ? "crdt" : o_.model.substr(std::string("multi-leader-").size()));
  check::FinalValues finals;
  const auto replicas = converge(keys, where, &finals);
  if (o_.model != "multi-leader") {
    // The string keys, judged as a leaderless keyspace whose every write waits for one replica
    // (its own node): no quorum overlaps, so no read-your-writes across nodes.
    check::BlackboxFacts facts;
    facts.n = o_.nodes;
    facts.sloppy = true;
    facts.lww = o_.model == "multi-leader-lww";
    judge_versioned(where + ": no acknowledged write silently lost (strings)", facts, finals);
    return;
  }
  // No acknowledged write lost: the set only grows, the counter only counts up. The final
  // reads are each node's converged copy, recorded as reads after everything else.
  std::vector<check::Op> sets, counters;
  for (check::Op op : history_) {
    if (op.type == check::OpType::kSadd) sets.push_back(op);
    if (op.type == check::OpType::kIncr) {
      op.value.reset();  // the node's local value then, not a linearizable result
      counters.push_back(op);
    }
  }
  const int64_t at = now_us();
  const int process = next_process_++;
  for (const auto& [node, st] : replicas) {
    for (const auto& [key, rendered] : st) {
      check::Op read;
      read.process = process;
      read.key = key;
      read.invoke = at;
      read.complete = at + 1;
      if (!sets.empty() && key == sets.front().key && rendered.starts_with("set:")) {
        read.type = check::OpType::kSmembers;
        std::istringstream members(rendered.substr(4));  // values are "v<n>": no commas
        for (std::string m; std::getline(members, m, ',');)
          read.members.push_back(m);
        sets.push_back(read);
      }
      if (!counters.empty() && key == counters.front().key && rendered.starts_with("string:")) {
        read.type = check::OpType::kGet;
        read.value = rendered.substr(7);
        counters.push_back(read);
      }
    }
  }
  auto add = [&](const std::string& what, const check::CheckResult& r) {
    run_.checks.push_back({"keyspace " + keyspace_ + " (multi-leader, conflict = crdt): " + what,
                           check::verdict_name(r.verdict), r.explanation, r.notes});
  };
  if (!sets.empty()) add("no acknowledged SADD lost (set)", check::check_set(sets));
  if (!counters.empty()) add("no acknowledged INCR lost (counter)", check::check_counter(counters));
}

void Lab::check_leaderless() {
  std::set<std::string> keys;
  for (const auto& b : leaderless_ops_)
    keys.insert(b.op.key);
  const std::string where =
      fmt::format("keyspace {} (leaderless n={} r={} w={} sloppy=false conflict={})", keyspace_,
                  leaderless_facts_.n, leaderless_facts_.n / 2 + 1, leaderless_facts_.n / 2 + 1,
                  leaderless_facts_.lww ? "lww" : "siblings");
  // At CONSISTENCY ONE a home replica answers from its own store (and repairs nothing), so with
  // n = nodes every node shows exactly what it holds.
  check::FinalValues finals;
  converge(keys, where, &finals);
  judge_versioned(where + ": no acknowledged write lost, read-your-writes (R + W > N)",
                  leaderless_facts_, finals);
}

void Lab::judge_versioned(const std::string& what, const check::BlackboxFacts& facts,
                          const check::FinalValues& finals) {
  const auto r = check::check_leaderless_blackbox(leaderless_ops_, finals, facts);
  run_.checks.push_back({what, check::verdict_name(r.verdict), r.explanation, r.notes});
  if (facts.lww) {
    run_.measured.push_back(fmt::format(
        "keyspace {}: {} concurrent version(s) discarded by last-write-wins, summed over the "
        "nodes (conflict = lww promises one value per key, not that a concurrent write survives)",
        keyspace_, sum_info_field("lww_discarded")));
  }
}

void Lab::judge() {
  sim::JudgeInputs in;
  in.final_reads_us = run_.final_reads_us;
  in.staleness.slack_us = kStalenessSlackUs;
  in.listed_lost = [this](const std::string& keyspace) { return listed_lost_[keyspace]; };
  std::vector<sim::SimKeyspace> keyspaces = workload_->keyspaces();
  if (o_.judge_as == "primary") {
    // Held to the quorum promise whatever it runs with: with --model primary-async, a failover
    // that loses acknowledged writes must fail the run (the stand-in for a broken build).
    for (auto& ks : keyspaces)
      ks.mode = check::mode_promise(CommitMode::kQuorum, ReadMode::kLinearizable);
  }
  sim::judge_history(
      keyspaces, history_, in, [&](const std::string& what, const check::CheckResult& r) {
        const std::string as = o_.judge_as.empty() ? "" : "judged as " + o_.judge_as + ": ";
        run_.checks.push_back({as + what, check::verdict_name(r.verdict), r.explanation, r.notes});
      });
  if (follower_model()) {
    // The documented weakness, shown: the same history judged as if follower reads were
    // linearizable. A violation here is what read = follower trades for reads without a round
    // trip to the leader; the bounded-staleness check above is the promise.
    std::vector<check::Op> registers;
    int64_t follower_reads = 0, behind = 0;
    for (const check::Op& op : history_) {
      if (sim::Workload::family_of(op.key) != sim::Family::kRegister) continue;
      registers.push_back(op);
      if (op.staleness_ms) ++follower_reads;
      if (op.entries_behind.value_or(0) > 0) ++behind;
    }
    const check::CheckResult lin = check::check_linearizable(registers);
    const auto first_line = lin.explanation.substr(0, lin.explanation.find('\n'));
    run_.measured.push_back(fmt::format(
        "keyspace {}: {} follower reads, {} of them served by a node that knew it was behind "
        "its leader's commit index; judged as if linearizable: {}{}",
        keyspace_, follower_reads, behind, check::verdict_name(lin.verdict),
        lin.ok ? " (no stale read observed)" : " (" + first_line + ")"));
  }
}

void Lab::teardown() {
  stop_nemesis_ = true;
  stop_clients_ = true;
  if (!tag_.empty()) remove_firewall_rules(tag_);
  for (int i = 0; i < static_cast<int>(nodes_.size()); ++i)
    kill_node(i, SIGTERM);
  nodes_.clear();
  for (const auto& m : mounts_)
    run_command({"umount", "-l", m});
  mounts_.clear();
  proxy_.reset();
  if (!o_.keep_data && !o_.out_dir.empty()) {
    std::error_code ec;
    fs::remove_all(o_.out_dir + "/cluster", ec);
  }
}

int Lab::run() {
  tag_ = fmt::format("rkv-lab:{}:", getpid());
  const bool root = geteuid() == 0;
  use_proxy_ = o_.links == "proxy" || (o_.links == "auto" && !root);
  if (has_family("partition") && !root && !use_proxy_) {
    std::fprintf(stderr,
                 "replikv lab: --links iptables needs root; run as root or use --links proxy\n");
    return 2;
  }
  if (has_family("delay") && !use_proxy_) {
    std::fprintf(stderr, "replikv lab: delay faults need --links proxy\n");
    return 2;
  }
  if (disk_faults() && !root) {
    std::fprintf(stderr,
                 "replikv lab: disk faults need root (a tmpfs per node); run as root or leave "
                 "disk out of --faults\n");
    return 2;
  }
  if (root) {
    remove_stale_lab_rules();
    remove_stale_lab_mounts();
  }
  sim::SimKeyspace ks;
  ks.name = keyspace_ = o_.model == "primary-async"           ? kAsyncKeyspace
                        : o_.model == "primary-lease"         ? kLeaseKeyspace
                        : o_.model == "primary-all"           ? kAllKeyspace
                        : follower_model()                    ? kFollowerKeyspace
                        : o_.model == "multi-leader"          ? "carts"
                        : o_.model == "multi-leader-lww"      ? kMlLwwKeyspace
                        : o_.model == "multi-leader-siblings" ? kMlSiblingsKeyspace
                        : leaderless_model()                  ? kDynKeyspace
                                                              : "accounts";
  if (leaderless_model()) {
    leaderless_facts_.n = std::min(o_.nodes, 5);
    leaderless_facts_.sloppy = false;
    leaderless_facts_.lww = o_.model == "leaderless-lww";
    KeyspaceConfig kc;
    kc.name = kDynKeyspace;
    kc.prefix = std::string(kDynKeyspace) + ":";
    kc.model = Model::kLeaderless;
    kc.n = leaderless_facts_.n;
    kc.r = kc.w = leaderless_facts_.n / 2 + 1;
    kc.sloppy = false;
    kc.conflict = leaderless_facts_.lww ? ConflictMode::kLww : ConflictMode::kSiblings;
    ks.leaderless = kc;
  }
  ks.multileader = o_.model.starts_with("multi-leader");
  ks.crdt = o_.model == "multi-leader";  // `carts`: conflict = crdt
  ks.siblings = o_.model == "multi-leader-siblings";
  ks.mode = check::mode_promise(o_.model == "primary-async" ? CommitMode::kAsync
                                : o_.model == "primary-all" ? CommitMode::kAll
                                                            : CommitMode::kQuorum,
                                lease_model()      ? ReadMode::kLease
                                : follower_model() ? ReadMode::kFollower
                                                   : ReadMode::kLinearizable);
  sim::FaultMix mix;  // only its key counts are used
  if (lease_model()) mix.register_keys = kLeaseRegisterKeys;
  workload_ = std::make_unique<sim::Workload>(
      lease_model() ? sim::WorkloadKind::kRegisters : sim::WorkloadKind::kAll, mix, o_.clients,
      std::vector<sim::SimKeyspace>{ks});
  run_.repro = fmt::format(
      "replikv lab --model {} --nodes {} --seed {} --duration {} --clients {} --faults {}{}",
      o_.model, o_.nodes, o_.seed, o_.duration_s, o_.clients, o_.faults,
      (o_.judge_as.empty() ? "" : " --judge-as " + o_.judge_as) +
          (o_.bug.empty() ? "" : " --bug " + o_.bug) +
          (o_.links == "auto" ? "" : " --links " + o_.links));
  run_.seed = o_.seed;
  run_.model = o_.model;
  run_.faults = o_.faults;
  run_.nodes = o_.nodes;
  run_.clients = o_.clients;
  std::printf("lab: %s\nlab: output in %s\n", run_.repro.c_str(), o_.out_dir.c_str());
  std::fflush(stdout);
  if (!start_cluster()) {
    std::fprintf(stderr, "replikv lab: the cluster did not come up; see %s/n*.log\n",
                 o_.out_dir.c_str());
    return 2;
  }
  t0_ = Clock::now();
  std::vector<std::thread> clients;
  for (int c = 0; c < o_.clients; ++c)
    clients.emplace_back([this, c] { client_loop(c); });
  nemesis();  // on this thread: nodes it restarts die with it (PDEATHSIG follows the forker)
  heal_all();
  fault_end_us_ = now_us();
  run_.fault_phase_end_us = fault_end_us_;
  std::printf("lab: t=%.1fs healed; settling\n", static_cast<double>(fault_end_us_) / 1e6);
  std::fflush(stdout);
  const bool settled = settle();
  stop_clients_ = true;
  for (auto& t : clients)
    t.join();
  if (!settled) run_.anomalies.push_back("lab: the cluster did not settle after healing");
  run_.final_reads_us = now_us();
  if (settled) final_reads();
  if (settled) collect_lost_writes();
  if (settled && o_.model.starts_with("multi-leader")) check_multileader();
  if (settled && leaderless_model()) check_leaderless();
  run_.end_us = now_us();
  teardown();
  if (g_interrupted) {
    std::fprintf(stderr, "replikv lab: interrupted; nodes stopped, rules removed\n");
    return 2;
  }
  judge();

  bool passed = run_.anomalies.empty();
  for (const auto& c : run_.checks)
    passed = passed && c.verdict != "violation" && c.verdict != "bad input";
  run_.passed = passed;
  auto writer = check::HistoryWriter::open(o_.out_dir + "/history.jsonl");
  if (writer.is_ok()) {
    for (check::Op op : history_) {
      // The multi-leader workload keeps the draw's value on a DEL of a collection; the
      // history format has none there.
      if (op.type == check::OpType::kDel) op.value.reset();
      if (Status st = (*writer)->append(op); !st.is_ok()) {
        std::fprintf(stderr, "replikv lab: history.jsonl: %s\n", st.to_string().c_str());
        break;
      }
    }
  }
  std::ofstream(o_.out_dir + "/summary.json") << lab::render_summary_json(run_);
  std::ofstream(o_.out_dir + "/report.html") << lab::render_html(run_);
  for (const auto& c : run_.checks) {
    std::printf("lab: %s: %s\n", c.what.c_str(), c.verdict.c_str());
    if (c.verdict != "valid") std::printf("%s\n", c.explanation.c_str());
  }
  for (const auto& a : run_.anomalies)
    std::printf("lab: anomaly: %s\n", a.c_str());
  for (const auto& m : run_.measured)
    std::printf("lab: measured: %s\n", m.c_str());
  std::printf("lab: %zu ops, %zu faults; %s\nlab: report %s/report.html\nlab: repro: %s\n",
              history_.size(), run_.timeline.size(), passed ? "PASS" : "FAIL", o_.out_dir.c_str(),
              run_.repro.c_str());
  return passed ? 0 : 1;
}

class LabCommandImpl : public LabCommand {
 public:
  explicit LabCommandImpl(CLI::App& app) {
    cmd_ = app.add_subcommand("lab", "Real processes under real faults, with a checked history");
    cmd_->add_option("--model", o_.model,
                     "keyspace under test: primary, primary-async, primary-lease, primary-all, "
                     "multi-leader, leaderless, leaderless-lww (docs/lab.md)")
        ->check(CLI::IsMember({"primary", "primary-async", "primary-lease", "primary-all",
                               "primary-follower", "multi-leader", "multi-leader-lww",
                               "multi-leader-siblings", "leaderless", "leaderless-lww"}));
    cmd_->add_option("-n,--nodes", o_.nodes, "nodes (3..7)")->check(CLI::Range(3, 7));
    cmd_->add_option("--seed", o_.seed, "seed of the fault schedule and workload (0: random)");
    cmd_->add_option("--duration", o_.duration_s, "seconds of the fault phase")
        ->check(CLI::Range(1, 3600));
    cmd_->add_option("--clients", o_.clients, "client connections")->check(CLI::Range(1, 64));
    cmd_->add_option(
        "--faults", o_.faults,
        "comma-separated: kill,pause,restart,partition,clock,disk,slow-disk,delay (or none)");
    cmd_->add_option("--links", o_.links,
                     "how peer links are cut: iptables (root), proxy (also delays), auto")
        ->check(CLI::IsMember({"auto", "iptables", "proxy"}));
    cmd_->add_option("-o,--out", o_.out_dir, "output directory");
    cmd_->add_option("--base-port", o_.base_port, "client port of n1 (0: find a free block)");
    cmd_->add_flag("--keep-data", o_.keep_data, "keep the nodes' data dirs");
    cmd_->add_option("--bug", o_.bug,
                     "run every node as a deliberately broken variant (as `replikv sim --bug`)");
    cmd_->add_option("--judge-as", o_.judge_as,
                     "judge by another model's promise (primary: quorum, linearizable), to "
                     "show the checks catch a weaker mode's real losses")
        ->check(CLI::IsMember({"primary"}));
  }
  bool selected() const override { return cmd_->parsed(); }
  int run(const std::string& self_exe) override { return run_lab(o_, self_exe); }

 private:
  CLI::App* cmd_;
  LabOptions o_;
};

}  // namespace

std::unique_ptr<LabCommand> add_lab_command(CLI::App& app) {
  return std::make_unique<LabCommandImpl>(app);
}

int run_lab(const LabOptions& options, const std::string& self_exe) {
  LabOptions o = options;
  std::istringstream in(o.faults);
  for (std::string f; std::getline(in, f, ',');) {
    if (f != "kill" && f != "pause" && f != "restart" && f != "partition" && f != "clock" &&
        f != "disk" && f != "slow-disk" && f != "delay" && f != "none") {
      std::fprintf(stderr, "replikv lab: unknown fault family \"%s\"\n", f.c_str());
      return 2;
    }
  }
  if (o.seed == 0) {
    o.seed = static_cast<uint64_t>(Clock::now().time_since_epoch().count()) % 1'000'000'007 + 1;
  }
  if (o.out_dir.empty()) o.out_dir = fmt::format("./lab-runs/seed-{}", o.seed);
  if (o.base_port == 0) o.base_port = free_base_port(o.nodes);
  if (o.base_port == 0) {
    std::fprintf(stderr, "replikv lab: no free block of ports\n");
    return 2;
  }
  std::error_code ec;
  fs::create_directories(o.out_dir, ec);
  if (ec) {
    std::fprintf(stderr, "replikv lab: cannot create %s: %s\n", o.out_dir.c_str(),
                 ec.message().c_str());
    return 2;
  }
  if (!o.bug.empty() && !sim::parse_bug(o.bug)) {
    std::fprintf(stderr, "replikv lab: unknown --bug \"%s\"\n", o.bug.c_str());
    return 2;
  }
  // Nodes given --lab-unsafe-bug check that their parent is this process.
  setenv("REPLIKV_LAB_PARENT", std::to_string(getpid()).c_str(), 1);
  struct sigaction sa = {};
  sa.sa_handler = on_interrupt;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  Lab lab(o, self_exe);
  return lab.run();
}

}  // namespace rkv
