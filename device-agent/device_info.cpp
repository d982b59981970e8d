#include "device-agent/device_info.hpp"

#include "device-agent/platform/system_info.hpp"
#include "device-agent/system_info_json.hpp"

namespace sb::agent {

nlohmann::json collect_device_info() {
  return system_info_json(collect_system_info(), SB_VERSION);
}

nlohmann::json unread_device_info() {
  return system_info_json(SystemInfo{}, SB_VERSION);
}

}  // namespace sb::agent
