// One channel an operator opened: its requests are answered at once (libssh wants synchronous
// replies) and recorded; once the device side may be used (attached, consent given) they are
// replayed toward the device through a Bridge.
#pragma once
#include <libssh/callbacks.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "common/time.hpp"
#include "relay/bridge/bridge.hpp"
#include "relay/bridge/shared_terminal.hpp"

namespace sb::relay {

class DeviceTunnel;
class OperatorLink;
class SharedTerminal;

class OperatorChannel {
 public:
  // A session channel: installs the request callbacks.
  OperatorChannel(OperatorLink& link, ssh_channel channel);
  // A direct-tcpip channel.
  OperatorChannel(OperatorLink& link, ssh_channel channel, ForwardRequest forward);
  ~OperatorChannel();
  OperatorChannel(const OperatorChannel&) = delete;
  OperatorChannel& operator=(const OperatorChannel&) = delete;

  // "shell", "exec", "screen" or "proxy" once known; "" while the channel has not asked yet.
  std::string capability() const;
  std::string target_description() const;  // command, "screen", "host:port"
  bool ready_to_start() const {
    return !bridge_ && !in_shared_ && !finished_ && !capability().empty();
  }
  void start(DeviceTunnel& device);
  void pump();
  void fail(const std::string& message);
  // A one-line notice (someone joined or left), shown only in interactive terminals.
  void notice(const std::string& text);
  void device_gone(const std::string& why);
  // The operator's session is about to be freed (and this channel with it).
  void session_gone();
  bool done() const;
  const Bridge* bridge() const { return bridge_.get(); }
  // Posts the channels row's end (outcome, bytes each way) and a "channel.closed" event, once;
  // nothing if the channel never started toward the device.
  void record_end();

 private:
  static int on_pty(ssh_session, ssh_channel, const char* term, int cols, int rows, int, int,
                    void* userdata);
  static int on_shell(ssh_session, ssh_channel, void* userdata);
  static int on_exec(ssh_session, ssh_channel, const char* command, void* userdata);
  static int on_env(ssh_session, ssh_channel, const char* name, const char* value, void* userdata);
  static int on_subsystem(ssh_session, ssh_channel, const char* name, void* userdata);
  static void on_signal(ssh_session, ssh_channel, const char* signal, void* userdata);
  static int on_window_change(ssh_session, ssh_channel, int cols, int rows, int, int,
                              void* userdata);
  int accept_start(SessionRequest::Kind kind, const std::string& command);
  // A device without the agent: forwards go to its registered services, sessions are refused.
  void start_on_agentless(DeviceTunnel& device);
  void start_recording();
  void release();
  SharedTerminal* shared() const;
  void record_start();
  std::string audit_kind() const;

  OperatorLink& link_;
  ssh_channel channel_;
  ssh_channel_callbacks_struct callbacks_{};
  SessionRequest request_;
  std::optional<ForwardRequest> forward_;
  std::unique_ptr<Bridge> bridge_;
  bool in_shared_ = false;  // a member of the device's shared terminal instead of a bridge
  SharedTerminal::MemberId member_id_ = 0;  // while in_shared_
  bool finished_ = false;
  // The audit row: assigned when the channel starts toward the device.
  std::int64_t audit_id_ = 0;
  bool end_recorded_ = false;
  Time started_;
  std::string audit_target_;  // host:port of a forward, "shared" / "own" for a shell
  std::chrono::steady_clock::time_point started_at_;
  std::shared_ptr<MemberBytes> shared_bytes_;  // counted by the shared terminal
};

}  // namespace sb::relay
