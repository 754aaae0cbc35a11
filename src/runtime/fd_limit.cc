#include "runtime/fd_limit.h"

#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>

namespace rkv {

FdBudget plan_fd_budget(uint64_t soft, uint64_t hard, uint64_t max_clients, uint64_t nodes) {
  const uint64_t reserve = kReservedFds + 2 * nodes;
  const uint64_t wanted = max_clients + reserve;
  FdBudget b;
  b.soft_limit = soft;
  if (soft < wanted && hard > soft) {
    b.soft_limit = std::min(hard, wanted);
    b.raised = true;
  }
  const uint64_t fit = b.soft_limit > reserve ? b.soft_limit - reserve : 0;
  b.max_clients = std::max<uint64_t>(1, std::min(max_clients, fit));
  b.reduced = b.max_clients < max_clients;
  return b;
}

std::string apply_fd_budget(uint64_t* max_clients, uint64_t nodes) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return "";
  const uint64_t hard = rl.rlim_max == RLIM_INFINITY ? UINT64_MAX : rl.rlim_max;
  const uint64_t soft = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : rl.rlim_cur;
  FdBudget b = plan_fd_budget(soft, hard, *max_clients, nodes);
  if (b.raised) {
    rlimit want = rl;
    want.rlim_cur = b.soft_limit;
    if (setrlimit(RLIMIT_NOFILE, &want) != 0) b = plan_fd_budget(soft, soft, *max_clients, nodes);
  }
  std::string line;
  if (b.raised) line = fmt::format("open files limit raised from {} to {}", soft, b.soft_limit);
  if (b.reduced) {
    if (!line.empty()) line += "; ";
    line += fmt::format(
        "max_clients reduced from {} to {}: the open files limit ({}) keeps {} descriptors for "
        "storage, peers and the admin port (raise it with ulimit -n or LimitNOFILE=)",
        *max_clients, b.max_clients, b.soft_limit, b.soft_limit - b.max_clients);
  }
  *max_clients = b.max_clients;
  return line;
}

}  // namespace rkv
