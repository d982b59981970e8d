// A view of one incoming libssh message, for the kinds the relay and the agent handle themselves
// (libssh 0.10 has no typed callback for them): direct-tcpip channel opens and tcpip-forward /
// cancel-tcpip-forward global requests. The message lives only while the message callback runs,
// so every reply is made from inside it.
#pragma once
#include <cstdint>
#include <string>

#include "common/ssh/channel.hpp"

namespace sb::ssh {

class Message {
 public:
  // kServiceRequest and kAuthRequest arrive before authentication: the service request for
  // "ssh-userauth" (libssh's default reply accepts it) and the authentication methods without a
  // callback of ours (password, keyboard-interactive, ...).
  enum class Kind {
    kDirectTcpip,
    kTcpipForward,
    kCancelTcpipForward,
    kServiceRequest,
    kAuthRequest,
    kOther
  };

  Kind kind() const;
  // What it asks for, for a log line: "channel open (x11)", "auth request (password)".
  std::string describe() const;

  // direct-tcpip: where the peer wants to go and where it says the connection comes from.
  std::string destination() const;
  int destination_port() const;
  std::string originator() const;
  int originator_port() const;
  // Accepts the channel open; empty if the reply could not be sent.
  Channel accept_channel();

  // tcpip-forward / cancel-tcpip-forward.
  std::string bind_address() const;
  int bind_port() const;
  // port: the port actually bound (only sent when the peer asked for port 0).
  bool reply_success(std::uint16_t port);

 private:
  friend class ServerCallbacks;
  explicit Message(ssh_message message) : message_(message) {}
  ssh_message message_;
};

}  // namespace sb::ssh
