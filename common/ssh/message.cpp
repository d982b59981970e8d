#include "common/ssh/message.hpp"

#include <libssh/server.h>

namespace sb::ssh {

namespace {
std::string owned_text(const char* s) {
  return s ? std::string(s) : std::string();
}
}  // namespace

Message::Kind Message::kind() const {
  int type = ssh_message_type(message_);
  int subtype = ssh_message_subtype(message_);
  if (type == SSH_REQUEST_CHANNEL_OPEN && subtype == SSH_CHANNEL_DIRECT_TCPIP)
    return Kind::kDirectTcpip;
  if (type == SSH_REQUEST_GLOBAL && subtype == SSH_GLOBAL_REQUEST_TCPIP_FORWARD)
    return Kind::kTcpipForward;
  if (type == SSH_REQUEST_GLOBAL && subtype == SSH_GLOBAL_REQUEST_CANCEL_TCPIP_FORWARD)
    return Kind::kCancelTcpipForward;
  return Kind::kOther;
}

std::string Message::destination() const {
  return owned_text(ssh_message_channel_request_open_destination(message_));
}

int Message::destination_port() const {
  return ssh_message_channel_request_open_destination_port(message_);
}

std::string Message::originator() const {
  return owned_text(ssh_message_channel_request_open_originator(message_));
}

int Message::originator_port() const {
  return ssh_message_channel_request_open_originator_port(message_);
}

Channel Message::accept_channel() {
  return Channel(ssh_message_channel_request_open_reply_accept(message_));
}

std::string Message::bind_address() const {
  return owned_text(ssh_message_global_request_address(message_));
}

int Message::bind_port() const {
  return ssh_message_global_request_port(message_);
}

bool Message::reply_success(std::uint16_t port) {
  return ssh_message_global_request_reply_success(message_, port) == SSH_OK;
}

}  // namespace sb::ssh
