// Default spdlog logger: human-readable text, or JSON lines for log collectors.
#include "common/logging.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <utility>

namespace sb {

namespace {

// A JSON string literal without its quotes. Invalid UTF-8 is replaced, not thrown: a log line
// must never fail because a peer sent odd bytes.
std::string json_escape(std::string_view s) {
  const std::string quoted =
      nlohmann::json(std::string(s)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return quoted.substr(1, quoted.size() - 2);
}

void append_hex(std::string& out, unsigned char c) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += "\\x";
  out += kHex[c >> 4];
  out += kHex[c & 0xf];
}

// Length of the valid UTF-8 sequence at s[i] (0 if it is not one). Strict (RFC 3629): no
// overlong forms, no surrogates, nothing above U+10FFFF, so that what passes is what a JSON
// encoder accepts too.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  const auto lead = static_cast<unsigned char>(s[i]);
  std::size_t len = lead >= 0xf0 && lead <= 0xf4 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc2 ? 2 : 0;
  if (lead >= 0xf5 || len == 0 || i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return 0;
  // The second byte's narrower range after these leads.
  const auto second = static_cast<unsigned char>(s[i + 1]);
  if ((lead == 0xe0 && second < 0xa0) || (lead == 0xed && second > 0x9f) ||
      (lead == 0xf0 && second < 0x90) || (lead == 0xf4 && second > 0x8f))
    return 0;
  return len;
}

// spdlog interprets '%' in a pattern; a program name is literal text.
std::string pattern_literal(std::string_view s) {
  std::string out;
  for (char c : s) {
    out += c;
    if (c == '%') out += '%';
  }
  return out;
}

// %* in the JSON pattern: the message payload, escaped for a JSON string.
class JsonMessageFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const std::string escaped =
        json_escape(std::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(escaped.data(), escaped.data() + escaped.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonMessageFlag>();
  }
};

// %* in the text pattern: the message payload with every control character escaped.
class TextMessageFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const std::string escaped =
        escape_log_text(std::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(escaped.data(), escaped.data() + escaped.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<TextMessageFlag>();
  }
};

spdlog::level::level_enum parse_level(std::string_view level) {
  static constexpr std::array<std::pair<std::string_view, spdlog::level::level_enum>, 7> kLevels{{
      {"trace", spdlog::level::trace},
      {"debug", spdlog::level::debug},
      {"info", spdlog::level::info},
      {"warn", spdlog::level::warn},
      {"error", spdlog::level::err},
      {"critical", spdlog::level::critical},
      {"off", spdlog::level::off},
  }};
  for (const auto& [name, value] : kLevels) {
    if (name == level) return value;
  }
  throw std::invalid_argument("unknown log level '" + std::string(level) +
                              "': expected trace, debug, info, warn, error, critical or off");
}

}  // namespace

std::string escape_log_text(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
      ++i;
    } else if (c == '\n' || c == '\r' || c == '\t') {
      out += c == '\n' ? "\\n" : c == '\r' ? "\\r" : "\\t";
      ++i;
    } else {
      const std::size_t len = c >= 0x80 ? utf8_sequence(text, i) : 0;
      const bool c1_control =
          len == 2 && c == 0xc2 && static_cast<unsigned char>(text[i + 1]) < 0xa0;
      if (len > 0 && !c1_control) {
        out.append(text.substr(i, len));  // printable UTF-8
      } else {
        // C0, DEL, C1 and bytes that are not UTF-8: visible, never interpreted by a terminal.
        for (std::size_t k = 0; k < std::max<std::size_t>(len, 1); ++k)
          append_hex(out, static_cast<unsigned char>(text[i + k]));
      }
      i += std::max<std::size_t>(len, 1);
    }
  }
  return out;
}

std::string quote_log_text(std::string_view text) {
  std::string marked;
  marked.reserve(text.size());
  for (char c : text) {
    if (c == '"' || c == '\\') marked += '\\';  // before escaping: the escapes stay unambiguous
    marked += c;
  }
  return "\"" + escape_log_text(marked) + "\"";
}

std::unique_ptr<spdlog::formatter> make_log_formatter(std::string_view program, bool json) {
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  if (json) {
    formatter->add_flag<JsonMessageFlag>('*').set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l","program":")" +
        pattern_literal(json_escape(program)) + R"(","msg":"%*"})");
  } else {
    // Peers choose user names, commands and env names that end up in log lines: escaped, a
    // "\r\n" cannot forge a line and an escape sequence cannot reach the admin's terminal.
    formatter->add_flag<TextMessageFlag>('*').set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ [" +
                                                          pattern_literal(program) + "] %*");
  }
  return formatter;
}

void setup_logging(std::string_view program, std::string_view level, bool json) {
  const auto lvl = parse_level(level);  // validate before replacing the working logger
  // The color sink already drops colors when stderr is not a terminal.
  auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>(std::string(program), std::move(sink));
  logger->set_formatter(make_log_formatter(program, json));
  logger->set_level(lvl);
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace sb
