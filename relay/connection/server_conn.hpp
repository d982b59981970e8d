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
#include <libssh/callbacks.h>

#include <memory>
#include <string>
#include <variant>

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
  static int on_auth_pubkey(ssh_session, const char* user, ssh_key_struct* key,
                            char signature_state, void* userdata);
  static int on_auth_none(ssh_session, const char* user, void* userdata);
  static ssh_channel on_channel_open(ssh_session, void* userdata);
  static int on_message(ssh_session, ssh_message message, void* userdata);
  int auth_operator(const std::string& user, const std::string& fp, char signature_state);
  int auth_pubkey(const char* user, ssh_key key, char signature_state);
  void refuse_auth(const std::string& user, const std::string& reason);
  void step_key_exchange();
  void leave_unauthenticated();

  // Before a role: the key exchange runs, then authentication (inside libssh's callbacks).
  struct KeyExchange {};
  struct Authenticating {};
  using Role = std::variant<KeyExchange, Authenticating, DeviceTunnel, OperatorLink, OperatorQuery>;

  Admission::Ticket ticket_;
  bool counted_unauthenticated_ = false;
  int auth_failures_ = 0;
  ssh_server_callbacks_struct server_callbacks_{};
  Role role_;
  bool closed_ = false;  // on_closed ran: the role is finished, libssh's callbacks are ignored
};

}  // namespace sb::relay
