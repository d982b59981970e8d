// libssh 0.10 answers every authentication request through our callbacks but one: a public-key
// request whose signature does not verify is dropped without a word (the error path of
// ssh_packet_userauth_request in messages.c), and its client waits for an answer until the
// handshake timeout. A user name with a NUL byte in it always ends there: libssh reads the name
// as a C string, so it checks the signature over the part before the NUL.
//
// UnansweredAuth notices that silence from the packet counter and our callbacks: packets came in
// after the last request a callback saw, and nothing followed them for a grace period. The grace
// lets a packet that needs no answer (IGNORE, DEBUG) be followed by the request it came with when
// the two arrive in separate reads. The watch starts with the first request a callback sees (the
// "ssh-userauth" service request every client sends first): the key exchange's packets before
// it need no answer, and where the exchange ended among them is not known. Pure logic with an
// injected clock.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>

namespace sb::relay {

class UnansweredAuth {
 public:
  using Clock = std::chrono::steady_clock;
  explicit UnansweredAuth(std::chrono::milliseconds grace) : grace_(grace) {}

  // packets: every packet received so far, counting the one being handled. Called when a
  // callback sees a request (it is answered, and so is everything before it).
  void answered(std::uint64_t packets);

  struct Check {
    bool dropped = false;                      // a request has been left unanswered
    std::optional<Clock::time_point> again{};  // otherwise, when to look again (none: nothing
                                               // pending, or no request seen yet)
  };
  // After a pump, and when `again` comes: packets received so far.
  Check check(std::uint64_t packets, Clock::time_point now);

 private:
  std::chrono::milliseconds grace_;
  bool watching_ = false;  // a callback has seen a request
  std::uint64_t answered_ = 0;
  std::uint64_t received_ = 0;
  Clock::time_point last_arrival_{};
};

}  // namespace sb::relay
