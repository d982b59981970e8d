// Operator processes on POSIX: fork and exec in a PTY (forkpty) or with three pipes, SIGCHLD
// and waitpid for the end, SIGHUP then SIGKILL to end them.
//
// Between fork and exec the child only makes async-signal-safe calls: everything it needs
// (argv, envp, paths) is prepared before fork.
#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdlib>
#include <vector>

#include "common/env_rules.hpp"
#include "device-agent/platform/process.hpp"

extern char** environ;

namespace sb::agent::platform {

namespace {

namespace asio = boost::asio;

constexpr int kPipeSize = 256 * 1024;
constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

struct SpawnSpec {
  std::string path;               // executable
  std::vector<std::string> argv;  // argv[0] included
  std::vector<std::string> env;   // "NAME=value"
  std::string home;               // working directory
  std::optional<PtySize> pty;     // with a pty: forkpty, else three pipes
};

struct Spawned {
  pid_t pid = -1;
  int master = -1;                  // pty master (pty mode)
  int in = -1, out = -1, err = -1;  // parent ends (pipe mode)
  std::string error;                // why it failed (pid == -1)
};

struct CArgs {
  std::vector<char*> argv, envp;
};

CArgs c_args(const SpawnSpec& spec) {
  CArgs c;
  for (const auto& a : spec.argv) c.argv.push_back(const_cast<char*>(a.c_str()));
  c.argv.push_back(nullptr);
  for (const auto& e : spec.env) c.envp.push_back(const_cast<char*>(e.c_str()));
  c.envp.push_back(nullptr);
  return c;
}

void write_stderr(const char* text) {
  ssize_t ignored = ::write(2, text, ::strlen(text));
  (void)ignored;
}

// The agent's signal handlers and ignored signals (SIGPIPE) must not leak into the operator's
// shell: ignored dispositions survive exec.
void reset_signals() {
  for (int sig = 1; sig < NSIG; ++sig) ::signal(sig, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

void close_other_fds() {
  if (::close_range(3, ~0U, 0) == 0) return;
  long max = ::sysconf(_SC_OPEN_MAX);
  if (max < 0 || max > 65536) max = 65536;
  for (int fd = 3; fd < max; ++fd) ::close(fd);
}

[[noreturn]] void exec_child(const SpawnSpec& spec, const CArgs& args) {
  reset_signals();
  close_other_fds();
  if (spec.home.empty() || ::chdir(spec.home.c_str()) != 0) {
    if (::chdir("/") != 0) write_stderr("switchboard: cannot change directory\n");
  }
  ::execve(spec.path.c_str(), args.argv.data(), args.envp.data());
  write_stderr("switchboard: cannot execute ");
  write_stderr(spec.path.c_str());
  write_stderr(": ");
  write_stderr(::strerror(errno));
  write_stderr("\n");
  ::_exit(127);
}

winsize to_winsize(const PtySize& size) {
  winsize ws{};
  ws.ws_col = static_cast<unsigned short>(size.cols);
  ws.ws_row = static_cast<unsigned short>(size.rows);
  ws.ws_xpixel = static_cast<unsigned short>(size.px);
  ws.ws_ypixel = static_cast<unsigned short>(size.py);
  return ws;
}

Spawned spawn_pty(const SpawnSpec& spec, const CArgs& args) {
  Spawned s;
  winsize ws = to_winsize(*spec.pty);
  int master = -1;
  // forkpty: new session, the slave as controlling terminal and as fds 0-2 of the child.
  pid_t pid = ::forkpty(&master, nullptr, nullptr, &ws);
  if (pid < 0) {
    s.error = std::string("cannot create a terminal: ") + ::strerror(errno);
    return s;
  }
  if (pid == 0) exec_child(spec, args);
  ::fcntl(master, F_SETFD, FD_CLOEXEC);
  s.pid = pid;
  s.master = master;
  return s;
}

void close_pair(int p[2]) {
  for (int i = 0; i < 2; ++i)
    if (p[i] >= 0) ::close(p[i]);
}

Spawned spawn_pipes(const SpawnSpec& spec, const CArgs& args) {
  Spawned s;
  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
    s.error = std::string("cannot create pipes: ") + ::strerror(errno);
    close_pair(in), close_pair(out), close_pair(err);
    return s;
  }
  // Bulk transfers ping-pong between the process and us once per pipe-full: a larger pipe means
  // fewer wake-ups (best effort; the default 64 KiB still works).
  ::fcntl(in[1], F_SETPIPE_SZ, kPipeSize);
  ::fcntl(out[1], F_SETPIPE_SZ, kPipeSize);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setsid();  // its own process group, so signals reach everything it starts
    ::dup2(in[0], 0), ::dup2(out[1], 1), ::dup2(err[1], 2);
    exec_child(spec, args);
  }
  ::close(in[0]), ::close(out[1]), ::close(err[1]);
  if (pid < 0) {
    s.error = std::string("cannot start a process: ") + ::strerror(errno);
    ::close(in[1]), ::close(out[0]), ::close(err[0]);
    return s;
  }
  s.pid = pid;
  s.in = in[1], s.out = out[0], s.err = err[0];
  return s;
}

// Polls the pid with growing pauses; SIGKILL at the deadline, gives up much later (the child
// then stays a zombie until the agent exits, rather than blocking the reactor).
class Terminator : public std::enable_shared_from_this<Terminator> {
 public:
  Terminator(const asio::any_io_executor& ex, pid_t pid) : timer_(ex), pid_(pid) {}
  void start() {
    ::kill(-pid_, SIGHUP);
    ::kill(pid_, SIGHUP);  // in case it left its group
    tick();
  }

