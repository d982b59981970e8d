// ReadAhead and what the interposed recv()/poll()/close() do (read_ahead.hpp). The libc
// symbols themselves are defined in read_ahead_shim.cpp, its own object library.
#include "common/io/read_ahead.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "common/io/read_ahead_switch.hpp"

namespace sb::io {

namespace {

// Descriptors from this number up get no read-ahead. The table is zero-filled static memory:
// only the pages up to the highest descriptor attached or closed ever become resident.
constexpr int kMaxFd = 1 << 16;
std::atomic<ReadAhead*> g_table[kMaxFd];

// One read buffer kept per thread, so a read that fits the caller's buffer (the common case
// for an idle connection) allocates nothing.
thread_local std::unique_ptr<char[]> t_spare;

std::unique_ptr<char[]> take_spare() {
  if (t_spare) return std::move(t_spare);
  return std::make_unique_for_overwrite<char[]>(kReadAheadBytes);
}

void give_back(std::unique_ptr<char[]> buf) {
  if (!t_spare) t_spare = std::move(buf);
}

int kernel_poll(pollfd* fds, nfds_t nfds, int timeout_ms) {
  if (timeout_ms < 0) return ::ppoll(fds, nfds, nullptr, nullptr);
  timespec timeout{timeout_ms / 1000, (timeout_ms % 1000) * 1'000'000L};
  return ::ppoll(fds, nfds, &timeout, nullptr);
}

bool readable_from_memory(const pollfd& p) {
  ReadAhead* ra = attached_read_ahead(p.fd);
  return ra && ra->buffered() > 0 && (p.events & POLLIN);
}

// Some descriptor has bytes in memory: report it readable at once. The kernel is asked too
// (without waiting) only for the other descriptors. A memory-readable socket's POLLOUT is
// not reported meanwhile: libssh asks for POLLOUT after every send() it makes, and answering
// it would cost the poll() per 4 KiB this file exists to save. Its pending output therefore
// waits until the read-ahead is drained (at most kReadAheadBytes / 4 KiB pumps, normally in
// the same reactor step), when the next poll() goes to the kernel again.
int poll_with_memory(pollfd* fds, nfds_t nfds) {
  bool ask_kernel = false;
  for (nfds_t i = 0; i < nfds; ++i)
    if (fds[i].fd >= 0 && fds[i].events != 0 && !readable_from_memory(fds[i])) ask_kernel = true;
  if (!ask_kernel || kernel_poll(fds, nfds, 0) < 0)
    for (nfds_t i = 0; i < nfds; ++i) fds[i].revents = 0;
  int ready = 0;
  for (nfds_t i = 0; i < nfds; ++i) {
    if (readable_from_memory(fds[i])) fds[i].revents |= POLLIN;
    if (fds[i].revents) ++ready;
  }
  return ready;
}

}  // namespace

ReadAhead* attached_read_ahead(int fd) {
  if (fd < 0 || fd >= kMaxFd) return nullptr;
  return g_table[fd].load(std::memory_order_acquire);
}

bool ReadAhead::attach(int fd) {
  if (!read_ahead_status().in_effect) {
    detach();
    return false;
  }
  return enter_in_table(fd);
}

bool ReadAhead::enter_in_table(int fd) {
  detach();
  if (fd < 0 || fd >= kMaxFd) return false;
  fd_ = fd;
  g_table[fd].store(this, std::memory_order_release);
  return true;
}

void ReadAhead::detach() {
  if (fd_ >= 0) {
    ReadAhead* self = this;
    // Only our own entry: after close() the number may already be someone else's.
    g_table[fd_].compare_exchange_strong(self, nullptr, std::memory_order_acq_rel);
  }
  forget();
  buf_.reset();
}

void ReadAhead::forget() {
  fd_ = -1;
  begin_ = end_ = 0;
}

long ReadAhead::take(void* dst, std::size_t len, bool peek) {
  std::size_t n = std::min(len, buffered());
  std::memcpy(dst, buf_.get() + begin_, n);
  if (peek) return static_cast<long>(n);
  begin_ += n;
  if (begin_ == end_) {  // drained: an idle connection holds no read-ahead memory
    begin_ = end_ = 0;
    give_back(std::move(buf_));
  }
  return static_cast<long>(n);
}

long ReadAhead::recv(int fd, void* dst, std::size_t len, int flags) {
  // Bytes already taken from the kernel come first, whatever the flags ask.
  if (buffered() > 0 && len > 0) return take(dst, len, (flags & MSG_PEEK) != 0);
  if (flags != 0 || len == 0) return ::recvfrom(fd, dst, len, flags, nullptr, nullptr);
  auto spare = take_spare();
  // The caller's buffer first, so its share is not copied twice.
  iovec iov[2] = {{dst, len}, {spare.get(), kReadAheadBytes}};
  ssize_t got = ::readv(fd, iov, 2);  // errno (EINTR, EAGAIN, ...) reaches the caller as is
  if (got > static_cast<ssize_t>(len)) {
    buf_ = std::move(spare);
    begin_ = 0;
    end_ = static_cast<std::size_t>(got) - len;
    return static_cast<long>(len);
  }
  give_back(std::move(spare));
  return got;
}

namespace interposed {

ssize_t recv(int fd, void* buf, std::size_t len, int flags) {
  if (ReadAhead* ra = attached_read_ahead(fd)) return ra->recv(fd, buf, len, flags);
  return ::recvfrom(fd, buf, len, flags, nullptr, nullptr);
}

int poll(pollfd* fds, nfds_t nfds, int timeout_ms) {
  for (nfds_t i = 0; i < nfds; ++i)
    if (readable_from_memory(fds[i])) return poll_with_memory(fds, nfds);
  return kernel_poll(fds, nfds, timeout_ms);
}

int close(int fd) {
  if (ReadAhead* ra = attached_read_ahead(fd)) {
    // libssh closes sockets itself: forget this one before its number can be reused.
    if (g_table[fd].compare_exchange_strong(ra, nullptr, std::memory_order_acq_rel)) ra->forget();
  }
  return static_cast<int>(::syscall(SYS_close, fd));
}

}  // namespace interposed

}  // namespace sb::io
