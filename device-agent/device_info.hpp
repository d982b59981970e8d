#pragma once
#include <nlohmann/json.hpp>

namespace sb::agent {
// What this device reports about itself now (system_info_json.hpp has the members and limits).
nlohmann::json collect_device_info();
}  // namespace sb::agent
