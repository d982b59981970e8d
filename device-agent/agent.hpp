// The agent's supervisor: keeps one tunnel up (reconnecting with backoff), pins the relay's
// host key, keeps the status file current and stops cleanly on SIGTERM/SIGINT.
#pragma once
#include <chrono>
#include <filesystem>
#include <string>

#include "common/io/net.hpp"
#include "device-agent/channel_host.hpp"
#include "device-agent/stop_signal.hpp"

namespace sb::agent {

struct AgentOptions {
  net::HostPort relay;
  std::string relay_key;  // "SHA256:..." to pin, or "" for trust on first use
  std::filesystem::path data_dir;
  bool adhoc = false;  // `help`: ephemeral key, friendly banner
  std::string enroll_token;
  std::string name;
  std::chrono::milliseconds keepalive{std::chrono::seconds(15)};
  std::chrono::milliseconds initial_backoff{std::chrono::seconds(1)};
  std::chrono::milliseconds max_backoff{std::chrono::seconds(60)};
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(15)};
  // Enrolled devices: ask the person at the device anyway (ad hoc devices always ask).
  bool consent_prompt = false;
  // How often the system info is read again (and sent when it changed, system_info_json.hpp).
  std::chrono::milliseconds info_interval{std::chrono::seconds(60)};
  ChannelPolicy policy;
  // Stops the agent from another thread as SIGTERM would (the Windows service's stop control).
  StopSignal* stop = nullptr;
  // `service install`: enroll, then stop (exit 0) once the relay has named this device.
  bool stop_when_enrolled = false;
};

// Runs until stopped. Exit code: 0 after SIGTERM/SIGINT, 2 if the relay refused this device or
// its host key did not match (retrying cannot help).
int run_agent(const AgentOptions& options);

// `device-agent status`: prints the state recorded by a running agent. Exit 0 if connected.
int print_status(const std::filesystem::path& data_dir, bool json);

std::filesystem::path default_agent_dir();

}  // namespace sb::agent
