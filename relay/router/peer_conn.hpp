// An SSH connection of the relay as every layer above the router sees it: one libssh session
// on one reactor (ssh::Conn), the context it shares with every other connection, and who is on
// the other end once authentication said so. relay/connection's ServerConn is the one kind that
// exists: it adds the handshake, authentication and the connection's role.
#pragma once
#include <string>

#include "common/ssh/conn.hpp"
#include "relay/router/context.hpp"

namespace sb::relay {

class PeerConn : public ssh::Conn {
 public:
  PeerConn(boost::asio::any_io_executor executor, ssh::Session session, Context& ctx,
           std::string source_addr)
      : ssh::Conn(std::move(executor), std::move(session)),
        ctx_(ctx),
        source_addr_(std::move(source_addr)) {}

  Context& context() { return ctx_; }
  const std::string& source_addr() const { return source_addr_; }
  // The key the peer authenticated with (or offered, until it did): SHA256:... and its line.
  const std::string& fingerprint() const { return fingerprint_; }
  const std::string& key_line() const { return key_line_; }

 protected:
  Context& ctx_;
  const std::string source_addr_;
  std::string fingerprint_;
  std::string key_line_;
};

}  // namespace sb::relay
