// What a Windows device tells the relay about itself: the Windows version (the registry's product
// name and the kernel's own version numbers), the CPU, memory, fixed disks, uptime and the
// addresses of the interfaces that are up, and who is logged in (console and Remote Desktop
// sessions).
// winsock2.h before windows.h, iphlpapi.h after both: separate blocks keep that order.
#include <winsock2.h>
#include <ws2tcpip.h>

#include <windows.h>

#include <iphlpapi.h>
#include <wtsapi32.h>

#include <string>
#include <vector>

#include "device-agent/platform/system_info.hpp"
#include "device-agent/windows/session_users.hpp"
#include "device-agent/windows/win_text.hpp"

namespace sb::agent {

namespace {

using win::to_utf8;

std::string registry_string(const wchar_t* key, const wchar_t* name) {
  wchar_t buf[256] = {};
  DWORD size = sizeof buf - sizeof(wchar_t);
  if (::RegGetValueW(HKEY_LOCAL_MACHINE, key, name, RRF_RT_REG_SZ, nullptr, buf, &size) !=
      ERROR_SUCCESS)
    return "";
  return to_utf8(buf).substr(0, 100);
}

std::string version_string(const wchar_t* name) {
  return registry_string(L"SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion", name);
}

// RtlGetVersion tells the truth; GetVersionEx answers what the manifest asked for.
RTL_OSVERSIONINFOW kernel_version() {
  RTL_OSVERSIONINFOW v{};
  v.dwOSVersionInfoSize = sizeof v;
  using Fn = LONG(WINAPI*)(PRTL_OSVERSIONINFOW);
  if (HMODULE ntdll = ::GetModuleHandleW(L"ntdll.dll")) {
    auto fn =
        reinterpret_cast<Fn>(reinterpret_cast<void*>(::GetProcAddress(ntdll, "RtlGetVersion")));
    if (fn) fn(&v);
  }
  return v;
}

std::string arch_name(WORD architecture) {
  switch (architecture) {
    case PROCESSOR_ARCHITECTURE_AMD64:
      return "x86_64";
    case PROCESSOR_ARCHITECTURE_ARM64:
      return "aarch64";
    case PROCESSOR_ARCHITECTURE_INTEL:
      return "i686";
    default:
      return "unknown";
  }
}

std::string host_name() {
  wchar_t buf[256] = {};
  DWORD n = 255;
  if (!::GetComputerNameExW(ComputerNameDnsHostname, buf, &n)) return "";
  return to_utf8(std::wstring(buf, n));
}

void add_version(SystemInfo& info) {
  RTL_OSVERSIONINFOW v = kernel_version();
  const std::string numbers = std::to_string(v.dwMajorVersion) + "." +
                              std::to_string(v.dwMinorVersion) + "." +
                              std::to_string(v.dwBuildNumber);
  std::string product = version_string(L"ProductName");
  // Windows 11 still calls itself "Windows 10" in ProductName; its build numbers tell.
  if (v.dwMajorVersion == 10 && v.dwBuildNumber >= 22000 && product.starts_with("Windows 10"))
    product.replace(0, 10, "Windows 11");
  const std::string release = version_string(L"DisplayVersion");
  info.os = product.empty() ? "Windows" : product;
  if (!release.empty()) info.os += " " + release;
  info.os += " (" + numbers + ")";
  info.os_version = release.empty() ? numbers : release;
  info.kernel = "Windows NT " + numbers;
}

// Physical cores: one RelationProcessorCore record each.
unsigned physical_cores() {
  DWORD bytes = 0;
  ::GetLogicalProcessorInformation(nullptr, &bytes);
  if (bytes == 0) return 0;
  std::vector<SYSTEM_LOGICAL_PROCESSOR_INFORMATION> records(bytes / sizeof(records[0]));
  if (!::GetLogicalProcessorInformation(records.data(), &bytes)) return 0;
  unsigned cores = 0;
  for (const auto& r : records)
    if (r.Relationship == RelationProcessorCore) ++cores;
  return cores;
}

void add_disks(SystemInfo& info) {
  wchar_t drives[512] = {};
  DWORD n = ::GetLogicalDriveStringsW(511, drives);
  if (n == 0 || n > 511) return;
  for (const wchar_t* root = drives; *root; root += wcslen(root) + 1) {
    if (::GetDriveTypeW(root) != DRIVE_FIXED) continue;  // no network shares, CD drives, floppies
    ULARGE_INTEGER free_to_caller{}, total{};
    if (!::GetDiskFreeSpaceExW(root, &free_to_caller, &total, nullptr)) continue;
    wchar_t fs[64] = {};
    ::GetVolumeInformationW(root, nullptr, 0, nullptr, nullptr, nullptr, fs, 63);
    info.disks.push_back({to_utf8(root), to_utf8(fs), total.QuadPart, free_to_caller.QuadPart});
  }
}

std::string address_text(const SOCKADDR* sa) {
  char text[INET6_ADDRSTRLEN] = {};
  if (sa->sa_family == AF_INET)
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, text, sizeof text);
  else if (sa->sa_family == AF_INET6)
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, text, sizeof text);
  return text;
}

