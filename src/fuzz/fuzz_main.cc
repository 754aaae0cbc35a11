// libFuzzer entry point of one target, chosen at compile time (RKV_FUZZ_TARGET: a function of
// fuzz_targets.h). Built by `make fuzz` with Clang; see docs/operations.md.
#include "fuzz/fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return rkv::fuzz::RKV_FUZZ_TARGET(data, size);
}
