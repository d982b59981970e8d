// Times, durations and sizes as people write and read them (the admin CLI): points in time
// given as dates or relative to now, local-time display, and human durations and sizes.
// Durations in machine form ("1h30m") and ISO-8601 UTC stay in common/util.hpp.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sb {

// The forms parse_time_spec accepts, for help texts and error messages.
inline constexpr const char* kTimeSpecForms =
    "2026-11-01, 2026-11-01 14:30, 2026-11-01T14:30:00, 2026-11-01T14:30:00Z, "
    "2026-11-01T14:30:00+01:00, now, today, yesterday, or an age: 90s, 15m, 2h, 7d, 2w";

// A point in time: a date (local midnight), a date and time (local unless it ends with Z or an
// offset like +01:00, +0100 or -05), "now", "today" / "yesterday" (local midnight), or a
// duration (parse_duration, with w for weeks) meaning that long before now. Local times use
// the process's time zone (TZ). nullopt for anything else, including impossible dates.
std::optional<std::chrono::system_clock::time_point> parse_time_spec(
    std::string_view text, std::chrono::system_clock::time_point now);

// "2026-11-22 14:30:05" in the process's local time zone.
std::string format_local_time(std::chrono::system_clock::time_point t);

// "0.4 s", "12 s", "3 m 12 s", "2 h 05 m", "3 d 04 h". Negative durations read as 0.
std::string format_elapsed(std::chrono::milliseconds d);

// "512 B", "1.2 KiB", "3.4 MiB", "1.0 GiB", "2.5 TiB" (powers of 1024).
std::string format_bytes(std::uint64_t bytes);

}  // namespace sb
