#include "bulk_data.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <vector>

#include "harness.hpp"

namespace sb::e2e {

void write_random_file(const std::filesystem::path& path, std::size_t size, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::uint64_t> block(kMiB / sizeof(std::uint64_t));
  std::ofstream out(path, std::ios::binary);
  for (std::size_t done = 0; done < size; done += kMiB) {
    for (auto& word : block) word = rng();
    const std::size_t n = std::min(kMiB, size - done);
    out.write(reinterpret_cast<const char*>(block.data()), static_cast<std::streamsize>(n));
  }
}

std::string sha256_of(const std::filesystem::path& path) {
  auto r = run({"/usr/bin/sha256sum", path.string()}, {.timeout = 60s});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out.substr(0, 64);
}

std::size_t rss_of(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line))
    if (line.starts_with("VmRSS:")) return std::stoull(line.substr(6)) * 1024;
  return 0;
}

}  // namespace sb::e2e
