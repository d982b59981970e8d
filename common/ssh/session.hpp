// Typed forms of the session-level libssh calls: making client and server sessions, the
// handshake steps, authentication, and the few session queries the relay and the agent need.
// A SessionRef does not own the session (Conn does, through ssh::Session).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "common/ssh/handles.hpp"

namespace sb::ssh {

// libssh's error text as a log should show it. When the socket is found closed while libssh
// writes, libssh 0.10 reports the errno its last successful read left behind ("Socket error:
// Success", "... Resource temporarily unavailable", "... Bad file descriptor"): none of these
// is the cause, and they read as if the relay were broken. They become "Socket error:
// connection closed"; every other text is kept.
std::string readable_error(std::string_view libssh_text);

// The outcome of a non-blocking libssh call.
enum class Rc { kOk, kAgain, kError };
// SSH_OK, SSH_AGAIN, anything else (SSH_ERROR, SSH_EOF, ...) is an error.
Rc to_rc(int libssh_rc);

enum class AuthResult { kSuccess, kDenied, kPartial, kAgain, kError };

class SessionRef {
 public:
  explicit SessionRef(ssh_session session) : session_(session) {}
  explicit operator bool() const { return session_ != nullptr; }

  // Client side.
  Rc connect();
  // The server's host key once connect() succeeded; empty if none.
  Key server_key() const;
  AuthResult authenticate(const Key& key);

  // Server side.
  Rc handle_key_exchange();
  void allow_only_publickey_auth();
  // "SSH-2.0-OpenSSH_9.2p1"; empty if unknown.
  std::string client_banner() const;
  // The pre-authentication banner (RFC 4252 §5.4); false if it could not be queued.
  bool send_issue_banner(const std::string& text);

  // Both sides.
  void send_keepalive();
  // libssh's last error text (may be stale: never classify failures by it), readable_error()'d.
  std::string error() const;
  // The socket is closed (by the peer or after an error).
  bool socket_closed() const;
  // libssh holds output it could not send yet (arm a wait for writability).
  bool write_pending() const;

 private:
  friend class Conn;
  friend class Channel;
  friend class ServerCallbacks;
  ssh_session raw() const { return session_; }
  ssh_session session_;
};

struct ClientOptions {
  int fd = -1;          // a connected TCP socket; the session owns it from then on
  std::string host;     // for messages and known hosts
  std::string user;     // the user name to authenticate as
  const char* ciphers;  // both directions, preference order
  const char* host_key_types;
};
// A non-blocking client session on an already connected socket; throws if out of memory.
Session make_client_session(const ClientOptions& options);

// The relay's listener: host key and ciphers, no listening socket (accept_on gets the fds).
Bind make_bind(const std::string& host_key_file, const char* ciphers);
// A non-blocking server session on an accepted socket; empty (and *why) if libssh refused it.
// Takes the fd in every case: on failure it is closed here, once (libssh may already have
// adopted it, and then closes it when the half-made session is freed).
Session accept_on(const Bind& bind, int fd, std::string* why);

}  // namespace sb::ssh
