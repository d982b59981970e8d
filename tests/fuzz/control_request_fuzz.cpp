// A control-socket request line from the admin CLI, and the fields the commands read from it.
#include "common/json_field.hpp"
#include "common/util.hpp"
#include "relay/control/control_server.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto request = sb::relay::parse_control_request(sb::fuzz::as_text(data, size));
  if (!request) return 0;
  if (sb::string_field(*request, "cmd").empty() && !(*request)["cmd"].is_string()) __builtin_trap();
  (void)sb::parse_session_id(sb::string_field(*request, "session"));
  for (const char* field : {"by", "operator", "device", "reason"})
    (void)sb::string_field(*request, field);
  // The response is written with invalid UTF-8 replaced: echoing a request must not throw.
  (void)request->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return 0;
}
