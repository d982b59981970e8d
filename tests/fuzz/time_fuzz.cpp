// Durations ("1h30m"), ISO-8601 times and the admin CLI's time specs ("2026-11-01 14:30",
// "yesterday", "2w").
#include "common/time.hpp"
#include "common/util.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace std::chrono;
  auto text = sb::fuzz::as_text(data, size);
  if (auto d = sb::parse_duration(text)) {
    if (d->count() <= 0) __builtin_trap();
    (void)sb::format_duration(*d);
    (void)sb::format_elapsed(*d);
  }
  if (auto t = sb::parse_iso8601_utc(text)) (void)sb::iso8601_utc(*t);
  const auto now = system_clock::time_point(seconds(1'800'000'000));
  if (auto t = sb::parse_time_spec(text, now)) (void)sb::format_local_time(*t);
  return 0;
}
