#include "keys/keys.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <set>
#include <sstream>
#include <stdexcept>

#include "common/util.hpp"
#include "tests/unit/test_support.hpp"

namespace sb::keys {
namespace {

namespace fs = std::filesystem;

using test::mode_of;
using test::TempDir;

// Output of a shell command, or nullopt if it failed.
std::optional<std::string> run(const std::string& cmd) {
  std::FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return std::nullopt;
  std::string out;
  char buf[512];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  if (::pclose(p) != 0) return std::nullopt;
  return out;
}

constexpr const char* kSshKeygen = "/usr/bin/ssh-keygen";

std::string error_of(std::string_view line) {
  std::string error;
  EXPECT_EQ(parse_authorized_key(line, &error), std::nullopt) << line;
  EXPECT_FALSE(error.empty());
  return error;
}

TEST(Keys, SaveLoadRoundTripKeepsFingerprint) {
  TempDir tmp;
  const fs::path file = tmp.path() / "id_ed25519";
  const ssh::Key key = generate_ed25519();
  const std::string fp = fingerprint(key);
  EXPECT_TRUE(looks_like_fingerprint(fp)) << fp;
  save_private_key(key, file);
  EXPECT_EQ(mode_of(file), 0600u);
  EXPECT_EQ(read_file_bounded(file, 4096).rfind("-----BEGIN OPENSSH PRIVATE KEY-----", 0), 0u);
  const ssh::Key loaded = load_private_key(file);
  EXPECT_EQ(fingerprint(loaded), fp);
  EXPECT_EQ(public_key_of(loaded).base64, public_key_of(key).base64);
  EXPECT_EQ(fingerprint(loaded.get()), fp);  // borrowed-handle forms agree
  EXPECT_EQ(public_key_of(loaded.get()).openssh_line(), public_key_of(key).openssh_line());
  EXPECT_NE(fingerprint(generate_ed25519()), fp);
}

TEST(Keys, RefusesGroupReadableKey) {
  TempDir tmp;
  const fs::path file = tmp.path() / "key";
  save_private_key(generate_ed25519(), file);
  ASSERT_EQ(::chmod(file.c_str(), 0644), 0);
  try {
    load_private_key(file);
    FAIL() << "0644 key accepted";
  } catch (const std::runtime_error& e) {
    const std::string expected =
        "permissions 0644 for '" + file.string() + "' are too open: chmod 600 " + file.string();
    EXPECT_EQ(e.what(), expected);
  }
}

TEST(Keys, ClearErrorsForMissingOrGarbageKey) {
  TempDir tmp;
  const fs::path missing = tmp.path() / "missing";
  try {
    load_private_key(missing);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("does not exist"), std::string::npos) << e.what();
  }
  const fs::path garbage = tmp.path() / "garbage";
  write_file_atomic(garbage, "not a key\n", 0600);
  try {
    load_private_key(garbage);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(garbage.string()), std::string::npos) << e.what();
  }
  write_file_atomic(garbage, std::string(1 << 20, 'A'), 0600);
  EXPECT_THROW(load_private_key(garbage), std::runtime_error);
}

TEST(Keys, LoadOrCreate) {
  TempDir tmp;
  const fs::path file = tmp.path() / "host_key";
  bool created = false;
  const ssh::Key first = load_or_create_private_key(file, &created);
  EXPECT_TRUE(created);
  EXPECT_EQ(mode_of(file), 0600u);
  const ssh::Key again = load_or_create_private_key(file, &created);
  EXPECT_FALSE(created);
  EXPECT_EQ(fingerprint(first), fingerprint(again));
  EXPECT_NO_THROW(load_or_create_private_key(file));
}

TEST(Keys, FingerprintMatchesSshKeygen) {
  if (::access(kSshKeygen, X_OK) != 0) GTEST_SKIP() << "no " << kSshKeygen;
  TempDir tmp;
  const fs::path file = tmp.path() / "key";
  const ssh::Key key = generate_ed25519();
  save_private_key(key, file);
  const auto out = run(std::string(kSshKeygen) + " -lf '" + file.string() + "' 2>/dev/null");
  ASSERT_TRUE(out.has_value()) << "ssh-keygen could not read the saved key";
  std::istringstream fields(*out);
  std::string bits, fp;
  fields >> bits >> fp;
  EXPECT_EQ(bits, "256");
  EXPECT_EQ(fingerprint(key), fp);
}

