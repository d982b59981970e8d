// SocketWatch on Windows: a thread waits in select() for what is asked (read, write or both)
// and posts each readiness to the executor once; the next wait of that kind asks again, so
// data libssh leaves unread is reported again, as with epoll's level triggering.
#include <winsock2.h>

#include <boost/asio/post.hpp>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/io/socket_watch.hpp"

namespace sb::io {

namespace {
// How long a select() may keep the thread from noticing a cancel or a release.
constexpr long kSliceMicros = 50 * 1000;
}  // namespace

struct SocketWatch::State {
  explicit State(boost::asio::any_io_executor ex, SOCKET s) : executor(std::move(ex)), socket(s) {}

  void run() {
    std::unique_lock lock(mu);
    while (!stop) {
      cv.wait(lock, [this] { return stop || read || write; });
      if (stop) break;
      const bool want_read = static_cast<bool>(read), want_write = static_cast<bool>(write);
      lock.unlock();
      fd_set rd, wr, ex;
      FD_ZERO(&rd), FD_ZERO(&wr), FD_ZERO(&ex);
      if (want_read) FD_SET(socket, &rd);
      if (want_write) FD_SET(socket, &wr);
      FD_SET(socket, &ex);
      timeval tv{0, kSliceMicros};
      const int n = ::select(0, &rd, &wr, &ex, &tv);
      boost::system::error_code ec;
      if (n < 0) ec.assign(::WSAGetLastError(), boost::asio::error::get_system_category());
      lock.lock();
      if (stop) break;
      // An error, or an exception on the socket, completes both: the step finds out what.
      const bool failed = n < 0 || FD_ISSET(socket, &ex);
      if (read && (failed || FD_ISSET(socket, &rd))) post(read, ec);
      if (write && (failed || FD_ISSET(socket, &wr))) post(write, ec);
      if (n < 0) {
        // A socket select() refuses (closed by libssh meanwhile): do not spin on it.
        lock.unlock();
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        lock.lock();
      }
    }
  }

  // Under mu.
  void post(Handler& slot, const boost::system::error_code& ec) {
    if (!slot) return;
    boost::asio::post(executor, [h = std::move(slot), ec] { h(ec); });
    slot = nullptr;
  }

  boost::asio::any_io_executor executor;
  SOCKET socket;
  std::mutex mu;
  std::condition_variable cv;
  Handler read, write;
  bool stop = false;
  std::thread thread;
};

SocketWatch::SocketWatch(const boost::asio::any_io_executor& executor) : executor_(executor) {}

SocketWatch::~SocketWatch() {
  release();
}

void SocketWatch::assign(int fd, boost::system::error_code& ec) {
  ec.clear();
  release();
  if (fd < 0) {
    ec = boost::asio::error::bad_descriptor;
    return;
  }
  state_ = std::make_shared<State>(executor_, static_cast<SOCKET>(fd));
  state_->thread = std::thread([s = state_] { s->run(); });
  fd_ = fd;
}

void SocketWatch::cancel(boost::system::error_code& ec) {
  ec.clear();
  if (!state_) return;
  std::lock_guard lock(state_->mu);
  state_->post(state_->read, boost::asio::error::operation_aborted);
  state_->post(state_->write, boost::asio::error::operation_aborted);
}

int SocketWatch::release() {
  if (!state_) return -1;
  boost::system::error_code ignored;
  cancel(ignored);
  {
    std::lock_guard lock(state_->mu);
    state_->stop = true;
  }
  state_->cv.notify_all();
  // At most one select() slice; the thread never touches the socket after this.
  if (state_->thread.joinable()) state_->thread.join();
  state_.reset();
  return std::exchange(fd_, -1);
}

void SocketWatch::async_wait(wait_type type, Handler handler) {
  if (!state_) {
    boost::asio::post(executor_,
                      [h = std::move(handler)] { h(boost::asio::error::bad_descriptor); });
    return;
  }
  // Counts as outstanding work, as Asio's own waits do: run() does not return meanwhile.
  auto work = boost::asio::prefer(executor_, boost::asio::execution::outstanding_work.tracked);
  {
    std::lock_guard lock(state_->mu);
    (type == wait_read ? state_->read : state_->write) =
        [h = std::move(handler), work](const boost::system::error_code& ec) { h(ec); };
  }
  state_->cv.notify_all();
}

}  // namespace sb::io
