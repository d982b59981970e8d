// The data dir on POSIX: per user under XDG_STATE_HOME or ~/.local/state, else /var/lib.
#include <cstdlib>

#include "common/util.hpp"
#include "device-agent/platform/data_dir.hpp"

namespace sb::agent::platform {

std::filesystem::path default_data_dir() {
  if (const char* dir = std::getenv("SWITCHBOARD_AGENT_DIR"); dir && *dir) return dir;
  if (const char* state = std::getenv("XDG_STATE_HOME"); state && *state)
    return std::filesystem::path(state) / "switchboard-agent";
  if (const char* home = std::getenv("HOME"); home && *home)
    return std::filesystem::path(home) / ".local/state/switchboard-agent";
  return "/var/lib/switchboard-agent";
}

void prepare_data_dir(const std::filesystem::path& dir) {
  ensure_private_dir(dir);  // mode 0700, ours, not writable by group or others
}

}  // namespace sb::agent::platform
