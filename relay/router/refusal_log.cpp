#include "relay/router/refusal_log.hpp"

#include <spdlog/spdlog.h>

#include "common/logging.hpp"

namespace sb::relay {

namespace {
// The throttle's key reads as the end of a summary line: "refused 12 more " + key.
std::string repeat_key(const Refusal& refusal) {
  return std::string(refusal.what) + " from " + std::string(refusal.source) + ": " +
         std::string(refusal.reason);
}
}  // namespace

std::string RefusalLog::format(const Refusal& refusal) {
  std::string line = "refused " + std::string(refusal.what);
  if (!refusal.target.empty()) line += " " + quote_log_text(refusal.target);
  if (!refusal.operator_name.empty()) line += " operator=" + std::string(refusal.operator_name);
  line +=
      " fp=" + (refusal.fingerprint.empty() ? std::string("-") : std::string(refusal.fingerprint));
  line += " from=" + std::string(refusal.source) + ": " + std::string(refusal.reason);
  if (!refusal.detail.empty()) line += " (" + refusal.detail + ")";
  return line;
}

void RefusalLog::log(const Refusal& refusal, Clock::time_point now) {
  auto held = throttle_.admit(repeat_key(refusal), now);
  if (!held) return;
  if (*held == 0)
    spdlog::warn("{}", format(refusal));
  else
    spdlog::warn("{} [{} more like it since the last such line]", format(refusal), *held);
}

void RefusalLog::summarize(Clock::time_point now) {
  for (const auto& [key, count] : throttle_.drain(now))
    spdlog::warn("refused {} more {}", count,
                 key.empty() ? "requests from other sources (too many to tell apart)" : key);
}

}  // namespace sb::relay
