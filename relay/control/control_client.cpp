#include "relay/control/control_client.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "common/fd.hpp"
#include "common/util.hpp"
#include "relay/control/control_server.hpp"

namespace sb::relay {

using nlohmann::json;

std::optional<json> ControlClient::ask(const json& request) const {
  return ask_raw(request.dump() + "\n");
}

std::optional<json> ControlClient::ask_raw(const std::string& line) const {
  const std::string path = path_.string();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path)
    throw std::runtime_error("control socket path too long: " + path);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno == ENOENT || errno == ECONNREFUSED) return std::nullopt;
    throw std::runtime_error("cannot reach the relay at " + path + ": " + std::strerror(errno));
  }
  if (::send(fd.get(), line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size()))
    throw std::runtime_error("cannot send to the relay: " + std::string(std::strerror(errno)));
  LineBuffer in(ControlServer::kMaxRequestLine);
  for (;;) {
    if (auto reply = in.next_line()) {
      auto parsed = json::parse(*reply, nullptr, false);
      if (parsed.is_discarded() || !parsed.is_object())
        throw std::runtime_error("the relay sent an unreadable reply");
      return parsed;
    }
    pollfd p{fd.get(), POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(timeout_.count()));
    if (ready == 0) throw std::runtime_error("the relay did not answer in time");
    char buf[4096];
    ssize_t n = ready < 0 ? -1 : ::recv(fd.get(), buf, sizeof buf, 0);
    if (n <= 0) throw std::runtime_error("the relay closed the control connection");
    if (!in.append(std::string_view(buf, static_cast<std::size_t>(n))))
      throw std::runtime_error("the relay's reply is too long");
  }
}

}  // namespace sb::relay
