// Who may start a handshake while unauthenticated connections pile up (a handshake flood), so
// that idle sockets from one address cannot lock out the operators and agents behind it.
//
//  - Early drop, as OpenSSH's MaxStartups start:rate:full: below `start` unauthenticated
//    connections in all every new one is admitted; from there a new one is refused with a
//    probability that grows from rate% to 100% at `full`.
//  - Each source address holds at most `per_source` unauthenticated connections. At that cap a
//    new connection from it evicts the source's oldest idle one: a connection that has not
//    finished its key exchange after `idle_after` (an idle socket, a client that sent garbage).
//    Honest clients finish the key exchange in milliseconds, so they are not the ones evicted,
//    and the flood evicts its own sockets.
//  - Under pressure (early drop in effect, or the source at its cap) the handshake deadline is
//    `pressed_deadline` instead of the configured one.
//  - A source whose connections misbehave (closed or timed out before finishing the key
//    exchange) is penalised for `penalty`: its idle connections may be evicted at once and its
//    handshakes get the short deadline. Penalties are by behaviour, not by address alone: a
//    client behind the same address that completes its key exchange is never evicted.
//
// Thread-safe: the listener admits, the connections (on any reactor) report and leave.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <variant>

namespace sb::relay {

class Admission {
 public:
  using Clock = std::chrono::steady_clock;
  struct Limits {
    int start = 10;
    int rate = 30;  // percent refused at `start`
    int full = 100;
    int per_source = 32;
    std::chrono::milliseconds idle_after{1000};
    std::chrono::milliseconds pressed_deadline{5000};
    std::chrono::milliseconds penalty{10000};
  };
  using Ticket = std::uint64_t;  // one admitted connection; 0 = none
  struct Refusal {
    std::string reason;
  };

  explicit Admission(Limits limits = {}) : limits_(limits) {}

  // A new connection from `source`. roll: a uniformly random number in [0, 100) for the early
  // drop. Returns its ticket, or the refusal. May evict one of the source's idle connections
  // (its close callback runs before this returns, outside the lock).
  std::variant<Ticket, Refusal> admit(const std::string& source, Clock::time_point now, int roll);
  // How to close the admitted connection if it is evicted (from any thread).
  void track(Ticket ticket, std::function<void()> close);
  // The connection finished its key exchange: it is no longer idle.
  void progressed(Ticket ticket);
  // The connection authenticated, or closed without; a connection that closes without having
  // finished its key exchange penalises its source.
  void leave(Ticket ticket, Clock::time_point now);
  // The handshake deadline for this connection now.
  std::chrono::milliseconds deadline(Ticket ticket, std::chrono::milliseconds configured,
                                     Clock::time_point now) const;
  int unauthenticated() const;
  int unauthenticated_from(const std::string& source) const;

 private:
  struct Entry {
    std::string source;
    Clock::time_point admitted;
    bool progressed = false;
    std::function<void()> close;
  };
  struct Source {
    int count = 0;
    Clock::time_point penalised_until{};
  };
  bool early_drop(int roll) const;
  bool penalised(const Source& source, Clock::time_point now) const;
  // The source's oldest idle connection, removed from the books; null if none.
  std::function<void()> take_idle(const std::string& source, Clock::time_point now);
  void forget(std::map<Ticket, Entry>::iterator it);
  // Sources with nothing open and no penalty left (keeps the map bounded).
  void prune(Clock::time_point now);

  const Limits limits_;
  mutable std::mutex mu_;
  std::map<Ticket, Entry> entries_;  // by ticket: oldest first
  std::unordered_map<std::string, Source> sources_;
  Ticket next_ticket_ = 1;
};

}  // namespace sb::relay
