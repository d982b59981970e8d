// What the bulk-transfer tests share: files of random bytes, their checksums, and the memory of
// the relay that carries them.
#pragma once
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace sb::e2e {

inline constexpr std::size_t kMiB = 1024 * 1024;

// size bytes from a seeded generator: the same seed gives the same file.
void write_random_file(const std::filesystem::path& path, std::size_t size,
                       std::uint64_t seed = 0x5eed5eedULL);
// The file's SHA-256 in hex, from sha256sum (a test failure, and "", if it cannot run).
std::string sha256_of(const std::filesystem::path& path);
// Resident memory of a process in bytes, from /proc/PID/status (0 if unknown).
std::size_t rss_of(pid_t pid);

}  // namespace sb::e2e