 private:
  void tick() {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) != 0) return;  // reaped, or not ours any more
    auto age = std::chrono::steady_clock::now() - started_;
    if (!killed_ && age >= std::chrono::seconds(2)) {
      killed_ = true;
      ::kill(-pid_, SIGKILL);
      ::kill(pid_, SIGKILL);
    }
    if (age > std::chrono::minutes(1)) return;
    delay_ = std::min(delay_ * 2, std::chrono::milliseconds(250));
    timer_.expires_after(delay_);
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->tick();
    });
  }

  boost::asio::steady_timer timer_;
  pid_t pid_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::chrono::milliseconds delay_{5};
  bool killed_ = false;
};

Spawned spawn_process(const SpawnSpec& spec) {
  CArgs args = c_args(spec);
  return spec.pty ? spawn_pty(spec, args) : spawn_pipes(spec, args);
}

void set_window_size(int master, const PtySize& size) {
  winsize ws = to_winsize(size);
  ::ioctl(master, TIOCSWINSZ, &ws);  // the kernel sends SIGWINCH to the foreground group
}

int signal_from_name(const std::string& name) {
  for (int sig = 1; sig < NSIG; ++sig) {
    const char* abbrev = ::sigabbrev_np(sig);
    if (abbrev && name == abbrev) return sig;
  }
  return 0;
}

std::string signal_name(int sig) {
  const char* abbrev = ::sigabbrev_np(sig);
  return abbrev ? abbrev : "UNKNOWN";
}

void terminate_in_background(const asio::any_io_executor& executor, pid_t pid) {
  if (pid <= 0) return;
  std::make_shared<Terminator>(executor, pid)->start();
}

struct UserInfo {
  std::string name, home, shell;
};

UserInfo current_user() {
  UserInfo u;
  passwd pw{}, *found = nullptr;
  std::vector<char> buf(16384);
  if (::getpwuid_r(::getuid(), &pw, buf.data(), buf.size(), &found) == 0 && found) {
    u.name = pw.pw_name ? pw.pw_name : "";
    u.home = pw.pw_dir ? pw.pw_dir : "";
    u.shell = pw.pw_shell ? pw.pw_shell : "";
  }
  if (u.home.empty()) u.home = std::getenv("HOME") ? std::getenv("HOME") : "/";
  return u;
}

