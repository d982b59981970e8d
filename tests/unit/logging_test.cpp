// Log lines: peer-supplied text is escaped, so it cannot forge a line or drive a terminal.
#include "common/logging.hpp"

#include <gtest/gtest.h>
#include <spdlog/details/log_msg.h>

#include <string>

namespace sb {
namespace {

std::string format_line(bool json, const std::string& message) {
  auto formatter = make_log_formatter("relay", json);
  spdlog::details::log_msg msg("relay", spdlog::level::warn, message);
  spdlog::memory_buf_t out;
  formatter->format(msg, out);
  return std::string(out.data(), out.size());
}

TEST(EscapeLogText, PrintableTextIsUnchanged) {
  EXPECT_EQ(escape_log_text("auth refused user=alice fp=SHA256:abc"),
            "auth refused user=alice fp=SHA256:abc");
  EXPECT_EQ(escape_log_text("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91"),
            "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91");
}

TEST(EscapeLogText, LineBreaksAndTabsBecomeTwoCharacterEscapes) {
  EXPECT_EQ(escape_log_text("a\r\nb\tc"), "a\\r\\nb\\tc");
}

TEST(EscapeLogText, ControlCharactersBecomeHex) {
  EXPECT_EQ(escape_log_text(std::string("\x1b[2J\x07\x7f", 6)), "\\x1b[2J\\x07\\x7f");
  EXPECT_EQ(escape_log_text(std::string("a\0b", 3)), "a\\x00b");
}

TEST(EscapeLogText, C1ControlsAndInvalidUtf8BecomeHex) {
  EXPECT_EQ(escape_log_text("\xc2\x9b"
                            "31m"),
            "\\xc2\\x9b31m");  // CSI as a C1 control
  EXPECT_EQ(escape_log_text("\xff\xfe"), "\\xff\\xfe");
  EXPECT_EQ(escape_log_text("\xc3"), "\\xc3");  // truncated sequence
  EXPECT_EQ(escape_log_text("\xe2\x82"), "\\xe2\\x82");
  // Overlong forms, surrogates and code points above U+10FFFF are not UTF-8 either.
  EXPECT_EQ(escape_log_text("\xe0\x82\xa0"), "\\xe0\\x82\\xa0");
  EXPECT_EQ(escape_log_text("\xed\xa0\x80"), "\\xed\\xa0\\x80");
  EXPECT_EQ(escape_log_text("\xf0\x8f\xbf\xbf"), "\\xf0\\x8f\\xbf\\xbf");
  EXPECT_EQ(escape_log_text("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");
  // Their neighbours are.
  EXPECT_EQ(escape_log_text("\xe0\xa0\x80\xed\x9f\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf"),
            "\xe0\xa0\x80\xed\x9f\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf");
}

TEST(QuoteLogText, QuotesAndEscapes) {
  EXPECT_EQ(quote_log_text("alice"), "\"alice\"");
  EXPECT_EQ(quote_log_text(""), "\"\"");
  EXPECT_EQ(quote_log_text("x\" fp=SHA256:forged"), "\"x\\\" fp=SHA256:forged\"");
  EXPECT_EQ(quote_log_text(std::string("a\0b\x1b", 4)), "\"a\\x00b\\x1b\"");
}

TEST(QuoteLogText, ALiteralBackslashDiffersFromAnEscapedByte) {
  EXPECT_EQ(quote_log_text("a\\x00"), "\"a\\\\x00\"");
  EXPECT_NE(quote_log_text("a\\x00"), quote_log_text(std::string("a\0", 2)));
}

TEST(LogFormatter, TextLineCannotBeForgedByAPeersUserName) {
  const std::string line =
      format_line(false, "auth refused user=x\r\n2026-01-01T00:00:00 info [relay] forged");
  EXPECT_EQ(line.find('\r'), std::string::npos) << line;
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line, ended by the formatter: " << line;
  EXPECT_NE(line.find("user=x\\r\\n2026"), std::string::npos) << line;
}

TEST(LogFormatter, JsonLineEscapesToo) {
  const std::string line = format_line(true, "user=x\r\n\x1b[31m");
  EXPECT_EQ(line.find('\r'), std::string::npos) << line;
  EXPECT_EQ(line.find('\x1b'), std::string::npos) << line;
  EXPECT_NE(line.find(R"(user=x\r\n\u001b[31m)"), std::string::npos) << line;
}

}  // namespace
}  // namespace sb
