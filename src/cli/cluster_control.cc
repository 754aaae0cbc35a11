#include "cli/cluster_control.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

namespace rkv {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string state_path(const std::string& data_dir) {
  return data_dir + "/" + kStateFileName;
}

bool write_state(const ClusterState& s) {
  nlohmann::json j;
  j["supervisor_pid"] = s.supervisor;
  j["base_port"] = s.base_port;
  j["data_dir"] = s.data_dir;
  j["nodes"] = nlohmann::json::array();
  for (const NodeRecord& n : s.nodes) {
    j["nodes"].push_back({{"id", n.id},
                          {"pid", n.pid},
                          {"port", n.port},
                          {"admin_port", n.admin_port},
                          {"peer_port", n.peer_port},
                          {"gid", n.gid},
                          {"config", n.config},
                          {"log", n.log},
                          {"exit", n.exit}});
  }
  const std::string path = state_path(s.data_dir);
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << j.dump(2) << "\n";
    if (!out) {
      std::fprintf(stderr, "replikv cluster: cannot write %s\n", tmp.c_str());
      return false;
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec)
    std::fprintf(stderr, "replikv cluster: cannot write %s: %s\n", path.c_str(),
                 ec.message().c_str());
  return !ec;
}

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// True when `pid` runs `replikv serve` with `config` (NUL-separated argv in /proc).
bool runs_config(pid_t pid, const std::string& config) {
  if (pid <= 0) return false;
  std::string cmdline = read_file(fmt::format("/proc/{}/cmdline", pid));
  return cmdline.find(std::string("\0", 1) + config + std::string("\0", 1)) != std::string::npos;
}

// The state letter of /proc/<pid>/stat ('R', 'S', 'T' stopped, 'Z' ...), or 0.
char proc_state(pid_t pid) {
  std::string stat = read_file(fmt::format("/proc/{}/stat", pid));
  auto close = stat.rfind(')');
  if (close == std::string::npos || close + 2 >= stat.size()) return 0;
  return stat[close + 2];
}

// The OUTPUT rules (as `iptables -S` prints them, split into words, quotes dropped) whose
// comment starts with `tag`.
std::vector<std::vector<std::string>> tagged_rules(const std::string& tag) {
  std::string listing;
  std::vector<std::vector<std::string>> rules;
  if (run_command({"iptables", "-w", "-S", "OUTPUT"}, &listing) != 0) return rules;
  std::istringstream lines(listing);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::vector<std::string> w;
    bool tagged = false;
    for (std::string word; words >> word;) {
      if (word.size() >= 2 && word.front() == '"' && word.back() == '"')
        word = word.substr(1, word.size() - 2);
      if (!w.empty() && w.back() == "--comment" && word.starts_with(tag)) tagged = true;
      w.push_back(word);
    }
    if (tagged && w.size() > 2 && w[0] == "-A") rules.push_back(std::move(w));
  }
  return rules;
}

}  // namespace

