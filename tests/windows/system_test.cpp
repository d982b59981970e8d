// The Windows data dir default, device information and socket readiness.
#include <winsock2.h>

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <cstdlib>

#include "common/io/socket_handoff.hpp"
#include "common/io/socket_watch.hpp"
#include "device-agent/device_info.hpp"
#include "device-agent/platform/data_dir.hpp"
#include "device-agent/platform/process.hpp"

namespace sb {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

TEST(WindowsDataDir, DefaultIsUnderProgramData) {
  _putenv_s("SWITCHBOARD_AGENT_DIR", "");
  auto dir = agent::platform::default_data_dir().string();
  EXPECT_NE(dir.find("switchboard-agent"), std::string::npos) << dir;
  const char* program_data = std::getenv("ProgramData");
  ASSERT_TRUE(program_data);
  EXPECT_EQ(dir.rfind(program_data, 0), 0u) << dir;
  _putenv_s("SWITCHBOARD_AGENT_DIR", "C:\\elsewhere");
  EXPECT_EQ(agent::platform::default_data_dir().string(), "C:\\elsewhere");
  _putenv_s("SWITCHBOARD_AGENT_DIR", "");
}

TEST(WindowsDeviceInfo, NamesTheWindowsVersion) {
  auto info = agent::collect_device_info();
  EXPECT_NE(info.value("os", "").find("Windows"), std::string::npos) << info.dump();
  EXPECT_EQ(info.value("kernel", "").rfind("Windows NT ", 0), 0u) << info.dump();
  EXPECT_EQ(info.value("arch", ""), "x86_64") << info.dump();
  EXPECT_FALSE(info.value("hostname", "").empty()) << info.dump();
  EXPECT_EQ(info.value("agent_version", ""), SB_VERSION);
}

TEST(WindowsProcessIds, OwnProcessIsAlive) {
  EXPECT_TRUE(agent::platform::process_alive(agent::platform::current_process_id()));
  EXPECT_FALSE(agent::platform::process_alive(0));
}

// What ssh::Conn relies on: a handed-over socket stays usable with plain Winsock calls, and
// the watch reports readability when data arrives and writability, without owning the socket.
TEST(WindowsSocketWatch, ReportsReadinessOfAHandedOverSocket) {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  tcp::socket client(io), server(io);
  client.connect(acceptor.local_endpoint());
  acceptor.accept(server);
  boost::system::error_code ec;
  const int fd = io::hand_over_socket(client, ec);
  ASSERT_GE(fd, 0) << ec.message();
  EXPECT_FALSE(client.is_open());

  io::SocketWatch watch(io.get_executor());
  watch.assign(fd, ec);
  ASSERT_FALSE(ec) << ec.message();
  bool writable = false, readable = false;
  watch.async_wait(io::SocketWatch::wait_write, [&](auto e) { writable = !e; });
  watch.async_wait(io::SocketWatch::wait_read, [&](auto e) { readable = !e; });
  io.run_for(300ms);
  EXPECT_TRUE(writable);
  EXPECT_FALSE(readable) << "nothing was sent yet";
  asio::write(server, asio::buffer(std::string("hello")));
  for (int i = 0; i < 100 && !readable; ++i) io.run_for(20ms);
  EXPECT_TRUE(readable);
  char buf[16];
  EXPECT_EQ(::recv(static_cast<SOCKET>(fd), buf, sizeof buf, 0), 5);

  // Cancelled waits complete with operation_aborted; release leaves the socket open.
  bool aborted = false;
  watch.async_wait(io::SocketWatch::wait_read,
                   [&](auto e) { aborted = e == asio::error::operation_aborted; });
  io.run_for(100ms);  // nothing to read: still pending
  EXPECT_FALSE(aborted);
  watch.cancel(ec);
  io.run_for(100ms);
  EXPECT_TRUE(aborted);
  watch.release();
  EXPECT_EQ(::send(static_cast<SOCKET>(fd), "x", 1, 0), 1);
  ::closesocket(static_cast<SOCKET>(fd));
}

}  // namespace
}  // namespace sb
