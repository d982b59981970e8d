// One SSH connection accepted by the relay: key exchange, public-key authentication, then the
// role its user name asks for, held as one object: user "device" is a device tunnel
// (DeviceTunnel: its control channel, or the services of an agentless OpenSSH device); user
// "relay" is an operator's query the relay answers itself (OperatorQuery); other user names are
// operators joining a device (OperatorLink).
//
// The role is chosen once, on the reactor that accepted the connection, before an operator's
// connection moves to its device's reactor; it never changes after that, so that reactor's
// timers may still ask what it is.
#pragma once
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <string>
#include <variant>

#include "relay/connection/unanswered_auth.hpp"
#include "relay/device/device_tunnel.hpp"
#include "relay/operator/operator_link.hpp"
#include "relay/operator/operator_query.hpp"
#include "relay/router/peer_conn.hpp"

namespace sb::relay {

class ServerConn : public PeerConn {
 public:
  // ticket: what Admission gave this connection when the listener accepted it.
  ServerConn(boost::asio::any_io_executor executor, ssh::Session session, Context& ctx,
             std::string source_addr, Admission::Ticket ticket);
  ~ServerConn() override;

  // Established: authenticated and (for devices) holding a session.
  bool established() const;
  // The role, once authentication chose it (null otherwise).
  DeviceTunnel* device() { return std::get_if<DeviceTunnel>(&role_); }
  OperatorLink* operator_link() { return std::get_if<OperatorLink>(&role_); }
  bool is_device() const { return std::holds_alternative<DeviceTunnel>(role_); }
  bool is_operator() const { return std::holds_alternative<OperatorLink>(role_); }
  // The janitor's tick for this connection.
  void check(std::chrono::steady_clock::time_point now);
  // The shard's one-second sweep: handshake deadlines, consent deadlines.
  void sweep(std::chrono::steady_clock::time_point now);

 protected:
  void service() override;
  void on_closed(const std::string& reason) override;

 private:
  ssh::Channel* on_channel_open();
  bool on_message(ssh::Message& message);
  bool auth_operator(const std::string& user, const std::string& fp, ssh::KeyOffer offer);
  bool auth_pubkey(std::string_view user, ssh::BorrowedKey key, ssh::KeyOffer offer);
  // stage: "offered" (a key probed, no signature yet), "signed", "method" (not public key),
  // "unanswered" (libssh dropped the request).
  void refuse_auth(const std::string& user, const std::string& reason, const char* stage);
  // A request on_message answers with libssh's default refusal.
  void refuse_message(const ssh::Message& message);
  // Packets no callback saw while authenticating: a request libssh dropped (UnansweredAuth).
  void watch_unanswered();
  std::string refusal_target() const;
  void step_key_exchange();
  void leave_unauthenticated();

  // Before a role: the key exchange runs, then authentication (inside libssh's callbacks).
  struct KeyExchange {};
  struct Authenticating {};
  using Role = std::variant<KeyExchange, Authenticating, DeviceTunnel, OperatorLink, OperatorQuery>;

  Admission::Ticket ticket_;
  bool counted_unauthenticated_ = false;
  int auth_failures_ = 0;
  std::string last_user_;  // the user name of the last authentication request a callback saw
  UnansweredAuth unanswered_;
  std::unique_ptr<boost::asio::steady_timer> unanswered_timer_;
  bool unanswered_armed_ = false;
  Role role_;
  bool closed_ = false;  // on_closed ran: the role is finished, libssh's callbacks are ignored
};

}  // namespace sb::relay