std::string base_name(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Locale and time zone of the agent pass through; nothing else of its environment does.
void add_agent_locale(std::map<std::string, std::string>& env) {
  for (char** e = environ; e && *e; ++e) {
    std::string entry(*e);
    auto eq = entry.find('=');
    if (eq == std::string::npos) continue;
    std::string name = entry.substr(0, eq);
    if (name != "TERM" && name != "COLORTERM" && env_name_allowed(name))
      env[name] = entry.substr(eq + 1);
  }
}

std::vector<std::string> environment(const ProcessRequest& request, const UserInfo& user) {
  std::map<std::string, std::string> env;
  const char* path = std::getenv("PATH");
  env["PATH"] = path && *path ? path : kDefaultPath;
  env["HOME"] = user.home;
  env["SHELL"] = request.shell;
  if (!user.name.empty()) env["USER"] = env["LOGNAME"] = user.name;
  add_agent_locale(env);
  for (const auto& [name, value] : request.env) env[name] = value;
  if (request.pty && !request.term.empty()) env["TERM"] = request.term;
  std::vector<std::string> out;
  for (const auto& [name, value] : env) out.push_back(name + "=" + value);
  return out;
}

SpawnSpec make_spec(const ProcessRequest& request) {
  UserInfo user = current_user();
  SpawnSpec spec;
  if (request.command) {
    spec.path = "/bin/sh";
    spec.argv = {"sh", "-c", *request.command};
  } else {
    spec.path = request.shell;
    spec.argv = {"-" + base_name(request.shell)};  // a leading dash makes it a login shell
  }
  spec.env = environment(request, user);
  spec.home = user.home;
  spec.pty = request.pty;
  return spec;
}

class PosixProcess final : public Process {
 public:
  PosixProcess(const asio::any_io_executor& executor, const Spawned& s)
      : executor_(executor), pid_(s.pid) {
    if (s.master >= 0) master_ = open_stream(s.master);
    if (s.in >= 0) stdin_ = open_stream(s.in);
    if (s.out >= 0) stdout_ = open_stream(s.out);
    if (s.err >= 0) stderr_ = open_stream(s.err);
  }
  ~PosixProcess() override { stop(); }

  Stream* input() override { return master_ ? &*master_ : stdin_ ? &*stdin_ : nullptr; }
  Stream* output() override { return master_ ? &*master_ : stdout_ ? &*stdout_ : nullptr; }
  Stream* error_output() override { return stderr_ ? &*stderr_ : nullptr; }
  void close_input() override { close_stream(stdin_); }
  void resize(const PtySize& size) override {
    if (master_) set_window_size(master_->native_handle(), size);
  }

  // To the terminal's foreground job (what ^C would reach), else the process group of the
  // command.
  bool signal(const std::string& name) override {
    int sig = signal_from_name(name);
    if (!sig) return false;
    if (pid_ <= 0 || exited_) return true;
    pid_t group = master_ ? ::tcgetpgrp(master_->native_handle()) : -1;
    ::kill(group > 0 ? -group : -pid_, sig);
    return true;
  }

  std::optional<ExitStatus> poll_exit() override {
    if (pid_ <= 0 || exited_) return std::nullopt;
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == 0) return std::nullopt;
    exited_ = true;
    if (r != pid_) status = 255 << 8;  // ECHILD: someone else reaped it
    ExitStatus out;
    if (WIFSIGNALED(status)) {
      out.signal = signal_name(WTERMSIG(status));
      out.core_dumped = WCOREDUMP(status) != 0;
    } else {
      out.code = WIFEXITED(status) ? WEXITSTATUS(status) : 255;
    }
    return out;
  }

  bool drain_synchronously() const override { return master_.has_value(); }

  // A pty never reports EOF while a background job holds the slave: from now on only what is
  // already there is read (synchronously), so the exit status is not held back.
  void on_exited() override {
    boost::system::error_code ignored;
    if (master_) master_->cancel(ignored);
  }

  void stop() override {
    if (pid_ > 0 && !exited_) terminate_in_background(executor_, pid_);
    exited_ = true;
    for (auto* d : {&master_, &stdin_, &stdout_, &stderr_}) close_stream(*d);
  }

  long id() const override { return pid_; }

 private:
  std::optional<Stream> open_stream(int fd) {
    std::optional<Stream> d;
    d.emplace(executor_, fd);
    boost::system::error_code ignored;
    d->non_blocking(true, ignored);  // synchronous reads (draining) must never block
    return d;
  }

  static void close_stream(std::optional<Stream>& d) {
    if (!d) return;
    boost::system::error_code ignored;
    d->close(ignored);  // pending operations complete with operation_aborted
    d.reset();
  }

  asio::any_io_executor executor_;
  pid_t pid_;
  bool exited_ = false;
  std::optional<Stream> master_, stdin_, stdout_, stderr_;
};

}  // namespace

std::unique_ptr<Process> start_process(const asio::any_io_executor& executor,
                                       const ProcessRequest& request, std::function<void()>,
                                       std::string* error) {
  Spawned s = spawn_process(make_spec(request));
  if (s.pid < 0) {
    *error = s.error;
    return nullptr;
  }
  return std::make_unique<PosixProcess>(executor, s);
}

struct ChildWatch::Impl : std::enable_shared_from_this<Impl> {
  Impl(const asio::any_io_executor& ex, std::function<void()> f)
      : signals(ex, SIGCHLD), on_change(std::move(f)) {}
  void arm() {
    signals.async_wait([self = shared_from_this()](const boost::system::error_code& ec, int) {
      if (ec || self->stopped) return;
      self->on_change();
      if (!self->stopped) self->arm();
    });
  }
  asio::signal_set signals;
  std::function<void()> on_change;
  bool stopped = false;
};

ChildWatch::ChildWatch(const asio::any_io_executor& executor, std::function<void()> on_change)
    : impl_(std::make_shared<Impl>(executor, std::move(on_change))) {
  impl_->arm();
}

ChildWatch::~ChildWatch() {
  impl_->stopped = true;
  boost::system::error_code ignored;
  impl_->signals.cancel(ignored);  // the pending handler sees stopped
}

bool is_end_of_output(const boost::system::error_code& ec) {
  // A pty master reports EIO once every holder of the slave is gone: that is its EOF.
  return ec == asio::error::eof || ec.value() == EIO;
}

std::string default_shell() {
  const char* shell = std::getenv("SHELL");
  return shell && *shell ? shell : "/bin/sh";
}

// Writing to a process's stdin after it closed it raises SIGPIPE, which would kill the whole
// agent. Only the default disposition is replaced (an embedding program's choice is kept); the
// child resets every signal before exec.
void ignore_broken_pipes() {
  struct sigaction current {};
  if (::sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL)
    ::signal(SIGPIPE, SIG_IGN);
}

bool process_alive(long pid) {
  return pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM);
}

long current_process_id() {
  return static_cast<long>(::getpid());
}

}  // namespace sb::agent::platform
