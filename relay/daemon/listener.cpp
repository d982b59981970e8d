#include "relay/daemon/listener.hpp"

#include <spdlog/spdlog.h>

namespace sb::relay {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

Listener::Listener(asio::io_context& io, const net::HostPort& where, Context& ctx, Shards& shards)
    : acceptor_(io), summary_timer_(io), ctx_(ctx), shards_(shards) {
  tcp::resolver resolver(io);
  auto results = resolver.resolve(where.host, std::to_string(where.port),
                                  tcp::resolver::passive | tcp::resolver::numeric_service);
  tcp::endpoint endpoint = *results.begin();
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(4096);
}

void Listener::start() {
  accept_next();
  schedule_refusal_summary();
}

void Listener::stop() {
  boost::system::error_code ec;
  acceptor_.close(ec);
  summary_timer_.cancel();
}

void Listener::log_refusal(const std::string& addr, const std::string& reason) {
  auto held = refusals_.admit(addr, LogThrottle::Clock::now());
  if (!held) return;
  if (*held == 0)
    spdlog::warn("refusing a connection from {}: {}", addr, reason);
  else
    spdlog::warn("refusing a connection from {}: {} ({} more refused since the last such line)",
                 addr, reason, *held);
}

void Listener::schedule_refusal_summary() {
  summary_timer_.expires_after(std::chrono::seconds(10));
  summary_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || !acceptor_.is_open()) return;  // stopped, perhaps after this timer expired
    for (const auto& [addr, count] : refusals_.drain(LogThrottle::Clock::now()))
      spdlog::warn("refused {} more connection(s) from {} (handshake flood)", count,
                   addr.empty() ? "other addresses" : addr);
    ctx_.refusals.summarize();
    schedule_refusal_summary();
  });
}

void Listener::accept_next() {
  acceptor_.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
    // A connection accepted just before stop() still arrives, with success: the last one.
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
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
  auto admitted = ctx_.admission.admit(addr, Admission::Clock::now(), roll_(random_));
  if (const auto* refused = std::get_if<Admission::Refusal>(&admitted)) {
    log_refusal(addr, refused->reason);
    return;  // the socket closes here
  }
  int fd = socket.release();
  net::tune_tcp_socket(fd);
  shards_.adopt(fd, std::move(addr), std::get<Admission::Ticket>(admitted));
}

}  // namespace sb::relay
