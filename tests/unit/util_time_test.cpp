// Times, durations and sizes as admins type and read them (common/util_time.hpp): --since and
// --until forms, local time display, human durations and sizes. Each test sets TZ explicitly.
#include "common/util_time.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <time.h>

#include <string>

#include "common/util.hpp"

namespace sb {
namespace {

using namespace std::chrono_literals;
using std::chrono::system_clock;

// Sets TZ for one test and restores it afterwards.
class ScopedTz {
 public:
  explicit ScopedTz(const char* tz) {
    const char* old = ::getenv("TZ");
    had_ = old != nullptr;
    if (had_) old_ = old;
    ::setenv("TZ", tz, 1);
    ::tzset();
  }
  ~ScopedTz() {
    if (had_) {
      ::setenv("TZ", old_.c_str(), 1);
    } else {
      ::unsetenv("TZ");
    }
    ::tzset();
  }

 private:
  bool had_ = false;
  std::string old_;
};

system_clock::time_point utc(const char* iso) {
  auto t = parse_iso8601_utc(iso);
  EXPECT_TRUE(t) << iso;
  return t.value_or(system_clock::time_point{});
}

std::string spec_utc(const char* text, system_clock::time_point now) {
  auto t = parse_time_spec(text, now);
  return t ? iso8601_utc(*t) : "<rejected>";
}

const system_clock::time_point kNow = utc("2026-11-22T10:15:30.250Z");

TEST(TimeSpec, DatesWithoutZoneAreLocal) {
  ScopedTz tz("Europe/Berlin");  // UTC+1 in November, UTC+2 in summer
  EXPECT_EQ(spec_utc("2026-11-01", kNow), "2026-10-31T23:00:00.000Z");
  EXPECT_EQ(spec_utc("2026-11-01 14:30", kNow), "2026-11-01T13:30:00.000Z");
  EXPECT_EQ(spec_utc("2026-11-01T14:30", kNow), "2026-11-01T13:30:00.000Z");
  EXPECT_EQ(spec_utc("2026-11-01T14:30:05", kNow), "2026-11-01T13:30:05.000Z");
  EXPECT_EQ(spec_utc("2026-07-01 12:00", kNow), "2026-07-01T10:00:00.000Z");  // summer time
}

TEST(TimeSpec, ZoneSuffixesAreHonoured) {
  ScopedTz tz("America/New_York");
  EXPECT_EQ(spec_utc("2026-11-01T14:30:00Z", kNow), "2026-11-01T14:30:00.000Z");
  EXPECT_EQ(spec_utc("2026-11-01T14:30:00.123Z", kNow), "2026-11-01T14:30:00.123Z");
  EXPECT_EQ(spec_utc("2026-11-01T14:30:00+01:00", kNow), "2026-11-01T13:30:00.000Z");
  EXPECT_EQ(spec_utc("2026-11-01T14:30:00+0530", kNow), "2026-11-01T09:00:00.000Z");
  EXPECT_EQ(spec_utc("2026-11-01T14:30-05", kNow), "2026-11-01T19:30:00.000Z");
  EXPECT_EQ(spec_utc("2026-11-01 14:30Z", kNow), "2026-11-01T14:30:00.000Z");
}

TEST(TimeSpec, RelativeAgesCountBackFromNow) {
  EXPECT_EQ(spec_utc("90s", kNow), "2026-11-22T10:14:00.250Z");
  EXPECT_EQ(spec_utc("15m", kNow), "2026-11-22T10:00:30.250Z");
  EXPECT_EQ(spec_utc("2h", kNow), "2026-11-22T08:15:30.250Z");
  EXPECT_EQ(spec_utc("7d", kNow), "2026-11-15T10:15:30.250Z");
  EXPECT_EQ(spec_utc("2w", kNow), "2026-11-08T10:15:30.250Z");
  EXPECT_EQ(spec_utc("1d12h", kNow), "2026-11-20T22:15:30.250Z");
  EXPECT_EQ(spec_utc("now", kNow), "2026-11-22T10:15:30.250Z");
}

TEST(TimeSpec, TodayAndYesterdayAreLocalMidnights) {
  {
    ScopedTz tz("Asia/Tokyo");  // UTC+9: 10:15 UTC is 19:15 on the 22nd
    EXPECT_EQ(spec_utc("today", kNow), "2026-11-21T15:00:00.000Z");
    EXPECT_EQ(spec_utc("yesterday", kNow), "2026-11-20T15:00:00.000Z");
  }
  {
    ScopedTz tz("UTC");
    EXPECT_EQ(spec_utc("today", kNow), "2026-11-22T00:00:00.000Z");
  }
  {
    // The day after the switch to summer time is 23 hours long: yesterday is still midnight.
    ScopedTz tz("Europe/Berlin");
    const auto after_switch = utc("2026-03-29T12:00:00Z");
    EXPECT_EQ(spec_utc("today", after_switch), "2026-03-28T23:00:00.000Z");
    EXPECT_EQ(spec_utc("yesterday", after_switch), "2026-03-27T23:00:00.000Z");
  }
}

TEST(TimeSpec, RejectsMalformedAndImpossible) {
  ScopedTz tz("UTC");
  for (const char* bad : {"",
                          "2026",
                          "2026-11",
                          "2026-13-01",
                          "2026-02-30",
                          "2026-11-01 25:00",
                          "2026-11-01 14:60",
                          "2026-11-01T14",
                          "2026-11-01T14:30:00+24:00",
                          "2026-11-01Z",
                          "2026-11-01 14:30 ",
                          "2026/11/01",
                          "26-11-01",
                          "tomorrow",
                          "Now",
                          "2h ago",
                          "-2h",
                          "0s",
                          "1.5h",
                          "1y",
                          "2026-11-01T14:30:00+01:00:00",
                          "1969-12-31"}) {
    EXPECT_EQ(parse_time_spec(bad, kNow), std::nullopt) << '"' << bad << '"';
  }
  EXPECT_EQ(parse_time_spec(std::string(100, '1') + "s", kNow), std::nullopt);
}

TEST(Duration, WeeksAreAUnit) {
  EXPECT_EQ(parse_duration("2w"), 14 * 24h);
  EXPECT_EQ(parse_duration("1w2d"), 9 * 24h);
  EXPECT_EQ(parse_duration("13w"), 91 * 24h);
  EXPECT_EQ(parse_duration("1d1w"), std::nullopt);  // units by decreasing size
  EXPECT_EQ(parse_duration("0w"), std::nullopt);
  EXPECT_EQ(parse_duration("600w"), std::nullopt);  // more than 10 years
}

TEST(LocalTime, FollowsTheProcessTimeZone) {
  const auto t = utc("2026-11-22T03:04:05.999Z");
  {
    ScopedTz tz("UTC");
    EXPECT_EQ(format_local_time(t), "2026-11-22 03:04:05");
  }
  {
    ScopedTz tz("America/Los_Angeles");
    EXPECT_EQ(format_local_time(t), "2026-11-21 19:04:05");
  }
}

TEST(Elapsed, HumanUnits) {
  EXPECT_EQ(format_elapsed(0ms), "0.0 s");
  EXPECT_EQ(format_elapsed(449ms), "0.4 s");
  EXPECT_EQ(format_elapsed(9999ms), "9.9 s");
  EXPECT_EQ(format_elapsed(10s), "10 s");
  EXPECT_EQ(format_elapsed(59999ms), "59 s");
  EXPECT_EQ(format_elapsed(60s), "1 m 00 s");
  EXPECT_EQ(format_elapsed(3min + 12s), "3 m 12 s");
  EXPECT_EQ(format_elapsed(2h + 5min + 59s), "2 h 05 m");
  EXPECT_EQ(format_elapsed(3 * 24h + 4h), "3 d 04 h");
  EXPECT_EQ(format_elapsed(-5s), "0.0 s");
}

TEST(Bytes, HumanSizes) {
  EXPECT_EQ(format_bytes(0), "0 B");
  EXPECT_EQ(format_bytes(1023), "1023 B");
  EXPECT_EQ(format_bytes(1024), "1.0 KiB");
  EXPECT_EQ(format_bytes(1229), "1.2 KiB");
  EXPECT_EQ(format_bytes(3565), "3.5 KiB");
  EXPECT_EQ(format_bytes(1024 * 1024 - 1), "1.0 MiB");  // not "1024.0 KiB"
  EXPECT_EQ(format_bytes(5ull * 1024 * 1024 + 512 * 1024), "5.5 MiB");
  EXPECT_EQ(format_bytes(1ull << 30), "1.0 GiB");
  EXPECT_EQ(format_bytes(5ull << 40), "5.0 TiB");
  EXPECT_EQ(format_bytes(~0ull), "16384.0 PiB");
}

}  // namespace
}  // namespace sb
