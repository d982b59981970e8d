// A small TCP service on loopback for tests that reach a device's service through the relay:
// it sends a banner, then echoes every chunk it reads as "echo:<chunk>". Plus the client side.
#pragma once
#include <atomic>
#include <string>
#include <thread>

#include "harness.hpp"

namespace sb::e2e {

class EchoService {
 public:
  explicit EchoService(std::string banner = "RFB 003.008\n");
  ~EchoService();
  EchoService(const EchoService&) = delete;
  EchoService& operator=(const EchoService&) = delete;
  int port() const { return port_; }
  int connections() const { return connections_; }

 private:
  void loop();
  void serve(int fd);
  std::string banner_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::thread thread_;
};

// Connects to 127.0.0.1:port, reads the banner, sends "ping\n" and reads the echo. Returns
// everything read ("RFB 003.008\necho:ping\n"), "(cannot connect)", or what came before EOF.
std::string talk_to_echo(int port, Millis timeout = 10s);

}  // namespace sb::e2e