bool link_local(const SOCKADDR* sa) {
  if (sa->sa_family == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr;
    return a.s6_addr[0] == 0xfe && (a.s6_addr[1] & 0xc0) == 0x80;
  }
  const auto* b =
      reinterpret_cast<const unsigned char*>(&reinterpret_cast<const sockaddr_in*>(sa)->sin_addr);
  return b[0] == 169 && b[1] == 254;
}

void add_addresses(SystemInfo& info) {
  ULONG size = 16 * 1024;
  std::vector<unsigned char> buf(size);
  const ULONG flags = GAA_FLAG_SKIP_ANYCAST | GAA_FLAG_SKIP_MULTICAST | GAA_FLAG_SKIP_DNS_SERVER;
  auto* first = reinterpret_cast<IP_ADAPTER_ADDRESSES*>(buf.data());
  ULONG rc = ::GetAdaptersAddresses(AF_UNSPEC, flags, nullptr, first, &size);
  if (rc == ERROR_BUFFER_OVERFLOW && size <= 1024 * 1024) {
    buf.resize(size);
    first = reinterpret_cast<IP_ADAPTER_ADDRESSES*>(buf.data());
    rc = ::GetAdaptersAddresses(AF_UNSPEC, flags, nullptr, first, &size);
  }
  if (rc != NO_ERROR) return;
  for (auto* a = first; a; a = a->Next) {
    if (a->OperStatus != IfOperStatusUp || a->IfType == IF_TYPE_SOFTWARE_LOOPBACK) continue;
    const std::string name = to_utf8(a->FriendlyName ? a->FriendlyName : L"");
    for (auto* u = a->FirstUnicastAddress; u; u = u->Next) {
      const SOCKADDR* sa = u->Address.lpSockaddr;
      if (!sa || link_local(sa)) continue;
      info.addresses.push_back({name, address_text(sa), u->OnLinkPrefixLength});
    }
  }
}

std::string session_text(DWORD session, WTS_INFO_CLASS what) {
  wchar_t* text = nullptr;
  DWORD bytes = 0;
  if (!::WTSQuerySessionInformationW(WTS_CURRENT_SERVER_HANDLE, session, what, &text, &bytes))
    return "";
  std::string out = text ? to_utf8(text) : "";
  ::WTSFreeMemory(text);
  return out.substr(0, 100);
}

void add_users(SystemInfo& info) {
  WTS_SESSION_INFOW* sessions = nullptr;
  DWORD count = 0;
  if (!::WTSEnumerateSessionsW(WTS_CURRENT_SERVER_HANDLE, 0, 1, &sessions, &count)) return;
  std::vector<win::SessionRecord> records;
  for (DWORD i = 0; i < count && i < 64; ++i) {
    const WTS_SESSION_INFOW& s = sessions[i];
    win::SessionRecord r;
    r.active_or_disconnected = s.State == WTSActive || s.State == WTSDisconnected;
    if (!r.active_or_disconnected) continue;
    r.station = s.pWinStationName ? to_utf8(s.pWinStationName).substr(0, 32) : "";
    r.user = session_text(s.SessionId, WTSUserName);
    r.client = session_text(s.SessionId, WTSClientName);
    records.push_back(std::move(r));
  }
  ::WTSFreeMemory(sessions);
  info.users = win::users_of_sessions(records);
}

}  // namespace

SystemInfo collect_system_info() {
  SystemInfo info;
  info.hostname = host_name();
  add_version(info);
  SYSTEM_INFO si{};
  ::GetNativeSystemInfo(&si);
  info.arch = arch_name(si.wProcessorArchitecture);
  info.cpu_threads = si.dwNumberOfProcessors;
  info.cpu_cores = physical_cores();
  info.cpu_model = registry_string(L"HARDWARE\\DESCRIPTION\\System\\CentralProcessor\\0",
                                   L"ProcessorNameString");
  MEMORYSTATUSEX memory{};
  memory.dwLength = sizeof memory;
  if (::GlobalMemoryStatusEx(&memory)) {
    info.memory_total_bytes = memory.ullTotalPhys;
    info.memory_available_bytes = memory.ullAvailPhys;
  }
  info.uptime_seconds = ::GetTickCount64() / 1000;
  add_disks(info);
  add_addresses(info);
  add_users(info);
  return info;
}

}  // namespace sb::agent
