#include "device-agent/device_info.hpp"

#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>
#include <string>

namespace sb::agent {

namespace {
std::string os_pretty_name() {
  std::ifstream in("/etc/os-release");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("PRETTY_NAME=", 0) != 0) continue;
    std::string value = line.substr(12);
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    return value.substr(0, 200);
  }
  return "unknown";
}
}  // namespace

nlohmann::json collect_device_info() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  utsname u{};
  uname(&u);
  return {{"hostname", std::string(host)},
          {"os", os_pretty_name()},
          {"kernel", std::string(u.sysname) + " " + u.release},
          {"arch", std::string(u.machine)},
          {"agent_version", SB_VERSION}};
}

}  // namespace sb::agent
