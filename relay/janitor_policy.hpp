// When is a tunnel dead? Pure logic with an injected clock, so it is unit-tested.
//
// Every check the relay pings each tunnel (the agent answers at once). A tunnel from which
// nothing arrived for more than 1.5 intervals missed at least one ping: it is dead. A tunnel
// that froze right after answering is therefore closed at the second check after that answer,
// i.e. within 2 intervals, which is the promise in the brief.
#pragma once
#include <chrono>

namespace sb::relay {

enum class Liveness { kAlive, kDead };

struct JanitorPolicy {
  using Clock = std::chrono::steady_clock;
  std::chrono::milliseconds interval;

  Liveness check(Clock::time_point last_inbound, Clock::time_point now) const {
    return now - last_inbound > interval * 3 / 2 ? Liveness::kDead : Liveness::kAlive;
  }
  // Connections that have not finished key exchange, authentication and their hello by then
  // are dropped: they hold memory and file descriptors for nobody.
  static bool handshake_expired(Clock::time_point created, Clock::time_point now,
                                std::chrono::milliseconds limit) {
    return now - created > limit;
  }
};

}  // namespace sb::relay
