// Rate limit for session-ID guessing. Misses (an attach refused because the session is unknown,
// ended or not this operator's) are counted per source address and per operator key; within the
// free allowance nothing waits, past it the penalty doubles with each further miss.
//
// The penalty never touches anyone who did not miss:
//  - A refusal is answered after the uniform refusal delay plus the larger penalty of its source
//    and its key (refusal_penalty, then record_miss).
//  - A key past its allowance is held before its attempt is even looked up (hold_key), one
//    attempt per penalty period: otherwise a guesser could open many connections at once and
//    read a hit from the fast answer long before its misses are answered.
//  - An attempt whose key has no penalty is looked up at once, and if it may attach it attaches
//    at once, even from a source address that guesses (one NAT, one guesser, many honest
//    colleagues).
// Pure logic with an injected clock; the relay applies the delays with timers, never by blocking.
#pragma once
#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

namespace sb::relay {

class GuessGuard {
 public:
  using Clock = std::chrono::steady_clock;
  struct Settings {
    int free_misses = 5;                          // per window, per source and per key
    std::chrono::seconds window{60};              // misses older than this are forgiven
    std::chrono::milliseconds first_delay{1000};  // penalty once the allowance is used up
    std::chrono::milliseconds max_delay{60000};
  };
  GuessGuard() : GuessGuard(Settings{}) {}
  explicit GuessGuard(Settings settings) : settings_(settings) {}

  // Before the lookup: how long an attempt with this key waits (zero unless the key itself is
  // past its allowance). Reserves the key's next slot, so attempts made in parallel queue one
  // penalty apart instead of all running after the same wait.
  std::chrono::milliseconds hold_key(const std::string& key, Clock::time_point now);
  // After a miss, before record_miss: the penalty its refusal carries on top of the uniform
  // delay (the larger of its source's and its key's).
  std::chrono::milliseconds refusal_penalty(const std::string& source, const std::string& key,
                                            Clock::time_point now);
  void record_miss(const std::string& source, const std::string& key, Clock::time_point now);
  // Forget entries idle for longer than the window (bounded memory).
  void prune(Clock::time_point now);
  std::size_t tracked() const;

 private:
  struct Entry {
    int misses = 0;
    Clock::time_point window_start;
    Clock::time_point next_slot;  // keys only: the earliest start of the next held attempt
  };
  std::chrono::milliseconds penalty_of(const Entry* entry) const;
  Entry* find(std::unordered_map<std::string, Entry>& map, const std::string& k,
              Clock::time_point now);

  Settings settings_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> by_source_;
  std::unordered_map<std::string, Entry> by_key_;
};

}  // namespace sb::relay
