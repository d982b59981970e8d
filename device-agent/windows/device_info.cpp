// What the relay shows about a Windows device: its name, the Windows version (from the
// registry's product name and the kernel's own version numbers), the architecture.
#include <windows.h>

#include <string>

#include "device-agent/device_info.hpp"
#include "device-agent/windows/win_text.hpp"

namespace sb::agent {

namespace {

using windows::narrow;

std::string registry_string(const wchar_t* name) {
  wchar_t buf[256] = {};
  DWORD size = sizeof buf - sizeof(wchar_t);
  if (::RegGetValueW(HKEY_LOCAL_MACHINE, L"SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion", name,
                     RRF_RT_REG_SZ, nullptr, buf, &size) != ERROR_SUCCESS)
    return "";
  return narrow(buf).substr(0, 100);
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

std::string arch() {
  SYSTEM_INFO si{};
  ::GetNativeSystemInfo(&si);
  switch (si.wProcessorArchitecture) {
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
  return narrow(std::wstring(buf, n));
}

}  // namespace

nlohmann::json collect_device_info() {
  RTL_OSVERSIONINFOW v = kernel_version();
  const std::string numbers = std::to_string(v.dwMajorVersion) + "." +
                              std::to_string(v.dwMinorVersion) + "." +
                              std::to_string(v.dwBuildNumber);
  std::string product = registry_string(L"ProductName");
  // Windows 11 still calls itself "Windows 10" in ProductName; its build numbers tell.
  if (v.dwMajorVersion == 10 && v.dwBuildNumber >= 22000 && product.starts_with("Windows 10"))
    product.replace(0, 10, "Windows 11");
  const std::string release = registry_string(L"DisplayVersion");
  std::string os = product.empty() ? "Windows" : product;
  if (!release.empty()) os += " " + release;
  os += " (" + numbers + ")";
  return {{"hostname", host_name()},
          {"os", os},
          {"kernel", "Windows NT " + numbers},
          {"arch", arch()},
          {"agent_version", SB_VERSION}};
}

}  // namespace sb::agent
