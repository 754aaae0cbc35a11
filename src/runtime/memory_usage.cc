#include "runtime/memory_usage.h"

#include <malloc.h>
#include <unistd.h>

#include <cstddef>
#include <cstdio>

#if defined(__SANITIZE_ADDRESS__)
#define RKV_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RKV_ASAN 1
#endif
#endif
#ifdef RKV_ASAN
// AddressSanitizer's runtime: bytes in live allocations.
extern "C" size_t __sanitizer_get_current_allocated_bytes();
#endif

// jemalloc's control interface, present only when the binary links jemalloc.
extern "C" int mallctl(const char* name, void* oldp, size_t* oldlenp, void* newp, size_t newlen)
    __attribute__((weak));

namespace rkv {

uint64_t allocated_bytes() {
#ifdef RKV_ASAN
  // AddressSanitizer replaces malloc: its own count of live bytes (mallinfo2 reads 0).
  return __sanitizer_get_current_allocated_bytes();
#endif
  if (mallctl != nullptr) {
    // Statistics are cached per epoch: advancing it refreshes them.
    uint64_t epoch = 1;
    size_t len = sizeof(epoch);
    (void)mallctl("epoch", &epoch, &len, &epoch, len);
    size_t allocated = 0;
    len = sizeof(allocated);
    if (mallctl("stats.allocated", &allocated, &len, nullptr, 0) == 0) return allocated;
  }
  const struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

const char* allocator_name() {
#ifdef RKV_ASAN
  return "asan";
#endif
  return mallctl != nullptr ? "jemalloc" : "libc";
}

uint64_t resident_bytes() {
  long pages = 0, rss = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
    std::fclose(f);
  }
  return static_cast<uint64_t>(rss) * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

}  // namespace rkv
