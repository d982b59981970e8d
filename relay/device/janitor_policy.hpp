// When is a tunnel dead? Pure logic with an injected clock, so it is unit-tested.
//
// Every check the relay pings each tunnel (the agent answers a control-channel ping at once,
// OpenSSH a keepalive@openssh.com request). A tunnel from which nothing arrived since the
// previous check's ping missed that ping: it is dead. A tunnel that freezes at any moment is
// pinged at the next check (at most one interval later) and closed at the one after, i.e.
// always within 2 intervals of its last sign of life, which is what docs/security.md promises.
// (Judging by the age of the last packet instead would let a tunnel whose last packet fell
// between two checks live up to 2.5 intervals.)
#pragma once
#include <chrono>
#include <optional>

namespace sb::relay {

enum class Liveness { kAlive, kDead };

struct JanitorPolicy {
  using Clock = std::chrono::steady_clock;

  // last_ping: when the previous check pinged this tunnel (none yet: it cannot be judged).
  // last_inbound: when the relay last took a packet from it.
  static Liveness check(std::optional<Clock::time_point> last_ping,
                        Clock::time_point last_inbound) {
    return last_ping && last_inbound <= *last_ping ? Liveness::kDead : Liveness::kAlive;
  }
  // Connections that have not finished key exchange, authentication and their hello by then
  // are dropped: they hold memory and file descriptors for nobody.
  static bool handshake_expired(Clock::time_point created, Clock::time_point now,
                                std::chrono::milliseconds limit) {
    return now - created > limit;
  }
};

}  // namespace sb::relay
