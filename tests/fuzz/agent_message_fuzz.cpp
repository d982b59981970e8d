// The agent's side of the control channel: one line the relay sends (session, error, ended,
// ping, consent, consent-expired, notice), as the tunnel reads it.
#include "common/ssh/line_channel.hpp"
#include "device-agent/relay_message.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto message = sb::ssh::parse_control_message(sb::fuzz::as_text(data, size));
  if (!message) return 0;
  auto read = sb::agent::read_relay_message(*message);
  // The agent waits 2.5x this before it gives up on a silent relay: it must stay positive.
  if (read.check_interval.count() < 1 || read.check_interval > std::chrono::hours(24))
    __builtin_trap();
  (void)sb::agent::consent_request_id(*message);
  return 0;
}
