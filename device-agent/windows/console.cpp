// The console on Windows: console input cannot be waited for with Asio, so each answer is read
// by a short-lived thread that hands the line to the reactor.
#include <windows.h>

#include <boost/asio/post.hpp>
#include <iostream>
#include <mutex>
#include <thread>

#include "device-agent/platform/console.hpp"

namespace sb::agent::platform {

namespace {

class WindowsConsoleInput final : public ConsoleInput {
 public:
  WindowsConsoleInput(const boost::asio::any_io_executor& executor, std::size_t max_line)
      : executor_(executor), max_line_(max_line) {}
  ~WindowsConsoleInput() override { *alive_ = false; }

  void read_line(LineHandler handler) override {
    auto alive = alive_;
    std::thread([executor = executor_, max = max_line_, alive, handler = std::move(handler)] {
      std::string line;
      bool ok = static_cast<bool>(std::getline(std::cin, line)) && line.size() <= max;
      if (ok) line += '\n';
      boost::asio::post(executor, [alive, handler, ok, line = std::move(line)]() mutable {
        if (*alive) handler(ok, std::move(line));
      });
    }).detach();
  }

 private:
  boost::asio::any_io_executor executor_;
  std::size_t max_line_;
  // Set and read on the reactor only; the reading thread just carries it along.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace

std::unique_ptr<ConsoleInput> open_console_input(const boost::asio::any_io_executor& executor,
                                                 std::size_t max_line) {
  HANDLE in = ::GetStdHandle(STD_INPUT_HANDLE);
  if (in == nullptr || in == INVALID_HANDLE_VALUE) return nullptr;  // a service: no console
  return std::make_unique<WindowsConsoleInput>(executor, max_line);
}

}  // namespace sb::agent::platform
