#include "relay/operator/operator_channel.hpp"

#include <algorithm>

#include "common/env_rules.hpp"
#include "common/logging.hpp"
#include "common/names.hpp"
#include "common/util.hpp"
#include "relay/audit/recorder.hpp"
#include "relay/audit/sftp_requests.hpp"
#include "relay/bridge/channel_member.hpp"
#include "relay/bridge/shared_terminal.hpp"
#include "relay/device/device_tunnel.hpp"
#include "relay/operator/operator_link.hpp"

namespace sb::relay {

namespace {
constexpr std::size_t kMaxCommand = 64 * 1024;

// A private shell's recording, fed by its bridge.
class RecordingObserver : public BridgeObserver {
 public:
  explicit RecordingObserver(std::unique_ptr<Recording> recording)
      : recording_(std::move(recording)) {}
  void to_operator(std::string_view data) override { recording_->output(data); }
  void to_device(std::string_view data) override { recording_->input(data); }
  void resized(int cols, int rows) override { recording_->resize(cols, rows); }

 private:
  std::unique_ptr<Recording> recording_;
};

// An SFTP channel's file names, read from what the operator's client sends.
class SftpObserver : public BridgeObserver {
 public:
  explicit SftpObserver(std::shared_ptr<SftpRequestLog> log) : log_(std::move(log)) {}
  void to_operator(std::string_view) override {}
  void to_device(std::string_view data) override { log_->feed(data); }
  void resized(int, int) override {}

