// The relay's control socket for the admin CLI: DATA_DIR/control.sock (mode 0600), JSON lines,
// one request -> one response. Only root and the relay's own user may connect (SO_PEERCRED).
//
//   {"cmd":"session.kill","session":ID,"operator":NAME?,"by":USER}
//   {"cmd":"device.disconnect","device":NAME,"reason":"revoked","by":USER}
//   {"cmd":"keys.purge","by":USER}
//   {"cmd":"keys.reload","by":USER}   answered once the relay authenticates with the keys,
//                                     operators, grants and groups the database holds now
//   {"cmd":"ping"}
//   -> {"ok":true,...} | {"ok":false,"error":"..."}
//
// The server only parses and bounds requests; the handler does the work (posting it to the
// reactors that own the connections) and calls the reply when done, from any thread.
#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

namespace sb::relay {

// One control-socket request line: a JSON object with a string "cmd"; nullopt for anything
// else. Pure, so it can be fuzzed without a socket.
std::optional<nlohmann::json> parse_control_request(std::string_view line);

class ControlServer {
 public:
  static constexpr std::size_t kMaxRequestLine = 64 * 1024;
  static constexpr std::chrono::seconds kReadTimeout{10};
  static constexpr std::size_t kMaxClients = 16;

  using Reply = std::function<void(nlohmann::json response)>;  // callable once, from any thread
  using Handler = std::function<void(const nlohmann::json& request, Reply reply)>;

  // Binds the socket (mode 0600). The caller holds serve's lock, so a leftover socket file can
  // only be stale and is removed first. Throws std::runtime_error with a clear message.
  ControlServer(boost::asio::io_context& io, std::filesystem::path path, Handler handler);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  void start();
  // Stops accepting and removes the socket file (call on the io_context's thread).
  void stop();

 private:
  class Client;
  void accept_next();
  bool peer_allowed(int fd) const;

  boost::asio::io_context& io_;
  std::filesystem::path path_;
  Handler handler_;
  boost::asio::local::stream_protocol::acceptor acceptor_;
  std::shared_ptr<std::size_t> clients_ = std::make_shared<std::size_t>(0);
  bool stopped_ = false;
};

}  // namespace sb::relay
