// The open-files budget: how many client connections a node can hold with the descriptors the
// process may open. Clients beyond the budget get "-ERR max number of clients reached" at accept
// instead of taking the descriptors storage, peer links and the admin port need (an accept()
// that fails with EMFILE is still handled: Server pauses accepts, see accept_next).
#pragma once

#include <cstdint>
#include <string>

namespace rkv {

// Descriptors kept for everything but clients: the storage engine's files (write-ahead log
// segments, RocksDB tables opened lazily, its log), the listening sockets, epoll and timer
// descriptors, admin HTTP connections; plus two per cluster member (a link each way).
inline constexpr uint64_t kReservedFds = 96;

struct FdBudget {
  uint64_t soft_limit = 0;   // RLIMIT_NOFILE soft limit to set (unchanged when no raise helps)
  uint64_t max_clients = 0;  // client connections the node accepts
  bool raised = false;       // soft_limit is above the one the process started with
  bool reduced = false;      // max_clients is below the configured value
};

// Pure: given the process's soft and hard RLIMIT_NOFILE, the configured max_clients and the
// cluster size, the soft limit to ask for (raised toward what max_clients needs, never past
// hard) and the clients that then fit (at least 1).
FdBudget plan_fd_budget(uint64_t soft, uint64_t hard, uint64_t max_clients, uint64_t nodes);

// Applies plan_fd_budget to this process: raises the soft limit when it helps and lowers
// max_clients to what fits. Returns the log line to print when something changed, else "".
std::string apply_fd_budget(uint64_t* max_clients, uint64_t nodes);

}  // namespace rkv
