// How `relay device show` and `relay session show` print a device's system info (the members
// of device-agent/system_info_json.hpp as the relay stored them). Read defensively: rows
// written by older relays or agents lack members, and nothing here trusts a member's type.
#pragma once
#include <nlohmann/json.hpp>
#include <ostream>

namespace sb::relay {

// A "System" section, or nothing when the info has no system info (agents before it).
// with_identity: also hostname, OS, kernel and agent version (the device story has them above).
void print_system_info(const nlohmann::json& info, std::ostream& out, bool with_identity);

}  // namespace sb::relay
