// The Windows service: running under the service control manager (SCM), and installing,
// starting, stopping, querying and removing the agent's service (Windows only).
#pragma once
#include <chrono>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>

#include "device-agent/stop_signal.hpp"

namespace sb::agent::win {

inline constexpr wchar_t kServiceName[] = L"switchboard-agent";

struct ServiceError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Runs as the service `name`: reports START_PENDING and runs prepare (checks that can fail
// before the service counts as started: the data dir, the log file); a non-zero result ends the
// service with that code. Then RUNNING and body, until it returns; a stop or shutdown control
// reports STOP_PENDING and requests the StopSignal; STOPPED at the end. A non-zero exit code is
// reported as a service-specific error, so that the recovery actions restart the service.
// Returns nullopt at once if the SCM did not start this process (a run by hand): the caller then
// runs in the console.
std::optional<int> run_as_service(const std::wstring& name, const std::function<int()>& prepare,
                                  const std::function<int(StopSignal&)>& body);

struct ServiceSpec {
  std::wstring name = kServiceName;
  std::wstring display_name = L"switchboard device agent";
  std::wstring description;
  std::wstring command_line;  // the program, quoted, and its arguments
};

// Registers an auto-start LocalSystem service with restart-on-failure recovery actions (5 s,
// 30 s, 60 s; the count resets after a day). Throws ServiceError, also if it exists already.
void install_service(const ServiceSpec& spec);
// Stops the service if it runs (waiting up to timeout), then deletes it. Throws ServiceError.
void uninstall_service(const std::wstring& name, std::chrono::milliseconds timeout);
// Both wait until the service is running / stopped, or throw ServiceError after timeout.
void start_service(const std::wstring& name, std::chrono::milliseconds timeout);
void stop_service(const std::wstring& name, std::chrono::milliseconds timeout);

struct ServiceState {
  bool installed = false;
  std::string state;       // stopped, start_pending, running, stop_pending, ...
  std::string start_type;  // auto, demand, disabled, ...
  std::string account;
  std::string command_line;
  unsigned long pid = 0;
  unsigned long exit_code = 0;          // the Win32 exit code of the last run
  unsigned long service_exit_code = 0;  // the agent's own exit code, when the above is 1066
};
ServiceState query_service(const std::wstring& name);

}  // namespace sb::agent::win
