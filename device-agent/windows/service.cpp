#include "device-agent/windows/service.hpp"

#include <windows.h>
// after windows.h, which leaves it out under WIN32_LEAN_AND_MEAN
#include <winsvc.h>
// after windows.h
#include <tlhelp32.h>

#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "device-agent/windows/win_text.hpp"

namespace sb::agent::win {

namespace {

// The SCM calls plain functions: what ServiceMain needs lives here for the process's one
// service.
struct Running {
  std::wstring name;
  const std::function<int()>* prepare = nullptr;
  const std::function<int(StopSignal&)>* body = nullptr;
  SERVICE_STATUS_HANDLE handle = nullptr;
  std::mutex mutex;  // the control handler reports from the SCM's thread
  SERVICE_STATUS status{};
  DWORD checkpoint = 0;
  StopSignal stop;
  int exit_code = 0;
};
Running* g_running = nullptr;

void report(DWORD state, DWORD wait_hint_ms = 0, int exit_code = 0) {
  Running& r = *g_running;
  std::lock_guard lock(r.mutex);
  r.status.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
  r.status.dwCurrentState = state;
  r.status.dwControlsAccepted =
      state == SERVICE_RUNNING ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN : 0;
  r.status.dwWin32ExitCode = exit_code == 0 ? NO_ERROR : ERROR_SERVICE_SPECIFIC_ERROR;
  r.status.dwServiceSpecificExitCode = static_cast<DWORD>(exit_code);
  r.status.dwWaitHint = wait_hint_ms;
  const bool settled = state == SERVICE_RUNNING || state == SERVICE_STOPPED;
  r.status.dwCheckPoint = settled ? 0 : ++r.checkpoint;
  SetServiceStatus(r.handle, &r.status);
}

DWORD WINAPI control_handler(DWORD control, DWORD, void*, void*) {
  switch (control) {
    case SERVICE_CONTROL_STOP:
    case SERVICE_CONTROL_SHUTDOWN:
      // The agent says goodbye to the relay (at most about a second) and returns.
      report(SERVICE_STOP_PENDING, 5000);
      g_running->stop.request();
      return NO_ERROR;
    case SERVICE_CONTROL_INTERROGATE:
      return NO_ERROR;
    default:
      return ERROR_CALL_NOT_IMPLEMENTED;
  }
}

void WINAPI service_main(DWORD, wchar_t**) {
  Running& r = *g_running;
  r.handle = RegisterServiceCtrlHandlerExW(r.name.c_str(), control_handler, nullptr);
  if (!r.handle) {
    r.exit_code = 1;
    return;
  }
  report(SERVICE_START_PENDING, 10000);
  try {
    r.exit_code = (*r.prepare)();
    if (r.exit_code == 0) {
      report(SERVICE_RUNNING);
      r.exit_code = (*r.body)(r.stop);
    }
  } catch (...) {
    r.exit_code = 1;
  }
  report(SERVICE_STOPPED, 0, r.exit_code);
}

// Closes an SC_HANDLE on every path.
struct ScHandle {
  SC_HANDLE h = nullptr;
  explicit ScHandle(SC_HANDLE handle) : h(handle) {}
  ScHandle(ScHandle&& other) noexcept : h(other.h) { other.h = nullptr; }
  ScHandle& operator=(ScHandle&&) = delete;
  ~ScHandle() {
    if (h) CloseServiceHandle(h);
  }
  explicit operator bool() const { return h != nullptr; }
};

[[noreturn]] void fail(const std::string& what, DWORD code = GetLastError()) {
  throw ServiceError(what + ": " + error_text(code));
}

ScHandle open_manager(DWORD access) {
  ScHandle scm(OpenSCManagerW(nullptr, nullptr, access));
  if (!scm) {
    const DWORD code = GetLastError();
    if (code == ERROR_ACCESS_DENIED)
      throw ServiceError(
          "cannot open the service control manager: access denied (run this from an "
          "administrator's command prompt)");
    fail("cannot open the service control manager", code);
  }
  return scm;
}

ScHandle open_service(const ScHandle& scm, const std::wstring& name, DWORD access) {
  ScHandle service(OpenServiceW(scm.h, name.c_str(), access));
  if (!service) {
    const DWORD code = GetLastError();
    if (code == ERROR_SERVICE_DOES_NOT_EXIST)
      throw ServiceError("service '" + to_utf8(name) + "' is not installed");
    fail("cannot open service '" + to_utf8(name) + "'", code);
  }
  return service;
}

SERVICE_STATUS_PROCESS query_status(const ScHandle& service) {
  SERVICE_STATUS_PROCESS status{};
  DWORD needed = 0;
  if (!QueryServiceStatusEx(service.h, SC_STATUS_PROCESS_INFO, reinterpret_cast<BYTE*>(&status),
                            sizeof status, &needed))
    fail("cannot query the service's status");
  return status;
}

// Polls, as `sc` does: the SCM has no wait call that works on every version.
bool wait_for_state(const ScHandle& service, DWORD wanted, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (query_status(service).dwCurrentState == wanted) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

struct NamedValue {
  DWORD value;
  const char* name;
};

template <std::size_t N>
const char* name_of(DWORD value, const NamedValue (&names)[N]) {
  for (const NamedValue& named : names)
    if (named.value == value) return named.name;
  return "unknown";
}

constexpr NamedValue kStateNames[] = {
    {SERVICE_STOPPED, "stopped"},
    {SERVICE_START_PENDING, "start_pending"},
    {SERVICE_STOP_PENDING, "stop_pending"},
    {SERVICE_RUNNING, "running"},
    {SERVICE_CONTINUE_PENDING, "continue_pending"},
    {SERVICE_PAUSE_PENDING, "pause_pending"},
    {SERVICE_PAUSED, "paused"},
};

constexpr NamedValue kStartTypeNames[] = {
    {SERVICE_AUTO_START, "auto"}, {SERVICE_DEMAND_START, "demand"}, {SERVICE_DISABLED, "disabled"},
    {SERVICE_BOOT_START, "boot"}, {SERVICE_SYSTEM_START, "system"},
};

const char* state_name(DWORD state) {
  return name_of(state, kStateNames);
}

std::string seconds_text(std::chrono::milliseconds t) {
  return std::to_string((t.count() + 999) / 1000) + " s";
}

// Asks the service to stop (one already stopped is fine) and waits until it reports STOPPED.
void stop_and_wait(const ScHandle& service, const std::wstring& name,
                   std::chrono::milliseconds timeout, const std::string& if_late) {
  SERVICE_STATUS status{};
  if (!ControlService(service.h, SERVICE_CONTROL_STOP, &status) &&
      GetLastError() != ERROR_SERVICE_NOT_ACTIVE)
    fail("cannot stop service '" + to_utf8(name) + "'");
  if (!wait_for_state(service, SERVICE_STOPPED, timeout))
    throw ServiceError("service '" + to_utf8(name) + "' did not stop within " +
                       seconds_text(timeout) + if_late);
}

// The service control manager (services.exe) is the parent of every service process it starts.
// Asking StartServiceCtrlDispatcher instead is not enough: Wine's waits up to 10 s for a
// control pipe when another service is running, and may even hand that service's pipe to a
// program started by hand (dlls/sechost/service.c, service_open_pipe).
bool started_by_service_manager() {
  HANDLE snapshot = CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0);
  if (snapshot == INVALID_HANDLE_VALUE) return true;  // cannot tell: let the dispatcher decide
  const DWORD self = GetCurrentProcessId();
  DWORD parent = 0;
  PROCESSENTRY32W entry{};
  entry.dwSize = sizeof entry;
  for (BOOL ok = Process32FirstW(snapshot, &entry); ok; ok = Process32NextW(snapshot, &entry))
    if (entry.th32ProcessID == self) parent = entry.th32ParentProcessID;
  bool by_manager = false;
  entry.dwSize = sizeof entry;
  for (BOOL ok = Process32FirstW(snapshot, &entry); parent && ok;
       ok = Process32NextW(snapshot, &entry))
    if (entry.th32ProcessID == parent) by_manager = _wcsicmp(entry.szExeFile, L"services.exe") == 0;
  CloseHandle(snapshot);
  return by_manager;
}

}  // namespace

std::optional<int> run_as_service(const std::wstring& name, const std::function<int()>& prepare,
                                  const std::function<int(StopSignal&)>& body) {
  if (!started_by_service_manager()) return std::nullopt;
  Running running;
  running.name = name;
  running.prepare = &prepare;
  running.body = &body;
  g_running = &running;
  std::wstring table_name = name;
  SERVICE_TABLE_ENTRYW table[] = {{table_name.data(), service_main}, {nullptr, nullptr}};
  const bool dispatched = StartServiceCtrlDispatcherW(table);
  const DWORD code = GetLastError();
  g_running = nullptr;
  if (dispatched) return running.exit_code;
  if (code == ERROR_FAILED_SERVICE_CONTROLLER_CONNECT) return std::nullopt;
  throw ServiceError("cannot connect to the service control manager: " + error_text(code));
}

void install_service(const ServiceSpec& spec) {
  ScHandle scm = open_manager(SC_MANAGER_CONNECT | SC_MANAGER_CREATE_SERVICE);
  // Display names must be unique too: a second agent (--service-name) gets its name in its own.
  std::wstring display = spec.display_name;
  if (spec.name != kServiceName) display += L" (" + spec.name + L")";
  ScHandle service(CreateServiceW(scm.h, spec.name.c_str(), display.c_str(), SERVICE_ALL_ACCESS,
                                  SERVICE_WIN32_OWN_PROCESS, SERVICE_AUTO_START,
                                  SERVICE_ERROR_NORMAL, spec.command_line.c_str(), nullptr, nullptr,
                                  nullptr, nullptr /* LocalSystem */, nullptr));
  if (!service) {
    const DWORD code = GetLastError();
    if (code == ERROR_SERVICE_EXISTS)
      throw ServiceError("service '" + to_utf8(spec.name) +
                         "' is installed already (`device-agent service uninstall` first)");
    fail("cannot create service '" + to_utf8(spec.name) + "'", code);
  }
  // From here on a failure must not leave half a service behind.
  auto undo = [&](const std::string& what, DWORD code) {
    DeleteService(service.h);
    fail(what, code);
  };
  if (!spec.description.empty()) {
    std::wstring text = spec.description;
    SERVICE_DESCRIPTIONW description{text.data()};
    if (!ChangeServiceConfig2W(service.h, SERVICE_CONFIG_DESCRIPTION, &description))
      undo("cannot set the service's description", GetLastError());
  }
  SC_ACTION actions[] = {
      {SC_ACTION_RESTART, 5'000}, {SC_ACTION_RESTART, 30'000}, {SC_ACTION_RESTART, 60'000}};
  SERVICE_FAILURE_ACTIONSW failure{};
  failure.dwResetPeriod = 24 * 60 * 60;
  failure.cActions = static_cast<DWORD>(std::size(actions));
  failure.lpsaActions = actions;
  if (!ChangeServiceConfig2W(service.h, SERVICE_CONFIG_FAILURE_ACTIONS, &failure))
    undo("cannot set the service's recovery actions", GetLastError());
  // Without this flag Windows restarts only after a crash, not after the agent reported a
  // failure exit code (for example when it could not open its data dir).
  SERVICE_FAILURE_ACTIONS_FLAG flag{TRUE};
  if (!ChangeServiceConfig2W(service.h, SERVICE_CONFIG_FAILURE_ACTIONS_FLAG, &flag)) {
    const DWORD code = GetLastError();
    // Wine does not know this level (Windows has it since Vista); the service still works.
    if (code != ERROR_INVALID_LEVEL) undo("cannot set the service's recovery flag", code);
  }
}

void uninstall_service(const std::wstring& name, std::chrono::milliseconds timeout) {
  ScHandle scm = open_manager(SC_MANAGER_CONNECT);
  ScHandle service = open_service(scm, name, SERVICE_STOP | SERVICE_QUERY_STATUS | DELETE);
  if (query_status(service).dwCurrentState != SERVICE_STOPPED)
    stop_and_wait(service, name, timeout, "; not removed");
  if (!DeleteService(service.h) && GetLastError() != ERROR_SERVICE_MARKED_FOR_DELETE)
    fail("cannot remove service '" + to_utf8(name) + "'");
}

void start_service(const std::wstring& name, std::chrono::milliseconds timeout) {
  ScHandle scm = open_manager(SC_MANAGER_CONNECT);
  ScHandle service = open_service(scm, name, SERVICE_START | SERVICE_QUERY_STATUS);
  if (!StartServiceW(service.h, 0, nullptr) && GetLastError() != ERROR_SERVICE_ALREADY_RUNNING)
    fail("cannot start service '" + to_utf8(name) + "'");
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const SERVICE_STATUS_PROCESS status = query_status(service);
    if (status.dwCurrentState == SERVICE_RUNNING) return;
    // StartService returns with the service START_PENDING: STOPPED now means it ended.
    if (status.dwCurrentState == SERVICE_STOPPED) {
      std::string why = error_text(status.dwWin32ExitCode);
      if (status.dwWin32ExitCode == ERROR_SERVICE_SPECIFIC_ERROR)
        why = "exit code " + std::to_string(status.dwServiceSpecificExitCode);
      throw ServiceError("service '" + to_utf8(name) + "' stopped at once (" + why +
                         "); its log is agent.log in the data dir");
    }
    if (std::chrono::steady_clock::now() >= deadline)
      throw ServiceError("service '" + to_utf8(name) + "' is not running after " +
                         seconds_text(timeout) + " (state " + state_name(status.dwCurrentState) +
                         ")");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

void stop_service(const std::wstring& name, std::chrono::milliseconds timeout) {
  ScHandle scm = open_manager(SC_MANAGER_CONNECT);
  ScHandle service = open_service(scm, name, SERVICE_STOP | SERVICE_QUERY_STATUS);
  stop_and_wait(service, name, timeout, "");
}

ServiceState query_service(const std::wstring& name) {
  ServiceState out;
  ScHandle scm = open_manager(SC_MANAGER_CONNECT);
  ScHandle service(OpenServiceW(scm.h, name.c_str(), SERVICE_QUERY_STATUS | SERVICE_QUERY_CONFIG));
  if (!service) {
    if (GetLastError() == ERROR_SERVICE_DOES_NOT_EXIST) return out;
    fail("cannot open service '" + to_utf8(name) + "'");
  }
  out.installed = true;
  const SERVICE_STATUS_PROCESS status = query_status(service);
  out.state = state_name(status.dwCurrentState);
  out.pid = status.dwProcessId;
  out.exit_code = status.dwWin32ExitCode;
  out.service_exit_code = status.dwServiceSpecificExitCode;
  DWORD needed = 0;
  QueryServiceConfigW(service.h, nullptr, 0, &needed);
  std::vector<BYTE> buffer(needed);
  auto* config = reinterpret_cast<QUERY_SERVICE_CONFIGW*>(buffer.data());
  if (needed && QueryServiceConfigW(service.h, config, needed, &needed)) {
    out.start_type = name_of(config->dwStartType, kStartTypeNames);
    out.account = config->lpServiceStartName ? to_utf8(config->lpServiceStartName) : "";
    out.command_line = config->lpBinaryPathName ? to_utf8(config->lpBinaryPathName) : "";
  }
  return out;
}

}  // namespace sb::agent::win
