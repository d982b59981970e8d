// Implementation of the end-to-end harness (see harness.hpp): processes spawned with
// posix_spawn in their own process group, their output read by one thread each, and waits that
// poll conditions with deadlines instead of sleeping.
#include "harness.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>

extern char** environ;

namespace sb::e2e {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// SB_E2E_BIN_DIR: another build tree whose relay, agent and operator-cli are the ones under test
// (scripts/test.sh points it at build-asan/, which does not build these tests itself).
const char* bin_dir_override() {
  const char* dir = std::getenv("SB_E2E_BIN_DIR");
  return dir != nullptr && *dir != '\0' ? dir : nullptr;
}

std::string binary_under_test(const char* built_here, const char* in_tree) {
  const char* dir = bin_dir_override();
  return dir != nullptr ? (fs::path(dir) / in_tree).string() : built_here;
}

bool tree_is_sanitized(const fs::path& dir) {
  std::ifstream cache(dir / "CMakeCache.txt");
  if (!cache) throw std::runtime_error("SB_E2E_BIN_DIR: no CMakeCache.txt in " + dir.string());
  std::string line;
  while (std::getline(cache, line))
    if (line == "SB_SANITIZE:BOOL=ON") return true;
  return false;
}

}  // namespace

bool sanitized_binaries() {
  static const bool sanitized = [] {
    const char* dir = bin_dir_override();
    return dir != nullptr ? tree_is_sanitized(dir) : kSanitizedBuild;
  }();
  return sanitized;
}

std::string relay_bin() {
  return binary_under_test(SB_RELAY_BIN, "relay/relay");
}
std::string agent_bin() {
  return binary_under_test(SB_AGENT_BIN, "device-agent/device-agent");
}
std::string operator_bin() {
  return binary_under_test(SB_OPERATOR_BIN, "operator-cli/operator-cli");
}
std::string loadgen_bin() {
  return SB_LOADGEN_BIN;
}
std::string ssh_probe_bin() {
  return SB_SSH_PROBE_BIN;
}

