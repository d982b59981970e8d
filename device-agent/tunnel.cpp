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
  ssh::Session session(ssh_new());
  if (!session) throw std::runtime_error("out of memory");
  int no = 0, yes = 1;
  ssh_options_set(session.get(), SSH_OPTIONS_PROCESS_CONFIG, &no);  // ~/.ssh/config is not ours
  ssh_options_set(session.get(), SSH_OPTIONS_HOST, host.c_str());
  ssh_options_set(session.get(), SSH_OPTIONS_USER, "device");
  ssh_options_set(session.get(), SSH_OPTIONS_FD, &fd);
  ssh_options_set(session.get(), SSH_OPTIONS_NODELAY, &yes);
  ssh_options_set(session.get(), SSH_OPTIONS_CIPHERS_C_S, kCiphers);
  ssh_options_set(session.get(), SSH_OPTIONS_CIPHERS_S_C, kCiphers);
  ssh_options_set(session.get(), SSH_OPTIONS_HOSTKEYS, "ssh-ed25519");
  ssh_set_blocking(session.get(), 0);
  return session;
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
  int rc = ssh_connect(raw());
  if (!has_event() && !attach_event()) return close("cannot set up the session's event loop");
  if (rc == SSH_AGAIN) return;
  if (rc != SSH_OK) return close(std::string("cannot connect: ") + ssh_get_error(raw()));
  ssh_key server_key = nullptr;
  if (ssh_get_server_publickey(raw(), &server_key) != SSH_OK)
    return close("relay sent no host key");
  ssh::Key owned(server_key);
  std::string why = config_.verify_host(keys::fingerprint(owned));
  if (!why.empty()) return refuse(why);
  state_ = State::kAuthenticating;
  step_auth();
}

void Tunnel::step_auth() {
  int rc = ssh_userauth_publickey(raw(), nullptr, config_.key->get());
  if (rc == SSH_AUTH_AGAIN) return;
  if (rc == SSH_AUTH_DENIED || rc == SSH_AUTH_PARTIAL)
    return refuse("the relay refused this device's key");
  if (rc != SSH_AUTH_SUCCESS)
    return close(std::string("authentication failed: ") + ssh_get_error(raw()));
  if (config_.policy) {
    // Before the control channel: the relay may open operator channels as soon as it answers.
    channels_ = std::make_unique<ChannelHost>(*this, executor(), *config_.policy);
    channels_->install(raw());
  }
  channel_ = ssh_channel_new(raw());
  if (!channel_) return close("cannot create the control channel");
  state_ = State::kOpening;
  step_open();
}

void Tunnel::step_open() {
  int rc = ssh_channel_open_session(channel_);
  if (rc == SSH_AGAIN) return;
  if (rc != SSH_OK) return close("the relay refused the control channel");
  state_ = State::kSubsystem;
  step_subsystem();
}

void Tunnel::step_subsystem() {
  int rc = ssh_channel_request_subsystem(channel_, "switchboard-agent");
  if (rc == SSH_AGAIN) return;
  if (rc != SSH_OK) return close("the relay refused the switchboard-agent subsystem");
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
  if (control_->peer_closed()) close("the relay closed the control channel");
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

void Tunnel::refuse(const std::string& reason) {
  permanent_failure_ = true;
  close(reason);
}

void Tunnel::on_closed(const std::string& reason) {
  if (channels_) channels_->close_all();
  control_.reset();
  channel_ = nullptr;  // freed with the session
  if (events_.on_closed) events_.on_closed(reason, permanent_failure_);
}

}  // namespace sb::agent
