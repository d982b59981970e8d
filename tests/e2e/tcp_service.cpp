#include "tcp_service.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>

namespace sb::e2e {

int connect_tcp(const std::string& ip, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, ip.c_str(), &addr.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

void write_all(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

std::string read_until(int fd, const std::string& until, Millis timeout) {
  std::string got;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[4096];
  while (got.find(until) == std::string::npos) {
    auto left = std::chrono::duration_cast<Millis>(deadline - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  return got;
}

std::string read_exactly(int fd, std::size_t n) {
  std::string got;
  char buf[4096];
  while (got.size() < n) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 10000) <= 0) break;
    ssize_t k = ::read(fd, buf, std::min(sizeof buf, n - got.size()));
    if (k <= 0) break;
    got.append(buf, static_cast<std::size_t>(k));
  }
  return got;
}

TcpServer::TcpServer(const std::string& ip, Handler handler) : handler_(std::move(handler)) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  ::inet_pton(AF_INET, ip.c_str(), &addr.sin_addr);
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd_, 16) != 0)
    throw std::runtime_error("TcpServer: cannot listen on " + ip);
  socklen_t len = sizeof addr;
  ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { loop(); });
}

TcpServer::~TcpServer() {
  stop_ = true;
  thread_.join();
  ::close(fd_);
}

void TcpServer::loop() {
  while (!stop_) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    int client = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    ++connections_;
    handler_(client, stop_);
    ::close(client);
  }
}

EchoService::EchoService(std::string banner, std::string prefix)
    : TcpServer("127.0.0.1", [banner = std::move(banner), prefix = std::move(prefix)](
                                 int fd, const std::atomic<bool>& stopping) {
        write_all(fd, banner);
        char buf[4096];
        while (!stopping) {
          pollfd p{fd, POLLIN, 0};
          int ready = ::poll(&p, 1, 100);
          if (ready == 0) continue;
          if (ready < 0) return;
          ssize_t n = ::read(fd, buf, sizeof buf);
          if (n <= 0) return;
          write_all(fd, prefix + std::string(buf, static_cast<std::size_t>(n)));
        }
      }) {}

std::string talk_to_echo(int port, Millis timeout) {
  // A forward is announced (ssh -v, operator-cli) just before it binds: a refusal in that
  // moment is retried.
  int fd = -1;
  wait_until([&] { return (fd = connect_tcp(port)) >= 0; }, std::min<Millis>(timeout, 3s));
  if (fd < 0) return "(cannot connect)";
  std::string got = read_until(fd, "\n", timeout);
  if (!got.empty()) {
    write_all(fd, "ping\n");
    got += read_until(fd, "echo:ping\n", timeout);
  }
  ::close(fd);
  return got;
}

}  // namespace sb::e2e
