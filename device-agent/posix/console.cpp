// The console on POSIX: a duplicate of stdin, read with Asio.
#include <unistd.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>

#include "device-agent/platform/console.hpp"

namespace sb::agent::platform {

namespace {

class PosixConsoleInput final : public ConsoleInput {
 public:
  PosixConsoleInput(const boost::asio::any_io_executor& executor, int fd, std::size_t max_line)
      : input_(executor, fd), buffer_(max_line) {}

  void read_line(LineHandler handler) override {
    boost::asio::async_read_until(
        input_, buffer_, '\n',
        [this, handler = std::move(handler)](const boost::system::error_code& ec, std::size_t n) {
          if (ec == boost::asio::error::operation_aborted) return;
          std::string line;
          if (!ec) {
            line.assign(
                boost::asio::buffers_begin(buffer_.data()),
                boost::asio::buffers_begin(buffer_.data()) + static_cast<std::ptrdiff_t>(n));
            buffer_.consume(n);
          } else {
            buffer_.consume(buffer_.size());
          }
          handler(!ec, std::move(line));
        });
  }

 private:
  boost::asio::posix::stream_descriptor input_;
  boost::asio::streambuf buffer_;
};

}  // namespace

std::unique_ptr<ConsoleInput> open_console_input(const boost::asio::any_io_executor& executor,
                                                 std::size_t max_line) {
  int fd = ::dup(STDIN_FILENO);
  if (fd < 0) return nullptr;
  return std::make_unique<PosixConsoleInput>(executor, fd, max_line);
}

}  // namespace sb::agent::platform
