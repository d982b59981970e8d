// The device side of operator traffic: channels the relay opens toward this agent.
//  - "session" channels: pty-req, env, shell, exec, the "sftp" subsystem, window-change, signal;
//    processes run in a real PTY (or pipes without one) as the agent's user; exit-status /
//    exit-signal go back.
//  - "direct-tcpip" channels: host "screen" -> the --screen service, "sshd" -> the device's
//    own sshd, any other host:port only if --allow-proxy allows its address.
// Everything runs on the tunnel's reactor; data moves with backpressure both ways.
#pragma once
#include <boost/asio/any_io_executor.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/io/net.hpp"

namespace sb::ssh {
class Conn;
}

namespace sb::agent {

struct Cidr {
  std::vector<std::uint8_t> addr;  // 4 or 16 bytes
  int prefix = 0;
};
// "10.0.0.0/8", "192.168.1.5" (= /32), "::1/128"; nullopt if malformed.
std::optional<Cidr> parse_cidr(std::string_view text);
bool cidr_contains(const Cidr& net, const std::string& ip_address);

// The platform's SFTP server, run for the "sftp" subsystem unless --sftp-server says otherwise.
#ifdef _WIN32
// Windows' own OpenSSH (an optional feature of Windows 10 and later, and Server 2019).
inline constexpr const char* kDefaultSftpServer = "C:\\Windows\\System32\\OpenSSH\\sftp-server.exe";
#else
inline constexpr const char* kDefaultSftpServer = "/usr/lib/openssh/sftp-server";
#endif

struct ChannelPolicy {
  std::optional<net::HostPort> screen;  // --screen ADDR:PORT
  net::HostPort sshd{"127.0.0.1", 22};  // --sshd ADDR:PORT
  std::vector<Cidr> allow_proxy;        // --allow-proxy CIDR,... (empty: no proxying)
  std::string shell;                    // login shell; default $SHELL or /bin/sh
  // --sftp-server: the program serving the "sftp" subsystem; "" refuses it.
  std::string sftp_server = kDefaultSftpServer;
  std::size_t max_channels = 64;
};

class ChannelHost {
 public:
  ChannelHost(ssh::Conn& conn, boost::asio::any_io_executor executor, ChannelPolicy policy);
  ~ChannelHost();
  ChannelHost(const ChannelHost&) = delete;
  ChannelHost& operator=(const ChannelHost&) = delete;

  // Installs the session callbacks on the tunnel's (client) session so relay-opened channels
  // reach us. Call once the tunnel is authenticated.
  void install();
  // Moves data for every channel; called from the tunnel's service step.
  void service();
  // Ends every process and connection (tunnel closing).
  void close_all();
  std::size_t open_channels() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sb::agent
