#pragma once
#include <string_view>

namespace sb {
// Configures the default spdlog logger: text to stderr, or one JSON object per line.
// level: trace|debug|info|warn|error|critical|off. Throws std::invalid_argument otherwise.
void setup_logging(std::string_view program, std::string_view level, bool json);
}  // namespace sb
