#include "relay/control/control_server.hpp"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <stdexcept>

namespace sb::relay {

namespace asio = boost::asio;
using local = asio::local::stream_protocol;

namespace {

nlohmann::json error_response(const std::string& message) {
  return {{"ok", false}, {"error", message}};
}

}  // namespace

std::optional<nlohmann::json> parse_control_request(std::string_view line) {
  auto request = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (request.is_discarded() || !request.is_object()) return std::nullopt;
  auto cmd = request.find("cmd");
  if (cmd == request.end() || !cmd->is_string()) return std::nullopt;
  return request;
}

// One admin CLI connection: reads request lines (bounded, with a timeout), hands each to the
// handler and writes its response before reading the next one.
class ControlServer::Client : public std::enable_shared_from_this<Client> {
 public:
  Client(local::socket socket, Handler& handler, std::shared_ptr<std::size_t> clients)
      : socket_(std::move(socket)),
        handler_(handler),
        timer_(socket_.get_executor()),
        buffer_(kMaxRequestLine + 1),
        clients_(std::move(clients)) {
    ++*clients_;
  }
  ~Client() { --*clients_; }

  void read_next() {
    timer_.expires_after(kReadTimeout);
    timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      if (auto self = weak.lock(); self && !ec) self->close();
    });
    asio::async_read_until(socket_, buffer_, '\n',
                           [self = shared_from_this()](const boost::system::error_code& ec,
                                                       std::size_t n) { self->on_line(ec, n); });
  }

 private:
  void on_line(const boost::system::error_code& ec, std::size_t n) {
    timer_.cancel();
    if (ec == asio::error::not_found) return answer(error_response("request line too long"), true);
    if (ec) return close();  // the CLI hung up, or the timeout closed the socket
    std::string line(asio::buffers_begin(buffer_.data()),
                     asio::buffers_begin(buffer_.data()) + static_cast<std::ptrdiff_t>(n - 1));
    buffer_.consume(n);
    auto request = parse_control_request(line);
    if (!request)
      return answer(error_response("bad request: expected one JSON object with \"cmd\""), true);
    auto executor = socket_.get_executor();
    handler_(*request, [self = shared_from_this(), executor](nlohmann::json response) {
      asio::post(executor, [self, response = std::move(response)]() mutable {
        self->answer(std::move(response), false);
      });
    });
  }

  void answer(nlohmann::json response, bool then_close) {
    out_ = response.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    asio::async_write(
        socket_, asio::buffer(out_),
        [self = shared_from_this(), then_close](const boost::system::error_code& ec, std::size_t) {
          if (ec || then_close) return self->close();
          self->read_next();
        });
  }

  void close() {
    boost::system::error_code ignored;
    socket_.close(ignored);
    timer_.cancel();
  }

  local::socket socket_;
  Handler& handler_;
  asio::steady_timer timer_;
  asio::streambuf buffer_;
  std::string out_;
  std::shared_ptr<std::size_t> clients_;
};

ControlServer::ControlServer(asio::io_context& io, std::filesystem::path path, Handler handler)
    : io_(io), path_(std::move(path)), handler_(std::move(handler)), acceptor_(io) {
  std::error_code ec;
  std::filesystem::remove(path_, ec);  // stale: serve's lock is ours
  acceptor_.open(local());
  // The socket file is created by bind with the umask's mode: none for group and others.
  mode_t old_mask = ::umask(0177);
  boost::system::error_code bind_ec;
  acceptor_.bind(local::endpoint(path_.string()), bind_ec);
  ::umask(old_mask);
  if (bind_ec)
    throw std::runtime_error("cannot create the control socket " + path_.string() + ": " +
                             bind_ec.message());
  ::chmod(path_.c_str(), 0600);
  acceptor_.listen(16);
}

ControlServer::~ControlServer() {
  if (!stopped_) {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
}

void ControlServer::start() {
  accept_next();
}

void ControlServer::stop() {
  if (stopped_) return;
  stopped_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  std::error_code ec;
  std::filesystem::remove(path_, ec);
}

bool ControlServer::peer_allowed(int fd) const {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return false;
  return cred.uid == 0 || cred.uid == ::geteuid();
}

void ControlServer::accept_next() {
  acceptor_.async_accept([this](const boost::system::error_code& ec, local::socket socket) {
    if (ec == asio::error::operation_aborted || stopped_) return;
    if (!ec) {
      if (!peer_allowed(socket.native_handle())) {
        spdlog::warn("control socket: refused a client that is neither root nor our user");
      } else if (*clients_ >= kMaxClients) {
        spdlog::warn("control socket: {} clients already connected; refusing one", kMaxClients);
      } else {
        std::make_shared<Client>(std::move(socket), handler_, clients_)->read_next();
      }
    } else {
      spdlog::warn("control socket: accept failed: {}", ec.message());
    }
    accept_next();
  });
}

}  // namespace sb::relay
