// The Linux collector: /proc, /etc/os-release, uname(2), statvfs(3) over the real mounts,
// getifaddrs(3) and utmpx. Each read is bounded and takes a few milliseconds: the agent runs it
// on its event loop once a minute. Network file systems are left out for that reason too: a
// statvfs on a mount whose server is gone would block the loop.
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <utmpx.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>

#include "device-agent/platform/system_info.hpp"
#include "device-agent/posix/proc_text.hpp"

namespace sb::agent {

namespace {

// The first max_bytes of a file ("" if unreadable): /proc files have no size to check first,
// and /proc/cpuinfo of a large machine runs to megabytes (its first part is enough).
std::string read_prefix(const char* path, std::size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::string text(max_bytes, '\0');
  in.read(text.data(), static_cast<std::streamsize>(max_bytes));
  text.resize(static_cast<std::size_t>(in.gcount()));
  return text;
}

void add_os(SystemInfo& info) {
  std::string text = read_prefix("/etc/os-release", 64 * 1024);
  if (text.empty()) text = read_prefix("/usr/lib/os-release", 64 * 1024);
  auto release = posix::parse_os_release(text);
  info.os = release.pretty_name.empty() ? "unknown" : release.pretty_name;
  info.os_version = release.version_id;
  utsname u{};
  if (uname(&u) == 0) {
    info.kernel = std::string(u.sysname) + " " + u.release;
    info.arch = u.machine;
  }
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) == 0) info.hostname = host;
}

void add_cpu_memory_uptime(SystemInfo& info) {
  auto cpu = posix::parse_cpuinfo(read_prefix("/proc/cpuinfo", 4 * 1024 * 1024));
  info.cpu_model = cpu.model;
  const long online = sysconf(_SC_NPROCESSORS_ONLN);
  info.cpu_threads = online > 0 ? static_cast<unsigned>(online) : cpu.threads;
  info.cpu_cores = cpu.cores;
  auto memory = posix::parse_meminfo(read_prefix("/proc/meminfo", 64 * 1024));
  info.memory_total_bytes = memory.total_bytes;
  info.memory_available_bytes = memory.available_bytes;
  info.uptime_seconds = posix::parse_uptime(read_prefix("/proc/uptime", 256)).value_or(0);
}

void add_disks(SystemInfo& info) {
  auto mounts = posix::parse_mounts(read_prefix("/proc/self/mounts", 1024 * 1024));
  for (const auto& m : posix::disk_mounts(mounts)) {
    struct statvfs st {};
    if (statvfs(m.mount.c_str(), &st) != 0 || st.f_blocks == 0) continue;
    const std::uint64_t unit = st.f_frsize ? st.f_frsize : st.f_bsize;
    info.disks.push_back({m.mount, m.fs, st.f_blocks * unit, st.f_bavail * unit});
  }
}

unsigned prefix_length(const sockaddr* mask) {
  if (!mask) return 0;
  unsigned bits = 0;
  if (mask->sa_family == AF_INET) {
    bits = std::popcount(reinterpret_cast<const sockaddr_in*>(mask)->sin_addr.s_addr);
  } else if (mask->sa_family == AF_INET6) {
    for (auto byte : reinterpret_cast<const sockaddr_in6*>(mask)->sin6_addr.s6_addr)
      bits += std::popcount(static_cast<unsigned>(byte));
  }
  return bits;
}

void add_addresses(SystemInfo& info) {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return;
  for (const ifaddrs* a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr || !(a->ifa_flags & IFF_UP) || (a->ifa_flags & IFF_LOOPBACK)) continue;
    char text[INET6_ADDRSTRLEN] = {};
    if (a->ifa_addr->sa_family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(a->ifa_addr)->sin_addr, text,
                sizeof text);
    } else if (a->ifa_addr->sa_family == AF_INET6) {
      const auto& addr = reinterpret_cast<const sockaddr_in6*>(a->ifa_addr)->sin6_addr;
      // fe80::/10 exists on every interface and says nothing about where the device is.
      if (IN6_IS_ADDR_LINKLOCAL(&addr)) continue;
      inet_ntop(AF_INET6, &addr, text, sizeof text);
    } else {
      continue;
    }
    info.addresses.push_back({a->ifa_name ? a->ifa_name : "", text, prefix_length(a->ifa_netmask)});
  }
  freeifaddrs(list);
}

std::string fixed_field(const char* field, std::size_t size) {
  return std::string(field, strnlen(field, size));
}

void add_users(SystemInfo& info) {
  // getutxent walks one process-wide cursor.
  static std::mutex cursor;
  std::lock_guard lock(cursor);
  setutxent();
  while (const utmpx* u = getutxent()) {
    if (u->ut_type != USER_PROCESS) continue;
    // A login whose process is gone left its record behind (a crash, a container's utmp).
    if (u->ut_pid > 0 && kill(u->ut_pid, 0) != 0 && errno == ESRCH) continue;
    info.users.push_back({fixed_field(u->ut_user, sizeof u->ut_user),
                          fixed_field(u->ut_line, sizeof u->ut_line),
                          fixed_field(u->ut_host, sizeof u->ut_host)});
  }
  endutxent();
}

}  // namespace

SystemInfo collect_system_info() {
  SystemInfo info;
  add_os(info);
  add_cpu_memory_uptime(info);
  add_disks(info);
  add_addresses(info);
  add_users(info);
  return info;
}

}  // namespace sb::agent
