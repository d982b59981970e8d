// The device info in a hello ({"info":{"hostname":...,"os":...}}): free text from the network
// that ends up in the database and on admins' terminals.
#include <nlohmann/json.hpp>

#include "common/names.hpp"
#include "relay/device/device_messages.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto text = sb::fuzz::as_text(data, size);
  (void)sb::valid_label(text);
  auto sent = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (sent.is_discarded()) return 0;
  std::string error;
  auto info = sb::relay::parse_device_info(nlohmann::json{{"info", sent}}, &error);
  if (info) {
    for (const auto& value : *info)
      if (!value.is_string() || !sb::valid_label(value.get<std::string>())) __builtin_trap();
  } else if (error.empty()) {
    __builtin_trap();
  }
  (void)sb::relay::parse_device_info(sent, &error);
  return 0;
}
