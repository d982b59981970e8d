// The bounds of a device's system info (the "info" object of its hello and of "info" updates).
// The agent trims what it collects to fit; the relay checks them again, since it cannot trust
// what comes off the network. The total stays well below the control channel's line limit
// (16 KiB, also on relays older than the system info) so that a hello always fits.
#pragma once
#include <cstddef>
#include <cstdint>

namespace sb::sysinfo {

inline constexpr std::size_t kMaxTotalBytes = 8 * 1024;  // the info object as compact JSON
inline constexpr std::size_t kMaxText = 200;             // one string, in bytes
inline constexpr std::size_t kMaxDisks = 24;
inline constexpr std::size_t kMaxAddresses = 24;
inline constexpr std::size_t kMaxUsers = 24;
inline constexpr std::uint64_t kMaxCores = 1 << 16;
// Byte counts and seconds: below 2^53, so that they survive every JSON reader exactly.
inline constexpr std::uint64_t kMaxNumber = (std::uint64_t{1} << 53) - 1;

}  // namespace sb::sysinfo
