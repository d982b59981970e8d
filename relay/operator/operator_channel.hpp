// One channel an operator opened: its requests are answered at once (libssh wants synchronous
// replies) and recorded; once the device side may be used (attached, consent given) they are
// replayed toward the device through a Bridge.
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "common/ssh/channel.hpp"
#include "common/time.hpp"
#include "relay/bridge/bridge.hpp"
#include "relay/bridge/shared_terminal.hpp"

namespace sb::relay {

class DeviceTunnel;
class OperatorLink;
class SharedTerminal;
class SftpRequestLog;

class OperatorChannel {
 public:
  // A session channel: installs the request callbacks.
  OperatorChannel(OperatorLink& link, ssh::Channel channel);
  // A direct-tcpip channel.
  OperatorChannel(OperatorLink& link, ssh::Channel channel, ForwardRequest forward);
  ~OperatorChannel();
  OperatorChannel(const OperatorChannel&) = delete;
  OperatorChannel& operator=(const OperatorChannel&) = delete;

  // "shell", "exec", "files" (the sftp subsystem), "screen" or "proxy" once known; "" while the
  // channel has not asked yet.
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
  // The operator's channel (for libssh's channel-open answer).
  ssh::Channel& channel() { return channel_; }
  const Bridge* bridge() const { return bridge_.get(); }
  // Posts the channels row's end (outcome, bytes each way) and a "channel.closed" event, once;
  // nothing if the channel never started toward the device.
  void record_end();

 private:
  bool on_pty(const ssh::PtyRequest& request);
  bool on_exec(std::string_view command);
  bool on_env(std::string_view name, std::string_view value);
  bool on_subsystem(std::string_view name);
  void on_signal(std::string_view signal);
  bool on_window_change(const ssh::WindowSize& size);
  bool accept_start(SessionRequest::Kind kind, const std::string& command);
  // A device without the agent: forwards go to its registered services, sessions are refused.
  void start_on_agentless(DeviceTunnel& device);
  void start_recording();
  void release();
  SharedTerminal* shared() const;
  void record_start();
  std::string audit_kind() const;
  bool is_sftp() const;

  OperatorLink& link_;
  ssh::Channel channel_;  // empty once released or freed with the session
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
  std::shared_ptr<LiveBytes> live_bytes_;      // for the periodic store (ChannelProgress)
  std::shared_ptr<SftpRequestLog> sftp_log_;   // an sftp channel's file names, for its audit
};

}  // namespace sb::relay
