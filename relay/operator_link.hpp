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
#include <set>
#include <string>
#include <vector>

#include "relay/bridge.hpp"
#include "relay/operator_target.hpp"

namespace sb::relay {

class ServerConn;
class OperatorChannel;

class OperatorLink {
 public:
  OperatorLink(ServerConn& conn, OperatorTarget target, std::string operator_name);
  ~OperatorLink();

  ServerConn& conn() { return conn_; }
  const std::string& operator_name() const { return operator_name_; }
  const OperatorTarget& target() const { return target_; }
  bool attached() const { return phase_ == Phase::kAttached; }
  std::shared_ptr<ServerConn> device() const { return device_.lock(); }

  // Right after authentication.
  void begin();
  ssh_channel open_session_channel();
  // A direct-tcpip request; returns a channel (accepted) or nullptr (refused now).
  ssh_channel open_forward(ssh_message message);
  // Whether a channel of this operator may ask for that kind of session (observers: shell).
  bool may_request(SessionRequest::Kind kind) const;
  void channel_ready();  // a channel's request arrived: start what may start
  void service();
  void on_closed(const std::string& reason);

  // From the device (same reactor once attached).
  void device_gone(const std::string& why);
  void consent_answer(const std::string& capability, bool allow, const std::string& why);
  void notice(const std::string& text);

 private:
  enum class Phase { kResolving, kMoving, kAttached, kRefused };
  void resolve();
  void refuse_uniformly();
  void record_rate_limit(std::chrono::milliseconds delay, const char* by);
  void move_to_device(std::shared_ptr<ServerConn> device);
  void on_moved();
  void start_ready_channels();
  void fail_all(const std::string& message);
  void linger_then_close();
  std::string capability_state(const std::string& capability) const;
  // False (and logged) when an attached agentless device has no such service.
  bool agentless_service_exists(const std::string& host, int port) const;

  ServerConn& conn_;
  OperatorTarget target_;
  std::string operator_name_;
  Phase phase_ = Phase::kResolving;
  std::weak_ptr<ServerConn> device_;
  std::string session_id_;
  bool needs_consent_ = true;
  std::vector<std::unique_ptr<OperatorChannel>> channels_;
  std::set<std::string> allowed_, denied_, asked_;
  std::unique_ptr<boost::asio::steady_timer> delay_;
  std::chrono::steady_clock::time_point started_;  // authenticated: the attempt's start
  std::string refusal_;
  bool lingering_ = false;
};

}  // namespace sb::relay
