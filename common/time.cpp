// Durations in machine form ("1h30m") and ISO-8601 UTC timestamps (common/time.hpp).
#include "common/time.hpp"

#include <fmt/chrono.h>
#include <time.h>
#ifdef _WIN32
// The C runtime's names for the POSIX calls used here.
#define timegm _mkgmtime
#define localtime_r(secs, tm) (localtime_s((tm), (secs)) == 0 ? (tm) : nullptr)
#endif

#include <array>
#include <cstdint>
#include <cstdio>

namespace sb {

namespace {

using std::chrono::milliseconds;

constexpr std::int64_t kMsPerSecond = 1000;
constexpr std::int64_t kMsPerMinute = 60 * kMsPerSecond;
constexpr std::int64_t kMsPerHour = 60 * kMsPerMinute;
constexpr std::int64_t kMsPerDay = 24 * kMsPerHour;
// Anything longer is a typo (or an attempt to overflow later arithmetic), not a real setting.
constexpr std::uint64_t kMaxDurationMs =
    std::chrono::duration_cast<milliseconds>(std::chrono::years(10)).count();

struct Unit {
  std::string_view name;
  std::uint64_t ms;
  int rank;  // a combined duration must list units by strictly decreasing rank: "1h30m"
};
// "ms" is tried before "m" so that "5ms" is not read as "5m" followed by a stray "s".
constexpr std::array<Unit, 6> kUnits{{{"w", 7 * kMsPerDay, 5},
                                      {"d", kMsPerDay, 4},
                                      {"h", kMsPerHour, 3},
                                      {"ms", 1, 0},
                                      {"m", kMsPerMinute, 2},
                                      {"s", kMsPerSecond, 1}}};

// Reads digits at text[i...]; nullopt if there are none or the value alone is already too big.
std::optional<std::uint64_t> read_number(std::string_view text, std::size_t& i) {
  const std::size_t start = i;
  std::uint64_t value = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    value = value * 10 + static_cast<std::uint64_t>(text[i] - '0');
    if (value > kMaxDurationMs) return std::nullopt;
    ++i;
  }
  if (i == start) return std::nullopt;
  return value;
}

const Unit* read_unit(std::string_view text, std::size_t& i) {
  for (const Unit& u : kUnits) {
    if (text.substr(i).starts_with(u.name)) {
      i += u.name.size();
      return &u;
    }
  }
  return nullptr;
}

}  // namespace

std::optional<milliseconds> parse_duration(std::string_view text) {
  constexpr std::size_t kMaxInput = 64;
  if (text.empty() || text.size() > kMaxInput) return std::nullopt;
  std::uint64_t total = 0;
  int prev_rank = 6;
  std::size_t i = 0;
  while (i < text.size()) {
    auto value = read_number(text, i);
    if (!value) return std::nullopt;
    const Unit* unit = read_unit(text, i);  // a bare number has no unit: rejected here
    if (unit == nullptr || unit->rank >= prev_rank) return std::nullopt;
    prev_rank = unit->rank;
    if (*value > (kMaxDurationMs - total) / unit->ms) return std::nullopt;
    total += *value * unit->ms;
  }
  if (total == 0) return std::nullopt;
  return milliseconds(static_cast<std::int64_t>(total));
}

namespace {

// Leading unit plus the next one down, the second omitted when zero: "3m05s", "3m", "4d3h".
std::string two_units(std::uint64_t ms, std::uint64_t big, const char* big_name,
                      std::uint64_t small, const char* small_name, bool pad) {
  const std::uint64_t hi = ms / big;
  const std::uint64_t lo = (ms % big) / small;
  char buf[64];
  if (lo == 0) {
    std::snprintf(buf, sizeof buf, "%llu%s", static_cast<unsigned long long>(hi), big_name);
  } else {
    std::snprintf(buf, sizeof buf, pad ? "%llu%s%02llu%s" : "%llu%s%llu%s",
                  static_cast<unsigned long long>(hi), big_name,
                  static_cast<unsigned long long>(lo), small_name);
  }
  return buf;
}

std::string format_magnitude(std::uint64_t ms) {
  if (ms < kMsPerSecond) return std::to_string(ms) + "ms";
  if (ms < kMsPerMinute) return std::to_string(ms / kMsPerSecond) + "s";
  if (ms < kMsPerHour) return two_units(ms, kMsPerMinute, "m", kMsPerSecond, "s", true);
  if (ms < kMsPerDay) return two_units(ms, kMsPerHour, "h", kMsPerMinute, "m", true);
  return two_units(ms, kMsPerDay, "d", kMsPerHour, "h", false);
}

}  // namespace

