// The one check of every duration flag of the command lines (`relay serve --check-interval 30s`,
// `relay enroll create --ttl 1h`, `device-agent run --keepalive 15s`, ...): the text must be
// what parse_duration() reads, so a typo stops the command line before anything runs. It sits
// in its own folder because it needs CLI11, which the rest of common/ does without.
#pragma once
#include <CLI/CLI.hpp>
#include <chrono>
#include <string>

namespace sb {

// Accepts "500ms", "30s", "2m", "1h", "90d", "2w", "1h30m". With `zero_means` (e.g. "keep
// forever"), "0" is accepted too and the error message says what it means.
CLI::Validator duration_validator(std::string zero_means = {});

// The value of an option that duration_validator() accepted: zero for "0". Throws
// std::invalid_argument for text it would have refused.
std::chrono::milliseconds checked_duration(const std::string& text);

}  // namespace sb
