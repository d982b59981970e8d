#include "common/io/net.hpp"

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#endif

#include <charconv>

namespace sb::net {

std::string HostPort::str() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

namespace {
std::optional<std::uint16_t> parse_port(std::string_view text) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value == 0 || value > 65535)
    return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

bool valid_host(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  for (char c : host) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == ':' || c == '_' || c == '%';
    if (!ok) return false;
  }
  return true;
}
}  // namespace

std::optional<HostPort> parse_host_port(std::string_view text, std::uint16_t default_port,
                                        std::string* error) {
  auto fail = [&](std::string why) -> std::optional<HostPort> {
    if (error) *error = "bad address '" + std::string(text.substr(0, 300)) + "': " + why;
    return std::nullopt;
  };
  HostPort out;
  std::string_view port_text;
  if (text.starts_with('[')) {
    auto close = text.find(']');
    if (close == std::string_view::npos) return fail("missing ']'");
    out.host = std::string(text.substr(1, close - 1));
    auto rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return fail("expected ':' after ']'");
      port_text = rest.substr(1);
    }
  } else {
    auto colon = text.rfind(':');
    if (colon != std::string_view::npos && text.find(':') != colon)
      return fail("IPv6 addresses need brackets, e.g. [::1]:2222");
    out.host = std::string(text.substr(0, colon));
    if (colon != std::string_view::npos) port_text = text.substr(colon + 1);
  }
  if (!valid_host(out.host)) return fail("invalid host");
  if (port_text.empty()) {
    if (default_port == 0) return fail("a port is required (HOST:PORT)");
    out.port = default_port;
  } else {
    auto port = parse_port(port_text);
    if (!port) return fail("port must be 1-65535");
    out.port = *port;
  }
  return out;
}

#ifdef _WIN32
// Windows: no TCP_USER_TIMEOUT; keepalive times through the socket options Windows 10 has.
void tune_tcp_socket(int fd) {
  const SOCKET s = static_cast<SOCKET>(fd);
  DWORD one = 1, idle = 30, interval = 10, count = 3;
  auto set = [s](int level, int name, DWORD value) {
    ::setsockopt(s, level, name, reinterpret_cast<const char*>(&value), sizeof value);
  };
  set(IPPROTO_TCP, TCP_NODELAY, one);
  set(SOL_SOCKET, SO_KEEPALIVE, one);
#ifdef TCP_KEEPIDLE
  set(IPPROTO_TCP, TCP_KEEPIDLE, idle);
  set(IPPROTO_TCP, TCP_KEEPINTVL, interval);
  set(IPPROTO_TCP, TCP_KEEPCNT, count);
#else
  (void)idle, (void)interval, (void)count;
#endif
}

void raise_fd_limit() {}  // Windows has no descriptor limit to raise
#else
void tune_tcp_socket(int fd) {
  int one = 1;
  int idle = 30, interval = 10, count = 3;
  unsigned user_timeout_ms = 60000;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
  setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof user_timeout_ms);
}

void raise_fd_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}
#endif

}  // namespace sb::net
