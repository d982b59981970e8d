#include "device-agent/windows/service_cli.hpp"

#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/spdlog.h>
#include <windows.h>
// after windows.h, which leaves it out under WIN32_LEAN_AND_MEAN
#include <winsvc.h>

#include <chrono>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <thread>

#include "common/logging.hpp"
#include "device-agent/status_file.hpp"
#include "device-agent/windows/data_dir.hpp"
#include "device-agent/windows/service.hpp"
#include "device-agent/windows/service_command.hpp"
#include "device-agent/windows/win_text.hpp"

namespace sb::agent::win {

namespace {

constexpr std::size_t kLogFileBytes = 5 * 1024 * 1024;
constexpr std::size_t kLogFiles = 3;

struct ServiceArgs {
  std::string service_name = "switchboard-agent";
  std::string timeout = "30s";
  std::string enroll_timeout = "60s";
};

std::string self_path() {
  std::wstring path(MAX_PATH, L'\0');
  for (;;) {
    const DWORD n = GetModuleFileNameW(nullptr, path.data(), static_cast<DWORD>(path.size()));
    if (n < path.size()) {
      path.resize(n);
      return to_utf8(path);
    }
    path.resize(path.size() * 2);
  }
}

// The args of `device-agent ... service install ARGS`, as typed.
std::vector<std::string> install_args(const std::vector<std::string>& argv) {
  for (std::size_t i = 1; i + 1 < argv.size(); ++i)
    if (argv[i] == "service" && argv[i + 1] == "install")
      return {argv.begin() + static_cast<std::ptrdiff_t>(i + 2), argv.end()};
  return {};
}

// Flags of `service` itself, not to be passed on to `run`.
std::vector<std::string> without_service_flags(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    bool own = false;
    for (const char* flag : {"--service-name", "--timeout", "--enroll-timeout"}) {
      if (a == flag) {
        own = true;
        ++i;
      } else if (a.rfind(std::string(flag) + "=", 0) == 0) {
        own = true;
      }
    }
    if (!own) out.push_back(a);
  }
  return out;
}

std::chrono::milliseconds seconds_arg(const std::string& text, const char* flag) {
  // "30s", "2m" or a plain number of seconds.
  std::size_t used = 0;
  long long n = 0;
  try {
    n = std::stoll(text, &used);
  } catch (const std::exception&) {
    throw CLI::ValidationError(flag, "expected a duration such as 30s or 2m");
  }
  const std::string unit = text.substr(used);
  if (n <= 0 || n > 3600 || !(unit.empty() || unit == "s" || unit == "m"))
    throw CLI::ValidationError(flag, "expected a duration such as 30s or 2m (at most 1h)");
  return std::chrono::seconds(unit == "m" ? n * 60 : n);
}

// Runs the agent until the relay has named this device (or the timeout), as the first `run`
// would. Returns the device name, "" on failure (the agent has logged why).
std::string enroll(AgentOptions options, std::chrono::milliseconds timeout) {
  StopSignal stop;
  options.stop = &stop;
  options.stop_when_enrolled = true;
  std::mutex mutex;
  std::condition_variable done_cv;
  bool done = false;
  std::thread timer([&] {
    std::unique_lock lock(mutex);
    if (!done_cv.wait_for(lock, timeout, [&] { return done; })) stop.request();
  });
  try {
    run_agent(options);  // its exit code says less than the record: enrolled with this relay?
  } catch (...) {
    {
      std::lock_guard lock(mutex);
      done = true;
    }
    done_cv.notify_all();
    timer.join();
    throw;
  }
  {
    std::lock_guard lock(mutex);
    done = true;
  }
  done_cv.notify_all();
  timer.join();
  const Enrollment enrollment = read_enrollment(options.data_dir);
  return enrollment.with(options.relay.str()) ? enrollment.device : "";
}

// The device name the service runs as: enrolled before with this relay (a reinstall, an MSI
// upgrade run with the first install's command line: registered without asking the relay, and a
// token given again is not spent), or enrolled now. A device enrolled with another relay is
// enrolled with this one when a token is given ("" if that fails), and kept as it is otherwise
// (the relay may know it: relays sharing a database do).
std::string enrolled_device(const AgentOptions& options, std::chrono::milliseconds enroll_timeout) {
  const Enrollment enrollment = read_enrollment(options.data_dir);
  const std::string where = " (in " + options.data_dir.string() + ")";
  if (enrollment.with(options.relay.str())) {
    std::cout << "Already enrolled as device " << enrollment.device << where
              << (options.enroll_token.empty() ? "" : "; the token was not used") << '\n';
    return enrollment.device;
  }
  if (!enrollment.device.empty()) {
    std::cout << "Enrolled as device " << enrollment.device << " with relay " << enrollment.relay
              << where;
    if (options.enroll_token.empty()) {
      std::cout << "; no token given, so relay " << options.relay.str()
                << " must know this device already\n";
      return enrollment.device;
    }
    std::cout << "; enrolling with relay " << options.relay.str() << " now\n";
  }
  const std::string device = enroll(options, enroll_timeout);
  if (!device.empty())
    std::cout << "Enrolled as device " << device << " with relay " << options.relay.str() << '\n';
  return device;
}

void setup_service_logging(const std::filesystem::path& data_dir) {
  const auto level = spdlog::default_logger()->level();
  auto sink = std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
      (data_dir / "agent.log").string(), kLogFileBytes, kLogFiles);
  auto logger = std::make_shared<spdlog::logger>("device-agent", sink);
  // The text format, whatever --log-json says: JSON would need the formatter's flag too.
  logger->set_formatter(make_log_formatter("device-agent", false));
  logger->set_level(level);
  // A service has nobody watching its output: every line reaches the file at once.
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
}

}  // namespace

