// Whether the read-ahead (read_ahead.hpp) is in effect in this process, decided once.
//
// It is when all three hold:
//  - the interposition is linked in (the sb_read_ahead object library: the relay, the agent,
//    sb-loadgen and the read-ahead's tests; not operator-cli, not the other tests);
//  - SB_READ_AHEAD is not 0 in the environment (read once, at the decision);
//  - a self-check passes: a socketpair round trip through recv()/poll()/close() as the dynamic
//    linker hands them to shared libraries such as libssh shows that they are the read-ahead's.
// Otherwise ReadAhead::attach() attaches nothing and libssh reads its sockets as without it.
#pragma once
#include <cstddef>
#include <optional>
#include <string>

#ifdef _WIN32
namespace sb::io {
inline void check_read_ahead() {}  // nothing to decide: Windows has no read-ahead
}  // namespace sb::io
#else
#include <poll.h>
#include <sys/types.h>

namespace sb::io {

struct ReadAheadStatus {
  bool in_effect = false;
  std::string why_not;  // empty when in effect
};

// Decided on the first call (from the first ReadAhead::attach() at the latest), then fixed.
// A program that links the interposition and finds it not in effect logs one line saying why;
// when it is in effect, and in programs without it, nothing is logged.
const ReadAheadStatus& read_ahead_status();
// Makes the decision now: the relay and the agent call it at start-up, so that its log line,
// if any, comes before their connections' and the self-check does not wait for the first one.
void check_read_ahead();

// SB_READ_AHEAD's value: unset, empty or "1" = on, "0" = off, anything else = not understood
// (nullopt; the read-ahead then stays on and the value is logged).
std::optional<bool> read_ahead_switch(const char* value);

// recv()/poll()/close() as the dynamic linker resolves them for every shared library: the
// read-ahead's when it is linked in, libc's otherwise. Null if not found.
struct SocketCalls {
  ssize_t (*recv)(int, void*, std::size_t, int) = nullptr;
  int (*poll)(pollfd*, nfds_t, int) = nullptr;
  int (*close)(int) = nullptr;
};
SocketCalls dynamic_socket_calls();

// The self-check's round trip through `calls` on a fresh socketpair: empty when they serve an
// attached socket from a ReadAhead (recv() read ahead, poll() saw the bytes in memory, close()
// detached it), else what failed. Leaves no descriptor and no attachment behind.
std::string self_check(const SocketCalls& calls);

}  // namespace sb::io
#endif
