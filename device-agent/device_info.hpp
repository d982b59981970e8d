#pragma once
#include <nlohmann/json.hpp>

namespace sb::agent {
// hostname, os (PRETTY_NAME of /etc/os-release), kernel, arch, agent_version.
nlohmann::json collect_device_info();
}  // namespace sb::agent
