#include "relay/bridge/bridge.hpp"

#include <spdlog/spdlog.h>

#include <memory>

#include "common/logging.hpp"
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

// What the operator reads when the device will not start what was asked for.
std::string start_refused_text(const SessionRequest& request) {
  switch (request.kind) {
    case SessionRequest::Kind::kSubsystem:
      // The name is the operator's own, shown back on their terminal: printable text only.
      return "the device refused the '" + escape_log_text(request.command.substr(0, 32)) +
             "' subsystem (it has no server for it that it can run)";
    case SessionRequest::Kind::kExec:
      return "the device refused to start the command";
    default:
      return "the device refused to start a shell";
  }
}
}  // namespace

Bridge::Bridge(PeerConn& op_conn, ssh::Channel& op, PeerConn& device_conn)
    : op_conn_(op_conn),
      device_conn_(device_conn),
      op_(&op),
      to_device_(kMoveChunk),
      to_operator_(kMoveChunk),
      to_operator_err_(kMoveChunk) {}

Bridge::~Bridge() {
  release_device_channel();
  release_operator_channel();
}

void Bridge::start_session(SessionRequest request) {
  session_ = std::move(request);
  dev_ = ssh::Channel::create(device_conn_.session());
  if (!dev_) return fail("the relay could not open a channel to the device");
  dev_.listen({.exit_status = [this](int status) { exit_status_ = status; },
               .exit_signal = [this](std::string_view signal,
                                     bool) { exit_signal_ = std::string(signal.substr(0, 32)); }});
  pump();
}

void Bridge::start_forward(ForwardRequest request) {
  is_forward_ = true;
  forward_ = std::move(request);
  dev_ = ssh::Channel::create(device_conn_.session());
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

void Bridge::step_setup() {
  spdlog::debug("bridge setup state={} fp={}", static_cast<int>(state_), op_conn_.fingerprint());
  for (;;) {
    ssh::Rc rc = ssh::Rc::kOk;
    switch (state_) {
      case State::kOpening:
        rc = is_forward_ ? open_forward_channel() : dev_.open_session();
        if (rc == ssh::Rc::kAgain) return after_libssh_calls();
        if (rc != ssh::Rc::kOk)
          return fail(is_forward_ ? "the device refused the connection to " + forward_.host
                                  : "the device refused the session");
        state_ = is_forward_ ? State::kRunning : (session_.pty ? State::kPty : State::kEnv);
        break;
      case State::kPty:
        rc = dev_.request_pty(session_.term, session_.cols, session_.rows);
        if (rc == ssh::Rc::kAgain) return after_libssh_calls();
        if (rc != ssh::Rc::kOk) return fail("the device could not allocate a terminal");
        state_ = State::kEnv;
        break;
      case State::kEnv:
        if (env_index_ < session_.env.size()) {
          const auto& [name, value] = session_.env[env_index_];
          rc = dev_.request_env(name, value);
          if (rc == ssh::Rc::kAgain) return after_libssh_calls();
          ++env_index_;  // a refused variable is not worth failing the session for
          break;
        }
        state_ = State::kStart;
        break;
      case State::kStart:
        if (session_.kind == SessionRequest::Kind::kExec)
          rc = dev_.request_exec(session_.command);
        else if (session_.kind == SessionRequest::Kind::kSubsystem)
          rc = dev_.request_subsystem(session_.command);
        else
          rc = dev_.request_shell();
        if (rc == ssh::Rc::kAgain) return after_libssh_calls();
        if (rc != ssh::Rc::kOk) return fail(start_refused_text(session_));
        state_ = State::kRunning;
        break;
      default:
        return after_libssh_calls();
    }
  }
}

bool Bridge::move(ssh::Channel& from, const PeerConn& from_conn, ssh::Channel& to,
                  bool stderr_stream, OutBuffer& pending, std::uint64_t& drained_at,
                  std::uint64_t& counter) {
  auto write = [&](std::string_view data) {
    // 0 on an error, and while re-keying: retried later.
    return (stderr_stream ? to.write_stderr(data) : to.write(data)).bytes;
  };
  bool progress = false;
  if (!pending.empty()) {
    std::size_t n = write(pending.data());
    pending.consume(n);
    progress = n > 0;
    if (!pending.empty()) return progress;
  }
  // Reading an empty channel makes libssh poll the socket (a syscall per look): skip it while
  // no packet arrived since the buffer was last seen empty.
  if (from_conn.packets_in() == drained_at) return progress;
  char* buf = move_buffer();
  for (int i = 0; i < kMovesPerPump; ++i) {
    std::size_t room = std::min<std::size_t>(to.window(), kMoveChunk);
    if (room == 0) break;
    std::size_t got = from.read({buf, room}, stderr_stream).bytes;
    if (got < room) drained_at = from_conn.packets_in();
    if (got == 0) break;
    std::string_view data(buf, got);
    counter += got;
    if (observer_) &to == op_ ? observer_->to_operator(data) : observer_->to_device(data);
    std::size_t n = write(data);
    progress = true;
    if (n < got) {
      pending.append(data.substr(n));  // pending was empty: one chunk always fits
      break;
    }
    // A short read emptied the channel's buffer; reading again would only make libssh poll
    // the socket (a syscall) for a packet the connection's own pump delivers anyway.
    if (got < room) break;
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
      dev_.change_window(pending_resize_->first, pending_resize_->second);
      pending_resize_.reset();
    }
    if (!is_forward_)
      for (const auto& name : std::exchange(pending_signals_, {})) dev_.send_signal(name);
    std::uint64_t ignored = 0;
    move(*op_, op_conn_, dev_, false, to_device_, drained_to_device_, bytes_to_device_);
    move(dev_, device_conn_, *op_, false, to_operator_, drained_to_operator_, bytes_to_operator_);
    if (!is_forward_)  // forwards carry no stderr
      move(dev_, device_conn_, *op_, true, to_operator_err_, drained_to_operator_err_, ignored);
    bytes_to_operator_ += ignored;
    if (live_) live_->set(bytes_to_device_, bytes_to_operator_);
    propagate_end();
  }
  after_libssh_calls();
}

