// The relay's listening socket: accepts on the main reactor, asks Admission whether a new
// connection may start a handshake (floods), and hands every admitted socket to a shard.
#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <random>

#include "common/io/net.hpp"
#include "common/log_throttle.hpp"
#include "relay/daemon/shard.hpp"
#include "relay/router/context.hpp"

namespace sb::relay {

class Listener {
 public:
  // Binds and listens at once, so a port in use fails `relay serve` before it reports ready.
  Listener(boost::asio::io_context& io, const net::HostPort& where, Context& ctx, Shards& shards);

  boost::asio::ip::tcp::endpoint local() const { return acceptor_.local_endpoint(); }
  void start();
  void stop();

 private:
  void accept_next();
  void hand_over(boost::asio::ip::tcp::socket socket);
  void log_refusal(const std::string& addr, const std::string& reason);
  // Reports the refusals held back by the throttle once their source went quiet.
  void schedule_refusal_summary();

  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer summary_timer_;
  LogThrottle refusals_{std::chrono::seconds(10)};
  std::mt19937 random_{std::random_device{}()};  // early drop: not a secret
  std::uniform_int_distribution<int> roll_{0, 99};
  Context& ctx_;
  Shards& shards_;
};

}  // namespace sb::relay
