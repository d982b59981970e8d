#include "common/cli/duration_validator.hpp"

#include <stdexcept>

#include "common/util.hpp"

namespace sb {

namespace {
constexpr const char* kExamples = "500ms, 30s, 2m, 1h, 90d, 2w or 1h30m";
}

CLI::Validator duration_validator(std::string zero_means) {
  return CLI::Validator(
      [zero_means](std::string& text) -> std::string {
        if (parse_duration(text) || (!zero_means.empty() && text == "0")) return {};
        std::string error = "'" + text + "' is not a duration; use ";
        if (!zero_means.empty()) error += "0 (" + zero_means + ") or ";
        return error + "e.g. " + kExamples;
      },
      "", "DURATION");  // no description: --help keeps showing these options as TEXT
}

std::chrono::milliseconds checked_duration(const std::string& text) {
  if (text == "0") return std::chrono::milliseconds{0};
  if (auto duration = parse_duration(text)) return *duration;
  throw std::invalid_argument("'" + text + "' is not a duration");
}

}  // namespace sb
