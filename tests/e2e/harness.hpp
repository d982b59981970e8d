// End-to-end test harness: real processes on loopback, waits on conditions (never fixed
// sleeps), and a scratch directory per test that is removed afterwards.
#pragma once
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace sb::e2e {

using namespace std::chrono_literals;
using Millis = std::chrono::milliseconds;

// Binaries under test (absolute paths, from the build).
std::string relay_bin();
std::string agent_bin();
std::string operator_bin();
std::string loadgen_bin();

// A free TCP port on 127.0.0.1 (bind to port 0, read it back, close).
int free_port();

// A temporary directory (mode 0700) removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

struct RunResult {
  int exit_code = -1;  // -1 if killed by a signal or timed out
  std::string out;
  std::string err;
};

// Runs a command to completion (stdin from /dev/null), killing it after timeout.
RunResult run(const std::vector<std::string>& argv, Millis timeout = 30s,
              const std::map<std::string, std::string>& env = {});

// A background process whose stdout and stderr are captured (read by a thread) and can be
// waited on. Killed (SIGKILL) on destruction if still running.
class Process {
 public:
  Process(std::vector<std::string> argv, const std::map<std::string, std::string>& env = {});
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  // Sends a signal (SIGTERM, SIGKILL, SIGSTOP, SIGCONT...).
  void signal(int signo);
  // Waits for exit; nullopt on timeout. The exit code, or 128+signal if killed.
  std::optional<int> wait(Millis timeout = 10s);
  // Everything captured so far.
  std::string out() const;
  std::string err() const;
  // Waits until stdout (or stderr when from_err) contains text; returns false on timeout or if
  // the process exited without printing it.
  bool wait_for_output(const std::string& text, Millis timeout = 10s, bool from_err = false);
  // Waits until a line matching the ECMAScript regex appears; returns the first capture group.
  std::optional<std::string> wait_for_match(const std::string& regex, Millis timeout = 10s,
                                            bool from_err = false);
  // Writes to the process's stdin.
  void write_stdin(const std::string& data);
  void close_stdin();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  pid_t pid_ = -1;
};

// Polls cond every 20 ms until it holds or the timeout passes.
bool wait_until(const std::function<bool()>& cond, Millis timeout = 10s);

// A relay for one test: `relay init` in its own data dir, then `relay serve` on a free port,
// waiting until it logs that it is listening.
class Relay {
 public:
  struct Options {
    std::string check_interval = "1s";
    std::vector<std::string> extra_args;
  };
  explicit Relay(const std::filesystem::path& data_dir, Options options);
  explicit Relay(const std::filesystem::path& data_dir) : Relay(data_dir, Options{}) {}

  int port() const { return port_; }
  std::string address() const;  // "127.0.0.1:PORT"
  const std::string& fingerprint() const { return fingerprint_; }
  const std::filesystem::path& data_dir() const { return data_dir_; }
  Process& process() { return *process_; }
  // Starts `relay serve` again on the same port and data dir (after a stop or kill -9).
  void restart();
  void kill9();
  // SIGTERM and wait; returns the exit code.
  int stop();
  // Runs an admin verb with --data-dir appended, e.g. admin({"session","list","--json"}).
  RunResult admin(std::vector<std::string> args);
  // admin(args + --json) parsed; fails the test (ADD_FAILURE) and returns null if not JSON.
  nlohmann::json admin_json(std::vector<std::string> args);

 private:
  void start();
  std::filesystem::path data_dir_;
  Options options_;
  int port_;
  std::string fingerprint_;
  std::unique_ptr<Process> process_;
};

}  // namespace sb::e2e
