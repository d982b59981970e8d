// Readiness of a socket that libssh reads, writes and closes itself: Asio only watches it.
//
// POSIX: a stream_descriptor on the same descriptor; release() lets go without closing it.
// Windows: Asio would tie the socket to its completion port and cannot let go of it again, so
// the watch asks Winsock to signal an event on readiness (WSAEventSelect) and waits for that
// event with Asio; release() stops the notifications and leaves the socket alone.
#pragma once
#include <boost/asio/any_io_executor.hpp>

#ifdef _WIN32
#include <boost/asio/windows/object_handle.hpp>
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
  // One wait of each type at a time. A wait may complete without the socket being ready
  // (the caller then finds nothing to do and waits again).
  void async_wait(wait_type type, Handler handler);

 private:
  void arm();
  void on_event(const boost::system::error_code& ec);
  void complete(Handler& slot, const boost::system::error_code& ec);

  boost::asio::any_io_executor executor_;
  std::unique_ptr<boost::asio::windows::object_handle> event_;
  int fd_ = -1;
  bool waiting_ = false;
  long seen_ = 0;  // FD_* events recorded while no wait of that type was pending
  Handler read_, write_;
  // Asio runs an aborted wait's handler after we may be gone: it checks this first.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};
#else
using SocketWatch = boost::asio::posix::stream_descriptor;
#endif

}  // namespace sb::io