std::string format_duration(milliseconds d) {
  const std::int64_t c = d.count();
  if (c >= 0) return format_magnitude(static_cast<std::uint64_t>(c));
  // Negate in unsigned arithmetic so that milliseconds::min() does not overflow.
  return "-" + format_magnitude(0 - static_cast<std::uint64_t>(c));
}

Time utc_now() {
  return std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

std::string iso8601_utc(Time t) {
  using namespace std::chrono;
  // floor, not a cast: instants before 1970 still get a millisecond field in [0, 999].
  const auto secs = floor<seconds>(t);
  // Through gmtime: fmt 9 formats a system_clock time_point in the local time zone.
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03}Z", fmt::gmtime(system_clock::to_time_t(secs)),
                     (t - secs).count());
}

std::string iso8601_utc(std::chrono::system_clock::time_point t) {
  return iso8601_utc(std::chrono::floor<std::chrono::milliseconds>(t));
}

std::string now_iso8601() {
  return iso8601_utc(utc_now());
}

namespace {

// Fixed-width decimal field; false unless every character is a digit.
bool read_field(std::string_view text, std::size_t pos, std::size_t len, int& out) {
  out = 0;
  for (std::size_t i = pos; i < pos + len; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    out = out * 10 + (text[i] - '0');
  }
  return true;
}

bool has_separators(std::string_view t) {
  return t[4] == '-' && t[7] == '-' && t[10] == 'T' && t[13] == ':' && t[16] == ':' &&
         t.back() == 'Z' && (t.size() == 20 || t[19] == '.');
}

}  // namespace

std::optional<std::chrono::system_clock::time_point> parse_iso8601_utc(std::string_view text) {
  using namespace std::chrono;
  if ((text.size() != 20 && text.size() != 24) || !has_separators(text)) return std::nullopt;
  int year, mon, day, hour, min, sec, frac = 0;
  if (!read_field(text, 0, 4, year) || !read_field(text, 5, 2, mon) ||
      !read_field(text, 8, 2, day) || !read_field(text, 11, 2, hour) ||
      !read_field(text, 14, 2, min) || !read_field(text, 17, 2, sec) ||
      (text.size() == 24 && !read_field(text, 20, 3, frac))) {
    return std::nullopt;
  }
  struct tm tm {};
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  const time_t secs = timegm(&tm);
  // timegm normalises "Feb 30" or "25:00" into another date; a changed field means invalid.
  if (tm.tm_year != year - 1900 || tm.tm_mon != mon - 1 || tm.tm_mday != day ||
      tm.tm_hour != hour || tm.tm_min != min || tm.tm_sec != sec) {
    return std::nullopt;
  }
  // system_clock counts nanoseconds in 64 bits: roughly years 1678..2262.
  const auto limit = duration_cast<seconds>(system_clock::duration::max()).count() - 1;
  if (secs > limit || secs < -limit) return std::nullopt;
  return system_clock::time_point(duration_cast<system_clock::duration>(seconds(secs)) +
                                  duration_cast<system_clock::duration>(milliseconds(frac)));
}

std::optional<Time> parse_time(std::string_view iso8601) {
  const auto t = parse_iso8601_utc(iso8601);
  if (!t) return std::nullopt;
  return std::chrono::floor<std::chrono::milliseconds>(*t);
}

}  // namespace sb
