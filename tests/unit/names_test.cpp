// Device/operator names and free-text labels from the network.
#include "common/names.hpp"

#include <gtest/gtest.h>

#include <string>

namespace sb {
namespace {

TEST(Names, AcceptsValidNames) {
  for (const char* name :
       {"a", "z", "0a", "a0", "pi", "pi-01", "kiosk.lobby", "a.b_c-d", "edge_01", "1-2", "1.2",
        "9a", "0x", "a-", "a.", "a_", "a--b", "abcdefghijklmnopqrstuvwxyz0123456789"})
    EXPECT_TRUE(valid_name(name)) << name;
}

TEST(Names, LengthIsOneToSixtyThree) {
  EXPECT_FALSE(valid_name(""));
  EXPECT_TRUE(valid_name(std::string(1, 'a')));
  EXPECT_TRUE(valid_name(std::string(63, 'a')));
  EXPECT_FALSE(valid_name(std::string(64, 'a')));
  EXPECT_FALSE(valid_name(std::string(10000, 'a')));
  EXPECT_TRUE(valid_name(std::string(62, '1') + "a"));
}

TEST(Names, MustStartWithLetterOrDigit) {
  for (const char* name : {"-a", ".a", "_a", "-", ".", "_", "..", " a"})
    EXPECT_FALSE(valid_name(name)) << name;
}

TEST(Names, RejectsAllDigits) {
  // All digits would read as a session ID.
  for (const char* name : {"0", "7", "123", "482913075", "000000000", "1234567890"})
    EXPECT_FALSE(valid_name(name)) << name;
  EXPECT_FALSE(valid_name(std::string(63, '9')));
}

TEST(Names, RejectsOtherCharacters) {
  for (const char* name :
       {"Pi",  "PI",  "a B",  "a b",  "a/b",   "a\\b",  "a:b",         "a@b",
        "a+b", "a*",  "a\tb", "a\nb", "a\x1b", "a\x7f", "caf\xc3\xa9", "\xe6\x97\xa5",
        "a,b", "a;b", "a'b",  "a\"b", "a$b",   "~a",    "a%b"})
    EXPECT_FALSE(valid_name(name)) << name;
  EXPECT_FALSE(valid_name(std::string("a\0b", 3)));
  EXPECT_FALSE(valid_name(std::string("ab\0", 3)));
}

TEST(Names, LabelAcceptsOrdinaryText) {
  for (const char* text :
       {"", "raspberrypi", "Raspberry Pi 4 Model B Rev 1.4", "Debian GNU/Linux 12 (bookworm)",
        "6.1.0-18-arm64", "aarch64", "host-01.example.com", "~!@#$%^&*()_+{}|:\"<>?`-=[]\\;',./"})
    EXPECT_TRUE(valid_label(text)) << text;
}

TEST(Names, LabelAcceptsUtf8) {
  EXPECT_TRUE(valid_label("caf\xc3\xa9"));               // café
  EXPECT_TRUE(valid_label("\xe6\x97\xa5\xe6\x9c\xac"));  // 日本
  EXPECT_TRUE(valid_label("\xf0\x9f\x9a\x80 rocket"));   // U+1F680, four bytes
  EXPECT_TRUE(
      valid_label("Stra\xc3\x9f"
                  "e \xe2\x80\x93 ok"));     // Straße – ok
  EXPECT_TRUE(valid_label("\xc2\xa0nbsp"));  // U+00A0, just past the C1 range
}

TEST(Names, LabelLengthIsBounded) {
  EXPECT_TRUE(valid_label(std::string(256, 'x')));
  EXPECT_FALSE(valid_label(std::string(257, 'x')));
  EXPECT_FALSE(valid_label(std::string(1 << 20, 'x')));
  EXPECT_TRUE(valid_label(std::string(10, 'x'), 10));
  EXPECT_FALSE(valid_label(std::string(11, 'x'), 10));
  EXPECT_TRUE(valid_label("", 0));
  EXPECT_FALSE(valid_label("x", 0));
}

TEST(Names, LabelLengthIsCountedInBytes) {
  // 128 two-byte characters = 256 bytes: at the bound; one more is over it.
  std::string e_acute;
  for (int i = 0; i < 128; ++i) e_acute += "\xc3\xa9";
  EXPECT_TRUE(valid_label(e_acute));
  EXPECT_FALSE(valid_label(e_acute + "x"));
}

TEST(Names, LabelRejectsAsciiControlCharacters) {
  for (int c = 0; c < 0x20; ++c) {
    std::string text = "ab";
    text.insert(text.begin() + 1, static_cast<char>(c));
    EXPECT_FALSE(valid_label(text)) << "control character " << c;
  }
  EXPECT_FALSE(valid_label("del\x7f"));
  EXPECT_FALSE(valid_label("\x1b[2J"));
  EXPECT_FALSE(valid_label("\x1b]0;title\x07"));
  EXPECT_FALSE(valid_label("trailing newline\n"));
  EXPECT_FALSE(valid_label(std::string("\0", 1)));
}

TEST(Names, LabelRejectsC1ControlCharacters) {
  // U+0080-U+009F are control characters too (U+009B is CSI, U+0085 NEL, U+009D OSC);
  // "printable ASCII/UTF-8 only" excludes them.
  EXPECT_FALSE(
      valid_label("a\xc2\x9b"
                  "2Jb"));
  EXPECT_FALSE(
      valid_label("a\xc2\x85"
                  "b"));
  EXPECT_FALSE(
      valid_label("\xc2\x9d"
                  "0;title\xc2\x9c"));
  EXPECT_FALSE(valid_label("\xc2\x80"));
}

}  // namespace
}  // namespace sb
