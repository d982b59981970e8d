#pragma once
#include <spdlog/formatter.h>

#include <memory>
#include <string>
#include <string_view>

namespace sb {
// Configures the default spdlog logger: text to stderr, or one JSON object per line.
// level: trace|debug|info|warn|error|critical|off. Throws std::invalid_argument otherwise.
void setup_logging(std::string_view program, std::string_view level, bool json);
// The formatter setup_logging installs: text lines or JSON objects, the message escaped either
// way (JSON string rules, or escape_log_text).
std::unique_ptr<spdlog::formatter> make_log_formatter(std::string_view program, bool json);
// Text as a log line may carry it: printable ASCII and printable UTF-8 as they are; \n, \r,
// \t as those two-character escapes; other control characters (C0, DEL, C1) and bytes that are
// not UTF-8 as \xNN.
std::string escape_log_text(std::string_view text);
// A peer's string as one field of a log line: escape_log_text inside double quotes, a quote and
// a backslash preceded by a backslash, so that a user name such as `x fp=SHA256:forged` cannot
// pose as another field and a literal "\x00" differs from an escaped NUL byte.
std::string quote_log_text(std::string_view text);
}  // namespace sb
