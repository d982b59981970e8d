// Read-ahead for libssh's socket reads (why this exists: docs/performance.md, "Read-ahead").
//
// libssh 0.10 reads its socket at most 4096 bytes per poll callback and asks poll(2) before
// every read, so a bulk transfer costs two syscalls per 4 KiB (~600,000 per GiB relayed).
// libssh exports nothing to feed it data ourselves and we may not patch it, but it calls
// recv(), poll() and close() through the dynamic linker, and a definition in the executable
// takes precedence over libc's. read_ahead.cpp defines those three: for sockets attached here
// recv() reads up to kReadAheadBytes at once and hands libssh the rest from memory on its next
// calls, and poll() reports such a socket readable without asking the kernel. Every other
// descriptor passes straight through to the kernel.
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

namespace sb::io {

// Largest single read from a socket. 64 KiB: 16 of libssh's reads per syscall, and no more
// memory per busy connection than one libssh channel window's worth of packets.
inline constexpr std::size_t kReadAheadBytes = 64 * 1024;

class ReadAhead {
 public:
  ReadAhead() = default;
  ~ReadAhead() { detach(); }
  ReadAhead(const ReadAhead&) = delete;
  ReadAhead& operator=(const ReadAhead&) = delete;

  // Serves recv()/poll() of this socket from here from now on. False if fd is out of the
  // table's range (the socket then simply works without read-ahead).
  bool attach(int fd);
  // Stops serving the socket and drops unread bytes. Idempotent.
  void detach();
  // Bytes read from the socket that the reader has not taken yet.
  std::size_t buffered() const { return end_ - begin_; }
  bool holds_memory() const { return buf_ != nullptr; }
  bool attached() const { return fd_ >= 0; }

  // The shim's side (read_ahead.cpp); public so the free functions can reach them.
  long recv(int fd, void* dst, std::size_t len, int flags);
  // close() of the socket: unread bytes are gone. Frees nothing (close() also runs in forked
  // children before exec, where only async-signal-safe calls belong): the memory goes with
  // detach() or the destructor.
  void forget();

 private:
  long take(void* dst, std::size_t len, bool peek);
  int fd_ = -1;
  std::unique_ptr<char[]> buf_;
  std::size_t begin_ = 0, end_ = 0;
};

// The ReadAhead attached to fd, if any (for the shim and for tests).
ReadAhead* attached_read_ahead(int fd);

}  // namespace sb::io
