// One authorized-key line ("ssh-ed25519 AAAA... comment"), fingerprints and enrollment tokens
// as an admin or a device gives them.
#include "keys/keys.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto text = sb::fuzz::as_text(data, size);
  std::string error;
  if (auto key = sb::keys::parse_authorized_key(text, &error)) {
    if (!sb::keys::looks_like_fingerprint(key->fingerprint)) __builtin_trap();
    // The line we would write back parses to the same key.
    auto again = sb::keys::parse_authorized_key(key->openssh_line(), &error);
    if (!again || again->fingerprint != key->fingerprint) __builtin_trap();
  }
  (void)sb::keys::looks_like_fingerprint(text);
  if (sb::keys::looks_like_enrollment_token(text)) (void)sb::keys::hash_token(text);
  return 0;
}
