// replikv-fuzz-seeds DIR: writes every target's seeds to DIR/<target>/seed-<n>, the starting
// corpus of `make fuzz`.
#include <filesystem>
#include <fstream>
#include <iostream>

#include "fuzz/fuzz_targets.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: replikv-fuzz-seeds DIR\n";
    return 2;
  }
  for (const auto& t : rkv::fuzz::kTargets) {
    const std::filesystem::path dir = std::filesystem::path(argv[1]) / t.name;
    std::filesystem::create_directories(dir);
    int n = 0;
    for (const std::string& s : rkv::fuzz::seeds(t.name)) {
      std::ofstream out(dir / ("seed-" + std::to_string(n++)), std::ios::binary);
      out << s;
    }
  }
  return 0;
}
