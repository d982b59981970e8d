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

// Under AddressSanitizer a process's heap has redzones, a quarantine of freed blocks and shadow
// memory: its RSS says nothing about the real build. Memory bounds are checked only without it.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kSanitizedBuild = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kSanitizedBuild = true;
#else
inline constexpr bool kSanitizedBuild = false;
#endif
#else
inline constexpr bool kSanitizedBuild = false;
#endif

// True when the binaries under test are built with the sanitizers (this build, or the tree
// SB_E2E_BIN_DIR names): their memory says nothing about the real build, and they are slower.
bool sanitized_binaries();

// Binaries under test (absolute paths): this build's, or those of the build tree named by
// SB_E2E_BIN_DIR. The test tools (loadgen, ssh probe) are always this build's.
std::string relay_bin();
std::string agent_bin();
std::string operator_bin();
std::string loadgen_bin();
// tests/tools/ssh_probe.cpp: a libssh client that sends what OpenSSH will not.
std::string ssh_probe_bin();

// A free TCP port on 127.0.0.1 that no other test process was given in the last minutes: the
// kernel's choice for port 0 alone is not enough, since tests running side by side each close
// the port they were given before their program binds it, and the kernel may hand it out again
// in between.
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

// How a process ended, by one rule for every process the tests start (run() and Process):
// exit_code is the status it passed to exit(), 0-255 (so ssh's own 255 is 255); it is -1 when a
// signal ended it, and `signal` then says which. A run() that outlives its timeout is killed,
// reported as timed_out (exit_code -1, signal SIGKILL) and fails the test.
struct RunResult {
  int exit_code = -1;
  int signal = 0;
  bool timed_out = false;
  std::string out;
  std::string err;
};

// RunResult's rule applied to a waitpid() status: exit_code, and the signal (0 if none).
int exit_code_of(int wait_status);
int signal_of(int wait_status);

struct RunOptions {
  std::string input;  // written to its stdin, which is then closed
  Millis timeout = 30s;
  // Added to the test's own environment (a name given here replaces the inherited value).
  std::map<std::string, std::string> env;
};

// Runs a command to completion and returns how it ended with everything it printed.
RunResult run(const std::vector<std::string>& argv, const RunOptions& options = {});

// A background process whose stdout and stderr are captured (read by a thread) and can be
// waited on. Killed (SIGKILL) on destruction if still running.
class Process {
 public:
  // Stdout is read by the harness (out(), the waits), or left to the test to read at its own
  // pace from raw_stdout() (e.g. to stall a reader); stderr is always captured.
  enum class Stdout { Captured, Raw };
  Process(std::vector<std::string> argv, const std::map<std::string, std::string>& env = {},
          Stdout stdout_mode = Stdout::Captured);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  // Sends a signal (SIGTERM, SIGKILL, SIGSTOP, SIGCONT...).
  void signal(int signo);
  // Waits until it has exited and its output has all been read (or the timeout passes); nullopt
  // if it still runs. Its exit code by RunResult's rule: -1 if a signal ended it (end_signal()).
  std::optional<int> wait(Millis timeout = 10s);
  // The signal that ended it; 0 while it runs or if it exited by itself.
  int end_signal() const;
  // Everything captured so far.
  std::string out() const;
  std::string err() const;
  // Waits until stdout (or stderr when from_err) contains text; returns false on timeout or if
  // the process exited without printing it.
  bool wait_for_output(const std::string& text, Millis timeout = 10s, bool from_err = false);
  // Waits until a line matching the ECMAScript regex appears; returns the first capture group.
  std::optional<std::string> wait_for_match(const std::string& regex, Millis timeout = 10s,
                                            bool from_err = false);
  // Waits until at least n lines (1-based) match the regex; returns the nth line's first
  // capture group (the whole match if the regex has no group).
  std::optional<std::string> wait_for_nth_match(const std::string& regex, std::size_t n,
                                                Millis timeout = 10s, bool from_err = false);
  // The captures of every line matching the regex so far, oldest first.
  std::vector<std::string> matches(const std::string& regex, bool from_err = false) const;
  // The read end of its stdout pipe (Stdout::Raw), owned by the Process.
  int raw_stdout() const;
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
  // On a given port (e.g. another relay taking over the address of a stopped one); 0 = a free
  // port picked here.
  Relay(const std::filesystem::path& data_dir, Options options, int port);
  explicit Relay(const std::filesystem::path& data_dir) : Relay(data_dir, Options{}) {}
  // SIGTERM and wait (SIGKILL if it does not stop).
  ~Relay();
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

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
  // Shorthands: `session list [--active] --json`, `keys list --json`, `device list --json`.
  nlohmann::json sessions(bool active_only = false);
  nlohmann::json tunnel_keys();
  nlohmann::json devices();

 private:
  void start();
  std::filesystem::path data_dir_;
  Options options_;
  int port_;
  std::string fingerprint_;
  std::unique_ptr<Process> process_;
  std::string earlier_logs_;  // stderr of the relay processes before the last restart
};

// ---- Helpers shared by the tests ----------------------------------------------------------

// "Session ID: 482 913 075" at the start of a line in the banner of `device-agent help`
// (stdout; the boxed copy above it is not counted); group 1 = the ID.
inline constexpr const char* kBannerRegex = R"(^Session ID: (\d{3} \d{3} \d{3}))";
// "connected to HOST:PORT: session 482 913 075 ..." logged by both agent modes (stderr).
inline constexpr const char* kConnectedRegex = R"(connected to \S+: session (\d{3} \d{3} \d{3}))";

// "482 913 075" -> "482913075".
std::string digits_only(const std::string& text);

bool contains(const std::string& text, const std::string& part);
// How many times part occurs in text (overlapping ones counted).
std::size_t occurrences_of(const std::string& text, const std::string& part);
// Without trailing newlines, carriage returns and spaces (a CLI's one-line answer).
std::string trim_end(std::string text);
// The whole file, or "" if it cannot be read.
std::string read_text(const std::filesystem::path& file);
double seconds_since(std::chrono::steady_clock::time_point start);
// The admin the relay's CLI reports to the audit trail: $SUDO_USER, else this process's user.
std::string current_user();
// How long a typed line may take to show up for every operator of a shared terminal.
inline constexpr auto kSee = 8s;

// argv for `device-agent help|run --relay ADDR --data-dir DIR --keepalive 1s --max-backoff 1s`
// followed by extra.
std::vector<std::string> agent_help_argv(const std::string& relay_address,
                                         const std::filesystem::path& data_dir,
                                         std::vector<std::string> extra = {});
std::vector<std::string> agent_run_argv(const std::string& relay_address,
                                        const std::filesystem::path& data_dir,
                                        std::vector<std::string> extra = {});

// The nth session ID (1-based, digits only) an agent announced: in its banner (help, stdout) or
// in its "connected to" log line (help and run, stderr). nullopt on timeout or exit.
std::optional<std::string> banner_session_id(Process& agent, std::size_t nth = 1,
                                             Millis timeout = 15s);
std::optional<std::string> logged_session_id(Process& agent, std::size_t nth = 1,
                                             Millis timeout = 15s);

// The first element of a JSON array whose string field equals value; null if none.
nlohmann::json find_by(const nlohmann::json& rows, const std::string& field,
                       const std::string& value);

}  // namespace sb::e2e