namespace {

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

// Writing to the stdin of a process that has exited must not kill the test binary.
void ignore_sigpipe_once() {
  static std::once_flag once;
  std::call_once(once, [] { ::signal(SIGPIPE, SIG_IGN); });
}

std::vector<std::string> merged_environment(const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string entry(*e);
    auto eq = entry.find('=');
    if (eq == std::string::npos) continue;
    env[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  for (const auto& [k, v] : extra) env[k] = v;
  std::vector<std::string> out;
  out.reserve(env.size());
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}

std::string describe(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) {
    if (!s.empty()) s += ' ';
    s += a;
  }
  return s;
}

// Collects the lines of text (the unterminated tail counts as a line too).
std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::string line;
  std::istringstream in(text);
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

// Captures of regex in text, one per matching line: group 1 if present, else the whole match.
std::vector<std::string> line_matches(const std::string& text, const std::regex& re) {
  std::vector<std::string> out;
  for (const auto& line : split_lines(text)) {
    std::smatch m;
    if (std::regex_search(line, m, re)) out.push_back(m.size() > 1 ? m[1].str() : m[0].str());
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// free_port, TempDir, wait_until

namespace {

// A port the kernel has free right now (bind to port 0, read it back, close).
int unbound_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw_errno("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    int e = errno;
    ::close(fd);
    errno = e;
    throw_errno("bind 127.0.0.1:0");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

// Claims `port` for this test process for kClaimLife: the claim is a file created with O_EXCL
// in a directory every test process shares, or an older claim's file taken over.
bool claim_port(int port) {
  constexpr auto kClaimLife = std::chrono::minutes(10);
  static const fs::path dir = fs::temp_directory_path() / "sb-e2e-ports";
  std::error_code ec;
  fs::create_directories(dir, ec);
  const fs::path claim = dir / std::to_string(port);
  int fd = ::open(claim.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
  if (fd >= 0) {
    ::close(fd);
    return true;
  }
  if (errno != EEXIST) return true;  // no shared directory: the kernel's word is all there is
  const auto claimed_at = fs::last_write_time(claim, ec);
  if (ec || fs::file_time_type::clock::now() - claimed_at < kClaimLife) return false;
  fs::last_write_time(claim, fs::file_time_type::clock::now(), ec);
  return !ec;
}

}  // namespace

int free_port() {
  for (int attempt = 0; attempt < 200; ++attempt) {
    const int port = unbound_port();
    if (claim_port(port)) return port;
  }
  throw std::runtime_error("no free port on 127.0.0.1 that no other test has claimed");
}

TempDir::TempDir() {
  std::string pattern = (fs::temp_directory_path() / "sb-e2e-XXXXXX").string();
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) throw_errno("mkdtemp " + pattern);
  path_ = buf.data();
  fs::permissions(path_, fs::perms::owner_all, fs::perm_options::replace);
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

int exit_code_of(int wait_status) {
  return WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : -1;
}

int signal_of(int wait_status) {
  return WIFSIGNALED(wait_status) ? WTERMSIG(wait_status) : 0;
}

bool wait_until(const std::function<bool()>& cond, Millis timeout) {
  auto deadline = Clock::now() + timeout;
  while (true) {
    if (cond()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
}

// ---------------------------------------------------------------------------------------------
// Process

struct Process::Impl {
  std::vector<std::string> argv;
  pid_t pid = -1;
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;

  mutable std::mutex mu;
  std::condition_variable cv;
  std::string out;
  std::string err;
  bool capture_out = true;  // else the test reads stdout_fd itself
  bool out_eof = false;
  bool err_eof = false;
  std::thread reader;

  // Reaped state (guarded by mu).
  bool reaped = false;
  int raw_status = 0;

  void spawn(const std::map<std::string, std::string>& env, bool stdin_null);
  void read_loop();
  // Non-blocking reap attempt; true once the child has been reaped.
  bool try_reap();
  bool wait_raw(Millis timeout);
  // Until the reader has seen both pipes close (every holder of them has exited) or deadline.
  bool wait_output_closed(Clock::time_point deadline);

  void kill_group(int signo) {
    std::lock_guard lock(mu);
    if (reaped || pid <= 0) return;
    // The child leads its own process group: reach it and anything it started.
    if (::kill(-pid, signo) != 0) ::kill(pid, signo);
  }
};

void Process::Impl::spawn(const std::map<std::string, std::string>& env, bool stdin_null) {
  ignore_sigpipe_once();
  int in_pipe[2] = {-1, -1}, out_pipe[2], err_pipe[2];
  if (!stdin_null && ::pipe2(in_pipe, O_CLOEXEC) != 0) throw_errno("pipe2");
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) throw_errno("pipe2");
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) throw_errno("pipe2");

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (stdin_null)
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  else
    posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t empty, defaults;
  sigemptyset(&empty);
  sigemptyset(&defaults);
  for (int s : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGQUIT}) sigaddset(&defaults, s);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  auto env_strings = merged_environment(env);
  std::vector<char*> cenv;
  for (auto& e : env_strings) cenv.push_back(e.data());
  cenv.push_back(nullptr);

  int rc = ::posix_spawn(&pid, cargv[0], &actions, &attr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (!stdin_null) ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (rc != 0) {
    if (!stdin_null) ::close(in_pipe[1]);
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    pid = -1;
    throw std::system_error(rc, std::generic_category(), "posix_spawn " + describe(argv));
  }
  stdin_fd = stdin_null ? -1 : in_pipe[1];
  stdout_fd = out_pipe[0];
  stderr_fd = err_pipe[0];
  reader = std::thread([this] { read_loop(); });
}

void Process::Impl::read_loop() {
  char buf[8192];
  bool out_open = capture_out, err_open = true;
  while (out_open || err_open) {
    pollfd fds[2];
    nfds_t n = 0;
    int out_index = -1, err_index = -1;
    if (out_open) {
      out_index = static_cast<int>(n);
      fds[n++] = {stdout_fd, POLLIN, 0};
    }
    if (err_open) {
      err_index = static_cast<int>(n);
      fds[n++] = {stderr_fd, POLLIN, 0};
    }
    int rc = ::poll(fds, n, -1);
    if (rc < 0) {
      if (errno == EINTR) continue;
      break;
    }
    auto drain = [&](int index, int fd, std::string& sink, bool& open, bool& eof_flag) {
      if (index < 0 || fds[index].revents == 0) return;
      ssize_t got = ::read(fd, buf, sizeof buf);
      if (got < 0 && errno == EINTR) return;
      std::lock_guard lock(mu);
      if (got <= 0) {
        open = false;
        eof_flag = true;
      } else {
        sink.append(buf, static_cast<std::size_t>(got));
      }
      cv.notify_all();
    };
    drain(out_index, stdout_fd, out, out_open, out_eof);
    drain(err_index, stderr_fd, err, err_open, err_eof);
  }
  std::lock_guard lock(mu);
  out_eof = err_eof = true;
  cv.notify_all();
}

bool Process::Impl::try_reap() {
  std::lock_guard lock(mu);
  if (reaped) return true;
  if (pid <= 0) return true;
  int status = 0;
  pid_t r = ::waitpid(pid, &status, WNOHANG);
  if (r == pid) {
    reaped = true;
    raw_status = status;
    cv.notify_all();
    return true;
  }
  if (r < 0 && errno == ECHILD) {
    reaped = true;
    raw_status = 0;
    return true;
  }
  return false;
}

bool Process::Impl::wait_raw(Millis timeout) {
  auto deadline = Clock::now() + timeout;
  while (!try_reap()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

bool Process::Impl::wait_output_closed(Clock::time_point deadline) {
  std::unique_lock lock(mu);
  return cv.wait_until(lock, deadline, [&] { return out_eof && err_eof; });
}

Process::Process(std::vector<std::string> argv, const std::map<std::string, std::string>& env,
                 Stdout stdout_mode)
    : impl_(std::make_unique<Impl>()) {
  impl_->argv = std::move(argv);
  impl_->capture_out = stdout_mode == Stdout::Captured;
  impl_->out_eof = !impl_->capture_out;
  if (impl_->argv.empty()) throw std::invalid_argument("Process: empty argv");
  impl_->spawn(env, false);
  pid_ = impl_->pid;
}

Process::~Process() {
  if (!impl_) return;
  if (!impl_->try_reap()) {
    impl_->kill_group(SIGKILL);
    impl_->kill_group(SIGCONT);
    impl_->wait_raw(10s);
  }
  if (impl_->stdin_fd >= 0) ::close(impl_->stdin_fd);
  if (impl_->reader.joinable()) impl_->reader.join();
  ::close(impl_->stdout_fd);
  ::close(impl_->stderr_fd);
}

bool Process::running() {
  return !impl_->try_reap();
}

void Process::signal(int signo) {
  impl_->kill_group(signo);
}

std::optional<int> Process::wait(Millis timeout) {
  // The output of a process that has just exited is still on its way through the pipes: a
  // moment more than the timeout to read it to the end (pipes a grandchild keeps open would
  // otherwise hold this forever).
  constexpr auto kOutputGrace = 2s;
  const auto deadline = Clock::now() + timeout;
  if (!impl_->wait_raw(timeout)) return std::nullopt;
  impl_->wait_output_closed(std::max(deadline, Clock::now() + kOutputGrace));
  std::lock_guard lock(impl_->mu);
  return exit_code_of(impl_->raw_status);
}

int Process::end_signal() const {
  std::lock_guard lock(impl_->mu);
  return impl_->reaped ? signal_of(impl_->raw_status) : 0;
}

std::string Process::out() const {
  std::lock_guard lock(impl_->mu);
  return impl_->out;
}

std::string Process::err() const {
  std::lock_guard lock(impl_->mu);
  return impl_->err;
}

bool Process::wait_for_output(const std::string& text, Millis timeout, bool from_err) {
  auto deadline = Clock::now() + timeout;
  std::unique_lock lock(impl_->mu);
  const std::string& buf = from_err ? impl_->err : impl_->out;
  const bool& eof = from_err ? impl_->err_eof : impl_->out_eof;
  return impl_->cv.wait_until(lock, deadline, [&] {
    return buf.find(text) != std::string::npos || eof;
  }) && buf.find(text) != std::string::npos;
}

std::optional<std::string> Process::wait_for_match(const std::string& regex, Millis timeout,
                                                   bool from_err) {
  return wait_for_nth_match(regex, 1, timeout, from_err);
}

std::optional<std::string> Process::wait_for_nth_match(const std::string& regex, std::size_t n,
                                                       Millis timeout, bool from_err) {
  std::regex re(regex, std::regex::ECMAScript);
  auto deadline = Clock::now() + timeout;
  std::unique_lock lock(impl_->mu);
  const std::string& buf = from_err ? impl_->err : impl_->out;
  const bool& eof = from_err ? impl_->err_eof : impl_->out_eof;
  std::vector<std::string> found;
  impl_->cv.wait_until(lock, deadline, [&] {
    found = line_matches(buf, re);
    return found.size() >= n || eof;
  });
  found = line_matches(buf, re);
  if (n == 0 || found.size() < n) return std::nullopt;
  return found[n - 1];
}

std::vector<std::string> Process::matches(const std::string& regex, bool from_err) const {
  std::regex re(regex, std::regex::ECMAScript);
  std::lock_guard lock(impl_->mu);
  return line_matches(from_err ? impl_->err : impl_->out, re);
}

int Process::raw_stdout() const {
  return impl_->capture_out ? -1 : impl_->stdout_fd;
}

void Process::write_stdin(const std::string& data) {
  if (impl_->stdin_fd < 0) return;
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(impl_->stdin_fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // the process closed its stdin or exited
    }
    done += static_cast<std::size_t>(n);
  }
}

void Process::close_stdin() {
  if (impl_->stdin_fd >= 0) ::close(impl_->stdin_fd);
  impl_->stdin_fd = -1;
}

// ---------------------------------------------------------------------------------------------
// run

RunResult run(const std::vector<std::string>& argv, const RunOptions& options) {
  Process p(argv, options.env);
  // From a thread: a process that does not read its stdin must not block the test's timeout.
  std::thread feeder([&] {
    p.write_stdin(options.input);
    p.close_stdin();
  });
  RunResult result;
  auto code = p.wait(options.timeout);
  if (!code) {
    p.signal(SIGKILL);
    code = p.wait(10s);
    result.timed_out = true;
    ADD_FAILURE() << "timed out after " << options.timeout.count() << " ms: " << describe(argv);
  }
  feeder.join();
  result.exit_code = code.value_or(-1);
  result.signal = p.end_signal();
  result.out = p.out();
  result.err = p.err();
  return result;
}

// ---------------------------------------------------------------------------------------------
// Helpers for tests

std::string digits_only(const std::string& text) {
  std::string out;
  for (char c : text)
    if (c >= '0' && c <= '9') out += c;
  return out;
}

std::string trim_end(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' '))
    text.pop_back();
  return text;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::size_t occurrences_of(const std::string& text, const std::string& part) {
  std::size_t n = 0;
  for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string current_user() {
  if (const char* sudo = std::getenv("SUDO_USER"); sudo && *sudo) return sudo;
  const passwd* pw = ::getpwuid(::getuid());
  return pw ? pw->pw_name : "";
}

namespace {

std::vector<std::string> agent_argv(const char* verb, const std::string& relay_address,
                                    const fs::path& data_dir, std::vector<std::string> extra) {
  std::vector<std::string> argv{agent_bin(),     verb,     "--relay",     relay_address,
                                "--data-dir",    data_dir, "--keepalive", "1s",
                                "--max-backoff", "1s"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

}  // namespace

std::vector<std::string> agent_help_argv(const std::string& relay_address, const fs::path& data_dir,
                                         std::vector<std::string> extra) {
  return agent_argv("help", relay_address, data_dir, std::move(extra));
}

std::vector<std::string> agent_run_argv(const std::string& relay_address, const fs::path& data_dir,
                                        std::vector<std::string> extra) {
  return agent_argv("run", relay_address, data_dir, std::move(extra));
}

std::optional<std::string> banner_session_id(Process& agent, std::size_t nth, Millis timeout) {
  auto spoken = agent.wait_for_nth_match(kBannerRegex, nth, timeout);
  if (!spoken) return std::nullopt;
  return digits_only(*spoken);
}

std::optional<std::string> logged_session_id(Process& agent, std::size_t nth, Millis timeout) {
  auto spoken = agent.wait_for_nth_match(kConnectedRegex, nth, timeout, true);
  if (!spoken) return std::nullopt;
  return digits_only(*spoken);
}

nlohmann::json find_by(const nlohmann::json& rows, const std::string& field,
                       const std::string& value) {
  if (!rows.is_array()) return nullptr;
  for (const auto& row : rows)
    if (row.contains(field) && row[field].is_string() && row[field] == value) return row;
  return nullptr;
}

// ---------------------------------------------------------------------------------------------
// Relay

Relay::Relay(const fs::path& data_dir, Options options) : Relay(data_dir, std::move(options), 0) {}

Relay::Relay(const fs::path& data_dir, Options options, int port)
    : data_dir_(data_dir), options_(std::move(options)), port_(port > 0 ? port : free_port()) {
  start();
}

Relay::~Relay() {
  if (!process_) return;
  // A failed test shows what the relay logged: most failures are explained there.
  if (::testing::Test::HasFailure()) {
    std::string log = earlier_logs_ + process_->err();
    constexpr std::size_t kTail = 6000;
    if (log.size() > kTail) log = "...\n" + log.substr(log.size() - kTail);
    std::fprintf(stderr,
                 "---- relay %s (data dir %s) stderr ----\n%s\n---- end of relay log ----\n",
                 address().c_str(), data_dir_.c_str(), log.c_str());
  }
  if (process_->running()) {
    process_->signal(SIGCONT);
    process_->signal(SIGTERM);
    if (!process_->wait(10s)) {
      process_->signal(SIGKILL);
      process_->wait(10s);
    }
  }
}

std::string Relay::address() const {
  return "127.0.0.1:" + std::to_string(port_);
}

void Relay::start() {
  if (fingerprint_.empty() || !fs::exists(data_dir_ / "relay.db")) {
    auto init = run({relay_bin(), "init", "--data-dir", data_dir_.string()});
    if (init.exit_code != 0)
      throw std::runtime_error("relay init failed (" + std::to_string(init.exit_code) +
                               "): " + init.err);
    std::smatch m;
    static const std::regex fp_re("Relay fingerprint: (SHA256:[A-Za-z0-9+/=]+)");
    if (!std::regex_search(init.out, m, fp_re))
      throw std::runtime_error("relay init printed no fingerprint: " + init.out);
    fingerprint_ = m[1].str();
  }
  std::vector<std::string> argv{
      relay_bin(), "serve",   "--data-dir",       data_dir_.string(),
      "--listen",  address(), "--check-interval", options_.check_interval};
  argv.insert(argv.end(), options_.extra_args.begin(), options_.extra_args.end());
  // The previous process (after a stop or kill -9) is reaped before the new one starts; its log
  // is kept for the failure report.
  if (process_) earlier_logs_ += process_->err() + "---- (relay restarted) ----\n";
  process_.reset();
  process_ = std::make_unique<Process>(argv);
  if (!process_->wait_for_output("relay listening on", 10s, true))
    throw std::runtime_error("relay did not start listening on " + address() + "; stderr:\n" +
                             process_->err());
}

void Relay::restart() {
  if (process_ && process_->running())
    throw std::logic_error("Relay::restart while the relay still runs; stop() or kill9() first");
  start();
}

void Relay::kill9() {
  if (!process_) return;
  process_->signal(SIGKILL);
  process_->wait(10s);
}

int Relay::stop() {
  if (!process_) return -1;
  process_->signal(SIGTERM);
  auto code = process_->wait(15s);
  if (!code) {
    process_->signal(SIGKILL);
    process_->wait(10s);
    return -1;
  }
  return *code;
}

RunResult Relay::admin(std::vector<std::string> args) {
  std::vector<std::string> argv{relay_bin()};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("--data-dir");
  argv.push_back(data_dir_.string());
  return run(argv);
}

nlohmann::json Relay::admin_json(std::vector<std::string> args) {
  args.push_back("--json");
  auto r = admin(args);
  auto parsed = nlohmann::json::parse(r.out, nullptr, false);
  if (r.exit_code != 0 || parsed.is_discarded()) {
    ADD_FAILURE() << "relay " << describe(args) << " exited " << r.exit_code
                  << " with output that is not JSON:\nstdout: " << r.out << "\nstderr: " << r.err;
    return nullptr;
  }
  return parsed;
}

nlohmann::json Relay::sessions(bool active_only) {
  std::vector<std::string> args{"session", "list"};
  if (active_only) args.push_back("--active");
  return admin_json(args);
}

nlohmann::json Relay::tunnel_keys() {
  return admin_json({"keys", "list"});
}

nlohmann::json Relay::devices() {
  return admin_json({"device", "list"});
}

}  // namespace sb::e2e
