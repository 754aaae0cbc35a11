// SharedBytes: an immutable byte string whose copies share one buffer (a header with an atomic
// reference count and the size, then the bytes, in one allocation). A Raft entry's data is made
// once, when it is proposed or received, and then travels to the log, to every message that
// carries it, to the Ready that persists it and to the one that applies it: copying the bytes
// at each step cost a leader more than encoding them for the wire.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

namespace rkv {

class SharedBytes {
 public:
  SharedBytes() = default;
  SharedBytes(std::string_view s) {  // NOLINT: implicit, like the std::string it replaces
    if (s.empty()) return;
    void* mem = ::operator new(sizeof(Block) + s.size());
    b_ = new (mem) Block{{1}, s.size()};
    std::memcpy(reinterpret_cast<char*>(b_ + 1), s.data(), s.size());
  }
  SharedBytes(const std::string& s) : SharedBytes(std::string_view(s)) {}  // NOLINT
  SharedBytes(const char* s) : SharedBytes(std::string_view(s)) {}         // NOLINT

  SharedBytes(const SharedBytes& o) noexcept : b_(o.b_) {
    if (b_ != nullptr) b_->refs.fetch_add(1, std::memory_order_relaxed);
  }
  SharedBytes(SharedBytes&& o) noexcept : b_(std::exchange(o.b_, nullptr)) {}
  SharedBytes& operator=(const SharedBytes& o) noexcept {
    SharedBytes copy(o);
    std::swap(b_, copy.b_);
    return *this;
  }
  SharedBytes& operator=(SharedBytes&& o) noexcept {
    if (this != &o) {
      release();
      b_ = std::exchange(o.b_, nullptr);
    }
    return *this;
  }
  ~SharedBytes() { release(); }

  const char* data() const { return b_ != nullptr ? reinterpret_cast<const char*>(b_ + 1) : ""; }
  size_t size() const { return b_ != nullptr ? b_->size : 0; }
  bool empty() const { return b_ == nullptr; }
  std::string_view view() const { return {data(), size()}; }
  operator std::string_view() const { return view(); }  // NOLINT
  std::string str() const { return std::string(view()); }

  friend bool operator==(const SharedBytes& a, const SharedBytes& b) {
    return a.view() == b.view();
  }
  friend bool operator==(const SharedBytes& a, std::string_view b) { return a.view() == b; }
  friend bool operator==(const SharedBytes& a, const std::string& b) { return a.view() == b; }
  friend bool operator==(const SharedBytes& a, const char* b) {
    return a.view() == std::string_view(b);
  }
  friend std::ostream& operator<<(std::ostream& os, const SharedBytes& b) { return os << b.view(); }

 private:
  struct Block {
    std::atomic<uint32_t> refs;
    size_t size;
  };
  void release() noexcept {
    if (b_ != nullptr && b_->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      b_->~Block();
      ::operator delete(b_);
    }
    b_ = nullptr;
  }

  Block* b_ = nullptr;
};

}  // namespace rkv
