// "session" channels: pty-req, env, shell, exec, the "sftp" subsystem, window-change and signal
// from the relay; the process's output goes back with backpressure, then exit-status /
// exit-signal, EOF and close.
#include <spdlog/spdlog.h>

#include <boost/asio/write.hpp>
#include <cctype>
#include <map>

#include "common/env_rules.hpp"
#include "common/logging.hpp"
#include "device-agent/chan_internal.hpp"

namespace sb::agent::detail {

namespace {

namespace asio = boost::asio;
using platform::PtySize;
using platform::Stream;

constexpr std::size_t kMaxTermLength = 64;
constexpr std::size_t kMaxCommand = 64 * 1024;
constexpr int kMaxPtyCells = 1000;

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
    if (!process_ || exited_) return;
    auto status = process_->poll_exit();
    if (!status) return;
    exited_ = true;
    exit_status_ = *status;
    process_->on_exited();
  }

 protected:
  void stop_local() override {
    if (process_) process_->stop();
    exited_ = true;
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
    if (name != "sftp") {
      spdlog::info("operator channel: refused subsystem '{}': only sftp is served",
                   escape_log_text(name.substr(0, 64)));
      return false;
    }
    if (host_->policy.sftp_server.empty()) {
      spdlog::info(
          "operator channel: refused subsystem 'sftp': no SFTP server (--sftp-server \"\")");
      return false;
    }
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
    if (process_) process_->resize(*pty_);
    return true;
  }

  // A "signal" request: the platform decides who gets it (the terminal's foreground job, the
  // command's process group) or what it means (terminate, on Windows).
  void on_signal(std::string_view name) {
    if (!process_ || exited_) return;
    process_->signal(std::string(name));
  }

  // A shell, a command (through the shell), or a program run directly (a subsystem's server).
  bool start(const std::optional<std::string>& command, const std::string& program = {}) {
    if (started_) return false;  // one shell, exec or subsystem per channel
    host_->watch_children();     // before the start: an early exit must not be lost
    platform::ProcessRequest request{command, program, host_->policy.shell, env_, pty_, term_};
    std::string error;
    std::weak_ptr<HostedChannel> weak = weak_from_this();
    auto on_exit = [weak] {
      if (auto self = std::static_pointer_cast<SessionChannel>(weak.lock())) {
        self->check_child();
        self->kick();
      }
    };
    process_ = platform::start_process(host_->executor, request, on_exit, &error);
    if (!process_) {
      spdlog::warn("operator channel: {}", error);
      return false;
    }
    started_ = true;
    spdlog::info("operator channel: started {} (pid {}{})",
                 !program.empty() ? program
                 : command        ? "a command"
                                  : "a shell",
                 process_->id(), pty_ && program.empty() ? ", pty" : "");
    return true;
  }

  // --- channel -> process ---

  void move_input() {
    if (stderr_pending_) discard_stderr(channel_, &stderr_pending_);
    for (int i = 0; i < 16 && in_.wants_fill(); ++i) {
      auto r = in_.fill(channel_, &input_pending_);
      if (r == InPump::Fill::kNothing) return;
      if (r == InPump::Fill::kError) return want_close();
      if (r == InPump::Fill::kEof) return on_input_eof();
      Stream* fd = process_->input();
      if (!fd || input_broken_ || (pty_ && exited_)) {
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
  void on_input_eof() {
    if (!pty_) process_->close_input();
  }

  // --- process -> channel ---

  void move_output() {
    if (!out_.flush(channel_) || !err_.flush(channel_)) return want_close();
    read_output(out_, process_->output());
    if (process_->error_output()) read_output(err_, process_->error_output());
  }

  void read_output(OutPump& pump, Stream* fd) {
    if (!fd) return;
    if (exited_ && process_->drain_synchronously()) return drain_pty();
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
      std::size_t n = process_->output()->read_some(out_.start_read(), ec);
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
    if (!pty_ && !err_.finished()) return;  // pipes: stderr too
    reported_ = true;
    report_exit();
    channel_.send_eof();  // kAgain only means not flushed yet
    want_close();
  }

  void report_exit() {
    if (!exit_status_.signal.empty()) {
      channel_.send_exit_signal(exit_status_.signal, exit_status_.core_dumped, "");
      spdlog::info("operator channel: pid {} killed by SIG{}", process_->id(), exit_status_.signal);
      return;
    }
    channel_.send_exit_status(exit_status_.code);
    spdlog::info("operator channel: pid {} exited with {}", process_->id(), exit_status_.code);
  }

  std::optional<PtySize> pty_;
  std::string term_;
  std::map<std::string, std::string> env_;
  bool started_ = false;
  std::unique_ptr<platform::Process> process_;
  bool exited_ = false;
  platform::ExitStatus exit_status_;
  bool reported_ = false;
  bool input_broken_ = false;
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
