#include "common/ssh/conn.hpp"

#include <spdlog/spdlog.h>

#ifdef _WIN32
#include <winsock2.h>
#else
#include <sys/stat.h>
#include <unistd.h>
#endif

#include <cassert>

#include <boost/asio/post.hpp>

namespace sb::ssh {

namespace {
// Bounds one step's reading (each pump hands libssh at most 4 KiB; the read-ahead makes that
// one recv() per 64 KiB) so one busy connection cannot starve the others on its reactor: at
// most 256 KiB per step, the rest is read in a posted step.
constexpr int kMaxPumpsPerStep = 64;
}  // namespace

Conn::Conn(boost::asio::any_io_executor executor, Session session)
    : executor_(std::move(executor)),
      session_(std::move(session)),
      socket_(std::make_unique<io::SocketWatch>(executor_)),
      created_(Clock::now()),
      last_inbound_(created_) {
  ssh_set_counters(session_.get(), nullptr, &counters_);
}

Conn::~Conn() {
  server_callbacks_.reset();
  release_descriptor();
  if (event_ && session_) ssh_event_remove_session(event_.get(), session_.get());
}

void Conn::listen(ServerEvents events) {
  if (!session_) return;
  server_callbacks_.reset();
  server_callbacks_.reset(new ServerCallbacks(session(), std::move(events)));
}

void Conn::start(int fd) {
  owner_ = std::this_thread::get_id();
  client_fd_ = fd >= 0;
  fd_ = fd >= 0 ? fd : static_cast<int>(ssh_get_fd(session_.get()));
  // A server session got its socket from ssh_bind_accept_fd: libssh's already, even if it
  // closes it in this very first step (a peer that sent garbage or left before our banner).
  libssh_adopted_fd_ = !client_fd_;
  if (fd_ < 0) {
    close("no socket");
    return;
  }
#ifndef _WIN32
  if (struct stat st{}; ::fstat(fd_, &st) == 0) {
    fd_dev_ = st.st_dev;
    fd_ino_ = st.st_ino;
  }
#endif
  boost::system::error_code ec;
  socket_->assign(fd_, ec);
  if (ec) {
    fd_ = -1;
    close("cannot watch socket: " + ec.message());
    return;
  }
  read_ahead_.attach(fd_);
  step();
}

void Conn::wake() {
  if (owner_.load(std::memory_order_relaxed) == std::this_thread::get_id() && !in_step_ &&
      !closed_ && !moving_ && socket_closed_by_libssh())
    release_descriptor();
  if (wake_posted_.exchange(true)) return;
  post_step();
}

void Conn::close_async(std::string reason) {
  {
    std::lock_guard lock(close_request_mu_);
    if (close_request_.empty()) close_request_ = std::move(reason);
  }
  close_requested_ = true;
  post_step();
}

void Conn::post_step() {
  unsigned generation = home_generation_.load(std::memory_order_acquire);
  boost::asio::any_io_executor home;
  {
    // close_async and wake come from any thread, while a move may change the executor.
    std::lock_guard lock(executor_mu_);
    home = executor_;
  }
  boost::asio::post(home, [self = shared_from_this(), generation] {
    // Order matters: a finished move clears moving_ after bumping the generation.
    if (self->moving_.load(std::memory_order_acquire)) {
      self->wake_posted_ = false;  // the move ends with a step
      return;
    }
    if (self->home_generation_.load(std::memory_order_acquire) != generation)
      return self->post_step();
    self->wake_posted_ = false;
    self->step();
  });
}

void Conn::close(std::string reason) {
  if (closing_) return;
  closing_ = true;
  close_reason_ = std::move(reason);
  if (!in_step_) finish_close();
}

void Conn::after_foreign_use() {
  if (closed_) return;
  if (socket_closed_by_libssh()) release_descriptor();
  if (counters_.in_packets != packets_seen_ || socket_closed_by_libssh() ||
      read_ahead_.buffered() > 0)
    wake();
}

Rc Conn::connect() {
  if (fd_ >= 0) libssh_adopted_fd_ = true;
  return session().connect();
}

bool Conn::fd_is_still_ours() const {
#ifdef _WIN32
  // Socket handles have no identity to compare; a socket's type at least must still answer.
  int type = 0, len = sizeof type;
  return fd_ >= 0 && ::getsockopt(static_cast<SOCKET>(fd_), SOL_SOCKET, SO_TYPE,
                                  reinterpret_cast<char*>(&type), &len) == 0;
#else
  struct stat st {};
  return fd_ >= 0 && ::fstat(fd_, &st) == 0 && st.st_dev == fd_dev_ && st.st_ino == fd_ino_;
#endif
}

bool Conn::attach_event() {
  if (event_) return true;
  Event ev(ssh_event_new());
  if (!ev || ssh_event_add_session(ev.get(), session_.get()) != SSH_OK) return false;
  event_ = std::move(ev);
  return true;
}

bool Conn::pump() {
  if (!event_) return true;
  for (int i = 0; i < kMaxPumpsPerStep; ++i) {
    int rc = ssh_event_dopoll(event_.get(), 0);
    if (rc == SSH_AGAIN) return true;
    if (rc == SSH_ERROR) return false;
  }
  wake();  // more to read: continue after the others had their turn
  return true;
}

void Conn::step() {
  if (closed_ || moving_) return;
  if (close_requested_.exchange(false)) {
    std::lock_guard lock(close_request_mu_);
    close(std::exchange(close_request_, {}));
    return;
  }
  owner_.store(std::this_thread::get_id(), std::memory_order_relaxed);
  in_step_ = true;
  bool alive = closing_ || pump();
  note_inbound();
  // Even when the socket just died, what already arrived (a last error message) is handled.
  if (!closing_) service();
  if (!alive) close("connection lost");
  in_step_ = false;
  if (!closing_ && (ssh_get_status(session_.get()) & (SSH_CLOSED | SSH_CLOSED_ERROR)))
    close("connection closed by peer");
  if (!closing_ && socket_closed_by_libssh()) close("connection lost");
  if (closing_) {
    finish_close();
    return;
  }
  if (moving_) return continue_move();
  if (counters_.in_packets != packets_seen_ || read_ahead_.buffered() > 0) {
    // Packets were consumed by libssh calls made inside service(): their effects (window
    // adjusts, data, close) need another look, and no readiness will announce them; nor will
    // any announce bytes those calls left in the read-ahead.
    note_inbound();
    wake();
  }
  arm();
}

void Conn::move_to(boost::asio::any_io_executor target, std::function<void()> then) {
  if (closed_ || moving_) return;
  moving_ = true;
  owner_ = std::thread::id{};  // nobody's until the target's step (wake() must not release)
  move_target_ = std::move(target);
  after_move_ = std::move(then);
  boost::system::error_code ec;
  socket_->cancel(ec);
  if (!in_step_) continue_move();  // otherwise when the step is over
}

void Conn::continue_move() {
  // Aborted waits still run their handlers on this reactor; only when none is outstanding may
  // the connection belong to another thread.
  if (read_armed_ || write_armed_ || closed_) return;
  if (socket_->is_open()) socket_->release();
  boost::asio::post(move_target_, [self = shared_from_this()] {
    {
      std::lock_guard lock(self->executor_mu_);
      self->executor_ = self->move_target_;
    }
    self->home_generation_.fetch_add(1, std::memory_order_release);
    self->owner_ = std::this_thread::get_id();
    self->socket_ = std::make_unique<io::SocketWatch>(self->executor_);
    boost::system::error_code ec;
    if (!self->socket_closed_by_libssh()) self->socket_->assign(self->fd_, ec);
    self->moving_.store(false, std::memory_order_release);
    if (auto then = std::move(self->after_move_)) then();
    if (ec)
      self->close("cannot watch socket after moving: " + ec.message());
    else
      self->step();
  });
}

void Conn::note_inbound() {
  if (counters_.in_packets != packets_seen_) {
    packets_seen_ = counters_.in_packets;
    last_inbound_ = Clock::now();
  }
}

void Conn::arm() {
  if (!socket_->is_open() || moving_) return;
  auto self = shared_from_this();
  if (!read_armed_) {
    read_armed_ = true;
    socket_->async_wait(io::SocketWatch::wait_read, [self](const boost::system::error_code& ec) {
      self->read_armed_ = false;
      if (self->moving_) return self->continue_move();
      if (!ec) self->step();
    });
  }
  bool write_pending = ssh_get_poll_flags(session_.get()) & SSH_WRITE_PENDING;
  if (write_pending && !write_armed_) {
    write_armed_ = true;
    socket_->async_wait(io::SocketWatch::wait_write, [self](const boost::system::error_code& ec) {
      self->write_armed_ = false;
      if (self->moving_) return self->continue_move();
      if (!ec) self->step();
    });
  }
}

bool Conn::socket_closed_by_libssh() {
  if (fd_ < 0) return false;
  bool libssh_has_it = static_cast<int>(ssh_get_fd(session_.get())) == fd_;
  if (libssh_has_it) libssh_adopted_fd_ = true;
  return libssh_adopted_fd_ && !libssh_has_it;
}

void Conn::release_descriptor() {
  if (!socket_->is_open()) return;
  boost::system::error_code ec;
  socket_->cancel(ec);
  // release() deregisters the fd from epoll without closing it: libssh owns the fd. If libssh
  // already closed it, this runs before any other connection on this reactor could have been
  // given the same number.
  socket_->release();
}

void Conn::finish_close() {
  if (closed_) return;
  closed_ = true;
  // on_closed() may drop the owner's last reference to us; stay alive until we are done.
  auto keep_alive = shared_from_this();
  release_descriptor();
  try {
    on_closed(close_reason_);
  } catch (const std::exception& e) {
    spdlog::error("error while closing a connection: {}", e.what());
  }
  if (event_) {
    ssh_event_remove_session(event_.get(), session_.get());
    event_.reset();
  }
  read_ahead_.detach();
  server_callbacks_.reset();
  // Ours to close: a socket libssh never adopted, or a client's that libssh still holds (libssh
  // 0.10's ssh_disconnect leaves an SSH_OPTIONS_FD socket open). A server's is closed by
  // ssh_free below, unless libssh closed it already.
  const bool libssh_closed_it = socket_closed_by_libssh();
  const bool ours_to_close = fd_ >= 0 && !libssh_closed_it && (client_fd_ || !libssh_adopted_fd_);
  session_.reset();  // ssh_disconnect + ssh_free
  if (ours_to_close) {
    // Cheap, and the only line between a bookkeeping slip and closing another connection's
    // socket: the number must still be the socket we started with.
    const bool same_socket = fd_is_still_ours();
    assert(same_socket && "closing a descriptor that is no longer this connection's socket");
    if (same_socket)
#ifdef _WIN32
      ::closesocket(static_cast<SOCKET>(fd_));
#else
      ::close(fd_);
#endif
    else
      spdlog::error("descriptor {} is no longer this connection's socket: not closed again", fd_);
  }
}

}  // namespace sb::ssh
