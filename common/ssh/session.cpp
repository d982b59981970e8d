#include "common/ssh/session.hpp"

#ifdef _WIN32
#include <winsock2.h>
#else
#include <unistd.h>
#endif

#include <stdexcept>

namespace sb::ssh {

namespace {
void close_socket(int fd) {
#ifdef _WIN32
  ::closesocket(static_cast<SOCKET>(fd));
#else
  ::close(fd);
#endif
}
}  // namespace

Rc to_rc(int libssh_rc) {
  if (libssh_rc == SSH_OK) return Rc::kOk;
  if (libssh_rc == SSH_AGAIN) return Rc::kAgain;
  return Rc::kError;
}

Rc SessionRef::connect() {
  return to_rc(ssh_connect(session_));
}

Key SessionRef::server_key() const {
  ssh_key key = nullptr;
  if (ssh_get_server_publickey(session_, &key) != SSH_OK) return Key();
  return Key(key);
}

AuthResult SessionRef::authenticate(const Key& key) {
  switch (ssh_userauth_publickey(session_, nullptr, key.get())) {
    case SSH_AUTH_SUCCESS:
      return AuthResult::kSuccess;
    case SSH_AUTH_DENIED:
      return AuthResult::kDenied;
    case SSH_AUTH_PARTIAL:
      return AuthResult::kPartial;
    case SSH_AUTH_AGAIN:
      return AuthResult::kAgain;
    default:
      return AuthResult::kError;
  }
}

Rc SessionRef::handle_key_exchange() {
  return to_rc(ssh_handle_key_exchange(session_));
}

void SessionRef::allow_only_publickey_auth() {
  ssh_set_auth_methods(session_, SSH_AUTH_METHOD_PUBLICKEY);
}

std::string SessionRef::client_banner() const {
  const char* banner = ssh_get_clientbanner(session_);
  return banner ? banner : "";
}

bool SessionRef::send_issue_banner(const std::string& text) {
  ssh_string banner = ssh_string_from_char(text.c_str());
  if (!banner) return false;
  bool queued = ssh_send_issue_banner(session_, banner) == SSH_OK;
  ssh_string_free(banner);
  return queued;
}

void SessionRef::send_keepalive() {
  ssh_send_keepalive(session_);
}

std::string readable_error(std::string_view libssh_text) {
  static constexpr std::string_view kStaleCauses[] = {"Success", "Resource temporarily unavailable",
                                                      "Bad file descriptor"};
  for (const auto prefix : {std::string_view("Socket error: "),
                            std::string_view("Writing packet: error on socket (or connection "
                                             "closed): ")}) {
    if (!libssh_text.starts_with(prefix)) continue;
    const auto cause = libssh_text.substr(prefix.size());
    for (const auto stale : kStaleCauses)
      if (cause == stale) return "Socket error: connection closed";
  }
  return std::string(libssh_text);
}

std::string SessionRef::error() const {
  const char* text = ssh_get_error(session_);
  return readable_error(text ? text : "");
}

bool SessionRef::socket_closed() const {
  return (ssh_get_status(session_) & (SSH_CLOSED | SSH_CLOSED_ERROR)) != 0;
}

bool SessionRef::write_pending() const {
  return (ssh_get_poll_flags(session_) & SSH_WRITE_PENDING) != 0;
}

Session make_client_session(const ClientOptions& options) {
  Session session(ssh_new());
  if (!session) throw std::runtime_error("out of memory");
  int no = 0, yes = 1;
  socket_t fd = static_cast<socket_t>(options.fd);  // a SOCKET (64 bits) on Windows
  ssh_session s = session.get();
  ssh_options_set(s, SSH_OPTIONS_PROCESS_CONFIG, &no);  // ~/.ssh/config is not ours
  ssh_options_set(s, SSH_OPTIONS_HOST, options.host.c_str());
  ssh_options_set(s, SSH_OPTIONS_USER, options.user.c_str());
  ssh_options_set(s, SSH_OPTIONS_FD, &fd);
  ssh_options_set(s, SSH_OPTIONS_NODELAY, &yes);
  ssh_options_set(s, SSH_OPTIONS_CIPHERS_C_S, options.ciphers);
  ssh_options_set(s, SSH_OPTIONS_CIPHERS_S_C, options.ciphers);
  ssh_options_set(s, SSH_OPTIONS_HOSTKEYS, options.host_key_types);
  ssh_set_blocking(s, 0);
  return session;
}

Bind make_bind(const std::string& host_key_file, const char* ciphers) {
  Bind bind(ssh_bind_new());
  if (!bind) throw std::runtime_error("ssh_bind_new failed");
  ssh_bind_options_set(bind.get(), SSH_BIND_OPTIONS_HOSTKEY, host_key_file.c_str());
  ssh_bind_options_set(bind.get(), SSH_BIND_OPTIONS_CIPHERS_C_S, ciphers);
  ssh_bind_options_set(bind.get(), SSH_BIND_OPTIONS_CIPHERS_S_C, ciphers);
  return bind;
}

Session accept_on(const Bind& bind, int fd, std::string* why) {
  Session session(ssh_new());
  if (!session) {
    *why = "out of memory";
    close_socket(fd);
    return Session();
  }
  if (ssh_bind_accept_fd(bind.get(), session.get(), fd) != SSH_OK) {
    const char* text = ssh_get_error(bind.get());
    *why = text ? text : "ssh_bind_accept_fd failed";
    // ssh_bind_accept_fd may fail before or after it adopted the fd (a host key it cannot
    // load, out of memory): whoever holds it closes it, and only once.
    const bool adopted = static_cast<int>(ssh_get_fd(session.get())) == fd;
    session.reset();  // closes the fd if libssh adopted it
    if (!adopted) close_socket(fd);
    return Session();
  }
  ssh_set_blocking(session.get(), 0);
  return session;
}

}  // namespace sb::ssh
