// --allow-proxy CIDR lists ("10.0.0.0/8,::1/128") and the addresses checked against them.
#include <string>

#include "device-agent/channel_host.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto text = sb::fuzz::as_text(data, size);
  // Split like the command line does: "a,b,c"; the last item is also tried as an address.
  std::vector<sb::agent::Cidr> nets;
  std::string_view rest = text, item;
  while (!rest.empty()) {
    auto comma = rest.find(',');
    item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    if (auto net = sb::agent::parse_cidr(item)) {
      if (net->prefix < 0 || net->prefix > static_cast<int>(net->addr.size() * 8)) __builtin_trap();
      nets.push_back(*net);
    }
  }
  for (const auto& net : nets) {
    (void)sb::agent::cidr_contains(net, std::string(item));
    (void)sb::agent::cidr_contains(net, "127.0.0.1");
    (void)sb::agent::cidr_contains(net, "::ffff:10.1.2.3");
  }
  return 0;
}
