// The device info in a hello ({"info":{"hostname":...,"os":...,"disks":[...]}}) and in an info
// update: free text and numbers from the network that end up in the database and on admins'
// terminals.
#include <nlohmann/json.hpp>

#include "common/names.hpp"
#include "common/system_info_limits.hpp"
#include "relay/device/device_messages.hpp"
#include "relay/device/system_info_check.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

// Whatever passed the check: only known members, every string a bounded label, every number
// whole and in range.
void check_accepted(const nlohmann::json& value) {
  if (value.is_string()) {
    if (!sb::valid_label(value.get<std::string>())) __builtin_trap();
  } else if (value.is_number()) {
    if (!value.is_number_integer() || value.get<std::int64_t>() < 0) __builtin_trap();
  } else if (value.is_object() || value.is_array()) {
    for (const auto& member : value) check_accepted(member);
  } else {
    __builtin_trap();
  }
}

}  // namespace

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

  std::string system_error;
  auto system = sb::relay::check_system_info(sent, &system_error);
  if (system.has_value() == !system_error.empty()) __builtin_trap();
  if (system) {
    check_accepted(*system);
    if (system->dump().size() > sb::sysinfo::kMaxTotalBytes) __builtin_trap();
  }
  auto update = sb::relay::parse_info_update(nlohmann::json{{"type", "info"}, {"info", sent}});
  if (update.info.has_value() == !update.error.empty()) __builtin_trap();
  if (update.info) check_accepted(*update.info);
  return 0;
}