TEST(Keys, PublicKeyMatchesSshKeygen) {
  if (::access(kSshKeygen, X_OK) != 0) GTEST_SKIP() << "no " << kSshKeygen;
  TempDir tmp;
  const fs::path file = tmp.path() / "key";
  const ssh::Key key = generate_ed25519();
  save_private_key(key, file);
  const auto out = run(std::string(kSshKeygen) + " -yf '" + file.string() + "' 2>/dev/null");
  ASSERT_TRUE(out.has_value());
  std::istringstream fields(*out);
  std::string type, b64;
  fields >> type >> b64;
  const PublicKey pk = public_key_of(key);
  EXPECT_EQ(pk.type, "ssh-ed25519");
  EXPECT_EQ(pk.type, type);
  EXPECT_EQ(pk.base64, b64);
  EXPECT_EQ(pk.openssh_line(), type + " " + b64);
}

TEST(AuthorizedKey, ParsesGoodLines) {
  const ssh::Key key = generate_ed25519();
  const PublicKey pk = public_key_of(key);
  std::string error = "stale";
  auto parsed = parse_authorized_key(pk.type + " " + pk.base64 + "  alice@laptop  2\r\n", &error);
  ASSERT_TRUE(parsed.has_value()) << error;
  EXPECT_TRUE(error.empty());
  EXPECT_EQ(parsed->type, "ssh-ed25519");
  EXPECT_EQ(parsed->base64, pk.base64);
  EXPECT_EQ(parsed->fingerprint, fingerprint(key));
  EXPECT_EQ(parsed->comment, "alice@laptop  2");
  EXPECT_EQ(parsed->openssh_line(), pk.type + " " + pk.base64 + " alice@laptop  2");

  parsed = parse_authorized_key("\t" + pk.type + "\t" + pk.base64, nullptr);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->comment, "");
}

TEST(AuthorizedKey, RejectsBadLines) {
  const PublicKey pk = public_key_of(generate_ed25519());
  const std::string expected = "not a public key line: expected 'TYPE BASE64 [COMMENT]'";
  EXPECT_EQ(error_of(""), expected);
  EXPECT_EQ(error_of("ssh-ed25519"), expected);
  EXPECT_EQ(error_of("from=\"10.0.0.1\" " + pk.type + " " + pk.base64), expected);
  EXPECT_NE(error_of("ssh-foo " + pk.base64).find("unknown key type"), std::string::npos);
  EXPECT_NE(error_of("ssh-ed25519 !!!!").find("base64"), std::string::npos);
  error_of("ssh-ed25519 " + pk.base64.substr(0, 40));                   // truncated
  error_of("ssh-ed25519 " + pk.base64 + "AAAA");                        // trailing bytes
  error_of("ssh-rsa " + pk.base64);                                     // type mismatch
  error_of("ecdsa-sha2-nistp256 " + pk.base64);                         // type mismatch
  error_of("ssh-ed25519-cert-v01@openssh.com " + pk.base64);            // certificate
  error_of(pk.type + " " + pk.base64 + " evil\x1b[2Jcomment");          // control characters
  error_of(pk.type + " " + pk.base64 + " " + std::string(20000, 'c'));  // too long
  EXPECT_EQ(parse_authorized_key("", nullptr), std::nullopt);           // null error is fine
}

TEST(AuthorizedKey, RejectsBlobOfAnotherType) {
  ssh_key raw = nullptr;
  ASSERT_EQ(ssh_pki_generate(SSH_KEYTYPE_ECDSA_P256, 256, &raw), SSH_OK);
  const ssh::Key ecdsa(raw);
  const PublicKey pk = public_key_of(ecdsa);
  EXPECT_EQ(pk.type, "ecdsa-sha2-nistp256");
  EXPECT_TRUE(parse_authorized_key(pk.openssh_line(), nullptr).has_value());
  error_of("ssh-ed25519 " + pk.base64);
}

TEST(Fingerprint, LooksLike) {
  EXPECT_TRUE(looks_like_fingerprint("SHA256:" + std::string(43, 'A')));
  EXPECT_TRUE(looks_like_fingerprint("SHA256:abcdefghijklmnopqrstuvwxyz+/0123456789ABCDE"));
  EXPECT_FALSE(looks_like_fingerprint("SHA256:" + std::string(42, 'A')));
  EXPECT_FALSE(looks_like_fingerprint("SHA256:" + std::string(43, 'A') + "="));
  EXPECT_FALSE(looks_like_fingerprint("SHA256:" + std::string(42, 'A') + "-"));
  EXPECT_FALSE(looks_like_fingerprint("MD5:" + std::string(43, 'A')));
  EXPECT_FALSE(looks_like_fingerprint(""));
}

