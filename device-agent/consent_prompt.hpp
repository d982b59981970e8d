// Asks the person at the device, on its terminal, before an operator gets a capability:
//   alice (SHA256:...) asks for a shell - allow? [y/N]
// One question at a time; anything but y/yes is no, and so is a closed stdin.
#pragma once
#include <boost/asio/any_io_executor.hpp>
#include <deque>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "device-agent/platform/console.hpp"

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
  void on_line(bool ok, std::string line);

  Answer answer_;
  std::unique_ptr<platform::ConsoleInput> input_;
  std::deque<nlohmann::json> queue_;
  bool asking_ = false;
  bool input_closed_ = false;
};

}  // namespace sb::agent
