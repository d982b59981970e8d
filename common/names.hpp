#pragma once
#include <string>
#include <string_view>

namespace sb {
// Device, operator and group names: 1-63 characters, lowercase letters, digits, '-', '_' and '.',
// starting with a letter or digit. Never all digits (that would read as a session ID).
bool valid_name(std::string_view name);
// SSH user names the relay keeps for itself: "device" (tunnels) and "relay" (an operator's
// queries, e.g. `sessions`). They can never be enrolled device names, so they never clash.
inline constexpr std::string_view kDeviceUser = "device";
inline constexpr std::string_view kRelayQueryUser = "relay";
bool reserved_device_name(std::string_view name);
// A device name made from a hostname as an agent reports it: ASCII letters lowercased, any
// other character outside the name alphabet turned into '-', leading punctuation dropped, cut
// to 63. "" when that is still no valid device name (empty, all digits, reserved).
std::string device_name_from_hostname(std::string_view hostname);
// `base` with "-N" appended, base cut short so that the result stays within 63 characters.
std::string name_with_suffix(std::string_view base, int n);
// Free text from the network (hostnames, OS strings): bounded and printable ASCII/UTF-8 only.
bool valid_label(std::string_view text, std::size_t max_len = 256);
}  // namespace sb
