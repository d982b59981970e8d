#pragma once
#include <nlohmann/json.hpp>

namespace sb::agent {
// What this device reports about itself now (system_info_json.hpp has the members and limits).
nlohmann::json collect_device_info();
// What is known without reading anything (the agent's version): the info of a hello sent before
// any read ended.
nlohmann::json unread_device_info();
}  // namespace sb::agent
