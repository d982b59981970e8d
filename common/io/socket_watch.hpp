// Readiness of a socket that libssh reads, writes and closes itself: Asio only watches it.
//
// POSIX: a stream_descriptor on the same descriptor; release() lets go without closing it.
// Windows: Asio would tie the socket to its completion port and cannot let go of it again
// (and Wine's event-select notifications do not survive libssh's own select() calls), so a
// thread of the watch waits in select() while a wait is pending and posts the readiness to the
// executor; release() ends that thread and leaves the socket alone.
#pragma once
#include <boost/asio/any_io_executor.hpp>

#ifdef _WIN32
#include <functional>
#include <memory>
#else
#include <boost/asio/posix/stream_descriptor.hpp>
#endif

namespace sb::io {

#ifdef _WIN32
class SocketWatch {
 public:
  enum wait_type { wait_read, wait_write };
  using Handler = std::function<void(const boost::system::error_code&)>;
  explicit SocketWatch(const boost::asio::any_io_executor& executor);
  ~SocketWatch();
  SocketWatch(const SocketWatch&) = delete;
  SocketWatch& operator=(const SocketWatch&) = delete;

  // fd: libssh's socket (a SOCKET value).
  void assign(int fd, boost::system::error_code& ec);
  bool is_open() const { return fd_ >= 0; }
  // Pending waits complete with operation_aborted.
  void cancel(boost::system::error_code& ec);
  // Stops watching; the socket itself stays open (libssh's).
  int release();
  // One wait of each type at a time; the handler runs on the executor.
  void async_wait(wait_type type, Handler handler);

  struct State;

 private:
  boost::asio::any_io_executor executor_;
  std::shared_ptr<State> state_;
  int fd_ = -1;
};
#else
using SocketWatch = boost::asio::posix::stream_descriptor;
#endif

}  // namespace sb::io
