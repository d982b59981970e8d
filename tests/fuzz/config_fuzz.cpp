// A --config file (TOML "key = value", read by CLI11) with the kinds of options `relay serve`
// and `device-agent run` take, and the values our own parsers then read from it.
#include <CLI/CLI.hpp>
#include <sstream>

#include "common/cli/duration_validator.hpp"
#include "common/io/net.hpp"
#include "common/util.hpp"
#include "device-agent/channel_host.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {
struct Options {
  std::string listen = "0.0.0.0:2222", relay, check_interval = "30s", retention = "0";
  unsigned threads = 0;
  bool log_json = false;
  std::uint64_t max_size = 64ull << 20;
  std::vector<std::string> allow_proxy;
};

void add_options(CLI::App& app, Options& o) {
  app.add_option("--listen", o.listen);
  app.add_option("--relay", o.relay);
  app.add_option("--check-interval", o.check_interval)->check(sb::duration_validator());
  app.add_option("--audit-retention", o.retention)->check(sb::duration_validator("keep forever"));
  app.add_option("--threads", o.threads);
  app.add_flag("--log-json", o.log_json);
  app.add_option("--record-max-size", o.max_size)->transform(CLI::AsSizeValue(false));
  app.add_option("--allow-proxy", o.allow_proxy)->delimiter(',');
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  CLI::App app{"fuzz"};
  Options o;
  add_options(app, o);
  std::istringstream in{std::string(sb::fuzz::as_text(data, size))};
  try {
    app.parse_from_stream(in);
  } catch (const CLI::Error&) {
    return 0;  // refused with a message: expected
  }
  std::string error;
  (void)sb::net::parse_host_port(o.listen, 0, &error);
  (void)sb::net::parse_host_port(o.relay, 2222, &error);
  // What the validators let through, the commands read with checked_duration (which throws
  // only for text the validator would have refused).
  (void)sb::checked_duration(o.check_interval);
  (void)sb::checked_duration(o.retention);
  for (const auto& cidr : o.allow_proxy) (void)sb::agent::parse_cidr(cidr);
  return 0;
}
