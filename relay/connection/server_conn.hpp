// One SSH connection accepted by the relay: key exchange, public-key authentication, then the
// role its user name asks for. User "device" is a device tunnel (DeviceTunnel handles its
// control channel, or the services of an agentless OpenSSH device); user "relay" is an
// operator's query the relay answers itself (OperatorQuery); other user names are operators
// joining a device (OperatorLink).
#pragma once
#include <libssh/callbacks.h>

#include <atomic>
#include <memory>
#include <string>

#include "common/ssh/conn.hpp"
#include "relay/router/context.hpp"

namespace sb::relay {

class DeviceTunnel;
class OperatorLink;
class OperatorQuery;

class ServerConn : public ssh::Conn {
 public:
  enum class State { kKeyExchange, kAuthenticating, kDevice, kOperator, kQuery, kClosed };

  ServerConn(boost::asio::any_io_executor executor, ssh::Session session, Context& ctx,
             std::string source_addr);
  ~ServerConn() override;

  State state() const { return state_; }
  const std::string& source_addr() const { return source_addr_; }
  const std::string& fingerprint() const { return fingerprint_; }
  const std::string& key_line() const { return key_line_; }
  // Established: authenticated and (for devices) holding a session.
  bool established() const;
  DeviceTunnel* device() { return device_.get(); }
  OperatorLink* operator_link() { return operator_.get(); }
  Context& context() { return ctx_; }
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

  Context& ctx_;
  std::string source_addr_;
  std::atomic<State> state_{State::kKeyExchange};  // read by the accepting shard's timers
  bool counted_unauthenticated_ = false;
  int auth_failures_ = 0;
  std::string fingerprint_;
  std::string key_line_;
  ssh_server_callbacks_struct server_callbacks_{};
  std::unique_ptr<DeviceTunnel> device_;
  std::unique_ptr<OperatorLink> operator_;
  std::unique_ptr<OperatorQuery> query_;  // user "relay": the relay answers itself
};

}  // namespace sb::relay
