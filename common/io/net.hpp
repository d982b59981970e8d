// Address parsing and socket options shared by the relay and its clients.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sb::net {

struct HostPort {
  std::string host;  // without brackets for IPv6
  std::uint16_t port = 0;
  std::string str() const;  // "host:port" or "[v6]:port"
};

// "127.0.0.1:2222", "[::1]:2222", "relay.example.com:2222"; default_port used when the port is
// omitted (0 = the port is required). nullopt + *error on malformed input.
std::optional<HostPort> parse_host_port(std::string_view text, std::uint16_t default_port,
                                        std::string* error);

// TCP_NODELAY (latency: Nagle + delayed ACK cost ~50 ms per handshake round trip), keepalive
// probes and TCP_USER_TIMEOUT so dead peers with unacknowledged data are dropped by the kernel.
void tune_tcp_socket(int fd);

// Raises RLIMIT_NOFILE to its hard limit (each connection holds two descriptors).
void raise_fd_limit();

}  // namespace sb::net
