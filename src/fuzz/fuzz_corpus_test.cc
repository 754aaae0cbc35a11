// Every fuzz target in every build (ASan included): the committed corpus (tests/fuzz/<target>/,
// where inputs that once crashed are kept as regression cases), the targets' own seeds, and a
// deterministic stream of mutations of them (bit flips, byte changes, truncations, insertions,
// splices). A bounded stand-in for `make fuzz`, so a decoder regression fails the test suite.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "core/random.h"
#include "fuzz/fuzz_targets.h"

namespace rkv::fuzz {
namespace {

constexpr int kMutationsPerTarget = 20000;

std::vector<std::string> corpus(std::string_view target) {
  std::vector<std::string> out = seeds(target);
  const std::filesystem::path dir = std::filesystem::path(RKV_FUZZ_CORPUS_DIR) / target;
  if (std::filesystem::is_directory(dir)) {
    for (const auto& f : std::filesystem::directory_iterator(dir)) {
      if (!f.is_regular_file() || f.path().filename() == "README.md") continue;
      std::ifstream in(f.path(), std::ios::binary);
      out.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
  }
  return out;
}

std::string mutate(const std::vector<std::string>& pool, Random& rng) {
  std::string s = pool[rng.uniform(pool.size())];
  const uint64_t rounds = 1 + rng.uniform(4);
  for (uint64_t r = 0; r < rounds; ++r) {
    switch (rng.uniform(6)) {
      case 0:  // flip a bit
        if (!s.empty()) s[rng.uniform(s.size())] ^= static_cast<char>(1u << rng.uniform(8));
        break;
      case 1:  // an interesting byte
        if (!s.empty()) {
          static constexpr char kBytes[] = {
              0,   1,   0x7f, static_cast<char>(0x80), static_cast<char>(0xff), '\r', '\n',
              '*', '$', '"'};
          s[rng.uniform(s.size())] = kBytes[rng.uniform(sizeof(kBytes))];
        }
        break;
      case 2:  // truncate
        s.resize(rng.uniform(s.size() + 1));
        break;
      case 3:  // insert random bytes
        for (uint64_t i = 0, n = 1 + rng.uniform(8); i < n; ++i)
          s.insert(s.begin() + static_cast<std::ptrdiff_t>(rng.uniform(s.size() + 1)),
                   static_cast<char>(rng.uniform(256)));
        break;
      case 4: {  // splice with another input
        const std::string& o = pool[rng.uniform(pool.size())];
        const size_t at = rng.uniform(s.size() + 1), from = rng.uniform(o.size() + 1);
        s = s.substr(0, at) + o.substr(from);
        break;
      }
      case 5:  // duplicate a range
        if (!s.empty()) {
          const size_t a = rng.uniform(s.size()), n = 1 + rng.uniform(s.size() - a);
          s.insert(a, s.substr(a, n));
        }
        break;
    }
  }
  return s;
}

class FuzzCorpus : public ::testing::TestWithParam<NamedTarget> {};

TEST_P(FuzzCorpus, CorpusAndMutationsRunClean) {
  const NamedTarget t = GetParam();
  const std::vector<std::string> pool = corpus(t.name);
  ASSERT_FALSE(pool.empty()) << t.name;
  auto run = [&](const std::string& in) {
    t.fn(reinterpret_cast<const uint8_t*>(in.data()), in.size());
  };
  for (const std::string& in : pool)
    run(in);
  Random rng(0xf022 + t.name.size());
  for (int i = 0; i < kMutationsPerTarget; ++i)
    run(mutate(pool, rng));
}

INSTANTIATE_TEST_SUITE_P(Targets, FuzzCorpus, ::testing::ValuesIn(kTargets),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace rkv::fuzz
