// The one-time decision whether the read-ahead is in effect (read_ahead_switch.hpp).
#include "common/io/read_ahead_switch.hpp"

#include <dlfcn.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "common/fd.hpp"
#include "common/io/read_ahead.hpp"

namespace sb::io {

namespace detail {
// Defined only in read_ahead_shim.cpp. Weak: in a program without the shim its address is null.
[[gnu::weak]] bool read_ahead_interposition_linked();
}  // namespace detail

namespace {

bool interposition_linked() {
  return &detail::read_ahead_interposition_linked != nullptr;
}

template <typename Fn>
Fn resolve(const char* name) {
  return reinterpret_cast<Fn>(::dlsym(RTLD_DEFAULT, name));
}

// Two bytes sent, one asked for: the read-ahead takes both and holds the second, which the
// kernel then no longer has, so only the read-ahead's poll() can report it.
std::string round_trip(const SocketCalls& calls, const ReadAhead& probe, int reader, int writer) {
  if (::send(writer, "ok", 2, 0) != 2)
    return std::string("self-check cannot send: ") + std::strerror(errno);
  char got[2] = {};
  if (calls.recv(reader, got, 1, 0) != 1 || probe.buffered() != 1)
    return "recv() is not the read-ahead's: libssh's reads would bypass it";
  pollfd p{reader, POLLIN, 0};
  if (calls.poll(&p, 1, 0) != 1 || !(p.revents & POLLIN))
    return "poll() is not the read-ahead's: libssh would not see the bytes it holds";
  if (calls.recv(reader, got + 1, 1, 0) != 1 || std::string_view(got, 2) != "ok")
    return "recv() returned other bytes than were sent";
  return {};
}

ReadAheadStatus decide() {
  // A program without the shim chose to go without: nothing to say.
  if (!interposition_linked()) return {false, "the interposition is not linked into this program"};
  const char* value = std::getenv("SB_READ_AHEAD");
  std::optional<bool> wanted = read_ahead_switch(value);
  if (!wanted)
    spdlog::warn("SB_READ_AHEAD={} is not understood (0 turns the read-ahead off); it stays on",
                 value);
  if (wanted == false) {
    spdlog::info("read-ahead off (SB_READ_AHEAD=0): libssh reads its sockets 4 KiB at a time");
    return {false, "switched off by SB_READ_AHEAD=0"};
  }
  std::string failure = self_check(dynamic_socket_calls());
  if (!failure.empty()) {
    spdlog::warn("read-ahead not in effect, libssh reads its sockets 4 KiB at a time: {}", failure);
    return {false, failure};
  }
  return {true, {}};
}

}  // namespace

const ReadAheadStatus& read_ahead_status() {
  static const ReadAheadStatus status = decide();
  return status;
}

void check_read_ahead() {
  (void)read_ahead_status();
}

std::optional<bool> read_ahead_switch(const char* value) {
  if (value == nullptr) return true;
  std::string_view text(value);
  if (text.empty() || text == "1") return true;
  if (text == "0") return false;
  return std::nullopt;
}

SocketCalls dynamic_socket_calls() {
  SocketCalls calls;
  calls.recv = resolve<decltype(calls.recv)>("recv");
  calls.poll = resolve<decltype(calls.poll)>("poll");
  calls.close = resolve<decltype(calls.close)>("close");
  return calls;
}

std::string self_check(const SocketCalls& calls) {
  if (!calls.recv || !calls.poll || !calls.close)
    return "the dynamic linker finds no recv(), poll() or close()";
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
    return std::string("self-check has no socketpair: ") + std::strerror(errno);
  Fd writer(fds[1]);
  ReadAhead probe;
  if (!probe.enter_in_table(fds[0])) {
    ::close(fds[0]);
    return "self-check's descriptor is beyond the read-ahead's table";
  }
  std::string failure = round_trip(calls, probe, fds[0], fds[1]);
  calls.close(fds[0]);  // closed exactly once, whichever close() this is
  if (failure.empty() && probe.attached())
    failure = "close() is not the read-ahead's: a reused descriptor could see old bytes";
  probe.detach();
  return failure;
}

}  // namespace sb::io
