// The time module (common/time.hpp): the Time type, ISO-8601 UTC, durations, the --since and
// --until forms and local display. Tests of local time set TZ explicitly.
#include "common/time.hpp"

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

TEST(Time, IsUtcToTheMillisecond) {
  const Time t = utc_now();
  EXPECT_EQ(t, std::chrono::floor<std::chrono::milliseconds>(t));
  EXPECT_LT(std::chrono::abs(std::chrono::system_clock::now() - t), 5s);
}

TEST(Time, FormatsAndParsesBack) {
  const Time t{std::chrono::sys_days(std::chrono::year(2026) / 11 / 22) + 3h + 23min + 27s + 123ms};
  EXPECT_EQ(iso8601_utc(t), "2026-11-22T03:23:27.123Z");
  EXPECT_EQ(parse_time("2026-11-22T03:23:27.123Z"), t);
  EXPECT_EQ(parse_time("2026-11-22T03:23:27Z"), t - 123ms);
  EXPECT_EQ(iso8601_utc(Time{}), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(iso8601_utc(Time{} - 1ms), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(iso8601_utc(Time{} + 5ms), "1970-01-01T00:00:00.005Z");
  EXPECT_EQ(parse_time("2026-11-22"), std::nullopt);
  EXPECT_EQ(parse_time(""), std::nullopt);
}

TEST(Time, TextOrderIsTimeOrder) {
  const Time a = *parse_time("2026-01-31T23:59:59.999Z");
  const Time b = a + 1ms;
  EXPECT_LT(iso8601_utc(a), iso8601_utc(b));
  EXPECT_EQ(iso8601_utc(b), "2026-02-01T00:00:00.000Z");
}

TEST(Duration, ParsesEachUnit) {
  EXPECT_EQ(parse_duration("500ms"), 500ms);
  EXPECT_EQ(parse_duration("30s"), 30s);
  EXPECT_EQ(parse_duration("2m"), 2min);
  EXPECT_EQ(parse_duration("1h"), 1h);
  EXPECT_EQ(parse_duration("90d"), 90 * 24h);
}

TEST(Duration, ParsesCombinations) {
  EXPECT_EQ(parse_duration("1h30m"), 90min);
  EXPECT_EQ(parse_duration("1d2h3m4s5ms"), 24h + 2h + 3min + 4s + 5ms);
  EXPECT_EQ(parse_duration("3m05s"), 185s);
  EXPECT_EQ(parse_duration("0h1m"), 1min);
}

TEST(Duration, RejectsMalformed) {
  for (const char* bad : {"", "10", "5x", "0s", "0h0m", "-1s", "+1s", "1.5h", " 1s", "1s ", "1 s",
                          "h", "1hm", "1m1h", "1s1s", "1ms1s", "1S", "1sec"}) {
    EXPECT_EQ(parse_duration(bad), std::nullopt) << '"' << bad << '"';
  }
}

TEST(Duration, RejectsOverflowAndAbsurd) {
  EXPECT_EQ(parse_duration("3650d"), 3650 * 24h);
  EXPECT_EQ(parse_duration("3653d"), std::nullopt);  // more than 10 years
  EXPECT_EQ(parse_duration("3652d23h59m59s999ms"), std::nullopt);
  EXPECT_EQ(parse_duration("99999999999999999999999d"), std::nullopt);
  EXPECT_EQ(parse_duration("18446744073709551617ms"), std::nullopt);
  EXPECT_EQ(parse_duration("213503982334d"), std::nullopt);
  EXPECT_EQ(parse_duration(std::string(1000, '1') + "s"), std::nullopt);
}

TEST(Duration, Formats) {
  EXPECT_EQ(format_duration(0ms), "0ms");
  EXPECT_EQ(format_duration(450ms), "450ms");
  EXPECT_EQ(format_duration(12s + 345ms), "12s");
  EXPECT_EQ(format_duration(3min + 5s), "3m05s");
  EXPECT_EQ(format_duration(3min), "3m");
  EXPECT_EQ(format_duration(2h + 10min), "2h10m");
  EXPECT_EQ(format_duration(2h + 5min), "2h05m");
  EXPECT_EQ(format_duration(4 * 24h + 3h), "4d3h");
  EXPECT_EQ(format_duration(-1500ms), "-1s");
  EXPECT_FALSE(format_duration(std::chrono::milliseconds::min()).empty());
}

TEST(Duration, FormattedDurationsParseBack) {
  for (auto d : {450ms, 12000ms, 185000ms, std::chrono::milliseconds(7800000)}) {
    EXPECT_EQ(parse_duration(format_duration(d)), d);
  }
}

TEST(Iso8601, RoundTrips) {
  const auto t =
      std::chrono::sys_days(std::chrono::year(2026) / 11 / 22) + 3h + 23min + 27s + 123ms;
  const std::string text = iso8601_utc(t);
  EXPECT_EQ(text, "2026-11-22T03:23:27.123Z");
  EXPECT_EQ(parse_iso8601_utc(text), t);
  EXPECT_EQ(parse_iso8601_utc("2026-11-22T03:23:27Z"), t - 123ms);
  EXPECT_EQ(iso8601_utc(std::chrono::system_clock::time_point{}), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(iso8601_utc(std::chrono::system_clock::time_point{} - 1ms), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(parse_iso8601_utc("2024-02-29T00:00:00Z").has_value(), true);
}

TEST(Iso8601, NowIsParsable) {
  const auto now = std::chrono::system_clock::now();
  const auto parsed = parse_iso8601_utc(now_iso8601());
  ASSERT_TRUE(parsed.has_value());
  EXPECT_LT(std::chrono::abs(*parsed - now), 5s);
}

TEST(Iso8601, RejectsOtherForms) {
  for (const char* bad :
       {"", "2026-11-22", "2026-11-22T03:23:27", "2026-11-22T03:23:27+00:00",
        "2026-11-22 03:23:27Z", "2026-11-22t03:23:27z", "2026-13-01T00:00:00Z",
        "2026-02-30T00:00:00Z", "2023-02-29T00:00:00Z", "2026-11-22T24:00:00Z",
        "2026-11-22T03:60:00Z", "2026-11-22T03:23:60Z", "2026-11-22T03:23:27.1Z",
        "2026-11-22T03:23:27.1234Z", "2026-11-22T03:23:27.12aZ", "+026-11-22T03:23:27Z",
        "2026-1-22T03:23:27.000Z", "9999-12-31T23:59:59Z", "2026-11-22T03:23:27.123Zx"}) {
    EXPECT_EQ(parse_iso8601_utc(bad), std::nullopt) << bad;
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
