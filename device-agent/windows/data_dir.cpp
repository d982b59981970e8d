// The data dir on Windows: %ProgramData%\switchboard-agent, for the service and by hand alike.
#include <windows.h>

#include <cstdlib>

#include "common/util.hpp"
#include "device-agent/platform/data_dir.hpp"

namespace sb::agent::platform {

std::filesystem::path default_data_dir() {
  if (const char* dir = std::getenv("SWITCHBOARD_AGENT_DIR"); dir && *dir) return dir;
  wchar_t buf[MAX_PATH] = {};
  DWORD n = ::GetEnvironmentVariableW(L"ProgramData", buf, MAX_PATH);
  std::filesystem::path base = n > 0 && n < MAX_PATH ? std::filesystem::path(std::wstring(buf, n))
                                                     : std::filesystem::path(L"C:\\ProgramData");
  return base / "switchboard-agent";
}

void prepare_data_dir(const std::filesystem::path& dir) {
  ensure_private_dir(dir);
}

}  // namespace sb::agent::platform
