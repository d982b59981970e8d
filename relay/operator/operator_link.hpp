// The operator side of a connection: which device it asked for (user name), whether it may
// attach, consent per capability, and its channels.
//
// Authentication only proves a registered operator key. Whether the session exists, and whether
// this operator may join it, is answered afterwards, identically for "no such session" and
// "not yours": same message, same delay (plus the guessing penalty), so IDs cannot be probed.
#pragma once
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "common/ssh/channel.hpp"
#include "common/ssh/message.hpp"
#include "relay/bridge/bridge.hpp"
#include "relay/device/device_tunnel.hpp"
#include "relay/device/member.hpp"
#include "relay/router/operator_target.hpp"

namespace sb::relay {

class OperatorChannel;

class OperatorLink : public DeviceMember {
 public:
  OperatorLink(PeerConn& conn, OperatorTarget target, std::string operator_name);
  ~OperatorLink();
  OperatorLink(const OperatorLink&) = delete;
  OperatorLink& operator=(const OperatorLink&) = delete;

  PeerConn& conn() override { return conn_; }
  const std::string& operator_name() const override { return operator_name_; }
  AttachMode mode() const override { return target_.mode; }
  const OperatorTarget& target() const { return target_; }
  bool attached() const { return phase_ == Phase::kAttached; }
  // The device this operator attached to (or is moving to); null once it is gone.
  std::shared_ptr<DeviceTunnel> device() const { return device_.lock(); }
  const std::string& session_id() const { return session_id_; }
  const std::string& device_name() const { return device_name_; }
  // The attachments row of this operator (0 until attached).
  std::int64_t attachment_id() const override { return attachment_id_; }

  // Right after authentication.
  void begin();
  // A session channel the operator opens: ours (nullptr refuses it).
  ssh::Channel* open_session_channel();
  // A direct-tcpip request: true if accepted, false if refused now (libssh replies).
  bool open_forward(ssh::Message& message);
  // Whether a channel of this operator may ask for that kind of session (observers: shell).
  bool may_request(SessionRequest::Kind kind) const;
  void channel_ready();  // a channel's request arrived: start what may start
  void service() override;
  void on_closed(const std::string& reason);

  // From the device (same reactor once attached).
  void device_gone(const std::string& why) override;
  void consent_answer(const std::string& capability, bool allow, const std::string& why) override;
  void notice(const std::string& text) override;
  // The administrator ended this attachment (or the whole session): every channel gets
  // "switchboard: session ended by the administrator", then the connection closes.
  void end_by_admin(const std::string& reason) override;
  // Logs the refusal of one of this operator's requests (what: "channel", "env", ...; reason in
  // fixed words; detail: particulars made safe with quote_log_text).
  void refused(std::string_view what, std::string_view reason, std::string detail = {}) const;

 private:
  enum class Phase { kResolving, kMoving, kAttached, kRefused };
  void resolve();
  // A miss: answered after the uniform delay plus the guessing penalty, whatever the reason.
  void refuse_uniformly(const char* reason);
  // The session is held while its device reconnects: looks again shortly, for a while.
  void wait_for_resume();
  // The attempt's one audit record when it does not attach (attach.refused): why, and what the
  // guessing guard made it wait.
  void record_refusal(const std::string& reason, std::chrono::milliseconds penalty);
  void move_to_device(std::shared_ptr<DeviceTunnel> device);
  void on_moved();
  void start_ready_channels();
  void fail_all(const std::string& message);
  void linger_then_close();
  std::string capability_state(const std::string& capability) const;
  // False (and logged) when the link is refused or has its channel cap.
  bool may_open_channel(std::string_view what) const;
  // False (and logged) when an attached agentless device has no such service.
  bool agentless_service_exists(const std::string& host, int port) const;
  // Runs fn on every channel, including channels opened while it runs. Any libssh call on a
  // channel (a read, a poll, a write) may pump the operator's session, and a channel open found
  // in that pump is appended to channels_: never walk it with iterators, which the append
  // invalidates when the vector grows.
  template <typename Fn>
  void each_channel(Fn&& fn) {
    for (std::size_t i = 0; i < channels_.size(); ++i) fn(*channels_[i]);
  }
  nlohmann::json audit_detail() const;
  void record_attach();
  // Records every channel's end, then the attachment's (once).
  void record_detach(const std::string& reason);

  PeerConn& conn_;
  OperatorTarget target_;
  std::string operator_name_;
  Phase phase_ = Phase::kResolving;
  std::weak_ptr<DeviceTunnel> device_;
  std::string session_id_;
  std::string device_name_;  // enrolled name, "" for ad hoc
  std::int64_t attachment_id_ = 0;
  std::chrono::steady_clock::time_point attached_at_;
  bool detach_recorded_ = false;
  bool needs_consent_ = true;
  std::vector<std::unique_ptr<OperatorChannel>> channels_;
  std::set<std::string> allowed_, denied_, asked_;
  std::unique_ptr<boost::asio::steady_timer> delay_;
  std::chrono::steady_clock::time_point started_;  // authenticated: the attempt's start
  bool waiting_for_resume_ = false;
  std::chrono::milliseconds held_{0};  // how long the guessing guard held it before the lookup
  bool attempt_recorded_ = false;      // operator.attached or attach.refused was posted
  std::string refusal_;
  bool lingering_ = false;
};

}  // namespace sb::relay