int run_service_or_console(const AgentOptions& options, const std::function<int()>& console) {
  auto prepare = [&] {
    try {
      ensure_private_data_dir(options.data_dir);
      setup_service_logging(options.data_dir);
      return 0;
    } catch (const std::exception& e) {
      // No log file: the exit code is what the service control manager shows.
      std::cerr << "device-agent: " << e.what() << '\n';
      return 1;
    }
  };
  auto body = [&](StopSignal& stop) {
    spdlog::info("started by the service control manager");
    AgentOptions service_options = options;
    service_options.stop = &stop;
    try {
      const int rc = run_agent(service_options);
      spdlog::info("service stopping, exit code {}", rc);
      return rc;
    } catch (const std::exception& e) {
      spdlog::error("{}", e.what());
      return 1;
    }
  };
  if (auto rc = run_as_service(kServiceName, prepare, body)) return *rc;
  return console();
}

void add_service_verb(CLI::App& app, int& exit_code, ServiceVerbHooks hooks,
                      std::vector<std::string> argv) {
  auto* service = app.add_subcommand(
      "service",
      "The Windows service: install (enrolls, then registers), start, stop, status, "
      "uninstall");
  service->require_subcommand(1);
  auto args = std::make_shared<ServiceArgs>();
  auto add_name = [&](CLI::App* verb) {
    verb->add_option("--service-name", args->service_name, "The Windows service's name")
        ->capture_default_str();
  };
  auto add_timeout = [&](CLI::App* verb) {
    verb->add_option("--timeout", args->timeout, "How long to wait for the service")
        ->capture_default_str();
  };

  auto* install = service->add_subcommand(
      "install",
      "Enroll this device with the relay, then register an auto-start service that "
      "runs `device-agent run` with these flags (administrators only). A device enrolled "
      "before (its data dir says so) is registered without a token or the relay");
  hooks.add_run_flags(*install);
  add_name(install);
  install
      ->add_option("--enroll-timeout", args->enroll_timeout,
                   "How long enrollment may take before install gives up")
      ->capture_default_str();
  install->callback([&exit_code, hooks, args, argv] {
    hooks.setup_logging();
    AgentOptions options = hooks.run_options();
    const auto enroll_timeout = seconds_arg(args->enroll_timeout, "--enroll-timeout");
    ensure_private_data_dir(options.data_dir);
    const std::string device = enrolled_device(options, enroll_timeout);
    if (device.empty()) {
      std::cerr << "device-agent: could not enroll with relay " << options.relay.str()
                << " (see the log above); the service was not installed\n";
      exit_code = 1;
      return;
    }
    const std::filesystem::path data_dir = std::filesystem::absolute(options.data_dir);
    ServiceSpec spec;
    spec.name = to_wide(args->service_name);
    spec.description =
        to_wide("Keeps this device reachable for IT support through the switchboard relay " +
                options.relay.str() + " as device " + device);
    const auto run_args =
        service_run_args(without_service_flags(install_args(argv)), data_dir.string());
    std::vector<std::string> command{"run"};
    command.insert(command.end(), run_args.begin(), run_args.end());
    spec.command_line = to_wide(windows_command_line(self_path(), command));
    install_service(spec);
    std::cout << "Installed service " << args->service_name
              << " (starts with Windows; `device-agent service start` starts it now)\n";
  });

  // uninstall, start and stop: a name, a timeout, one call that waits, and one line on success.
  using WaitingCall = void (*)(const std::wstring&, std::chrono::milliseconds);
  auto add_waiting_verb = [&](const char* verb, const char* help, WaitingCall call,
                              const char* done) {
    auto* sub = service->add_subcommand(verb, help);
    add_name(sub);
    add_timeout(sub);
    sub->callback([args, call, done] {
      call(to_wide(args->service_name), seconds_arg(args->timeout, "--timeout"));
      std::cout << "Service " << args->service_name << done << '\n';
    });
  };
  add_waiting_verb("uninstall", "Stop and remove the service", uninstall_service,
                   " removed (the device's key and enrollment stay in its data dir)");
  add_waiting_verb("start", "Start the service and wait until it runs", start_service,
                   " is running");
  add_waiting_verb("stop", "Stop the service and wait until it has", stop_service, " is stopped");

  auto* status = service->add_subcommand(
      "status", "The service's state; exit 0 if running, 3 if stopped, 4 if not installed");
  add_name(status);
  status->callback([&exit_code, args] {
    const ServiceState s = query_service(to_wide(args->service_name));
    if (!s.installed) {
      std::cout << args->service_name << ": not installed\n";
      exit_code = 4;
      return;
    }
    std::cout << args->service_name << ": " << s.state;
    if (s.pid) std::cout << " (pid " << s.pid << ")";
    std::cout << "\n  start: " << s.start_type << ", account: " << s.account
              << "\n  command: " << s.command_line << '\n';
    if (s.state == "stopped" && s.exit_code == ERROR_SERVICE_SPECIFIC_ERROR)
      std::cout << "  last exit code: " << s.service_exit_code << '\n';
    exit_code = s.state == "running" ? 0 : 3;
  });
}

}  // namespace sb::agent::win
