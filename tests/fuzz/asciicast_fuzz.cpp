// A recording as `relay replay` reads it (asciicast v2: a header line, then events), and the
// header fields and times replay takes from it.
#include <cstdint>
#include <stdexcept>

#include "relay/audit/recording.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto file = sb::fuzz::write_scratch("recording.cast", sb::fuzz::as_text(data, size));
  try {
    sb::relay::rec::CastReader reader(file);
    const auto& header = reader.header();
    (void)header.value("timestamp", std::int64_t{0});
    (void)header.value("title", std::string("recording"));
    (void)header.at("width").get<int>();
    (void)header.at("height").get<int>();
    double last = 0;
    while (auto event = reader.next()) last = event->seconds;
    (void)static_cast<std::int64_t>(last * 1000);  // replay's duration in milliseconds
  } catch (const std::runtime_error&) {
    // Anything malformed is refused with a message naming the line: expected.
  }
  return 0;
}
