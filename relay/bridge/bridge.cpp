#include "relay/bridge/bridge.hpp"

#include <spdlog/spdlog.h>

#include <memory>

#include "relay/router/peer_conn.hpp"

namespace sb::relay {

namespace {
// Bytes moved per read/write pair. Larger than one SSH packet (32 KiB) on purpose: libssh
// sends the first packet of a write at once and queues the rest until the socket reports
// writable again, so one poll() and one send() carry four packets instead of one each.
constexpr std::size_t kMoveChunk = 128 * 1024;
// Reads per direction per pump: bounds one bridge's share of a reactor turn (2 MiB).
constexpr int kMovesPerPump = 16;

// One move buffer per reactor thread, allocated by the first bridge that moves data there:
// bridges on one reactor never run at the same time, and idle tunnels pay nothing for it.
char* move_buffer() {
  thread_local std::unique_ptr<char[]> buffer;
  if (!buffer) buffer = std::make_unique_for_overwrite<char[]>(kMoveChunk);
  return buffer.get();
}
}  // namespace

Bridge::Bridge(PeerConn& op_conn, ssh_channel op, PeerConn& device_conn)
    : op_conn_(op_conn), device_conn_(device_conn), op_(op) {}

Bridge::~Bridge() {
  release_device_channel();
  release_operator_channel();
}

void Bridge::start_session(SessionRequest request) {
  session_ = std::move(request);
  dev_ = ssh_channel_new(device_conn_.raw());
  if (!dev_) return fail("the relay could not open a channel to the device");
  dev_callbacks_.userdata = this;
  dev_callbacks_.channel_exit_status_function = &Bridge::on_exit_status;
  dev_callbacks_.channel_exit_signal_function = &Bridge::on_exit_signal;
  ssh_callbacks_init(&dev_callbacks_);
  ssh_set_channel_callbacks(dev_, &dev_callbacks_);
  pump();
}

void Bridge::start_forward(ForwardRequest request) {
  is_forward_ = true;
  forward_ = std::move(request);
  dev_ = ssh_channel_new(device_conn_.raw());
  if (!dev_) return fail("the relay could not open a channel to the device");
  pump();
}

void Bridge::window_change(int cols, int rows) {
  pending_resize_ = {cols, rows};
  if (observer_) observer_->resized(cols, rows);
  if (state_ == State::kRunning) pump();
}

void Bridge::signal(const std::string& name) {
  if (pending_signals_.size() < 16) pending_signals_.push_back(name);
  if (state_ == State::kRunning) pump();
}

void Bridge::on_exit_status(ssh_session, ssh_channel, int status, void* userdata) {
  static_cast<Bridge*>(userdata)->exit_status_ = status;
}

void Bridge::on_exit_signal(ssh_session, ssh_channel, const char* signal, int, const char*,
                            const char*, void* userdata) {
  static_cast<Bridge*>(userdata)->exit_signal_ = signal ? std::string(signal).substr(0, 32) : "";
}

void Bridge::step_setup() {
  spdlog::debug("bridge setup state={} fp={}", static_cast<int>(state_), op_conn_.fingerprint());
  for (;;) {
    int rc = SSH_OK;
    switch (state_) {
      case State::kOpening:
        rc = is_forward_ ? open_forward_channel() : ssh_channel_open_session(dev_);
        if (rc == SSH_AGAIN) return after_libssh_calls();
        if (rc != SSH_OK)
          return fail(is_forward_ ? "the device refused the connection to " + forward_.host
                                  : "the device refused the session");
        state_ = is_forward_ ? State::kRunning : (session_.pty ? State::kPty : State::kEnv);
        break;
      case State::kPty:
        rc =
            ssh_channel_request_pty_size(dev_, session_.term.c_str(), session_.cols, session_.rows);
        if (rc == SSH_AGAIN) return after_libssh_calls();
        if (rc != SSH_OK) return fail("the device could not allocate a terminal");
        state_ = State::kEnv;
        break;
      case State::kEnv:
        if (env_index_ < session_.env.size()) {
          const auto& [name, value] = session_.env[env_index_];
          rc = ssh_channel_request_env(dev_, name.c_str(), value.c_str());
          if (rc == SSH_AGAIN) return after_libssh_calls();
          ++env_index_;  // a refused variable is not worth failing the session for
          break;
        }
        state_ = State::kStart;
        break;
      case State::kStart:
        if (session_.kind == SessionRequest::Kind::kExec)
          rc = ssh_channel_request_exec(dev_, session_.command.c_str());
        else if (session_.kind == SessionRequest::Kind::kSubsystem)
          rc = ssh_channel_request_subsystem(dev_, session_.command.c_str());
        else
          rc = ssh_channel_request_shell(dev_);
        if (rc == SSH_AGAIN) return after_libssh_calls();
        if (rc != SSH_OK) return fail("the device refused to start the command");
        state_ = State::kRunning;
        break;
      default:
        return after_libssh_calls();
    }
  }
}

bool Bridge::move(ssh_channel from, const PeerConn& from_conn, ssh_channel to, bool stderr_stream,
                  std::string& pending, std::uint64_t& drained_at, std::uint64_t& counter) {
  auto write = [&](const char* data, std::size_t len) {
    int n = stderr_stream ? ssh_channel_write_stderr(to, data, static_cast<uint32_t>(len))
                          : ssh_channel_write(to, data, static_cast<uint32_t>(len));
    return n < 0 ? 0 : static_cast<std::size_t>(n);  // 0 while re-keying: retried later
  };
  bool progress = false;
  if (!pending.empty()) {
    std::size_t n = write(pending.data(), pending.size());
    pending.erase(0, n);
    progress = n > 0;
    if (!pending.empty()) return progress;
  }
  // Reading an empty channel makes libssh poll the socket (a syscall per look): skip it while
  // no packet arrived since the buffer was last seen empty.
  if (from_conn.packets_in() == drained_at) return progress;
  char* buf = move_buffer();
  for (int i = 0; i < kMovesPerPump; ++i) {
    std::size_t room = std::min<std::size_t>(ssh_channel_window_size(to), kMoveChunk);
    if (room == 0) break;
    int got = ssh_channel_read_nonblocking(from, buf, static_cast<uint32_t>(room), stderr_stream);
    if (got <= 0 || static_cast<std::size_t>(got) < room) drained_at = from_conn.packets_in();
    if (got <= 0) break;
    counter += static_cast<std::uint64_t>(got);
    if (observer_)
      to == op_ ? observer_->to_operator({buf, static_cast<std::size_t>(got)})
                : observer_->to_device({buf, static_cast<std::size_t>(got)});
    std::size_t n = write(buf, static_cast<std::size_t>(got));
    progress = true;
    if (n < static_cast<std::size_t>(got)) {
      pending.assign(buf + n, static_cast<std::size_t>(got) - n);
      break;
    }
    // A short read emptied the channel's buffer; reading again would only make libssh poll
    // the socket (a syscall) for a packet the connection's own pump delivers anyway.
    if (static_cast<std::size_t>(got) < room) break;
  }
  return progress;
}

void Bridge::pump() {
  if (state_ == State::kDone) return;
  if (state_ != State::kRunning && state_ != State::kClosing) {
    step_setup();
    // The operator's data and EOF often arrive while the device side is still being set up:
    // the operator's connection consumed those packets long ago and no new packet will announce
    // them, so the step that finishes the setup moves them at once.
    if (state_ != State::kRunning) return;
  }
  if (state_ == State::kRunning) {
    if (pending_resize_ && !is_forward_) {
      ssh_channel_change_pty_size(dev_, pending_resize_->first, pending_resize_->second);
      pending_resize_.reset();
    }
    if (!is_forward_)
      for (const auto& name : std::exchange(pending_signals_, {}))
        ssh_channel_request_send_signal(dev_, name.c_str());
    std::uint64_t ignored = 0;
    move(op_, op_conn_, dev_, false, to_device_, drained_to_device_, bytes_to_device_);
    move(dev_, device_conn_, op_, false, to_operator_, drained_to_operator_, bytes_to_operator_);
    if (!is_forward_)  // forwards carry no stderr
      move(dev_, device_conn_, op_, true, to_operator_err_, drained_to_operator_err_, ignored);
    bytes_to_operator_ += ignored;
    propagate_end();
  }
  after_libssh_calls();
}

void Bridge::propagate_end() {
  // Operator side finished sending: tell the device once everything before it is delivered.
  if (!eof_to_device_ && to_device_.empty() && ssh_channel_is_eof(op_) &&
      ssh_channel_poll(op_, 0) <= 0) {
    ssh_channel_send_eof(dev_);
    eof_to_device_ = true;
  }
  if (ssh_channel_is_closed(op_)) {
    state_ = State::kClosing;
    release_device_channel();
    release_operator_channel();
    state_ = State::kDone;
    return;
  }
  // Only at the end: ssh_channel_poll on an empty buffer makes libssh poll the socket.
  bool device_ending = ssh_channel_is_eof(dev_) || ssh_channel_is_closed(dev_);
  bool device_drained = device_ending && to_operator_.empty() && to_operator_err_.empty() &&
                        ssh_channel_poll(dev_, 0) <= 0 && ssh_channel_poll(dev_, 1) <= 0;
  if (!eof_to_operator_ && device_drained && ssh_channel_is_eof(dev_)) {
    // The status first: OpenSSH closes its side as soon as our EOF ends its output, and what
    // the device sends after its EOF (its CLOSE) may reach us only after that.
    send_exit_once();
    ssh_channel_send_eof(op_);
    eof_to_operator_ = true;
  }
  if (device_drained && ssh_channel_is_closed(dev_)) finish_operator_side();
}

void Bridge::send_exit_once() {
  if (exit_sent_) return;
  if (exit_status_)
    ssh_channel_request_send_exit_status(op_, *exit_status_);
  else if (!exit_signal_.empty())
    ssh_channel_request_send_exit_signal(op_, exit_signal_.c_str(), 0, "", "");
  else
    return;  // not known yet (or never: the device closed without one)
  exit_sent_ = true;
}

void Bridge::finish_operator_side() {
  send_exit_once();
  if (!eof_to_operator_) ssh_channel_send_eof(op_);
  eof_to_operator_ = true;
  release_device_channel();
  release_operator_channel();
  state_ = State::kDone;
}

void Bridge::fail(const std::string& message) {
  failure_ = message;
  spdlog::info("channel ended for fp={}: {}", op_conn_.fingerprint(), message);
  if (op_ && !is_forward_) {  // forwarded connections carry no stderr: they just close
    std::string line = "switchboard: " + message + "\r\n";
    ssh_channel_write_stderr(op_, line.data(), static_cast<uint32_t>(line.size()));
    ssh_channel_request_send_exit_status(op_, 1);
  }
  if (op_) ssh_channel_send_eof(op_);
  release_device_channel();
  release_operator_channel();
  state_ = State::kDone;
  after_libssh_calls();
}

void Bridge::device_gone(const std::string& why) {
  if (dev_) ssh_remove_channel_callbacks(dev_, &dev_callbacks_);
  dev_ = nullptr;  // freed with the device's session
  if (state_ != State::kDone) fail("the device disconnected (" + why + ")");
}

void Bridge::operator_gone() {
  op_ = nullptr;  // freed with the operator's session
  release_device_channel();
  state_ = State::kDone;
}

void Bridge::release_device_channel() {
  if (!dev_) return;
  ssh_remove_channel_callbacks(dev_, &dev_callbacks_);
  // Close then free: libssh keeps a locally freed channel until the peer's CLOSE arrives.
  ssh_channel_close(dev_);
  ssh_channel_free(dev_);
  dev_ = nullptr;
}

void Bridge::release_operator_channel() {
  // Only closed here: the operator channel's owner removes its callbacks, then frees it.
  if (op_ && !op_closed_) ssh_channel_close(op_);
  op_closed_ = true;
}

int Bridge::open_forward_channel() {
  const char* host = forward_.host.c_str();
  const char* origin = forward_.origin_host.c_str();
  if (forward_.reverse)
    return ssh_channel_open_reverse_forward(dev_, host, forward_.port, origin,
                                            forward_.origin_port);
  return ssh_channel_open_forward(dev_, host, forward_.port, origin, forward_.origin_port);
}

void Bridge::after_libssh_calls() {
  op_conn_.after_foreign_use();
  device_conn_.after_foreign_use();
}

}  // namespace sb::relay
