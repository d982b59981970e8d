// SocketWatch on Windows: readiness through WSAEventSelect and an event Asio waits for.
//
// Winsock records FD_READ again after each recv() that leaves data behind and FD_WRITE after a
// send() that would have blocked once there is room again, so waiting for the event after
// libssh's last call cannot miss data that arrived meanwhile. Events that come while no wait of
// their kind is pending are kept and complete the next such wait at once.
#include <winsock2.h>

#include <boost/asio/post.hpp>

#include "common/io/socket_watch.hpp"

namespace sb::io {

namespace {
constexpr long kReadEvents = FD_READ | FD_CLOSE;
constexpr long kWriteEvents = FD_WRITE | FD_CLOSE;

boost::system::error_code last_wsa_error() {
  return {::WSAGetLastError(), boost::asio::error::get_system_category()};
}
}  // namespace

SocketWatch::SocketWatch(const boost::asio::any_io_executor& executor) : executor_(executor) {}

SocketWatch::~SocketWatch() {
  release();
}

void SocketWatch::assign(int fd, boost::system::error_code& ec) {
  ec.clear();
  release();
  HANDLE event = ::CreateEventW(nullptr, TRUE, FALSE, nullptr);
  if (!event) {
    ec.assign(static_cast<int>(::GetLastError()), boost::asio::error::get_system_category());
    return;
  }
  if (::WSAEventSelect(static_cast<SOCKET>(fd), event, FD_READ | FD_WRITE | FD_CLOSE) != 0) {
    ec = last_wsa_error();
    ::CloseHandle(event);
    return;
  }
  event_ = std::make_unique<boost::asio::windows::object_handle>(executor_, event);
  fd_ = fd;
  seen_ = 0;
}

void SocketWatch::cancel(boost::system::error_code& ec) {
  ec.clear();
  if (event_) event_->cancel(ec);
  // A wait whose event already fired is not pending in Asio any more: abort ours directly.
  complete(read_, boost::asio::error::operation_aborted);
  complete(write_, boost::asio::error::operation_aborted);
}

int SocketWatch::release() {
  if (fd_ < 0) return -1;
  const int fd = fd_;
  boost::system::error_code ignored;
  cancel(ignored);
  // libssh may have closed the socket already: then this fails, which is harmless.
  ::WSAEventSelect(static_cast<SOCKET>(fd), nullptr, 0);
  event_.reset();  // closes the event; a wait still pending completes with operation_aborted
  fd_ = -1;
  waiting_ = false;
  return fd;
}

void SocketWatch::async_wait(wait_type type, Handler handler) {
  if (fd_ < 0) {
    boost::asio::post(executor_,
                      [h = std::move(handler)] { h(boost::asio::error::bad_descriptor); });
    return;
  }
  const long mask = type == wait_read ? kReadEvents : kWriteEvents;
  Handler& slot = type == wait_read ? read_ : write_;
  slot = std::move(handler);
  if (seen_ & mask) {
    seen_ &= ~mask;
    complete(slot, {});
    return;
  }
  arm();
}

void SocketWatch::arm() {
  if (waiting_ || !event_) return;
  waiting_ = true;
  // The handler may run after release() replaced the event: it checks which one fired.
  auto* event = event_.get();
  std::weak_ptr<int> alive = alive_;
  event_->async_wait([this, alive, event](const boost::system::error_code& ec) {
    if (alive.expired() || event_.get() != event) return;  // gone, released or reassigned
    waiting_ = false;
    on_event(ec);
  });
}

void SocketWatch::on_event(const boost::system::error_code& ec) {
  if (ec) {
    if (ec != boost::asio::error::operation_aborted) {
      complete(read_, ec);
      complete(write_, ec);
    }
    return;
  }
  WSANETWORKEVENTS events{};
  // Resets the event and tells which readiness it recorded.
  if (::WSAEnumNetworkEvents(static_cast<SOCKET>(fd_), event_->native_handle(), &events) != 0) {
    auto error = last_wsa_error();
    complete(read_, error);
    complete(write_, error);
    return;
  }
  seen_ |= events.lNetworkEvents;
  if (read_ && (seen_ & kReadEvents)) {
    seen_ &= ~FD_READ;  // FD_CLOSE stays: every later wait sees the end at once
    complete(read_, {});
  }
  if (write_ && (seen_ & kWriteEvents)) {
    seen_ &= ~FD_WRITE;
    complete(write_, {});
  }
  if (read_ || write_) arm();
}

void SocketWatch::complete(Handler& slot, const boost::system::error_code& ec) {
  if (!slot) return;
  // Handlers run from the executor, never inside the caller's own call.
  boost::asio::post(executor_, [h = std::move(slot), ec] { h(ec); });
  slot = nullptr;
}

}  // namespace sb::io
