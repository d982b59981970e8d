// The operator -> device SFTP stream the relay reads for the audit's file names: any bytes, cut
// anywhere, keep within the bounds and give valid UTF-8 JSON.
#include <cstddef>
#include <cstdint>

#include "relay/audit/sftp_requests.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto text = sb::fuzz::as_text(data, size);
  sb::relay::SftpRequestLog whole, pieces;
  whole.feed(text);
  // The same bytes in chunks whose sizes come from the input itself.
  for (std::size_t at = 0; at < text.size();) {
    std::size_t n = 1 + static_cast<unsigned char>(text[at]) % 97;
    pieces.feed(text.substr(at, n));
    at += n;
  }
  if (whole.entries() != pieces.entries() || whole.more() != pieces.more() ||
      whole.gave_up() != pieces.gave_up())
    __builtin_trap();
  if (whole.entries().size() > sb::relay::SftpRequestLog::kMaxEntries) __builtin_trap();
  for (const auto& e : whole.entries())
    if (e.path.size() > sb::relay::SftpRequestLog::kMaxPathBytes ||
        e.to.size() > sb::relay::SftpRequestLog::kMaxPathBytes)
      __builtin_trap();
  (void)whole.to_json().dump();  // throws (and fails) on invalid UTF-8
  return 0;
}
