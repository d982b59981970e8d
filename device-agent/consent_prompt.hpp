// Asks the person at the device, on its terminal, before an operator gets a capability:
//   alice (SHA256:...) asks for a shell - allow? [y/N]
// One question at a time; anything but y/yes is no, and so is a closed stdin.
#pragma once
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/streambuf.hpp>
#include <deque>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

namespace sb::agent {

class ConsentPrompt {
 public:
  using Answer = std::function<void(std::uint64_t id, bool allow)>;
  ConsentPrompt(boost::asio::any_io_executor executor, Answer answer);
  ~ConsentPrompt();

  void ask(const nlohmann::json& request);  // a {"type":"consent",...} message
  void expired(const nlohmann::json& message);
  void clear();  // the tunnel dropped: pending questions are moot

  static std::string question(const nlohmann::json& request);

 private:
  void next();
  void on_line(const boost::system::error_code& ec, std::size_t n);

  Answer answer_;
  std::unique_ptr<boost::asio::posix::stream_descriptor> input_;
  boost::asio::streambuf buffer_;
  std::deque<nlohmann::json> queue_;
  bool asking_ = false;
  bool input_closed_ = false;
};

}  // namespace sb::agent
