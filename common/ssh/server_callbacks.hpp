// The session-level callbacks: public-key and "none" authentication, session channel opens,
// and the message callback (direct-tcpip opens, tcpip-forward requests). A relay session uses
// all of them; the agent's client session uses the last two to accept the channels the relay
// opens toward it.
//
// Only a Conn makes a ServerCallbacks guard (Conn::listen), and it removes the guard before it
// frees the session, so libssh never calls into an object that is gone.
#pragma once
#include <libssh/callbacks.h>
#include <libssh/server.h>

#include <functional>
#include <string_view>

#include "common/ssh/channel.hpp"
#include "common/ssh/message.hpp"

namespace sb::ssh {

// libssh asks twice about a public key: a probe before any signature, then again once it has
// verified the signature.
enum class KeyOffer { kProbe, kSigned, kOther };

struct ServerEvents {
  // True authenticates (kSigned) or says the key would do (kProbe).
  std::function<bool(std::string_view user, BorrowedKey key, KeyOffer offer)> auth_pubkey;
  std::function<bool(std::string_view user)> auth_none;
  // A session channel: the handler makes it (Channel::create on this session), keeps owning it
  // and returns it; nullptr refuses the open.
  std::function<Channel*()> open_session;
  // True: handled and answered; false: libssh sends its default refusal.
  std::function<bool(Message& message)> message;
};

class ServerCallbacks {
 public:
  ~ServerCallbacks();
  ServerCallbacks(const ServerCallbacks&) = delete;
  ServerCallbacks& operator=(const ServerCallbacks&) = delete;

 private:
  friend class Conn;
  ServerCallbacks(SessionRef session, ServerEvents events);
  static int on_auth_pubkey(ssh_session, const char* user, ssh_key_struct* key,
                            char signature_state, void* self);
  static int on_auth_none(ssh_session, const char* user, void* self);
  static ssh_channel on_channel_open(ssh_session, void* self);
  static int on_message(ssh_session, ssh_message message, void* self);

  ssh_session session_;
  ServerEvents events_;
  ssh_server_callbacks_struct table_{};
};

}  // namespace sb::ssh
