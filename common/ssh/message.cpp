#include "common/ssh/message.hpp"

#include <libssh/server.h>

namespace sb::ssh {

namespace {
std::string owned_text(const char* s) {
  return s ? std::string(s) : std::string();
}

const char* auth_method_name(int method) {
  switch (method) {
    case SSH_AUTH_METHOD_NONE:
      return "none";
    case SSH_AUTH_METHOD_PASSWORD:
      return "password";
    case SSH_AUTH_METHOD_PUBLICKEY:
      return "publickey";
    case SSH_AUTH_METHOD_HOSTBASED:
      return "hostbased";
    case SSH_AUTH_METHOD_INTERACTIVE:
      return "keyboard-interactive";
    case SSH_AUTH_METHOD_GSSAPI_MIC:
      return "gssapi-with-mic";
    default:
      return "unknown method";
  }
}

const char* channel_type_name(int type) {
  switch (type) {
    case SSH_CHANNEL_SESSION:
      return "session";
    case SSH_CHANNEL_DIRECT_TCPIP:
      return "direct-tcpip";
    case SSH_CHANNEL_FORWARDED_TCPIP:
      return "forwarded-tcpip";
    case SSH_CHANNEL_X11:
      return "x11";
    case SSH_CHANNEL_AUTH_AGENT:
      return "auth-agent";
    default:
      return "unknown type";
  }
}

const char* channel_request_name(int request) {
  switch (request) {
    case SSH_CHANNEL_REQUEST_PTY:
      return "pty-req";
    case SSH_CHANNEL_REQUEST_EXEC:
      return "exec";
    case SSH_CHANNEL_REQUEST_SHELL:
      return "shell";
    case SSH_CHANNEL_REQUEST_ENV:
      return "env";
    case SSH_CHANNEL_REQUEST_SUBSYSTEM:
      return "subsystem";
    case SSH_CHANNEL_REQUEST_WINDOW_CHANGE:
      return "window-change";
    case SSH_CHANNEL_REQUEST_X11:
      return "x11-req";
    default:
      return "unknown request";
  }
}

const char* global_request_name(int request) {
  switch (request) {
    case SSH_GLOBAL_REQUEST_TCPIP_FORWARD:
      return "tcpip-forward";
    case SSH_GLOBAL_REQUEST_CANCEL_TCPIP_FORWARD:
      return "cancel-tcpip-forward";
    case SSH_GLOBAL_REQUEST_KEEPALIVE:
      return "keepalive";
    default:
      return "unknown request";
  }
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
  if (type == SSH_REQUEST_SERVICE) return Kind::kServiceRequest;
  if (type == SSH_REQUEST_AUTH) return Kind::kAuthRequest;
  return Kind::kOther;
}

std::string Message::describe() const {
  int subtype = ssh_message_subtype(message_);
  switch (ssh_message_type(message_)) {
    case SSH_REQUEST_AUTH:
      return std::string("auth request (") + auth_method_name(subtype) + ")";
    case SSH_REQUEST_CHANNEL_OPEN:
      return std::string("channel open (") + channel_type_name(subtype) + ")";
    case SSH_REQUEST_CHANNEL:
      return std::string("channel request (") + channel_request_name(subtype) + ")";
    case SSH_REQUEST_SERVICE:
      return "service request";
    case SSH_REQUEST_GLOBAL:
      return std::string("global request (") + global_request_name(subtype) + ")";
    default:
      return "request of type " + std::to_string(ssh_message_type(message_));
  }
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