 private:
  std::shared_ptr<SftpRequestLog> log_;
};
}  // namespace

OperatorChannel::OperatorChannel(OperatorLink& link, ssh::Channel channel)
    : link_(link), channel_(std::move(channel)) {
  channel_.listen({
      .signal = [this](std::string_view signal) { on_signal(signal); },
      .pty = [this](const ssh::PtyRequest& request) { return on_pty(request); },
      .shell = [this] { return accept_start(SessionRequest::Kind::kShell, ""); },
      .exec = [this](std::string_view command) { return on_exec(command); },
      .env = [this](std::string_view name, std::string_view value) { return on_env(name, value); },
      .subsystem = [this](std::string_view name) { return on_subsystem(name); },
      .window_change = [this](const ssh::WindowSize& size) { return on_window_change(size); },
  });
}

OperatorChannel::OperatorChannel(OperatorLink& link, ssh::Channel channel, ForwardRequest forward)
    : link_(link), channel_(std::move(channel)), forward_(std::move(forward)) {}

OperatorChannel::~OperatorChannel() {
  record_end();
  release();
}

SharedTerminal* OperatorChannel::shared() const {
  if (!in_shared_) return nullptr;
  auto device = link_.device();
  return device ? device->shared_terminal_if_any() : nullptr;
}

void OperatorChannel::release() {
  if (!channel_) return;
  bridge_.reset();  // closes the device side
  if (auto* terminal = shared(); terminal && terminal->has(member_id_)) terminal->leave(member_id_);
  channel_.stop_listening();
  channel_.close();
  channel_.reset();
}

std::string OperatorChannel::capability() const {
  if (forward_) return forward_->host == "screen" ? "screen" : "proxy";
  switch (request_.kind) {
    case SessionRequest::Kind::kExec:
      return "exec";
    case SessionRequest::Kind::kSubsystem:
      return is_sftp() ? "files" : "shell";
    case SessionRequest::Kind::kShell:
      return "shell";
    case SessionRequest::Kind::kNone:
      break;
  }
  return "";
}

bool OperatorChannel::is_sftp() const {
  return !forward_ && request_.kind == SessionRequest::Kind::kSubsystem &&
         request_.command == "sftp";
}

std::string OperatorChannel::target_description() const {
  if (forward_) return forward_->host + ":" + std::to_string(forward_->port);
  if (request_.kind == SessionRequest::Kind::kExec) return request_.command;
  if (request_.kind == SessionRequest::Kind::kSubsystem) return "subsystem " + request_.command;
  return request_.pty ? "shell (pty)" : "shell";
}

bool OperatorChannel::on_pty(const ssh::PtyRequest& request) {
  std::string t(request.term);
  if (request_.kind != SessionRequest::Kind::kNone) {
    link_.refused("pty", "pty-req after the channel's session request");
    return false;
  }
  if (t.size() > 64 || !valid_label(t)) {
    link_.refused("pty", "invalid terminal type", quote_log_text(t.substr(0, 64)));
    return false;
  }
  request_.pty = true;
  request_.term = t.empty() ? "xterm" : t;
  // 0 means "unknown" (e.g. ssh -tt without a terminal): a conventional 80x24.
  request_.cols = request.cols <= 0 ? 80 : std::min(request.cols, 1000);
  request_.rows = request.rows <= 0 ? 24 : std::min(request.rows, 1000);
  return true;
}

// Only the name is logged, never the value (it may be a secret).
bool OperatorChannel::on_env(std::string_view name, std::string_view value) {
  std::string n(name), v(value);
  const char* refusal = !env_name_allowed(n)                 ? "env variable not allowed"
                        : !env_value_allowed(v)              ? "env value not allowed"
                        : request_.env.size() >= kMaxEnvVars ? "env variables over the cap"
                                                             : nullptr;
  if (refusal) {
    link_.refused("env", refusal,
                  "name " + quote_log_text(n.substr(0, kMaxEnvName)) + ", " +
                      std::to_string(v.size()) + "-byte value, at most " +
                      std::to_string(kMaxEnvVars) + " per channel");
    return false;
  }
  request_.env.emplace_back(n, v);
  return true;
}

bool OperatorChannel::accept_start(SessionRequest::Kind kind, const std::string& command) {
  const char* what = kind == SessionRequest::Kind::kExec        ? "exec"
                     : kind == SessionRequest::Kind::kSubsystem ? "subsystem"
                                                                : "shell";
  if (request_.kind != SessionRequest::Kind::kNone || finished_) {
    link_.refused(what, "the channel already made its session request");
    return false;
  }
  if (!link_.may_request(kind)) {
    link_.refused(what, "observers (+ro) may only open the shared shell");
    return false;
  }
  request_.kind = kind;
  request_.command = command;
  link_.channel_ready();
  return true;
}

// The command itself is never logged (it may carry a secret), only its size.
bool OperatorChannel::on_exec(std::string_view command) {
  if (command.empty() || command.size() > kMaxCommand) {
    link_.refused(
        "exec", command.empty() ? "empty command" : "command over the size limit",
        std::to_string(command.size()) + " bytes, at most " + std::to_string(kMaxCommand));
    return false;
  }
  return accept_start(SessionRequest::Kind::kExec, std::string(command));
}

bool OperatorChannel::on_subsystem(std::string_view name) {
  std::string n(name);
  if (n.empty() || n.size() > 64 || !valid_label(n)) {
    link_.refused("subsystem", "invalid subsystem name", quote_log_text(n.substr(0, 64)));
    return false;
  }
  return accept_start(SessionRequest::Kind::kSubsystem, n);
}

bool OperatorChannel::on_window_change(const ssh::WindowSize& size) {
  int cols = std::clamp(size.cols, 1, 1000);
  int rows = std::clamp(size.rows, 1, 1000);
  request_.cols = cols;
  request_.rows = rows;
  if (bridge_) bridge_->window_change(cols, rows);
  if (auto* terminal = shared()) terminal->resize(member_id_, cols, rows);
  return true;
}

void OperatorChannel::on_signal(std::string_view signal) {
  std::string name(signal);
  bool known = name.size() <= 8 && !name.empty() &&
               std::all_of(name.begin(), name.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
  if (!known)
    return link_.refused("signal", "invalid signal name", quote_log_text(name.substr(0, 32)));
  if (bridge_) bridge_->signal(name);
}

void OperatorChannel::start_on_agentless(DeviceTunnel& device) {
  const DeviceServices& services = device.services();
  if (!forward_)
    return fail("this device offers services only: " + services.names() +
                " (reach one with ssh -L LOCAL_PORT:NAME:PORT or operator-cli forward)");
  auto service = services.find(forward_->host, forward_->port);
  if (!service) return fail("no service \"" + forward_->host + "\" on this device");
  forward_->port = service->port;  // what the device's ssh matches the channel against
  forward_->reverse = true;
  record_start();
  bridge_ = std::make_unique<Bridge>(link_.conn(), channel_, device.conn());
  bridge_->count_into(live_bytes_);
  bridge_->start_forward(*forward_);
}

void OperatorChannel::start(DeviceTunnel& device) {
  if (device.agentless()) return start_on_agentless(device);
  AttachMode mode = link_.target().mode;
  if (request_.kind == SessionRequest::Kind::kShell && mode != AttachMode::kOwn) {
    in_shared_ = true;
    shared_bytes_ = std::make_shared<MemberBytes>();
    record_start();
    member_id_ = device.shared_terminal().join(
        std::make_unique<ChannelMember>(link_.conn(), channel_, link_.operator_name()),
        mode == AttachMode::kShared, request_.cols, request_.rows, request_.term, shared_bytes_);
    return;
  }
  record_start();
  bridge_ = std::make_unique<Bridge>(link_.conn(), channel_, device.conn());
  bridge_->count_into(live_bytes_);
  if (request_.kind == SessionRequest::Kind::kShell && request_.pty) start_recording();
  if (is_sftp()) {
    sftp_log_ = std::make_shared<SftpRequestLog>();
    bridge_->observe(std::make_unique<SftpObserver>(sftp_log_));
  }
  if (forward_)
    bridge_->start_forward(*forward_);
  else
    bridge_->start_session(request_);
}

// An own shell's recording belongs to this operator's attachment.
void OperatorChannel::start_recording() {
  Recorder* recorder = link_.conn().context().recorder;
  if (!recorder) return;
  RecordingInfo info;
  info.session = link_.session_id();
  info.device = link_.device_name();
  info.operator_name = link_.operator_name();
  if (link_.attachment_id() != 0) info.attachment = link_.attachment_id();
  info.fingerprint = link_.conn().fingerprint();
  info.shared = false;
  info.cols = request_.cols;
  info.rows = request_.rows;
  info.term = request_.term.empty() ? "xterm" : request_.term;
  if (auto recording = recorder->start(std::move(info)))
    bridge_->observe(std::make_unique<RecordingObserver>(std::move(recording)));
}

void OperatorChannel::pump() {
  if (bridge_) bridge_->pump();
  if (auto* terminal = shared()) terminal->pump();
}

void OperatorChannel::fail(const std::string& message) {
  if (finished_) return;
  finished_ = true;
  if (bridge_) return bridge_->fail(message);
  if (!channel_) return;
  if (!forward_) {  // forwarded connections carry no stderr: they just close
    channel_.write_stderr("switchboard: " + message + "\r\n");
    channel_.send_exit_status(1);
  }
  channel_.send_eof();
  channel_.close();
}

void OperatorChannel::notice(const std::string& text) {
  bool running = in_shared_ || (bridge_ && bridge_->state() == Bridge::State::kRunning);
  if (!channel_ || finished_ || !request_.pty || !running) return;
  channel_.write("\r\n[switchboard] " + text + "\r\n");
}

void OperatorChannel::device_gone(const std::string& why) {
  if (bridge_)
    bridge_->device_gone(why);
  else
    fail("the device disconnected (" + why + ")");
  finished_ = true;
}

void OperatorChannel::session_gone() {
  record_end();
  if (auto* terminal = shared(); terminal && channel_ && terminal->has(member_id_))
    terminal->leave(member_id_);
  if (bridge_) bridge_->operator_gone();
  bridge_.reset();
  channel_.abandon();  // libssh frees it with the session
  finished_ = true;
}

bool OperatorChannel::done() const {
  if (bridge_) return bridge_->done();
  if (in_shared_) {
    auto* terminal = shared();
    return !terminal || !terminal->has(member_id_);
  }
  return finished_ && channel_.is_closed();
}

std::string OperatorChannel::audit_kind() const {
  if (forward_) {
    if (forward_->reverse) return "service";  // a port an agentless device offers
    if (forward_->host == "screen") return "screen";
    if (forward_->host == "sshd") return "sshd";
    return "proxy";
  }
  switch (request_.kind) {
    case SessionRequest::Kind::kExec:
      return "exec";
    case SessionRequest::Kind::kSubsystem:
      return "subsystem";
    default:
      return "shell";
  }
}

void OperatorChannel::record_start() {
  if (audit_id_ != 0 || link_.attachment_id() == 0) return;
  Context& ctx = link_.conn().context();
  audit_id_ = ctx.ids.channels.next();
  started_ = utc_now();
  started_at_ = std::chrono::steady_clock::now();
  if (forward_)
    audit_target_ = forward_->host + ":" + std::to_string(forward_->port);
  else if (request_.kind == SessionRequest::Kind::kShell)
    audit_target_ = in_shared_ ? "shared" : "own";
  const bool has_command = request_.kind == SessionRequest::Kind::kExec ||
                           request_.kind == SessionRequest::Kind::kSubsystem;
  store::ChannelStart row{audit_id_,
                          link_.attachment_id(),
                          audit_kind(),
                          audit_target_,
                          has_command && !forward_ ? request_.command : std::string(),
                          started_};
  ctx.store.post([row](store::Db& db) { db.insert_channel(row); });
  live_bytes_ = shared_bytes_ ? shared_bytes_ : std::make_shared<LiveBytes>();
  ctx.progress.track(audit_id_, live_bytes_);
}

void OperatorChannel::record_end() {
  if (audit_id_ == 0 || end_recorded_) return;
  end_recorded_ = true;
  link_.conn().context().progress.untrack(audit_id_);
  store::ChannelEnd end{audit_id_, std::nullopt, "", 0, 0, utc_now()};
  if (bridge_) {
    end.exit_status = bridge_->exit_status();
    end.exit_signal = bridge_->exit_signal();
    end.bytes_in = bridge_->bytes_to_device();
    end.bytes_out = bridge_->bytes_to_operator();
  } else if (shared_bytes_) {
    end.bytes_in = shared_bytes_->in;
    end.bytes_out = shared_bytes_->out;
    end.exit_status = shared_bytes_->exit_status;
  }
  nlohmann::json detail{{"session", link_.session_id()},
                        {"device", link_.device_name()},
                        {"operator", link_.operator_name()},
                        {"attachment", link_.attachment_id()},
                        {"channel", audit_id_},
                        {"kind", audit_kind()},
                        {"target", audit_target_},
                        {"bytes_in", end.bytes_in},
                        {"bytes_out", end.bytes_out},
                        {"started", iso8601_utc(started_)},
                        {"duration_ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                                            std::chrono::steady_clock::now() - started_at_)
                                            .count()}};
  if ((request_.kind == SessionRequest::Kind::kExec ||
       request_.kind == SessionRequest::Kind::kSubsystem) &&
      !forward_)
    detail["command"] = request_.command;  // the subsystem's name for a subsystem
  if (sftp_log_) detail.update(sftp_log_->to_json());
  if (end.exit_status) detail["exit_status"] = *end.exit_status;
  if (!end.exit_signal.empty()) detail["exit_signal"] = end.exit_signal;
  link_.conn().context().store.post([end, detail, actor = link_.operator_name()](store::Db& db) {
    db.end_channel(end);
    db.add_event(store::events::kChannelClosed, actor, detail, end.ended);
  });
}

}  // namespace sb::relay
