// Time in one place: the time type that crosses the store's API, ISO-8601 UTC as stored and
// sent on the wire, points in time as people type them (--since), local display, and durations
// in machine ("1h30m") and human ("3 m 12 s") form.
#pragma once
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace sb {

// A point in time, UTC, to the millisecond: what the store keeps and the audit shows.
using Time = std::chrono::sys_time<std::chrono::milliseconds>;

// The current time, cut to Time's precision.
Time utc_now();

// --- ISO-8601 UTC: "2026-11-22T03:23:27.123Z" (millisecond precision, sorts as text) ---
std::string iso8601_utc(Time t);
std::string iso8601_utc(std::chrono::system_clock::time_point t);
std::string now_iso8601();
// Exactly the two forms "2026-11-22T03:23:27Z" and "2026-11-22T03:23:27.123Z"; nullopt for
// anything else, including impossible dates.
std::optional<std::chrono::system_clock::time_point> parse_iso8601_utc(std::string_view text);
std::optional<Time> parse_time(std::string_view iso8601);

// --- Durations in machine form ---
// "500ms", "30s", "2m", "1h", "90d", "2w", "1h30m". nullopt if malformed, zero or absurd (> 10
// years).
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);
// "450ms", "12s", "3m05s", "2h10m", "4d3h".
std::string format_duration(std::chrono::milliseconds d);

// --- For people (the admin CLI) ---
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

}  // namespace sb
