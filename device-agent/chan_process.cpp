// Starting operator processes (in a pty or with pipes) and ending them.
//
// Between fork and exec the child only makes async-signal-safe calls: everything it needs
// (argv, envp, paths) is prepared before fork.
#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/steady_timer.hpp>
#include <chrono>

#include "device-agent/chan_internal.hpp"

namespace sb::agent::detail {

namespace {

constexpr int kPipeSize = 256 * 1024;

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
  Terminator(const boost::asio::any_io_executor& ex, pid_t pid) : timer_(ex), pid_(pid) {}
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

}  // namespace

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

void terminate_in_background(const boost::asio::any_io_executor& executor, pid_t pid) {
  if (pid <= 0) return;
  std::make_shared<Terminator>(executor, pid)->start();
}

}  // namespace sb::agent::detail
