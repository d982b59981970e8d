// A handshake flood from one address, as from behind an office NAT: sockets that connect and
// never send a byte, reopened as fast as the relay drops them. An operator behind the same
// address still gets in within a few tries, and the relay logs the refusals as a summary per
// address, not a line each.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "operator_support.hpp"

namespace sb::e2e {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Keeps `sockets` idle connections from 127.0.0.1 open to the port, reopening each one the
// relay closes; stops when destroyed or after 60 s, whichever comes first.
class IdleFlood {
 public:
  IdleFlood(int port, int sockets) : port_(port), fds_(static_cast<std::size_t>(sockets), -1) {
    thread_ = std::thread([this] { run(); });
  }
  ~IdleFlood() {
    stop_ = true;
    thread_.join();
    for (int fd : fds_)
      if (fd >= 0) ::close(fd);
  }
  int open() const { return open_.load(); }
  int reopened() const { return reopened_.load(); }

 private:
  int connect_one() const {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port_));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return fd;
    if (fd >= 0) ::close(fd);
    return -1;
  }
  void run() {
    const auto give_up = Clock::now() + 60s;
    while (!stop_ && Clock::now() < give_up) {
      int open = 0;
      for (int& fd : fds_) {
        if (fd >= 0 && closed_by_peer(fd)) {
          ::close(fd);
          fd = -1;
          ++reopened_;
        }
        if (fd < 0) fd = connect_one();
        open += fd >= 0;
      }
      open_ = open;
      std::this_thread::sleep_for(20ms);  // a pacing of the loop, not a wait for a condition
    }
  }
  static bool closed_by_peer(int fd) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0) return false;
    char byte;
    return ::recv(fd, &byte, 1, MSG_DONTWAIT) <= 0;  // the relay sends its banner, or closes
  }

  int port_;
  std::vector<int> fds_;
  std::atomic<bool> stop_{false};
  std::atomic<int> open_{0};
  std::atomic<int> reopened_{0};
  std::thread thread_;
};

class HandshakeFlood : public OperatorTest {};

TEST_F(HandshakeFlood, AnOperatorBehindAFloodingAddressGetsInWithinAFewTries) {
  start_device({"alice"});
  IdleFlood flood(relay().port(), 48);
  ASSERT_TRUE(wait_until([&] { return flood.open() >= 32; }, 20s)) << flood.open();

  const auto started = Clock::now();
  int tries = 0;
  RunResult result;
  // An operator retries by hand, about twice a second; the flood's sockets count as idle once
  // they are a second old, so the second or third try is the one that makes room.
  while (tries < 20) {
    if (tries++ > 0) std::this_thread::sleep_for(500ms);
    result = exec("alice", "echo through-the-flood");
    if (result.exit_code == 0) break;
  }
  const auto took = std::chrono::duration<double>(Clock::now() - started).count();
  RecordProperty("tries", tries);
  RecordProperty("seconds", std::to_string(took));
  std::printf("flood: operator got in after %d tries, %.2f s\n", tries, took);
  EXPECT_EQ(result.exit_code, 0) << result.err << relay().process().err();
  EXPECT_NE(result.out.find("through-the-flood"), std::string::npos);
  EXPECT_LE(tries, 6);
  EXPECT_LT(took, 15.0);
}

TEST_F(HandshakeFlood, RefusalsAreLoggedAsASummaryPerAddress) {
  start_device({"alice"});
  {
    IdleFlood flood(relay().port(), 200);
    ASSERT_TRUE(wait_until([&] { return flood.reopened() >= 200; }, 30s)) << flood.reopened();
  }
  const std::string log = relay().process().err();
  std::size_t lines = 0;
  for (std::size_t at = log.find("refusing a connection from"); at != std::string::npos;
       at = log.find("refusing a connection from", at + 1))
    ++lines;
  EXPECT_LE(lines, 5u) << "one line per address and 10 s, with a count";
}

}  // namespace
}  // namespace sb::e2e
