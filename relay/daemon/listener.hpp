// The relay's listening socket: accepts on the main reactor, refuses a source address with too
// many unauthenticated connections, and hands every other socket to a shard.
#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "common/io/net.hpp"
#include "relay/daemon/shard.hpp"
#include "relay/router/context.hpp"

namespace sb::relay {

class Listener {
 public:
  // Binds and listens at once, so a port in use fails `relay serve` before it reports ready.
  Listener(boost::asio::io_context& io, const net::HostPort& where, Context& ctx, Shards& shards);

  boost::asio::ip::tcp::endpoint local() const { return acceptor_.local_endpoint(); }
  void start() { accept_next(); }
  void stop();

 private:
  void accept_next();
  void hand_over(boost::asio::ip::tcp::socket socket);

  boost::asio::ip::tcp::acceptor acceptor_;
  Context& ctx_;
  Shards& shards_;
};

}  // namespace sb::relay
