#include "relay/daemon/listener.hpp"

#include <spdlog/spdlog.h>

namespace sb::relay {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

Listener::Listener(asio::io_context& io, const net::HostPort& where, Context& ctx, Shards& shards)
    : acceptor_(io), ctx_(ctx), shards_(shards) {
  tcp::resolver resolver(io);
  auto results = resolver.resolve(where.host, std::to_string(where.port),
                                  tcp::resolver::passive | tcp::resolver::numeric_service);
  tcp::endpoint endpoint = *results.begin();
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(4096);
}

void Listener::stop() {
  boost::system::error_code ec;
  acceptor_.close(ec);
}

void Listener::accept_next() {
  acceptor_.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec)
      hand_over(std::move(socket));
    else
      spdlog::warn("accept failed: {}", ec.message());
    accept_next();
  });
}

void Listener::hand_over(tcp::socket socket) {
  boost::system::error_code ec;
  auto remote = socket.remote_endpoint(ec);
  std::string addr = ec ? "unknown" : remote.address().to_string();
  if (!ctx_.admit_source(addr)) {
    spdlog::warn("too many unauthenticated connections from {}; refusing", addr);
    return;  // the socket closes here
  }
  int fd = socket.release();
  net::tune_tcp_socket(fd);
  shards_.adopt(fd, std::move(addr));
}

}  // namespace sb::relay
