// What the process's allocator says about memory, for INFO memory, /metrics and the memory
// limit (maxmemory). Thread-safe; each call costs a few microseconds.
#pragma once

#include <cstdint>

namespace rkv {

// Bytes the program has allocated and not freed: jemalloc's "stats.allocated" when the
// binary links jemalloc (as `replikv` does), else glibc's mallinfo2() (in-use arena bytes
// plus mmapped blocks). Includes everything allocated through malloc: keys, values, the Raft
// log held in memory, snapshot images being built, buffers, RocksDB's memtables and cache.
uint64_t allocated_bytes();
// "jemalloc" or "libc", as INFO's mem_allocator reports it.
const char* allocator_name();
// The process's resident set size (/proc/self/statm).
uint64_t resident_bytes();

}  // namespace rkv
