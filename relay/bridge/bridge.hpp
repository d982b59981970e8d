// One operator channel mirrored onto one channel the relay opens toward the device, both on one
// reactor. The device side is set up without blocking (open, pty-req, env, shell/exec, one
// request at a time because libssh 0.10 keeps one pending request per channel), then data moves
// both ways only as fast as the receiving window allows: what is not read stays in libssh's
// channel buffer, whose window then stops growing. EOF, close and the exit status propagate.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/out_buffer.hpp"
#include "common/ssh/channel.hpp"
#include "relay/router/channel_progress.hpp"

namespace sb::relay {

class PeerConn;

struct SessionRequest {
  bool pty = false;
  std::string term = "xterm";
  int cols = 80, rows = 24;
  std::vector<std::pair<std::string, std::string>> env;
  enum class Kind { kNone, kShell, kExec, kSubsystem } kind = Kind::kNone;
  std::string command;  // exec command or subsystem name
};

struct ForwardRequest {
  std::string host;
  int port = 0;
  std::string origin_host = "127.0.0.1";
  int origin_port = 0;
  // An agentless device (`ssh -R`): open forwarded-tcpip for the host:port it registered,
  // instead of direct-tcpip toward an agent.
  bool reverse = false;
};

// Sees what a bridge moves and the window changes it forwards (shell recordings).
class BridgeObserver {
 public:
  virtual ~BridgeObserver() = default;
  virtual void to_operator(std::string_view data) = 0;
  virtual void to_device(std::string_view data) = 0;
  virtual void resized(int cols, int rows) = 0;
};

class Bridge {
 public:
  enum class State { kOpening, kPty, kEnv, kStart, kRunning, kClosing, kDone };

  // op: the operator's channel, owned (with its callbacks) by the caller until operator_gone();
  // device_conn: the device.
  Bridge(PeerConn& op_conn, ssh::Channel& op, PeerConn& device_conn);
  ~Bridge();
  Bridge(const Bridge&) = delete;
  Bridge& operator=(const Bridge&) = delete;

  void start_session(SessionRequest request);
  void start_forward(ForwardRequest request);
  void observe(std::unique_ptr<BridgeObserver> observer) { observer_ = std::move(observer); }
  // Keeps `live` up to date with the byte counts, for the periodic store of open channels.
  void count_into(std::shared_ptr<LiveBytes> live) { live_ = std::move(live); }
  void window_change(int cols, int rows);
  // Forwards a signal request ("INT", "TERM", ...) to the device's process.
  void signal(const std::string& name);
  // Moves data and advances the setup; called from both connections' service steps.
  void pump();
  // One side's connection is going away: its channel handle is about to be freed.
  void device_gone(const std::string& why);
  void operator_gone();
  // Ends the bridge with a message to the operator (on stderr) and exit status 1.
  void fail(const std::string& message);

  State state() const { return state_; }
  bool done() const { return state_ == State::kDone; }
  std::uint64_t bytes_to_device() const { return bytes_to_device_; }
  std::uint64_t bytes_to_operator() const { return bytes_to_operator_; }
  std::optional<int> exit_status() const { return exit_status_; }
  const std::string& exit_signal() const { return exit_signal_; }

 private:
  void step_setup();
  ssh::Rc open_forward_channel();
  // drained_at: the source session's packet count when this stream's channel buffer was last
  // seen empty (data only arrives in packets, so an unchanged count means nothing to read).
  bool move(ssh::Channel& from, const PeerConn& from_conn, ssh::Channel& to, bool stderr_stream,
            OutBuffer& pending, std::uint64_t& drained_at, std::uint64_t& counter);
  void propagate_end();
  void finish_operator_side();
  // exit-status or exit-signal to the operator, once, as soon as the device sent one.
  void send_exit_once();
  void release_device_channel();
  void release_operator_channel();
  void after_libssh_calls();

  PeerConn& op_conn_;
  PeerConn& device_conn_;
  ssh::Channel* op_;  // null once the operator's session is gone
  ssh::Channel dev_;
  State state_ = State::kOpening;
  bool is_forward_ = false;
  SessionRequest session_;
  ForwardRequest forward_;
  std::size_t env_index_ = 0;
  std::optional<std::pair<int, int>> pending_resize_;
  std::vector<std::string> pending_signals_;
  // What one side read and the other's window did not take yet: at most one move's chunk.
  OutBuffer to_device_, to_operator_, to_operator_err_;
  static constexpr std::uint64_t kNotDrained = ~std::uint64_t{0};
  std::uint64_t drained_to_device_ = kNotDrained, drained_to_operator_ = kNotDrained,
                drained_to_operator_err_ = kNotDrained;
  bool eof_to_device_ = false, eof_to_operator_ = false;
  bool op_closed_ = false;
  bool exit_sent_ = false;
  std::uint64_t bytes_to_device_ = 0, bytes_to_operator_ = 0;
  std::optional<int> exit_status_;
  std::string exit_signal_;
  std::string failure_;
  std::unique_ptr<BridgeObserver> observer_;
  std::shared_ptr<LiveBytes> live_;
};

}  // namespace sb::relay