namespace {
// Nothing left to read in that stream (libssh polls the socket when the buffer is empty).
bool nothing_buffered(ssh::Channel& channel, bool is_stderr) {
  ssh::Io waiting = channel.poll(is_stderr);
  return waiting.eof || waiting.error || waiting.bytes == 0;
}
}  // namespace

void Bridge::propagate_end() {
  // Operator side finished sending: tell the device once everything before it is delivered.
  if (!eof_to_device_ && to_device_.empty() && op_->is_eof() && nothing_buffered(*op_, false)) {
    dev_.send_eof();
    eof_to_device_ = true;
  }
  if (op_->is_closed()) {
    state_ = State::kClosing;
    release_device_channel();
    release_operator_channel();
    state_ = State::kDone;
    return;
  }
  // Only at the end: a poll on an empty buffer makes libssh poll the socket.
  bool device_ending = dev_.is_eof() || dev_.is_closed();
  bool device_drained = device_ending && to_operator_.empty() && to_operator_err_.empty() &&
                        nothing_buffered(dev_, false) && nothing_buffered(dev_, true);
  if (!eof_to_operator_ && device_drained && dev_.is_eof()) {
    // The status first: OpenSSH closes its side as soon as our EOF ends its output, and what
    // the device sends after its EOF (its CLOSE) may reach us only after that.
    send_exit_once();
    op_->send_eof();
    eof_to_operator_ = true;
  }
  if (device_drained && dev_.is_closed()) finish_operator_side();
}

void Bridge::send_exit_once() {
  if (exit_sent_) return;
  if (exit_status_)
    op_->send_exit_status(*exit_status_);
  else if (!exit_signal_.empty())
    op_->send_exit_signal(exit_signal_, false, "");
  else
    return;  // not known yet (or never: the device closed without one)
  exit_sent_ = true;
}

void Bridge::finish_operator_side() {
  send_exit_once();
  if (!eof_to_operator_) op_->send_eof();
  eof_to_operator_ = true;
  release_device_channel();
  release_operator_channel();
  state_ = State::kDone;
}

void Bridge::fail(const std::string& message) {
  failure_ = message;
  spdlog::info("channel ended for fp={}: {}", op_conn_.fingerprint(), message);
  if (op_ && !is_forward_) {  // forwarded connections carry no stderr: they just close
    op_->write_stderr("switchboard: " + message + "\r\n");
    op_->send_exit_status(1);
  }
  if (op_) op_->send_eof();
  release_device_channel();
  release_operator_channel();
  state_ = State::kDone;
  after_libssh_calls();
}

void Bridge::device_gone(const std::string& why) {
  dev_.abandon();  // freed with the device's session
  if (state_ != State::kDone) fail("the device disconnected (" + why + ")");
}

void Bridge::operator_gone() {
  op_ = nullptr;  // freed with the operator's session
  release_device_channel();
  state_ = State::kDone;
}

void Bridge::release_device_channel() {
  if (!dev_) return;
  dev_.stop_listening();
  // Close then free: libssh keeps a locally freed channel until the peer's CLOSE arrives.
  dev_.close();
  dev_.reset();
}

void Bridge::release_operator_channel() {
  // Only closed here: the operator channel's owner removes its callbacks, then frees it.
  if (op_ && !op_closed_) op_->close();
  op_closed_ = true;
}

ssh::Rc Bridge::open_forward_channel() {
  if (forward_.reverse)
    return dev_.open_reverse_forward(forward_.host, forward_.port, forward_.origin_host,
                                     forward_.origin_port);
  return dev_.open_forward(forward_.host, forward_.port, forward_.origin_host,
                           forward_.origin_port);
}

void Bridge::after_libssh_calls() {
  op_conn_.after_foreign_use();
  device_conn_.after_foreign_use();
}

}  // namespace sb::relay
