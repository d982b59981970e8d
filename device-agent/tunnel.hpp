// The agent's side of one tunnel connection: key exchange, relay host-key check,
// authentication as user "device", the control channel and its hello, then liveness.
// One object per connection; the supervisor (Agent) makes a new one to reconnect.
#pragma once
#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/ssh/channel.hpp"
#include "common/ssh/conn.hpp"
#include "common/ssh/line_channel.hpp"
#include "device-agent/channel_host.hpp"
#include "device-agent/relay_message.hpp"

namespace sb::agent {

struct TunnelConfig {
  std::string relay_host_port;  // for messages and host pinning
  // Decides whether the relay's host key is acceptable; returns "" or why it is not.
  std::function<std::string(const std::string& fingerprint)> verify_host;
  const ssh::Key* key = nullptr;  // the device key (ad hoc: ephemeral; enrolled: long-term)
  nlohmann::json hello;           // sent once the control channel is up
  // What operators may reach on this device; nullopt: accept no operator channels (load tests).
  std::optional<ChannelPolicy> policy;
};

struct TunnelEvents {
  std::function<void(const std::string& id, const std::string& device,
                     std::chrono::milliseconds relay_check)>
      on_session;
  // permanent: the relay or the host check refused us; retrying would not help.
  std::function<void(const std::string& reason, bool permanent)> on_closed;
  // The relay asks whether an operator may attach ({"type":"consent",...}); answer with
  // Tunnel::answer_consent. Without a handler every request is refused.
  std::function<void(const nlohmann::json& request)> on_consent;
  std::function<void(const nlohmann::json& message)> on_consent_expired;
  std::function<void(const std::string& text)> on_notice;
  // The whole session message (its resume token and outcome), just before on_session.
  std::function<void(const RelayMessage& session)> on_session_message;
};

class Tunnel : public ssh::Conn {
 public:
  enum class State { kConnecting, kAuthenticating, kOpening, kSubsystem, kWaiting, kReady };

  Tunnel(boost::asio::any_io_executor executor, ssh::Session session, TunnelConfig config,
         TunnelEvents events);
  // Builds a non-blocking libssh client session on an already connected TCP socket fd (the
  // session owns the fd from then on).
  static ssh::Session make_session(int fd, const std::string& host);

  State state() const { return state_; }
  // Sends a ping; closes the tunnel if the relay has been silent for longer than silence.
  void keepalive(std::chrono::milliseconds silence);
  void answer_consent(std::uint64_t id, bool allow);
  // A deliberate end: tells the relay (which then ends the session at once instead of holding
  // its ID for a resume) and closes when the relay hangs up. False if there is no session to
  // end (the caller just closes).
  bool say_bye();
  // Sends the device's system info again ({"type":"info","info":{...}}) after it changed;
  // false when there is no session to send it on. Relays older than this message ignore it.
  bool send_info(const nlohmann::json& info);

 protected:
  void service() override;
  void on_closed(const std::string& reason) override;

 private:
  void step_state();
  void step_connect();
  void step_auth();
  void step_open();
  void step_subsystem();
  void step_messages();
  void refuse(const std::string& reason);

  TunnelConfig config_;
  TunnelEvents events_;
  State state_ = State::kConnecting;
  ssh::Channel channel_;  // the control channel; control_ reads and writes it
  std::unique_ptr<ssh::LineChannel> control_;
  std::unique_ptr<ChannelHost> channels_;
  bool permanent_failure_ = false;
};

}  // namespace sb::agent
