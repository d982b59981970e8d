// Times and durations for people: --since / --until forms, local display (common/time.hpp).
#include <time.h>
#ifdef _WIN32
// The C runtime's names for the POSIX calls used here.
#define timegm _mkgmtime
#define localtime_r(secs, tm) (localtime_s((tm), (secs)) == 0 ? (tm) : nullptr)
#endif

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <ctime>

#include "common/time.hpp"

namespace sb {

namespace {

using std::chrono::system_clock;

struct CivilTime {
  int year = 0, mon = 0, day = 0, hour = 0, min = 0, sec = 0, msec = 0;
};

// Reads exactly len digits at text[pos...] and advances pos.
bool digits(std::string_view text, std::size_t& pos, std::size_t len, int& out) {
  if (pos + len > text.size()) return false;
  out = 0;
  for (std::size_t i = pos; i < pos + len; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    out = out * 10 + (text[i] - '0');
  }
  pos += len;
  return true;
}

bool expect(std::string_view text, std::size_t& pos, char c) {
  if (pos >= text.size() || text[pos] != c) return false;
  ++pos;
  return true;
}

// "YYYY-MM-DD" then optionally [T or space]"HH:MM"[":SS"[".fff"]]. Sets has_time.
bool read_civil(std::string_view text, std::size_t& pos, CivilTime& t, bool& has_time) {
  if (!digits(text, pos, 4, t.year) || !expect(text, pos, '-') || !digits(text, pos, 2, t.mon) ||
      !expect(text, pos, '-') || !digits(text, pos, 2, t.day)) {
    return false;
  }
  has_time = pos < text.size() && (text[pos] == 'T' || text[pos] == ' ');
  if (!has_time) return true;
  ++pos;
  if (!digits(text, pos, 2, t.hour) || !expect(text, pos, ':') || !digits(text, pos, 2, t.min)) {
    return false;
  }
  if (pos < text.size() && text[pos] == ':') {
    ++pos;
    if (!digits(text, pos, 2, t.sec)) return false;
    if (pos < text.size() && text[pos] == '.') {
      ++pos;
      if (!digits(text, pos, 3, t.msec)) return false;
    }
  }
  return true;
}

// "Z" -> 0; "+HH:MM", "+HHMM", "+HH" (or -) -> seconds east of UTC. nullopt if malformed.
std::optional<long> read_offset(std::string_view zone) {
  if (zone == "Z") return 0;
  if (zone.empty() || (zone[0] != '+' && zone[0] != '-')) return std::nullopt;
  std::size_t pos = 1;
  int hours = 0, minutes = 0;
  if (!digits(zone, pos, 2, hours)) return std::nullopt;
  if (pos < zone.size()) {
    if (zone[pos] == ':') ++pos;
    if (!digits(zone, pos, 2, minutes) || pos != zone.size()) return std::nullopt;
  }
  if (hours > 23 || minutes > 59) return std::nullopt;
  const long seconds = hours * 3600L + minutes * 60L;
  return zone[0] == '-' ? -seconds : seconds;
}

std::tm to_tm(const CivilTime& t) {
  std::tm tm{};
  tm.tm_year = t.year - 1900;
  tm.tm_mon = t.mon - 1;
  tm.tm_mday = t.day;
  tm.tm_hour = t.hour;
  tm.tm_min = t.min;
  tm.tm_sec = t.sec;
  tm.tm_isdst = -1;
  return tm;
}

// A real calendar date and clock time ("Feb 30" and "25:00" are not): timegm normalises them.
bool valid(const CivilTime& t) {
  if (t.year < 1970 || t.year > 2200) return false;
  std::tm tm = to_tm(t);
  timegm(&tm);
  return tm.tm_year == t.year - 1900 && tm.tm_mon == t.mon - 1 && tm.tm_mday == t.day &&
         tm.tm_hour == t.hour && tm.tm_min == t.min && tm.tm_sec == t.sec;
}

system_clock::time_point from_seconds(time_t secs, int msec) {
  return system_clock::from_time_t(secs) + std::chrono::milliseconds(msec);
}

// Local midnight of the day `t` falls on, `days_back` days earlier (mktime keeps it midnight
// across a DST change).
system_clock::time_point local_midnight(system_clock::time_point t, int days_back) {
  const time_t secs = system_clock::to_time_t(t);
  std::tm tm{};
  localtime_r(&secs, &tm);
  tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
  tm.tm_mday -= days_back;
  tm.tm_isdst = -1;
  return system_clock::from_time_t(mktime(&tm));
}

std::optional<system_clock::time_point> parse_absolute(std::string_view text) {
  CivilTime t;
  bool has_time = false;
  std::size_t pos = 0;
  if (!read_civil(text, pos, t, has_time) || !valid(t)) return std::nullopt;
  const std::string_view zone = text.substr(pos);
  if (zone.empty()) {
    std::tm tm = to_tm(t);
    const time_t secs = mktime(&tm);  // local time, DST decided by the zone's rules
    if (secs == static_cast<time_t>(-1)) return std::nullopt;
    return from_seconds(secs, t.msec);
  }
  if (!has_time) return std::nullopt;  // a zone needs a time of day
  const auto offset = read_offset(zone);
  if (!offset) return std::nullopt;
  std::tm tm = to_tm(t);
  return from_seconds(timegm(&tm) - *offset, t.msec);
}

}  // namespace

std::optional<system_clock::time_point> parse_time_spec(std::string_view text,
                                                        system_clock::time_point now) {
  constexpr std::size_t kMaxInput = 64;
  if (text.empty() || text.size() > kMaxInput) return std::nullopt;
  if (text == "now") return now;
  if (text == "today") return local_midnight(now, 0);
  if (text == "yesterday") return local_midnight(now, 1);
  if (text.size() >= 10 && text[4] == '-') return parse_absolute(text);
  if (auto age = parse_duration(text)) return now - *age;
  return std::nullopt;
}

std::string format_local_time(system_clock::time_point t) {
  const time_t secs = system_clock::to_time_t(t);
  std::tm tm{};
  if (localtime_r(&secs, &tm) == nullptr) return "invalid-time";
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

std::string format_elapsed(std::chrono::milliseconds d) {
  const std::int64_t ms = std::max<std::int64_t>(d.count(), 0);
  char buf[48];
  if (ms < 10'000) {
    std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(ms / 100) / 10.0);
  } else if (ms < 60'000) {
    std::snprintf(buf, sizeof buf, "%lld s", static_cast<long long>(ms / 1000));
  } else if (ms < 3'600'000) {
    std::snprintf(buf, sizeof buf, "%lld m %02lld s", static_cast<long long>(ms / 60'000),
                  static_cast<long long>(ms / 1000 % 60));
  } else if (ms < 86'400'000) {
    std::snprintf(buf, sizeof buf, "%lld h %02lld m", static_cast<long long>(ms / 3'600'000),
                  static_cast<long long>(ms / 60'000 % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%lld d %02lld h", static_cast<long long>(ms / 86'400'000),
                  static_cast<long long>(ms / 3'600'000 % 24));
  }
  return buf;
}

}  // namespace sb
