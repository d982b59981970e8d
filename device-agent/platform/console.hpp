// The console of the person at the device: answers to consent questions are read from it one
// line at a time, asynchronously, on the agent's reactor.
#pragma once
#include <boost/asio/any_io_executor.hpp>
#include <functional>
#include <memory>
#include <string>

namespace sb::agent::platform {

class ConsoleInput {
 public:
  // ok == false: the console is closed, or a line was longer than max_line.
  using LineHandler = std::function<void(bool ok, std::string line)>;
  virtual ~ConsoleInput() = default;
  // One read at a time; the handler runs on the executor.
  virtual void read_line(LineHandler handler) = 0;
};

// nullptr when the agent has no console input (stdin closed).
std::unique_ptr<ConsoleInput> open_console_input(const boost::asio::any_io_executor& executor,
                                                 std::size_t max_line);

}  // namespace sb::agent::platform
