#include "wine_support.hpp"

#include <cstdlib>

#include "harness.hpp"

namespace sb::e2e {

std::string env_or_empty(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

std::string wine_bin() {
  static const std::string path = [] {
    auto found = run({"/bin/sh", "-c", "command -v wine"}, {.timeout = 10s});
    found.out.erase(found.out.find_last_not_of("\r\n ") + 1);
    return found.exit_code == 0 ? found.out : std::string("/usr/bin/wine");
  }();
  return path;
}

std::map<std::string, std::string> wine_env() {
  return {{"WINEDEBUG", "-all"}, {"WINEDLLOVERRIDES", "mscoree,mshtml="}};
}

std::string wine_path(const std::filesystem::path& path) {
  std::string out = "Z:" + path.string();
  for (char& c : out)
    if (c == '/') c = '\\';
  return out;
}

}  // namespace sb::e2e
