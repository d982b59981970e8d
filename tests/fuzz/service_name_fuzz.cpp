// Agentless service names from `ssh -R NAME:PORT:host:port`: a sequence of tcpip-forward and
// cancel requests and operators' lookups, one "+NAME:PORT", "-NAME:PORT" or "?NAME:PORT" a line.
#include <charconv>

#include "relay/device/device_services.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {
int port_of(std::string_view text) {
  int port = 0;
  std::from_chars(text.data(), text.data() + text.size(), port);
  return port;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  sb::relay::DeviceServices services;
  std::string_view rest = sb::fuzz::as_text(data, size);
  while (!rest.empty()) {
    auto eol = rest.find('\n');
    std::string_view line = rest.substr(0, eol);
    rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 1);
    if (line.empty()) continue;
    auto colon = line.rfind(':');
    std::string name(line.substr(1, colon == std::string_view::npos ? colon : colon - 1));
    int port = colon == std::string_view::npos ? 0 : port_of(line.substr(colon + 1));
    if (line[0] == '+') {
      auto added = services.add(name, port);
      if (added.service.has_value() == !added.error.empty()) __builtin_trap();
    } else if (line[0] == '-') {
      services.remove(name, port);
    } else {
      (void)services.find(name, port);
    }
    if (services.all().size() > sb::relay::DeviceServices::kMaxServices) __builtin_trap();
  }
  (void)services.describe();
  (void)services.names();
  return 0;
}
