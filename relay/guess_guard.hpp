// Rate limit for session-ID guessing: misses are counted per source address and per operator
// key; past the free allowance every further attempt waits, longer each time. Operators sharing a
// source address with a guesser (one NAT) are held too: that is the price of a per-source limit.
// Pure logic with an injected clock; the relay applies the delay with a timer, never by blocking.
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
    std::chrono::milliseconds first_delay{1000};  // delay after the allowance is used up
    std::chrono::milliseconds max_delay{60000};
  };
  GuessGuard() : GuessGuard(Settings{}) {}
  explicit GuessGuard(Settings settings) : settings_(settings) {}

  // How long to hold this attempt before answering (zero for anyone within the allowance).
  std::chrono::milliseconds delay_for(const std::string& source, const std::string& key,
                                      Clock::time_point now);
  void record_miss(const std::string& source, const std::string& key, Clock::time_point now);
  // Forget entries idle for longer than the window (bounded memory).
  void prune(Clock::time_point now);
  std::size_t tracked() const;

 private:
  struct Entry {
    int misses = 0;
    Clock::time_point window_start;
  };
  std::chrono::milliseconds delay_of(const Entry* entry, Clock::time_point now) const;
  Entry* find(std::unordered_map<std::string, Entry>& map, const std::string& k,
              Clock::time_point now);

  Settings settings_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> by_source_;
  std::unordered_map<std::string, Entry> by_key_;
};

}  // namespace sb::relay
