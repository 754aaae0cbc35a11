// Assertions that stay on in every build type. A failed assertion is a broken invariant: the
// process prints where and why and aborts, because continuing could corrupt replicated state.
// Expected failures (bad input, I/O errors, timeouts) are values, see status.h.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace rkv::detail {
[[noreturn]] inline void assert_fail(const char* expr, const char* file, int line,
                                     const char* msg) {
  std::fprintf(stderr, "replikv: assertion failed: %s at %s:%d%s%s\n", expr, file, line,
               msg ? ": " : "", msg ? msg : "");
  std::fflush(stderr);
  std::abort();
}
}  // namespace rkv::detail

#define RKV_ASSERT(cond)                                              \
  do {                                                                \
    if (!(cond)) [[unlikely]]                                         \
      ::rkv::detail::assert_fail(#cond, __FILE__, __LINE__, nullptr); \
  } while (0)

#define RKV_ASSERT_MSG(cond, msg)                                   \
  do {                                                              \
    if (!(cond)) [[unlikely]]                                       \
      ::rkv::detail::assert_fail(#cond, __FILE__, __LINE__, (msg)); \
  } while (0)

#define RKV_UNREACHABLE() ::rkv::detail::assert_fail("unreachable", __FILE__, __LINE__, nullptr)
