// "direct-tcpip" channels: a TCP connection from the device to the screen service, the device's
// sshd, or (if --allow-proxy allows the address) any host:port, bridged with backpressure.
#include <spdlog/spdlog.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <chrono>

#include "device-agent/chan_internal.hpp"

namespace sb::agent::detail {

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

constexpr auto kConnectTimeout = std::chrono::seconds(10);
constexpr std::size_t kMaxHostLength = 255;

bool proxy_allowed(const ChannelPolicy& policy, const std::string& address) {
  return std::any_of(policy.allow_proxy.begin(), policy.allow_proxy.end(),
                     [&](const Cidr& net) { return cidr_contains(net, address); });
}

bool is_ip_literal(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

class ForwardChannel final : public HostedChannel {
 public:
  ForwardChannel(std::shared_ptr<HostState> host, ssh::Channel channel, ForwardTarget target)
      : HostedChannel(std::move(host), std::move(channel)),
        target_(std::move(target)),
        resolver_(host_->executor),
        socket_(host_->executor),
        deadline_(host_->executor) {}
  using HostedChannel::install_callbacks;

  void start() {
    deadline_.expires_after(kConnectTimeout);
    deadline_.async_wait([self = self()](const boost::system::error_code& ec) {
      if (!ec && !self->connected_) self->give_up("timed out");
    });
    resolver_.async_resolve(
        target_.host, std::to_string(target_.port), tcp::resolver::numeric_service,
        [self = self()](const boost::system::error_code& ec, tcp::resolver::results_type results) {
          self->on_resolved(ec, results);
        });
  }

  void step() override {
    if (!active() || !connected_) return;  // until connected, relay data waits in libssh
    move_input();
    move_output();
    if (eof_sent_ && in_.eof() && !in_.writing()) want_close();  // both directions ended
  }

 protected:
  void stop_local() override {
    boost::system::error_code ignored;
    resolver_.cancel();
    deadline_.cancel();
    socket_.close(ignored);  // pending operations complete with operation_aborted
  }

 private:
  std::shared_ptr<ForwardChannel> self() {
    return std::static_pointer_cast<ForwardChannel>(shared_from_this());
  }

  void give_up(const std::string& why) {
    if (host_->detached || closing()) return;
    spdlog::info("forward to {}:{}: {}", target_.host, target_.port, why);
    want_close();
    kick();
  }

  // Names are resolved only now (the channel is already accepted); every resolved address must
  // pass the policy, and only those that do are tried.
  void on_resolved(const boost::system::error_code& ec, const tcp::resolver::results_type& r) {
    if (ec) return give_up("cannot resolve: " + ec.message());
    std::vector<tcp::endpoint> endpoints;
    for (const auto& entry : r) {
      auto ep = entry.endpoint();
      if (!target_.check_policy || proxy_allowed(host_->policy, ep.address().to_string()))
        endpoints.push_back(ep);
    }
    if (endpoints.empty()) return give_up("no address allowed by --allow-proxy");
    asio::async_connect(socket_, endpoints,
                        [self = self()](const boost::system::error_code& e, const tcp::endpoint&) {
                          self->on_connected(e);
                        });
  }

  void on_connected(const boost::system::error_code& ec) {
    if (ec) return give_up("cannot connect: " + ec.message());
    if (host_->detached || closing()) return;
    deadline_.cancel();
    connected_ = true;
    boost::system::error_code ignored;
    socket_.set_option(tcp::no_delay(true), ignored);  // keystrokes and VNC updates
    kick();
  }

  // --- channel -> socket ---
  void move_input() {
    if (stderr_pending_) discard_stderr(channel_, &stderr_pending_);
    auto r = in_.fill(channel_, &input_pending_);
    if (r == InPump::Fill::kError) return want_close();
    if (r == InPump::Fill::kEof) {
      boost::system::error_code ignored;
      socket_.shutdown(tcp::socket::shutdown_send, ignored);  // half-close, like ssh -W
      return;
    }
    if (r != InPump::Fill::kData) return;
    in_.start_write();
    asio::async_write(socket_, in_.data(),
                      [self = self()](const boost::system::error_code& ec, std::size_t) {
                        self->in_.on_written();
                        if (ec && ec != asio::error::operation_aborted) self->want_close();
                        self->kick();
                      });
  }

  // --- socket -> channel ---
  void move_output() {
    if (!out_.flush(channel_) || out_.failed()) return want_close();
    if (out_.finished() && !eof_sent_) {
      eof_sent_ = true;
      channel_.send_eof();  // kAgain only means not flushed yet
    }
    if (!out_.wants_read()) return;
    socket_.async_read_some(out_.start_read(),
                            [self = self()](const boost::system::error_code& ec, std::size_t n) {
                              self->out_.on_read(ec, n);
                              self->kick();
                            });
  }

  ForwardTarget target_;
  tcp::resolver resolver_;
  tcp::socket socket_;
  asio::steady_timer deadline_;
  OutPump out_;
  InPump in_;
  bool connected_ = false;
  bool eof_sent_ = false;
};

std::string strip_brackets(const std::string& host) {
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    return host.substr(1, host.size() - 2);
  return host;
}

}  // namespace

std::optional<ForwardTarget> route_forward(const ChannelPolicy& policy, const std::string& host,
                                           int port, std::string* why) {
  if (host == "screen") {
    if (policy.screen) return ForwardTarget{policy.screen->host, policy.screen->port, false};
    *why = "no screen service on this device (--screen)";
    return std::nullopt;
  }
  if (host == "sshd") return ForwardTarget{policy.sshd.host, policy.sshd.port, false};
  std::string name = strip_brackets(host);
  if (name.empty() || name.size() > kMaxHostLength || port <= 0 || port > 65535) {
    *why = "bad destination";
    return std::nullopt;
  }
  if (policy.allow_proxy.empty()) {
    *why = "proxying is not allowed on this device (--allow-proxy)";
    return std::nullopt;
  }
  // An address can be judged now, so the relay gets a clean refusal instead of open-then-close.
  if (is_ip_literal(name) && !proxy_allowed(policy, name)) {
    *why = "address not allowed by --allow-proxy";
    return std::nullopt;
  }
  return ForwardTarget{name, static_cast<std::uint16_t>(port), true};
}

std::shared_ptr<HostedChannel> make_forward_channel(std::shared_ptr<HostState> host,
                                                    ssh::Channel channel, ForwardTarget target) {
  auto c = std::make_shared<ForwardChannel>(std::move(host), std::move(channel), std::move(target));
  c->install_callbacks();
  c->start();
  return c;
}

}  // namespace sb::agent::detail
