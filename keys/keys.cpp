// Private-key files, fingerprints and authorized-key lines, on top of libssh's pki API.
#include "keys/keys.hpp"

#include <sys/stat.h>
#include <unistd.h>
#ifdef _WIN32
#include <windows.h>
// Windows' name for a wipe the compiler may not drop.
#define explicit_bzero(p, n) SecureZeroMemory((p), (n))
#endif

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "common/util.hpp"

namespace sb::keys {

namespace {

// An OpenSSH ed25519 key is ~400 bytes and RSA-16384 stays well under this.
constexpr std::size_t kMaxPrivateKeyFile = 64 * 1024;
constexpr std::size_t kMaxAuthorizedKeyLine = 16 * 1024;

// Wipes a secret buffer before libssh frees it.
struct SecretStringDeleter {
  void operator()(char* p) const {
    if (p == nullptr) return;
    explicit_bzero(p, std::strlen(p));
    ssh_string_free_char(p);
  }
};
using SecretCString = std::unique_ptr<char, SecretStringDeleter>;

ssh_key require_key(const ssh::Key& key, const char* what) {
  if (!key) throw std::invalid_argument(std::string(what) + ": null key");
  return key.get();
}

[[maybe_unused]] std::string mode_octal(mode_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

// Same policy as ssh: a private key others can read is treated as already leaked.
void check_private_key_file(const std::filesystem::path& file) {
  struct stat st {};
  const std::string name = file.string();
  if (::stat(name.c_str(), &st) != 0) {
    if (errno == ENOENT) throw std::runtime_error("private key " + name + " does not exist");
    throw std::runtime_error("cannot stat private key " + name + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    throw std::runtime_error("private key " + name + " is not a regular file");
  }
#ifndef _WIN32
  // On Windows the data dir's ACL, which the file inherits, decides who may read it.
  if ((st.st_mode & 077) != 0) {
    throw std::runtime_error("permissions " + mode_octal(st.st_mode) + " for '" + name +
                             "' are too open: chmod 600 " + name);
  }
#endif
}

bool is_key_type_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '@' || c == '.';
}

bool is_base64_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && (is_blank(s.back()) || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

std::string_view next_field(std::string_view& rest) {
  rest = trim(rest);
  std::size_t end = 0;
  while (end < rest.size() && !is_blank(rest[end])) ++end;
  std::string_view field = rest.substr(0, end);
  rest = trim(rest.substr(end));
  return field;
}

}  // namespace

std::string PublicKey::openssh_line() const {
  std::string line = type + " " + base64;
  if (!comment.empty()) line += " " + comment;
  return line;
}

ssh::Key generate_ed25519() {
  ssh_key k = nullptr;
  if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &k) != SSH_OK || k == nullptr) {
    throw std::runtime_error("cannot generate an ed25519 key");
  }
  return ssh::Key(k);
}

void save_private_key(const ssh::Key& key, const std::filesystem::path& file) {
  const ssh_key k = require_key(key, "save_private_key");
  if (ssh_key_is_private(k) != 1)
    throw std::invalid_argument("save_private_key: not a private key");
  char* raw = nullptr;
  // libssh 0.10 writes ed25519 keys in the OpenSSH format (other types as PEM, which ssh reads).
  if (ssh_pki_export_privkey_base64(k, nullptr, nullptr, nullptr, &raw) != SSH_OK || !raw) {
    throw std::runtime_error("cannot export private key for " + file.string());
  }
  SecretCString pem(raw);
  std::string_view text(pem.get());
  if (!text.empty() && text.back() == '\n') {
    write_file_atomic(file, text, 0600);
  } else {
    // Without the final newline OpenSSH's own parser refuses the file.
    std::string with_nl(text);
    with_nl += '\n';
    write_file_atomic(file, with_nl, 0600);
    explicit_bzero(with_nl.data(), with_nl.size());
  }
}

ssh::Key load_private_key(const std::filesystem::path& file) {
  check_private_key_file(file);
  std::string text = read_file_bounded(file, kMaxPrivateKeyFile);
  ssh_key k = nullptr;
  const int rc = ssh_pki_import_privkey_base64(text.c_str(), nullptr, nullptr, nullptr, &k);
  explicit_bzero(text.data(), text.size());
  ssh::Key key(k);
  if (rc != SSH_OK || !key || ssh_key_is_private(k) != 1) {
    throw std::runtime_error("cannot load private key " + file.string() +
                             ": not an unencrypted OpenSSH/PEM private key");
  }
  return key;
}

ssh::Key load_or_create_private_key(const std::filesystem::path& file, bool* created) {
  std::error_code ec;
  const auto status = std::filesystem::symlink_status(file, ec);
  if (status.type() != std::filesystem::file_type::not_found) {
    if (created) *created = false;
    return load_private_key(file);  // also reports a stat error other than "missing"
  }
  ssh::Key key = generate_ed25519();
  save_private_key(key, file);
  if (created) *created = true;
  return key;
}

std::string fingerprint(ssh_key key) {
  if (key == nullptr) throw std::invalid_argument("fingerprint: null key");
  unsigned char* hash = nullptr;
  size_t len = 0;
  if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &len) != SSH_OK || !hash) {
    throw std::runtime_error("cannot hash public key");
  }
  char* raw = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, len);
  ssh_clean_pubkey_hash(&hash);
  if (raw == nullptr) throw std::runtime_error("cannot format key fingerprint");
  std::string fp = ssh::CString(raw).get();
  // OpenSSH prints SHA256 fingerprints as unpadded base64.
  while (!fp.empty() && fp.back() == '=') fp.pop_back();
  return fp;
}

