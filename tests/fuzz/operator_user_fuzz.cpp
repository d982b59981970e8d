// The SSH user name an operator connects with: "482913075", "482 913 075+ro", "web-01+own".
#include "common/util.hpp"
#include "relay/router/operator_target.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto text = sb::fuzz::as_text(data, size);
  if (auto target = sb::relay::parse_operator_user(text)) {
    // Exactly one of the two is set, and what is shown parses back to the same target.
    if (target->session_id.empty() == target->device_name.empty()) __builtin_trap();
    auto again = sb::relay::parse_operator_user(target->display());
    if (!again || again->session_id != target->session_id ||
        again->device_name != target->device_name || again->mode != target->mode)
      __builtin_trap();
  }
  if (auto id = sb::parse_session_id(text)) {
    if (sb::parse_session_id(sb::format_session_id(*id)) != id) __builtin_trap();
  }
  return 0;
}
