// Key material: generation, private-key files, fingerprints, authorized-key lines, host pins
// and enrollment tokens.
#pragma once
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "common/ssh/handles.hpp"

namespace sb::keys {

struct PublicKey {
  std::string type;         // "ssh-ed25519", ...
  std::string base64;       // the key blob
  std::string fingerprint;  // "SHA256:..." (OpenSSH form, no padding)
  std::string comment;
  std::string openssh_line() const;  // "type base64 comment"
};

ssh::Key generate_ed25519();
// Writes the private key (OpenSSH format) with mode 0600, atomically.
void save_private_key(const ssh::Key& key, const std::filesystem::path& file);
// Refuses (std::runtime_error) files that are group/world accessible, like ssh does.
ssh::Key load_private_key(const std::filesystem::path& file);
// Loads the key, or generates and saves a new ed25519 key; *created tells which.
ssh::Key load_or_create_private_key(const std::filesystem::path& file, bool* created = nullptr);

std::string fingerprint(const ssh::Key& key);  // "SHA256:..."
PublicKey public_key_of(const ssh::Key& key);
// Borrowed-handle forms, for keys that libssh owns (authentication callbacks).
std::string fingerprint(ssh_key key);
PublicKey public_key_of(ssh_key key);
// Parses "ssh-ed25519 AAAA... comment" (options prefix not supported); nullopt + *error if bad.
std::optional<PublicKey> parse_authorized_key(std::string_view line, std::string* error);
// True for "SHA256:" followed by 43 base64 characters.
bool looks_like_fingerprint(std::string_view text);

// Enrollment tokens: "sbe_" + 32 base32 characters (160 bits). Only the hash is stored.
std::string generate_enrollment_token();
bool looks_like_enrollment_token(std::string_view text);
std::string hash_token(std::string_view token);  // lowercase hex SHA-256
// Resume tokens: "sbr_" + 52 base32 characters (256 bits), the proof besides its key that an
// ad-hoc agent coming back after a network blip is the tunnel that held its session ID. The
// relay keeps only hash_token() of it and issues a new one at every resume.
std::string generate_resume_token();
bool looks_like_resume_token(std::string_view text);

// Relay host-key pinning for agents: a file of "host:port SHA256:..." lines.
enum class PinResult { kMatch, kFirstUse, kMismatch };
struct PinCheck {
  PinResult result;
  std::string pinned;  // the fingerprint on file (for the mismatch message)
};
// On first use the fingerprint is recorded (the file is created with mode 0600).
PinCheck check_and_pin_host(const std::filesystem::path& pin_file, std::string_view host_port,
                            std::string_view fingerprint);

}  // namespace sb::keys
