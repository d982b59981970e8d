// Files the agent and the relay read keys from: a private key file, and the agent's pins of
// relay host keys ("host:port SHA256:..." lines).
#include <stdexcept>

#include "keys/keys.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {
constexpr const char* kFingerprint = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU";
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto text = sb::fuzz::as_text(data, size);
  try {
    auto key = sb::keys::load_private_key(sb::fuzz::write_scratch("key", text));
    (void)sb::keys::public_key_of(key);
  } catch (const std::runtime_error&) {
    // Refusing a bad key file with a message is the expected outcome.
  }
  try {
    auto pins = sb::fuzz::write_scratch("pins", text);
    (void)sb::keys::check_and_pin_host(pins, "relay.example.org:2222", kFingerprint);
  } catch (const std::runtime_error&) {
  }
  return 0;
}
