#include "common/ssh/server_callbacks.hpp"

namespace sb::ssh {

namespace {

ServerEvents& server_events_of(void* self) {
  return *static_cast<ServerEvents*>(self);
}

// Installed when we let go of a session that stays alive a little longer (until the Conn frees
// it): with no functions set, libssh just refuses whatever still arrives.
ssh_server_callbacks_struct* no_server_callbacks() {
  static ssh_server_callbacks_struct table = [] {
    ssh_server_callbacks_struct t{};
    ssh_callbacks_init(&t);
    return t;
  }();
  return &table;
}

}  // namespace

ServerCallbacks::ServerCallbacks(SessionRef session, ServerEvents events)
    : session_(session.raw()), events_(std::move(events)) {
  ssh_callbacks_init(&table_);
  table_.userdata = &events_;
  if (events_.auth_pubkey) table_.auth_pubkey_function = &ServerCallbacks::on_auth_pubkey;
  if (events_.auth_none) table_.auth_none_function = &ServerCallbacks::on_auth_none;
  if (events_.open_session)
    table_.channel_open_request_session_function = &ServerCallbacks::on_channel_open;
  ssh_set_server_callbacks(session_, &table_);
  if (events_.message) ssh_set_message_callback(session_, &ServerCallbacks::on_message, &events_);
}

ServerCallbacks::~ServerCallbacks() {
  if (events_.message) ssh_set_message_callback(session_, nullptr, nullptr);
  ssh_set_server_callbacks(session_, no_server_callbacks());
}

int ServerCallbacks::on_auth_pubkey(ssh_session, const char* user, ssh_key_struct* key,
                                    char signature_state, void* self) {
  if (!user) return SSH_AUTH_DENIED;
  KeyOffer offer = signature_state == SSH_PUBLICKEY_STATE_NONE    ? KeyOffer::kProbe
                   : signature_state == SSH_PUBLICKEY_STATE_VALID ? KeyOffer::kSigned
                                                                  : KeyOffer::kOther;
  return server_events_of(self).auth_pubkey(user, key, offer) ? SSH_AUTH_SUCCESS : SSH_AUTH_DENIED;
}

int ServerCallbacks::on_auth_none(ssh_session, const char* user, void* self) {
  return server_events_of(self).auth_none(user ? user : "") ? SSH_AUTH_SUCCESS : SSH_AUTH_DENIED;
}

ssh_channel ServerCallbacks::on_channel_open(ssh_session, void* self) {
  Channel* channel = server_events_of(self).open_session();
  return channel ? channel->raw() : nullptr;
}

// 0: handled; 1: libssh sends its default reply. The message is freed when we return.
int ServerCallbacks::on_message(ssh_session, ssh_message message, void* self) {
  Message view(message);
  return server_events_of(self).message(view) ? 0 : 1;
}

}  // namespace sb::ssh
