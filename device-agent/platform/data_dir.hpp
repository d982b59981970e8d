// Where the agent keeps its key, pins and status, and the check that nobody else can change them.
#pragma once
#include <filesystem>

namespace sb::agent::platform {

// SWITCHBOARD_AGENT_DIR if set; then the platform's default for this user or for the service.
std::filesystem::path default_data_dir();

// Creates the directory if needed and throws (saying how to fix it) if others could write it.
void prepare_data_dir(const std::filesystem::path& dir);

}  // namespace sb::agent::platform
