// Small TCP services on loopback for tests that reach a device's service through the relay, and
// the client side: connect, write, read until a marker or a byte count.
#pragma once
#include <atomic>
#include <functional>
#include <string>
#include <thread>

#include "harness.hpp"

namespace sb::e2e {

// A TCP client connected to ip:port, or -1.
int connect_tcp(const std::string& ip, int port);
inline int connect_tcp(int port) {
  return connect_tcp("127.0.0.1", port);
}

// Sends all of data (stops early on an error).
void write_all(int fd, const std::string& data);
// Reads until `until` has been seen, EOF or the timeout.
std::string read_until(int fd, const std::string& until, Millis timeout);
// Reads until n bytes have arrived, EOF or 10 s without data.
std::string read_exactly(int fd, std::size_t n);

// A TCP server on ip:(a free port) that serves one connection at a time with
// handler(fd, stopping); the handler should return soon once stopping is set.
class TcpServer {
 public:
  using Handler = std::function<void(int fd, const std::atomic<bool>& stopping)>;
  TcpServer(const std::string& ip, Handler handler);
  ~TcpServer();
  TcpServer(const TcpServer&) = delete;
  TcpServer& operator=(const TcpServer&) = delete;
  int port() const { return port_; }
  int connections() const { return connections_; }

 private:
  void loop();
  Handler handler_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::thread thread_;
};

// On 127.0.0.1: sends a banner, then echoes every chunk it reads as prefix + chunk until EOF
// (prefix "" echoes the bytes unchanged).
class EchoService : public TcpServer {
 public:
  explicit EchoService(std::string banner = "RFB 003.008\n", std::string prefix = "echo:");
};

// Connects to 127.0.0.1:port (retrying for up to 3 s while it is refused), reads the banner,
// sends "ping\n" and reads the echo. Returns everything read ("RFB 003.008\necho:ping\n"),
// "(cannot connect)", or what came before EOF.
std::string talk_to_echo(int port, Millis timeout = 10s);

}  // namespace sb::e2e
