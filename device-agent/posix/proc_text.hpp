// Parsers of the text files the Linux collector reads (/etc/os-release, /proc/cpuinfo,
// /proc/meminfo, /proc/uptime, /proc/self/mounts). They take the text, not a path, so that the
// tests and the fuzz harness feed them what other machines would show. Anything they do not
// understand reads as "unknown" (empty or 0), never as an exception.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sb::agent::posix {

struct OsRelease {
  std::string pretty_name;  // PRETTY_NAME, or NAME and VERSION when it is missing
  std::string version_id;   // VERSION_ID
};
// os-release(5): KEY=value lines, values optionally quoted with shell-style escapes.
OsRelease parse_os_release(std::string_view text);

struct CpuInfo {
  std::string model;     // "model name" (x86, some ARM), else "Model", "Hardware", "cpu"
  unsigned threads = 0;  // "processor" entries
  unsigned cores = 0;    // distinct (physical id, core id) pairs; 0 when the file has none
};
CpuInfo parse_cpuinfo(std::string_view text);

struct MemInfo {
  std::uint64_t total_bytes = 0;
  std::uint64_t available_bytes = 0;  // MemAvailable; kernels before 3.14: free + caches
};
MemInfo parse_meminfo(std::string_view text);

// Seconds since boot (the first number of /proc/uptime, fractions dropped).
std::optional<std::uint64_t> parse_uptime(std::string_view text);

struct MountEntry {
  std::string source;  // "/dev/sda1", "tmpfs"
  std::string mount;   // octal escapes (\040 for a space) decoded
  std::string fs;
};
// /proc/self/mounts (fstab(5) format); malformed lines are skipped.
std::vector<MountEntry> parse_mounts(std::string_view text);

// The mounts worth reporting as disks: no pseudo, memory-backed or read-only image file
// systems (proc, tmpfs, squashfs snaps, ...), no network ones (statvfs on a dead NFS server
// would block the agent), no overlays except a container's root, and one mount per source
// (bind mounts and btrfs subvolumes share the space of their first mount).
std::vector<MountEntry> disk_mounts(const std::vector<MountEntry>& mounts);

}  // namespace sb::agent::posix
