// The relay's check of a device's system info (the members beyond the five every hello has):
// it comes off the network and goes into the database and onto admins' terminals, so each
// member is checked against common/system_info_limits.hpp. Pure, so it can be fuzzed.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace sb::relay {

// The system info members of `info` (os_version, cpu, memory, uptime_seconds, disks,
// addresses, users), each checked; members that are absent stay absent (agents before the
// system info send none) and unknown ones are left out. nullopt and *error naming the first
// bad member (or the size) otherwise.
std::optional<nlohmann::json> check_system_info(const nlohmann::json& info, std::string* error);

}  // namespace sb::relay
