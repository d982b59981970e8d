// The portable half of the system info: the platform's facts as the "info" object the relay
// stores, within the limits of common/system_info_limits.hpp, and the rule that decides when a
// new reading is worth sending.
//
// {"hostname","os","os_version","kernel","arch","agent_version",
//  "cpu":{"model","cores","threads"}, "memory":{"total_bytes","available_bytes"},
//  "uptime_seconds", "disks":[{"mount","fs","size_bytes","free_bytes"}],
//  "addresses":[{"interface","address","prefix"}], "users":[{"name","terminal","from"}]}
// The first five are the ones every relay reads; older relays ignore the rest.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "device-agent/platform/system_info.hpp"

namespace sb::agent {

// Text the relay accepts: control characters (C0, DEL, C1) dropped, invalid UTF-8 replaced by
// '?', cut to max_bytes on a character boundary.
std::string clean_text(std::string_view text, std::size_t max_bytes);

// Lists sorted (so that two readings compare equal when nothing changed), cut to their limits,
// then the longest list shortened until the whole fits kMaxTotalBytes.
nlohmann::json system_info_json(const SystemInfo& facts, std::string_view agent_version);

// Whether `now` is worth sending after `sent`. Uptime never is (it always changes and the relay
// derives the boot time from the last report); available memory only when it moved by a fifth
// of the total or more; a disk's free space only when it moved by a twentieth of the disk or
// more (a disk filling up is reported in steps of 5 %). Any other difference is: hostname, OS,
// kernel, agent version, CPU, memory size, a disk mounted or unmounted, an address, a login.
bool info_changed(const nlohmann::json& sent, const nlohmann::json& now);

}  // namespace sb::agent
