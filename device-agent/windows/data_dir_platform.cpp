// The agent's platform interface for its data dir, on Windows: %ProgramData%\switchboard-agent,
// SYSTEM and Administrators only (data_dir.hpp).
#include <cstdlib>

#include "device-agent/platform/data_dir.hpp"
#include "device-agent/windows/data_dir.hpp"

namespace sb::agent::platform {

std::filesystem::path default_data_dir() {
  if (const char* dir = std::getenv("SWITCHBOARD_AGENT_DIR"); dir && *dir) return dir;
  return win::default_data_dir();
}

void prepare_data_dir(const std::filesystem::path& dir) {
  win::ensure_private_data_dir(dir);
}

}  // namespace sb::agent::platform
