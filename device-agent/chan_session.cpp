// "session" channels: pty-req, env, shell, exec, the "sftp" subsystem, window-change and signal
// from the relay; the process's output goes back with backpressure, then exit-status /
// exit-signal, EOF and close.
#include <pwd.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/write.hpp>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <map>

#include "common/env_rules.hpp"
#include "device-agent/chan_internal.hpp"

extern char** environ;

namespace sb::agent::detail {

namespace {

namespace asio = boost::asio;
using Descriptor = asio::posix::stream_descriptor;

constexpr std::size_t kMaxTermLength = 64;
constexpr std::size_t kMaxCommand = 64 * 1024;
constexpr int kMaxPtyCells = 1000;
constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

bool term_valid(const std::string& term) {
  return term.size() <= kMaxTermLength && std::all_of(term.begin(), term.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
                  c == '+';
         });
}

// 0 (unknown) becomes the classic default; anything else is bounded.
int bound_cells(int value, int fallback) {
  if (value <= 0) return fallback;
  return std::min(value, kMaxPtyCells);
}

PtySize bounded_size(int cols, int rows, int px, int py) {
  return {bound_cells(cols, 80), bound_cells(rows, 24), std::clamp(px, 0, 65535),
          std::clamp(py, 0, 65535)};
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

class SessionChannel final : public HostedChannel {
 public:
  SessionChannel(std::shared_ptr<HostState> host, ssh::Channel channel)
      : HostedChannel(std::move(host), std::move(channel)), err_(true) {}

  void install() {
    ssh::ChannelEvents events;
    events.pty = [this](const ssh::PtyRequest& r) { return on_pty(r); };
    events.shell = [this] { return start(std::nullopt); };
    events.exec = [this](std::string_view command) { return on_exec(command); };
    events.subsystem = [this](std::string_view name) { return on_subsystem(name); };
    events.env = [this](std::string_view name, std::string_view value) {
      return on_env(name, value);
    };
    events.window_change = [this](const ssh::WindowSize& size) { return on_window_change(size); };
    events.signal = [this](std::string_view name) { on_signal(name); };
    install_callbacks(std::move(events));
  }

  void step() override {
    if (!active() || !started_) return;  // before shell/exec, relay data waits in libssh
    move_input();
    move_output();
    finish_if_done();
  }

  void check_child() override {
    if (pid_ <= 0 || exited_) return;
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == 0) return;
    exited_ = true;
    wait_status_ = r == pid_ ? status : 255 << 8;  // ECHILD: someone else reaped it
    // A pty never reports EOF while a background job holds the slave: from now on read only
    // what is already there (synchronously), so the exit status is not held back.
    if (master_ && out_.reading()) master_->cancel();
  }

 protected:
  void stop_local() override {
    if (pid_ > 0 && !exited_) terminate_in_background(host_->executor, pid_);
    pid_ = -1;
    for (auto* d : {&master_, &stdin_, &stdout_, &stderr_}) close_descriptor(*d);
  }

 private:
  std::shared_ptr<SessionChannel> self() {
    return std::static_pointer_cast<SessionChannel>(shared_from_this());
  }
  bool on_pty(const ssh::PtyRequest& request) {
    std::string term(request.term);
    if (started_ || pty_ || !term_valid(term)) return false;
    pty_ = bounded_size(request.cols, request.rows, request.px, request.py);
    term_ = term;
    return true;
  }

  bool on_exec(std::string_view command) {
    if (command.size() > kMaxCommand) return false;
    return start(std::string(command));
  }

  // SFTP only, served by the platform's own server like a command without a shell: its
  // protocol, path handling and permissions are exactly those of the device's sshd.
  bool on_subsystem(std::string_view name) {
    if (name != "sftp" || host_->policy.sftp_server.empty()) return false;
    return start(std::nullopt, host_->policy.sftp_server);
  }

  bool on_env(std::string_view name, std::string_view value) {
    if (started_) return false;
    std::string n(name), v(value);
    if (!env_name_allowed(n) || !env_value_allowed(v)) return false;
    if (!env_.count(n) && env_.size() >= kMaxEnvVars) return false;
    env_[n] = v;
    return true;
  }

  bool on_window_change(const ssh::WindowSize& size) {
    if (!pty_) return false;
    pty_ = bounded_size(size.cols, size.rows, size.px, size.py);
    if (master_) set_window_size(master_->native_handle(), *pty_);
    return true;
  }

  // A "signal" request: to the terminal's foreground job (what ^C would reach), else the
  // process group of the command.
  void on_signal(std::string_view name) {
    int sig = signal_from_name(std::string(name));
    if (!sig || pid_ <= 0 || exited_) return;
    pid_t group = master_ ? ::tcgetpgrp(master_->native_handle()) : -1;
    ::kill(group > 0 ? -group : -pid_, sig);
  }

  // A shell, a command (through /bin/sh), or a program run directly (a subsystem's server).
  bool start(const std::optional<std::string>& command, const std::string& program = {}) {
    if (started_) return false;  // one shell, exec or subsystem per channel
    host_->watch_children();     // before fork: an early SIGCHLD must not be lost
    Spawned s = spawn_process(make_spec(command, program));
    if (s.pid < 0) {
      spdlog::warn("operator channel: {}", s.error);
      return false;
    }
    started_ = true;
    pid_ = s.pid;
    if (s.master >= 0) master_ = open_descriptor(s.master);
    if (s.in >= 0) stdin_ = open_descriptor(s.in);
    if (s.out >= 0) stdout_ = open_descriptor(s.out);
    if (s.err >= 0) stderr_ = open_descriptor(s.err);
    spdlog::info("operator channel: started {} (pid {}{})",
                 !program.empty() ? program
                 : command        ? "a command"
                                  : "a shell",
                 pid_, master_ ? ", pty" : "");
    return true;
  }

  SpawnSpec make_spec(const std::optional<std::string>& command, const std::string& program) const {
    UserInfo user = current_user();
    const std::string& shell = host_->policy.shell;
    SpawnSpec spec;
    if (!program.empty()) {
      spec.path = program;
      spec.argv = {base_name(program)};
    } else if (command) {
      spec.path = "/bin/sh";
      spec.argv = {"sh", "-c", *command};
    } else {
      spec.path = shell;
      spec.argv = {"-" + base_name(shell)};  // a leading dash makes it a login shell
    }
    spec.env = environment(user, shell);
    spec.home = user.home;
    if (program.empty()) spec.pty = pty_;  // a binary protocol never goes through a terminal
    return spec;
  }

  std::vector<std::string> environment(const UserInfo& user, const std::string& shell) const {
    std::map<std::string, std::string> env;
    const char* path = std::getenv("PATH");
    env["PATH"] = path && *path ? path : kDefaultPath;
    env["HOME"] = user.home;
    env["SHELL"] = shell;
    if (!user.name.empty()) env["USER"] = env["LOGNAME"] = user.name;
    add_agent_locale(env);
    for (const auto& [name, value] : env_) env[name] = value;
    if (pty_ && !term_.empty()) env["TERM"] = term_;
    std::vector<std::string> out;
    for (const auto& [name, value] : env) out.push_back(name + "=" + value);
    return out;
  }

  std::optional<Descriptor> open_descriptor(int fd) {
    std::optional<Descriptor> d;
    d.emplace(host_->executor, fd);
    boost::system::error_code ignored;
    d->non_blocking(true, ignored);  // synchronous reads (draining) must never block
    return d;
  }

  static void close_descriptor(std::optional<Descriptor>& d) {
    if (!d) return;
    boost::system::error_code ignored;
    d->close(ignored);  // pending operations complete with operation_aborted
    d.reset();
  }

  Descriptor* input_fd() { return master_ ? &*master_ : stdin_ ? &*stdin_ : nullptr; }
  Descriptor* output_fd() { return master_ ? &*master_ : stdout_ ? &*stdout_ : nullptr; }

  // --- channel -> process ---

  void move_input() {
    if (stderr_pending_) discard_stderr(channel_, &stderr_pending_);
    for (int i = 0; i < 16 && in_.wants_fill(); ++i) {
      auto r = in_.fill(channel_, &input_pending_);
      if (r == InPump::Fill::kNothing) return;
      if (r == InPump::Fill::kError) return want_close();
      if (r == InPump::Fill::kEof) return on_input_eof();
      Descriptor* fd = input_fd();
      if (!fd || input_broken_ || (master_ && exited_)) {
        in_.on_written();  // nobody reads it any more: drop it so the channel keeps moving
        continue;
      }
      in_.start_write();
      asio::async_write(*fd, in_.data(),
                        [self = self()](const boost::system::error_code& ec, std::size_t) {
                          self->in_.on_written();
                          if (ec && ec != asio::error::operation_aborted)
                            self->input_broken_ = true;  // EPIPE: it closed its stdin
                          self->kick();
                        });
      return;
    }
  }

  // Pipes: the process sees EOF on stdin. A pty has no EOF of its own (^D is the operator's
  // business): we only stop reading.
  void on_input_eof() { close_descriptor(stdin_); }

  // --- process -> channel ---

  void move_output() {
    if (!out_.flush(channel_) || !err_.flush(channel_)) return want_close();
    read_output(out_, output_fd());
    if (stderr_) read_output(err_, &*stderr_);
  }

  void read_output(OutPump& pump, Descriptor* fd) {
    if (!fd) return;
    if (master_ && exited_) return drain_pty();
    if (!pump.wants_read()) return;
    fd->async_read_some(pump.start_read(),
                        [self = self(), &pump](const boost::system::error_code& ec, std::size_t n) {
                          pump.on_read(ec, n);
                          if (pump.eof())
                            self->check_child();  // pipes closed: it has probably exited
                          self->kick();
                        });
  }

  // After the process exited: what the pty holds now is its last output; EAGAIN or EIO ends it.
  void drain_pty() {
    while (out_.wants_read()) {
      boost::system::error_code ec;
      std::size_t n = master_->read_some(out_.start_read(), ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) {
        out_.on_read(asio::error::eof, 0);
        return;
      }
      out_.on_read(ec, n);
      if (!out_.flush(channel_)) return want_close();
    }
  }

  void finish_if_done() {
    if (!exited_ || reported_ || !out_.finished()) return;
    if (stderr_ && !err_.finished()) return;
    reported_ = true;
    report_exit();
    channel_.send_eof();  // kAgain only means not flushed yet
    want_close();
  }

  void report_exit() {
    if (WIFSIGNALED(wait_status_)) {
      int sig = WTERMSIG(wait_status_);
      channel_.send_exit_signal(signal_name(sig), WCOREDUMP(wait_status_) != 0, "");
      spdlog::info("operator channel: pid {} killed by SIG{}", pid_, signal_name(sig));
      return;
    }
    int code = WIFEXITED(wait_status_) ? WEXITSTATUS(wait_status_) : 255;
    channel_.send_exit_status(code);
    spdlog::info("operator channel: pid {} exited with {}", pid_, code);
  }

  std::optional<PtySize> pty_;
  std::string term_;
  std::map<std::string, std::string> env_;
  bool started_ = false;
  pid_t pid_ = -1;
  bool exited_ = false;
  int wait_status_ = 0;
  bool reported_ = false;
  bool input_broken_ = false;
  std::optional<Descriptor> master_, stdin_, stdout_, stderr_;
  OutPump out_, err_;
  InPump in_;
};

}  // namespace

std::shared_ptr<HostedChannel> make_session_channel(std::shared_ptr<HostState> host,
                                                    ssh::Channel channel) {
  auto c = std::make_shared<SessionChannel>(std::move(host), std::move(channel));
  c->install();
  return c;
}

}  // namespace sb::agent::detail
