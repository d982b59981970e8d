// `device-agent service install|uninstall|start|stop|status`, and `run` under the service
// control manager (Windows only).
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

#include "device-agent/agent.hpp"

namespace sb::agent::win {

struct ServiceVerbHooks {
  // Adds the flags of `run` (the connection flags, --enroll-token, --name, ...) to a verb.
  std::function<void(CLI::App&)> add_run_flags;
  // The agent's options from the flags parsed, validated as `run` validates them.
  std::function<AgentOptions()> run_options;
  // Sets up logging to stderr as `run` does.
  std::function<void()> setup_logging;
};

// Adds the `service` verb. argv: main's, so that install registers the flags as typed.
void add_service_verb(CLI::App& app, int& exit_code, ServiceVerbHooks hooks,
                      std::vector<std::string> argv);

// `run`: as the service when the service control manager started this process (logging to a
// rotating file in the data dir), else console() in the foreground.
int run_service_or_console(const AgentOptions& options, const std::function<int()>& console);

}  // namespace sb::agent::win