std::string fingerprint(const ssh::Key& key) {
  return fingerprint(require_key(key, "fingerprint"));
}

PublicKey public_key_of(ssh_key key) {
  if (key == nullptr) throw std::invalid_argument("public_key_of: null key");
  char* raw = nullptr;
  if (ssh_pki_export_pubkey_base64(key, &raw) != SSH_OK || raw == nullptr) {
    throw std::runtime_error("cannot export public key");
  }
  ssh::CString b64(raw);
  const char* type = ssh_key_type_to_char(ssh_key_type(key));
  if (type == nullptr) throw std::runtime_error("public key of unknown type");
  return PublicKey{type, b64.get(), fingerprint(key), ""};
}

PublicKey public_key_of(const ssh::Key& key) {
  return public_key_of(require_key(key, "public_key_of"));
}

namespace {

// Every check on the text of the line, before libssh sees any of it.
std::optional<std::string> line_error(std::string_view line) {
  if (line.size() > kMaxAuthorizedKeyLine) {
    return "public key line too long (" + std::to_string(line.size()) + " bytes, limit " +
           std::to_string(kMaxAuthorizedKeyLine) + ")";
  }
  for (char c : line) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t' && c != '\r' && c != '\n') || u == 0x7f) {
      return std::string("public key line contains control characters");
    }
  }
  return std::nullopt;
}

std::optional<std::string> fields_error(std::string_view type, std::string_view b64) {
  const std::string expected = "not a public key line: expected 'TYPE BASE64 [COMMENT]'";
  if (type.empty() || b64.empty()) return expected;
  for (char c : type) {
    if (!is_key_type_char(c)) return expected;
  }
  if (ssh_key_type_from_name(std::string(type).c_str()) == SSH_KEYTYPE_UNKNOWN) {
    return "unknown key type '" + std::string(type) + "'";
  }
  if (type.find("-cert-") != std::string_view::npos) {
    return std::string("certificates are not supported, only plain public keys");
  }
  std::size_t i = 0;
  while (i < b64.size() && is_base64_char(b64[i])) ++i;
  while (i < b64.size() && b64[i] == '=' && b64.size() - i <= 2) ++i;
  if (i != b64.size() || b64.size() % 4 != 0) return std::string("key data is not base64");
  return std::nullopt;
}

std::optional<PublicKey> fail_with(std::string* error, std::string message) {
  if (error) *error = std::move(message);
  return std::nullopt;
}

}  // namespace

std::optional<PublicKey> parse_authorized_key(std::string_view line, std::string* error) {
  if (auto e = line_error(line)) return fail_with(error, *e);
  std::string_view rest = line;
  const std::string_view type = next_field(rest);
  const std::string_view b64 = next_field(rest);
  if (auto e = fields_error(type, b64)) return fail_with(error, *e);
  ssh_key raw = nullptr;
  const std::string b64_str(b64);
  const auto type_id = ssh_key_type_from_name(std::string(type).c_str());
  if (ssh_pki_import_pubkey_base64(b64_str.c_str(), type_id, &raw) != SSH_OK || !raw) {
    return fail_with(error, "invalid " + std::string(type) + " key data");
  }
  ssh::Key key(raw);
  PublicKey pk = public_key_of(key);
  // libssh parses the blob as the type given, ignoring the name inside it, and tolerates
  // trailing bytes; re-exporting must reproduce the input exactly.
  if (pk.type != type || pk.base64 != b64) {
    return fail_with(error, "key data does not match key type '" + std::string(type) + "'");
  }
  pk.comment = std::string(rest);
  if (error) error->clear();
  return pk;
}

bool looks_like_fingerprint(std::string_view text) {
  constexpr std::string_view kPrefix = "SHA256:";
  constexpr std::size_t kB64Len = 43;  // 32 bytes, unpadded
  if (text.size() != kPrefix.size() + kB64Len || !text.starts_with(kPrefix)) return false;
  for (char c : text.substr(kPrefix.size())) {
    if (!is_base64_char(c)) return false;
  }
  return true;
}

}  // namespace sb::keys
