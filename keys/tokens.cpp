// Enrollment tokens: shown once to the operator, stored only as a SHA-256 hash. Resume tokens:
// handed to an ad-hoc agent with its session ID, kept by the relay only as a hash.
#ifdef _WIN32
#include <gcrypt.h>
#else
#include <openssl/evp.h>
#endif

#include <stdexcept>

#include "common/util.hpp"
#include "keys/keys.hpp"

namespace sb::keys {

namespace {

constexpr std::string_view kTokenPrefix = "sbe_";
constexpr std::size_t kTokenBytes = 20;  // 160 bits: 32 base32 characters, no padding
constexpr std::size_t kTokenChars = kTokenBytes * 8 / 5;
// RFC 4648 base32, lowercased: it leaves out 0, 1, 8 and 9, which are easily misread.
constexpr std::string_view kBase32 = "abcdefghijklmnopqrstuvwxyz234567";
constexpr std::string_view kResumePrefix = "sbr_";
constexpr std::size_t kResumeBytes = 32;  // 256 bits: 52 base32 characters
constexpr std::size_t kResumeChars = (kResumeBytes * 8 + 4) / 5;

std::string base32(std::span<const std::uint8_t> bytes) {
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (std::uint8_t b : bytes) {
    buffer = (buffer << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += kBase32[(buffer >> bits) & 31];
    }
  }
  if (bits > 0) out += kBase32[(buffer << (5 - bits)) & 31];
  return out;
}

}  // namespace

std::string generate_enrollment_token() {
  std::uint8_t bytes[kTokenBytes];
  random_bytes(bytes);
  return std::string(kTokenPrefix) + base32(bytes);
}

bool looks_like_enrollment_token(std::string_view text) {
  if (text.size() != kTokenPrefix.size() + kTokenChars || !text.starts_with(kTokenPrefix)) {
    return false;
  }
  for (char c : text.substr(kTokenPrefix.size())) {
    if (kBase32.find(c) == std::string_view::npos) return false;
  }
  return true;
}

std::string generate_resume_token() {
  std::uint8_t bytes[kResumeBytes];
  random_bytes(bytes);
  return std::string(kResumePrefix) + base32(bytes);
}

bool looks_like_resume_token(std::string_view text) {
  if (text.size() != kResumePrefix.size() + kResumeChars || !text.starts_with(kResumePrefix))
    return false;
  for (char c : text.substr(kResumePrefix.size()))
    if (kBase32.find(c) == std::string_view::npos) return false;
  return true;
}

std::string hash_token(std::string_view token) {
#ifdef _WIN32
  // libgcrypt: libssh's crypto library in the Windows build, which has no OpenSSL.
  unsigned char digest[32];
  const unsigned int len = sizeof digest;
  gcry_md_hash_buffer(GCRY_MD_SHA256, digest, token.data(), token.size());
#else
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(token.data(), token.size(), digest, &len, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("SHA-256 failed");
  }
#endif
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * len);
  for (unsigned int i = 0; i < len; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 15];
  }
  return hex;
}

}  // namespace sb::keys
