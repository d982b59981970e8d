// RAII owners for libssh handles. Only common/ssh and keys/ include libssh or call it (the layering
// check enforces the includes); everything else uses these owners and the typed wrappers beside
// them: ssh::Conn (a session on a reactor), SessionRef (session calls), ssh::Channel (a channel
// and its callbacks), ssh::Message (incoming requests) and ServerEvents (session callbacks).
#pragma once
#include <libssh/libssh.h>
#include <libssh/server.h>

#include <memory>

namespace sb::ssh {

struct KeyDeleter {
  void operator()(ssh_key k) const { ssh_key_free(k); }
};
struct SessionDeleter {
  void operator()(ssh_session s) const {
    ssh_disconnect(s);
    ssh_free(s);
  }
};
struct BindDeleter {
  void operator()(ssh_bind b) const { ssh_bind_free(b); }
};
struct EventDeleter {
  void operator()(ssh_event e) const { ssh_event_free(e); }
};
struct StringDeleter {
  void operator()(char* p) const { ssh_string_free_char(p); }
};

using Key = std::unique_ptr<ssh_key_struct, KeyDeleter>;
using Session = std::unique_ptr<ssh_session_struct, SessionDeleter>;
using Bind = std::unique_ptr<ssh_bind_struct, BindDeleter>;
using Event = std::unique_ptr<ssh_event_struct, EventDeleter>;
using CString = std::unique_ptr<char, StringDeleter>;
// A key libssh lends to a callback for the length of the call (not owned; keys/ reads it).
using BorrowedKey = ssh_key;

}  // namespace sb::ssh
