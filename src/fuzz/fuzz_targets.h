// Fuzz targets: every parser and decoder that reads bytes from outside the process (clients,
// peers, the config file, history files, what storage holds). Each takes arbitrary bytes and
// must neither crash nor trip an assertion nor read out of bounds; where a decoder accepts its
// input, what it decoded must encode back or be usable (the targets check what they can).
//
// The same functions run in two ways: as libFuzzer targets (Clang, `make fuzz`, one binary per
// target, fuzz_main.cc), and in every build as a regression test that replays the committed
// corpus (tests/fuzz/<target>/) plus deterministic mutations of it (fuzz_corpus_test.cc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rkv::fuzz {

using Target = int (*)(const uint8_t* data, size_t size);

int resp(const uint8_t* data, size_t size);     // RESP parser, fed in chunks
int peer(const uint8_t* data, size_t size);     // peer messages and handshake
int config(const uint8_t* data, size_t size);   // the TOML config loader
int history(const uint8_t* data, size_t size);  // JSONL histories (replikv check)
int records(const uint8_t* data, size_t size);  // stored records and snapshot images

// Well-formed inputs of a target (valid encodings of what it reads), the starting points of
// fuzzing: libFuzzer's seed corpus (`replikv-fuzz-seeds DIR` writes them) and the regression
// test's mutations.
std::vector<std::string> seeds(std::string_view target);

struct NamedTarget {
  std::string_view name;
  Target fn;
};
inline constexpr NamedTarget kTargets[] = {
    {"resp", resp}, {"peer", peer}, {"config", config}, {"history", history}, {"records", records},
};

}  // namespace rkv::fuzz
