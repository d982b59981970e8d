// Unit tests of the relay's control socket (relay/control_server.*): file mode, a stale socket
// file replaced, one JSON request -> one JSON response (answered later, from another thread),
// and bad or oversized request lines refused without stopping the server.
#include "relay/control/control_server.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <cstring>
#include <fstream>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "test_support.hpp"

namespace sb::relay {
namespace {

using nlohmann::json;

int connect_to(const std::filesystem::path& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Sends data and returns the reply line (without '\n'); "" on EOF or after 5 s.
std::string request(int fd, const std::string& data) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
  std::string got;
  char buf[1024];
  while (got.find('\n') == std::string::npos) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) break;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  return got.substr(0, got.find('\n'));
}

class ControlServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.path() / "control.sock";
    std::ofstream(path_) << "a stale file from a crashed relay";
    server_ = std::make_unique<ControlServer>(io_, path_, [this](const json& req, auto reply) {
      ++handled_;
      // Answered from another thread, as the reactors and the store's writer do.
      std::lock_guard lock(replies_mu_);
      replies_.emplace_back([req, reply] { reply({{"ok", true}, {"echo", req}}); });
    });
    server_->start();
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    // Joined while the io_context still runs: a reply thread holds the client connection, and
    // releasing it after the io_context is gone would touch freed memory. (The relay flushes
    // its store, where replies come from, before its reactors go.)
    {
      std::lock_guard lock(replies_mu_);
      for (auto& t : replies_) t.join();
    }
    boost::asio::post(io_, [this] { server_->stop(); });
    work_.reset();
    io_.stop();
    thread_.join();
  }

  test::TempDir dir_;
  std::filesystem::path path_;
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{
      io_.get_executor()};
  std::unique_ptr<ControlServer> server_;
  std::atomic<int> handled_{0};
  std::mutex replies_mu_;
  std::vector<std::thread> replies_;
  std::thread thread_;
};

TEST_F(ControlServerTest, SocketIsPrivateAndAnswersOneResponsePerRequest) {
  EXPECT_EQ(test::mode_of(path_), 0600u);
  int fd = connect_to(path_);
  ASSERT_GE(fd, 0);
  auto first = json::parse(request(fd, "{\"cmd\":\"ping\"}\n"));
  EXPECT_EQ(first["ok"], true);
  EXPECT_EQ(first["echo"]["cmd"], "ping");
  auto second = json::parse(request(fd, "{\"cmd\":\"session.kill\",\"session\":\"1\"}\n"));
  EXPECT_EQ(second["echo"]["session"], "1");
  ::close(fd);
  EXPECT_EQ(handled_, 2);
}

TEST_F(ControlServerTest, BadLinesAreRefusedAndTheServerGoesOn) {
  for (const std::string bad : {"not json\n", "[1,2]\n", "{\"cmd\":7}\n", "{}\n"}) {
    int fd = connect_to(path_);
    ASSERT_GE(fd, 0);
    auto reply = json::parse(request(fd, bad), nullptr, false);
    EXPECT_EQ(reply.value("ok", true), false) << bad;
    EXPECT_NE(reply.value("error", "").find("bad request"), std::string::npos) << reply;
    ::close(fd);
  }
  int fd = connect_to(path_);
  ASSERT_GE(fd, 0);
  auto reply = json::parse(request(fd, std::string(ControlServer::kMaxRequestLine + 10, 'x')),
                           nullptr, false);
  EXPECT_EQ(reply.value("ok", true), false);
  EXPECT_NE(reply.value("error", "").find("too long"), std::string::npos) << reply;
  ::close(fd);
  EXPECT_EQ(handled_, 0);

  fd = connect_to(path_);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(json::parse(request(fd, "{\"cmd\":\"ping\"}\n"))["ok"], true);
  ::close(fd);
}

TEST_F(ControlServerTest, StopRemovesTheSocket) {
  std::promise<void> stopped;
  boost::asio::post(io_, [&] {
    server_->stop();
    stopped.set_value();
  });
  stopped.get_future().wait();
  EXPECT_FALSE(std::filesystem::exists(path_));
  EXPECT_LT(connect_to(path_), 0);
}

}  // namespace
}  // namespace sb::relay
