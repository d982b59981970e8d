// Which environment variables an operator may set on a device's session channel. One rule for
// both ends: the relay refuses the request before it reaches the device, and the agent refuses
// it again (it may face a relay of another version), so the two must never disagree.
#pragma once
#include <cstddef>
#include <string_view>

namespace sb {

inline constexpr std::size_t kMaxEnvName = 64;
inline constexpr std::size_t kMaxEnvValue = 1024;
inline constexpr std::size_t kMaxEnvVars = 32;  // per channel

// LANG, TERM, COLORTERM, TZ and LC_<UPPERCASE or _> (LC_ALL, LC_CTYPE, ...): locale and display
// only, nothing that changes what runs (PATH, LD_*, shell start-up files).
bool env_name_allowed(std::string_view name);
// At most kMaxEnvValue bytes of printable text (no control characters that drive a terminal).
bool env_value_allowed(std::string_view value);

}  // namespace sb
