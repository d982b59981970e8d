// The relay's side of the control channel: one line a device sends (hello, ping,
// consent-answer, anything else), as the tunnel reads it.
#include "common/names.hpp"
#include "common/ssh/line_channel.hpp"
#include "relay/device/device_messages.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto message = sb::ssh::parse_control_message(sb::fuzz::as_text(data, size));
  if (!message) return 0;
  const std::string type = (*message)["type"].get<std::string>();
  if (type == "hello") {
    auto result = sb::relay::parse_hello(*message);
    if (result.hello.has_value() == !result.error.empty()) __builtin_trap();
    if (result.hello && !result.hello->name.empty() && !sb::valid_name(result.hello->name))
      __builtin_trap();
  } else if (type == "consent-answer") {
    (void)sb::relay::parse_consent_answer(*message);
  }
  return 0;
}