TEST(Token, Format) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string t = generate_enrollment_token();
    ASSERT_EQ(t.size(), 36u);
    EXPECT_EQ(t.rfind("sbe_", 0), 0u);
    EXPECT_TRUE(looks_like_enrollment_token(t)) << t;
    seen.insert(t);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(Token, LooksLikeRejects) {
  const std::string good = "sbe_" + std::string(32, 'a');
  EXPECT_TRUE(looks_like_enrollment_token(good));
  EXPECT_TRUE(looks_like_enrollment_token("sbe_abcdefghijklmnopqrstuvwxyz234567"));
  EXPECT_FALSE(looks_like_enrollment_token("sbe_" + std::string(31, 'a')));
  EXPECT_FALSE(looks_like_enrollment_token("sbe_" + std::string(33, 'a')));
  EXPECT_FALSE(looks_like_enrollment_token("sbe_" + std::string(31, 'a') + "1"));
  EXPECT_FALSE(looks_like_enrollment_token("sbe_" + std::string(31, 'a') + "A"));
  EXPECT_FALSE(looks_like_enrollment_token("sbx_" + std::string(32, 'a')));
  EXPECT_FALSE(looks_like_enrollment_token(""));
}

TEST(Token, HashIsSha256Hex) {
  EXPECT_EQ(hash_token("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hash_token(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const std::string t = generate_enrollment_token();
  EXPECT_EQ(hash_token(t), hash_token(t));
  EXPECT_NE(hash_token(t), hash_token(generate_enrollment_token()));
}

const std::string kFpA = "SHA256:" + std::string(43, 'A');
const std::string kFpB = "SHA256:" + std::string(43, 'B');

TEST(Pin, FirstUseMatchMismatch) {
  TempDir tmp;
  const fs::path file = tmp.path() / "known_relays";
  auto r = check_and_pin_host(file, "relay.example:2222", kFpA);
  EXPECT_EQ(r.result, PinResult::kFirstUse);
  EXPECT_EQ(mode_of(file), 0600u);
  EXPECT_EQ(read_file_bounded(file, 1000), "relay.example:2222 " + kFpA + "\n");

  r = check_and_pin_host(file, "relay.example:2222", kFpA);
  EXPECT_EQ(r.result, PinResult::kMatch);

  r = check_and_pin_host(file, "relay.example:2222", kFpB);
  EXPECT_EQ(r.result, PinResult::kMismatch);
  EXPECT_EQ(r.pinned, kFpA);

  r = check_and_pin_host(file, "[::1]:2222", kFpB);
  EXPECT_EQ(r.result, PinResult::kFirstUse);
  EXPECT_EQ(check_and_pin_host(file, "[::1]:2222", kFpB).result, PinResult::kMatch);
  EXPECT_EQ(check_and_pin_host(file, "relay.example:2222", kFpA).result, PinResult::kMatch);
}

TEST(Pin, KeepsCommentsAndRejectsDamage) {
  TempDir tmp;
  const fs::path file = tmp.path() / "pins";
  write_file_atomic(file, "# pinned relays\n\nother:22 " + kFpB);  // no final newline
  EXPECT_EQ(check_and_pin_host(file, "relay:2222", kFpA).result, PinResult::kFirstUse);
  EXPECT_EQ(read_file_bounded(file, 1000),
            "# pinned relays\n\nother:22 " + kFpB + "\nrelay:2222 " + kFpA + "\n");
  EXPECT_EQ(check_and_pin_host(file, "other:22", kFpA).result, PinResult::kMismatch);

  write_file_atomic(file, "relay:2222\n");
  EXPECT_THROW(check_and_pin_host(file, "relay:2222", kFpA), std::runtime_error);
  write_file_atomic(file, std::string((1 << 20) + 1, '#'));
  EXPECT_THROW(check_and_pin_host(file, "relay:2222", kFpA), std::runtime_error);
}

TEST(Pin, RejectsBadArguments) {
  TempDir tmp;
  const fs::path file = tmp.path() / "pins";
  for (const char* hp : {"", "relay", "relay:", "relay:0", "relay:65536", "relay:22x", "re lay:22",
                         "#relay:22", ":22"}) {
    EXPECT_THROW(check_and_pin_host(file, hp, kFpA), std::invalid_argument) << hp;
  }
  EXPECT_THROW(check_and_pin_host(file, "relay:22", "SHA256:short"), std::invalid_argument);
  EXPECT_FALSE(fs::exists(file));
}

}  // namespace
}  // namespace sb::keys
