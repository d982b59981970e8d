// The libc interposition of the read-ahead (read_ahead.hpp): recv(), poll() and close() for
// the whole process (libssh, Asio, SQLite, our code). The sb_read_ahead object library, linked
// only by the programs that want it; for descriptors not attached to a ReadAhead these do
// exactly what libc does.
//
// Compiled alone (never in a unity batch) and without _FORTIFY_SOURCE (common/CMakeLists.txt):
// fortified headers define recv() and poll() as inline wrappers around other symbols, and a
// header included earlier in a batch would bring them in before any #undef here could act.
#include <features.h>
#if defined(__USE_FORTIFY_LEVEL) && __USE_FORTIFY_LEVEL > 0
#error "read_ahead_shim.cpp must be compiled without _FORTIFY_SOURCE: it defines recv() and poll()"
#endif

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/io/read_ahead.hpp"

namespace sb::io::detail {
// Referenced weakly by read_ahead_switch.cpp: its presence tells that this file is linked in.
bool read_ahead_interposition_linked() {
  return true;
}
}  // namespace sb::io::detail

extern "C" {

ssize_t recv(int fd, void* buf, size_t len, int flags) {
  return sb::io::interposed::recv(fd, buf, len, flags);
}

int poll(pollfd* fds, nfds_t nfds, int timeout) {
  return sb::io::interposed::poll(fds, nfds, timeout);
}

int close(int fd) {
  return sb::io::interposed::close(fd);
}

}  // extern "C"
