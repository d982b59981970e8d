// What a device tells the relay about itself, as facts gathered by the platform's code
// (posix/system_info.cpp, and a Windows one beside it). The portable core turns them into the
// bounded JSON the relay stores (system_info_json.hpp); nothing here is trimmed or checked yet.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace sb::agent {

struct DiskFacts {
  std::string mount;  // "/", "/home", "C:\"
  std::string fs;     // "ext4", "NTFS"
  std::uint64_t size_bytes = 0;
  std::uint64_t free_bytes = 0;  // available to unprivileged users
};

struct AddressFacts {
  std::string interface_name;  // "eth0" (not `interface`: a macro in Windows headers)
  std::string address;         // "192.168.1.20", "2001:db8::7"
  unsigned prefix = 0;         // 24, 64
};

struct UserFacts {
  std::string name;
  std::string terminal;  // "tty2", "pts/0", "console"
  std::string from;      // remote host of the login, "" when local
};

struct SystemInfo {
  std::string hostname;
  std::string os;          // "Debian GNU/Linux 12 (bookworm)"
  std::string os_version;  // "12"
  std::string kernel;      // "Linux 6.1.0-18-amd64"
  std::string arch;        // "x86_64"
  std::string cpu_model;
  unsigned cpu_cores = 0;    // physical cores, 0 when unknown
  unsigned cpu_threads = 0;  // logical processors online
  std::uint64_t memory_total_bytes = 0;
  std::uint64_t memory_available_bytes = 0;
  std::uint64_t uptime_seconds = 0;
  std::vector<DiskFacts> disks;         // real file systems only, one per device
  std::vector<AddressFacts> addresses;  // interfaces that are up; no loopback, no link-local
  std::vector<UserFacts> users;         // logged-in sessions
};

// Never throws: a fact that cannot be read stays empty or 0.
SystemInfo collect_system_info();

}  // namespace sb::agent
