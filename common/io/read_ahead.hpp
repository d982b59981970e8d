// Read-ahead for libssh's socket reads (why this exists: docs/performance.md, "Read-ahead";
// when it is safe: docs/architecture.md, "Read-ahead").
//
// libssh 0.10 reads its socket at most 4096 bytes per poll callback and asks poll(2) before
// every read, so a bulk transfer costs two syscalls per 4 KiB (~600,000 per GiB relayed).
// libssh exports nothing to feed it data ourselves and we may not patch it, but it calls
// recv(), poll() and close() through the dynamic linker, and a definition in the executable
// takes precedence over libc's. read_ahead_shim.cpp (the sb_read_ahead object library, linked
// only into the relay, the agent, sb-loadgen and the read-ahead's tests) defines those three
// and hands them to the functions in `interposed` below: for sockets attached here recv() reads
// up to kReadAheadBytes at once and hands libssh the rest from memory on its next calls, and
// poll() reports such a socket readable without asking the kernel. Every other descriptor
// passes straight through to the kernel.
//
// attach() only attaches when read_ahead_status() (read_ahead_switch.hpp) says the read-ahead
// is in effect: in a program without the shim, with SB_READ_AHEAD=0, or when the start-up
// self-check fails, it attaches nothing and libssh reads the socket exactly as without it.
//
// Rules that keep it safe:
//  - Only the thread driving a session touches its ReadAhead (one session, one thread at a
//    time: libssh's own rule); the descriptor table is atomic, so other threads' lookups of
//    other descriptors never race.
//  - Memory is held only while unread bytes exist: an idle tunnel holds none.
//  - close() of an attached descriptor detaches it first, so a descriptor number libssh
//    closed and the kernel hands out again never sees the old connection's bytes.
//  - The owner must look at buffered() after running libssh: bytes held here raise no
//    readiness in epoll, so it has to pump again itself (ssh::Conn does).
#pragma once
#include <cstddef>
#include <memory>
#include <string>

#ifdef _WIN32
namespace sb::io {
// Windows: no interposition (libssh reads through Winsock), so nothing is ever attached and
// libssh reads the socket as it would without the read-ahead.
class ReadAhead {
 public:
  bool attach(int) { return false; }
  void detach() {}
  std::size_t buffered() const { return 0; }
  bool holds_memory() const { return false; }
  bool attached() const { return false; }
};
}  // namespace sb::io
#else
#include <poll.h>
#include <sys/types.h>

namespace sb::io {

// Largest single read from a socket. 64 KiB: 16 of libssh's reads per syscall, and no more
// memory per busy connection than one libssh channel window's worth of packets.
inline constexpr std::size_t kReadAheadBytes = 64 * 1024;

struct SocketCalls;

class ReadAhead {
 public:
  ReadAhead() = default;
  ~ReadAhead() { detach(); }
  ReadAhead(const ReadAhead&) = delete;
  ReadAhead& operator=(const ReadAhead&) = delete;

  // Serves recv()/poll() of this socket from here from now on. False if the read-ahead is not
  // in effect in this process or fd is out of the table's range (the socket then simply works
  // without read-ahead).
  bool attach(int fd);
  // Stops serving the socket and drops unread bytes. Idempotent.
  void detach();
  // Bytes read from the socket that the reader has not taken yet.
  std::size_t buffered() const { return end_ - begin_; }
  bool holds_memory() const { return buf_ != nullptr; }
  bool attached() const { return fd_ >= 0; }

  // The interposed recv()'s side; public so the free functions can reach it.
  long recv(int fd, void* dst, std::size_t len, int flags);
  // close() of the socket: unread bytes are gone. Frees nothing (close() also runs in forked
  // children before exec, where only async-signal-safe calls belong): the memory goes with
  // detach() or the destructor.
  void forget();

 private:
  // The self-check attaches its probe while the status it decides is not known yet.
  friend std::string self_check(const SocketCalls& calls);
  bool enter_in_table(int fd);
  long take(void* dst, std::size_t len, bool peek);
  int fd_ = -1;
  std::unique_ptr<char[]> buf_;
  std::size_t begin_ = 0, end_ = 0;
};

// The ReadAhead attached to fd, if any (for the shim and for tests).
ReadAhead* attached_read_ahead(int fd);

// What the interposed recv()/poll()/close() of read_ahead_shim.cpp do. For descriptors not
// attached to a ReadAhead: exactly what libc does, through recvfrom(), ppoll() and the close
// system call (which the shim does not replace).
namespace interposed {
ssize_t recv(int fd, void* buf, std::size_t len, int flags);
int poll(pollfd* fds, nfds_t nfds, int timeout_ms);
int close(int fd);
}  // namespace interposed

}  // namespace sb::io
#endif
