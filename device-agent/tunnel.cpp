#include "device-agent/tunnel.hpp"

#include <spdlog/spdlog.h>

#include "device-agent/relay_message.hpp"
#include "keys/keys.hpp"

namespace sb::agent {

namespace {
constexpr const char* kCiphers =
    "aes128-gcm@openssh.com,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com,aes128-ctr,"
    "aes256-ctr";
}

ssh::Session Tunnel::make_session(int fd, const std::string& host) {
  return ssh::make_client_session({.fd = fd,
                                   .host = host,
                                   .user = "device",
                                   .ciphers = kCiphers,
                                   .host_key_types = "ssh-ed25519"});
}

Tunnel::Tunnel(boost::asio::any_io_executor executor, ssh::Session session, TunnelConfig config,
               TunnelEvents events)
    : ssh::Conn(std::move(executor), std::move(session)),
      config_(std::move(config)),
      events_(std::move(events)) {}

void Tunnel::service() {
  step_state();
  if (channels_ && !closing()) channels_->service();
}

void Tunnel::step_state() {
  switch (state_) {
    case State::kConnecting:
      return step_connect();
    case State::kAuthenticating:
      return step_auth();
    case State::kOpening:
      return step_open();
    case State::kSubsystem:
      return step_subsystem();
    case State::kWaiting:
    case State::kReady:
      return step_messages();
  }
}

void Tunnel::step_connect() {
  ssh::Rc rc = connect();
  if (!has_event() && !attach_event()) return close("cannot set up the session's event loop");
  if (rc == ssh::Rc::kAgain) return;
  if (rc != ssh::Rc::kOk) return close("cannot connect: " + session().error());
  ssh::Key server_key = session().server_key();
  if (!server_key) return close("relay sent no host key");
  std::string why = config_.verify_host(keys::fingerprint(server_key));
  if (!why.empty()) return refuse(why);
  state_ = State::kAuthenticating;
  step_auth();
}

void Tunnel::step_auth() {
  ssh::AuthResult rc = session().authenticate(*config_.key);
  if (rc == ssh::AuthResult::kAgain) return;
  if (rc == ssh::AuthResult::kDenied || rc == ssh::AuthResult::kPartial)
    return refuse("the relay refused this device's key");
  if (rc != ssh::AuthResult::kSuccess) return close("authentication failed: " + session().error());
  if (config_.policy) {
    // Before the control channel: the relay may open operator channels as soon as it answers.
    channels_ = std::make_unique<ChannelHost>(*this, executor(), *config_.policy);
    channels_->install();
  }
  channel_ = ssh::Channel::create(session());
  if (!channel_) return close("cannot create the control channel");
  state_ = State::kOpening;
  step_open();
}

void Tunnel::step_open() {
  ssh::Rc rc = channel_.open_session();
  if (rc == ssh::Rc::kAgain) return;
  if (rc != ssh::Rc::kOk) return close("the relay refused the control channel");
  state_ = State::kSubsystem;
  step_subsystem();
}

void Tunnel::step_subsystem() {
  ssh::Rc rc = channel_.request_subsystem("switchboard-agent");
  if (rc == ssh::Rc::kAgain) return;
  if (rc != ssh::Rc::kOk) return close("the relay refused the switchboard-agent subsystem");
  control_ = std::make_unique<ssh::LineChannel>(channel_);
  control_->send(config_.hello);
  state_ = State::kWaiting;
  step_messages();
}

void Tunnel::step_messages() {
  while (!closing()) {
    auto message = control_->receive();
    if (!message) break;
    const RelayMessage read = read_relay_message(*message);
    const std::string& type = read.type;
    if (type == "session" && state_ == State::kWaiting) {
      state_ = State::kReady;
      if (events_.on_session_message) events_.on_session_message(read);
      if (events_.on_session) events_.on_session(read.id, read.device, read.check_interval);
    } else if (type == "error") {
      return refuse("the relay says: " + (read.text.empty() ? "unknown error" : read.text));
    } else if (type == "ended") {
      // The relay's administrator ended this session (session kill, device revoke).
      return close("the relay ended this session: " +
                   (read.text.empty() ? "no reason given" : read.text));
    } else if (type == "ping") {
      control_->send({{"type", "pong"}});
    } else if (type == "consent") {
      if (events_.on_consent)
        events_.on_consent(*message);
      else
        answer_consent(consent_request_id(*message), false);
    } else if (type == "consent-expired") {
      if (events_.on_consent_expired) events_.on_consent_expired(*message);
    } else if (type == "notice") {
      if (events_.on_notice) events_.on_notice(read.text);
    }
  }
  if (closing()) return;
  if (!control_->error().empty()) return close("control channel: " + control_->error());
  control_->flush();
  if (!control_->peer_closed()) return;
  // A cut connection ends the channel too: say which end went away.
  if (session().socket_closed())
    return close("the connection to the relay was lost (" + session().error() + ")");
  close("the relay closed the control channel");
}

void Tunnel::keepalive(std::chrono::milliseconds silence) {
  if (closing() || state_ != State::kReady) return;
  if (Clock::now() - last_inbound() > silence) return close("the relay stopped answering");
  control_->send({{"type", "ping"}});
  wake();
}

void Tunnel::answer_consent(std::uint64_t id, bool allow) {
  if (closing() || !control_) return;
  control_->send({{"type", "consent-answer"}, {"id", id}, {"allow", allow}});
  wake();
}

bool Tunnel::say_bye() {
  if (closing() || state_ != State::kReady || !control_) return false;
  control_->send({{"type", "bye"}});
  control_->flush();
  wake();
  return true;
}

bool Tunnel::send_info(const nlohmann::json& info) {
  if (closing() || state_ != State::kReady || !control_) return false;
  control_->send({{"type", "info"}, {"info", info}});
  wake();
  return true;
}

void Tunnel::refuse(const std::string& reason) {
  permanent_failure_ = true;
  close(reason);
}

void Tunnel::on_closed(const std::string& reason) {
  if (channels_) channels_->close_all();
  control_.reset();
  channel_.abandon();  // freed with the session
  if (events_.on_closed) events_.on_closed(reason, permanent_failure_);
}

}  // namespace sb::agent