int run_command(const std::vector<std::string>& argv, std::string* out) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return -1;
  }
  if (pid == 0) {
    dup2(fds[1], 1);
    if (FILE* devnull = std::fopen("/dev/null", "w")) dup2(fileno(devnull), 2);
    close(fds[0]);
    std::vector<char*> args;
    for (const auto& a : argv)
      args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(fds[1]);
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0) {
    if (out) out->append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

bool add_drop_rule(const std::vector<std::string>& match, const std::string& tag) {
  std::vector<std::string> argv = {"iptables", "-w", "-I", "OUTPUT", "-o", "lo", "-p", "tcp"};
  argv.insert(argv.end(), match.begin(), match.end());
  argv.insert(argv.end(), {"-m", "comment", "--comment", tag, "-j", "DROP"});
  return run_command(argv) == 0;
}

std::string firewall_tag(uint16_t base_port, const std::string& node) {
  // Node ids are n1..n9, so a node's tag is never a prefix of another node's.
  return fmt::format("rkv-cluster:{}:{}", base_port, node);
}

int remove_firewall_rules(const std::string& tag) {
  int removed = 0;
  for (auto& rule : tagged_rules(tag)) {
    rule[0] = "-D";
    rule.insert(rule.begin(), {"iptables", "-w"});
    if (run_command(rule) == 0) ++removed;
  }
  return removed;
}

pid_t running_supervisor(const std::string& data_dir) {
  auto j = nlohmann::json::parse(read_file(state_path(data_dir)), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return 0;
  const pid_t pid = j.value("supervisor_pid", 0);
  const std::string cmdline = read_file(fmt::format("/proc/{}/cmdline", pid));
  return pid > 0 && cmdline.find("cluster") != std::string::npos ? pid : 0;
}

std::optional<ClusterState> read_state(const std::string& data_dir) {
  const std::string path = state_path(data_dir);
  auto j = nlohmann::json::parse(read_file(path), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    std::fprintf(stderr,
                 "replikv cluster: no running cluster in %s (no readable %s; start one with "
                 "`replikv cluster up --data-dir %s`)\n",
                 data_dir.c_str(), path.c_str(), data_dir.c_str());
    return std::nullopt;
  }
  ClusterState s;
  s.supervisor = j.value("supervisor_pid", 0);
  s.base_port = j.value("base_port", uint16_t{0});
  s.data_dir = data_dir;
  for (const auto& n : j.value("nodes", nlohmann::json::array())) {
    NodeRecord r;
    r.id = n.value("id", "");
    r.pid = n.value("pid", 0);
    r.port = n.value("port", uint16_t{0});
    r.admin_port = n.value("admin_port", uint16_t{0});
    r.peer_port = n.value("peer_port", uint16_t{0});
    r.gid = n.value("gid", gid_t{0});
    r.config = n.value("config", "");
    r.log = n.value("log", "");
    r.exit = n.value("exit", "");
    s.nodes.push_back(std::move(r));
  }
  if (running_supervisor(data_dir) != s.supervisor) {
    std::fprintf(stderr,
                 "replikv cluster: the supervisor of %s (pid %d) is not running; start the "
                 "cluster again with `replikv cluster up --data-dir %s`\n",
                 data_dir.c_str(), s.supervisor, data_dir.c_str());
    return std::nullopt;
  }
  return s;
}

namespace {

// True when the client port answers PING with +PONG within `timeout`.
bool pings(uint16_t port, std::chrono::milliseconds timeout) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  timeval tv{static_cast<time_t>(timeout.count() / 1000),
             static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = false;
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
      write(fd, "PING\r\n", 6) == 6) {
    char buf[16] = {};
    ok = read(fd, buf, sizeof(buf) - 1) >= 5 && std::string_view(buf).starts_with("+PONG");
  }
  close(fd);
  return ok;
}

// "running", "paused", "stopped (killed by signal 9)" ...
std::string process_state(const NodeRecord& n) {
  if (n.pid <= 0 || !runs_config(n.pid, n.config)) {
    return n.exit.empty() ? "stopped" : "stopped (" + n.exit + ")";
  }
  return proc_state(n.pid) == 'T' ? "paused" : "running";
}

// "accounts=leader/t3 default=follower/t3": each primary keyspace's role and term, from the
// admin /status; "" when it does not answer (a paused node) within a second.
std::string roles(const NodeRecord& n) {
  httplib::Client cli("127.0.0.1", n.admin_port);
  cli.set_connection_timeout(1, 0);
  cli.set_read_timeout(1, 0);
  auto res = cli.Get("/status");
  if (!res || res->status != 200) return "";
  auto j = nlohmann::json::parse(res->body, nullptr, false);
  if (j.is_discarded()) return "";
  std::string out;
  for (const auto& g : j.value("replication", nlohmann::json::array())) {
    out += fmt::format("{}={}/t{} ", g.value("keyspace", "?"), g.value("role", "?"),
                       g.value("term", uint64_t{0}));
  }
  return out;
}

class ControlImpl : public ClusterControl {
 public:
  explicit ControlImpl(CLI::App& cluster) {
    auto add = [&](const char* name, const char* help, bool node_required) {
      CLI::App* c = cluster.add_subcommand(name, help);
      c->add_option("-d,--data-dir", data_dir_, "the cluster's data dir (as given to `up`)");
      auto* opt = c->add_option("node", node_, "node id (n2) or number (2)");
      if (node_required) opt->required();
      cmds_.push_back(c);
      return c;
    };
    add("status", "Each node's process, isolation, ports and roles", false);
    add("kill", "kill -9 a node; the others keep running", true);
    add("pause", "SIGSTOP a node (it keeps its connections but answers nothing)", true);
    add("resume", "SIGCONT a paused node", true);
    add("restart", "Stop a node gracefully if running, start it again, wait until it answers",
        true);
    add("isolate", "Cut a node's peer links (iptables, root); clients still reach it", true);
    add("heal", "Restore a node's peer links (every node's when none is named)", false);
  }

  bool selected() const override {
    for (auto* c : cmds_)
      if (c->parsed()) return true;
    return false;
  }

  int run() override {
    std::string cmd;
    for (auto* c : cmds_)
      if (c->parsed()) cmd = c->get_name();
    auto state = read_state(data_dir_);
    if (!state) return 1;
    if (cmd == "status") return status(*state);
    if (cmd == "heal" && node_.empty()) {
      int n = remove_firewall_rules(firewall_tag(state->base_port));
      std::printf("healed: removed %d rules; every node's peer links are open\n", n);
      return 0;
    }
    NodeRecord* n = find(*state);
    if (!n) return 2;
    if (cmd == "kill") return signal_node(*n, SIGKILL, "killed (SIGKILL)");
    if (cmd == "pause") return signal_node(*n, SIGSTOP, "paused (SIGSTOP)");
    if (cmd == "resume") return signal_node(*n, SIGCONT, "resumed (SIGCONT)");
    if (cmd == "restart") return restart(*state, *n);
    if (cmd == "isolate") return isolate(*state, *n);
    if (cmd == "heal") {
      int removed = remove_firewall_rules(firewall_tag(state->base_port, n->id));
      std::printf("%s healed: removed %d rules\n", n->id.c_str(), removed);
      return 0;
    }
    return 2;
  }

 private:
  NodeRecord* find(ClusterState& s) {
    std::string id = node_;
    if (!id.empty() && id[0] != 'n') id = "n" + id;
    for (auto& n : s.nodes)
      if (n.id == id) return &n;
    std::fprintf(stderr, "replikv cluster: no node %s (the cluster has n1..n%zu)\n", node_.c_str(),
                 s.nodes.size());
    return nullptr;
  }

  static bool running(const NodeRecord& n) { return n.pid > 0 && runs_config(n.pid, n.config); }

  static int signal_node(const NodeRecord& n, int sig, const char* what) {
    if (!running(n)) {
      std::fprintf(stderr, "replikv cluster: %s is not running\n", n.id.c_str());
      return 1;
    }
    if (kill(n.pid, sig) != 0) {
      std::perror("kill");
      return 1;
    }
    std::printf("%s (pid %d) %s\n", n.id.c_str(), n.pid, what);
    return 0;
  }

  int restart(const ClusterState& s, const NodeRecord& n) {
    const pid_t old = running(n) ? n.pid : 0;
    if (old) {
      kill(old, SIGCONT);  // a paused node must run to stop gracefully
      kill(old, SIGTERM);
      auto deadline = Clock::now() + std::chrono::seconds(10);
      while (runs_config(old, n.config) && proc_state(old) != 'Z' && Clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      if (runs_config(old, n.config) && proc_state(old) != 'Z') kill(old, SIGKILL);
    }
    // The supervisor starts it: only its children are supervised.
    std::error_code ec;
    fs::create_directories(s.data_dir + "/control", ec);
    std::ofstream(s.data_dir + "/control/" + n.id + ".start") << "\n";
    auto deadline = Clock::now() + std::chrono::seconds(30);
    while (Clock::now() < deadline) {
      auto now = read_state(data_dir_);
      if (!now) return 1;
      for (const auto& m : now->nodes) {
        if (m.id == n.id && m.pid > 0 && m.pid != old && pings(m.port, std::chrono::seconds(1))) {
          std::printf("%s restarted (pid %d), answering on port %u\n", n.id.c_str(), m.pid, m.port);
          return 0;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::fprintf(stderr, "replikv cluster: %s did not come back within 30 s; see %s\n",
                 n.id.c_str(), n.log.c_str());
    return 1;
  }

  static int isolate(const ClusterState& s, const NodeRecord& n) {
    if (geteuid() != 0) {
      std::fprintf(stderr,
                   "replikv cluster: isolate needs root (it adds iptables rules on loopback)\n");
      return 1;
    }
    if (n.gid == 0) {
      std::fprintf(stderr,
                   "replikv cluster: %s runs without its own group id, so its outgoing peer "
                   "traffic cannot be told apart; restart the cluster as root\n",
                   n.id.c_str());
      return 1;
    }
    const std::string tag = firewall_tag(s.base_port, n.id);
    std::string others;
    for (const auto& m : s.nodes) {
      if (m.id == n.id) continue;
      others += (others.empty() ? "" : ",") + std::to_string(m.peer_port);
    }
    const std::string own = std::to_string(n.peer_port);
    std::vector<std::vector<std::string>> rules = {
        {"--dport", own},  // every connection another node dials to this one
        {"--sport", own},  // this node's side of those connections
    };
    if (!others.empty()) {  // the connections this node dials
      rules.push_back({"-m", "owner", "--gid-owner", std::to_string(n.gid), "-m", "multiport",
                       "--dports", others});
    }
    remove_firewall_rules(tag);
    for (auto& r : rules) {
      if (!add_drop_rule(r, tag)) {
        remove_firewall_rules(tag);
        std::fprintf(stderr, "replikv cluster: iptables refused a rule; %s not isolated\n",
                     n.id.c_str());
        return 1;
      }
    }
    std::printf(
        "%s isolated: its peer links are cut, clients still reach port %u; "
        "`replikv cluster heal %s -d %s` restores them\n",
        n.id.c_str(), n.port, n.id.c_str(), s.data_dir.c_str());
    return 0;
  }

  static int status(const ClusterState& s) {
    std::printf("cluster in %s, supervisor pid %d\n", s.data_dir.c_str(), s.supervisor);
    std::printf("%-4s %-8s %-36s %-9s %-6s %-6s %-6s %s\n", "node", "pid", "process", "peers",
                "port", "admin", "peer", "roles");
    const bool root = geteuid() == 0;
    for (const auto& n : s.nodes) {
      std::string proc = process_state(n);
      std::string peers = !root                                                   ? "?"
                          : tagged_rules(firewall_tag(s.base_port, n.id)).empty() ? "connected"
                                                                                  : "ISOLATED";
      std::string r = proc == "running" ? roles(n) : "";
      std::printf("%-4s %-8d %-36s %-9s %-6u %-6u %-6u %s\n", n.id.c_str(), running(n) ? n.pid : 0,
                  proc.c_str(), peers.c_str(), n.port, n.admin_port, n.peer_port, r.c_str());
    }
    return 0;
  }

  std::vector<CLI::App*> cmds_;
  std::string data_dir_ = ClusterOptions{}.data_dir;
  std::string node_;
};

}  // namespace

std::unique_ptr<ClusterControl> add_cluster_control_commands(CLI::App& cluster) {
  return std::make_unique<ControlImpl>(cluster);
}

}  // namespace rkv
