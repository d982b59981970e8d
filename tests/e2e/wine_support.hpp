// What the end-to-end tests of the Windows agent under Wine share.
#pragma once
#include <filesystem>
#include <map>
#include <string>

namespace sb::e2e {

// The variable's value, "" if unset (SB_WINDOWS_AGENT_EXE, WINEPREFIX, ...).
std::string env_or_empty(const char* name);
// The wine program's path (the harness starts programs by path, not through PATH).
std::string wine_bin();
// What every Wine process of these tests gets: no debug output, no Mono or Gecko prompt.
std::map<std::string, std::string> wine_env();
// A Linux path as Wine's Windows programs see it: the root is drive Z:. Msiexec, for one, would
// read a leading '/' as an option.
std::string wine_path(const std::filesystem::path& path);

}  // namespace sb::e2e
