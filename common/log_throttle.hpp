// One log line per key and interval instead of one per event: a flood of identical refusals
// from one address becomes a line now and then with a count. Thread-safe; bounded in keys.
#pragma once
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace sb {

class LogThrottle {
 public:
  using Clock = std::chrono::steady_clock;

  explicit LogThrottle(std::chrono::milliseconds interval, std::size_t max_keys = 4096)
      : interval_(interval), max_keys_(max_keys) {}

  // An event for `key` now: the number of earlier events of this key that were not logged
  // (0 for the first in a while) when this one should be logged, nullopt when it should be
  // counted and kept quiet.
  std::optional<std::uint64_t> admit(const std::string& key, Clock::time_point now);
  // Keys whose interval has passed with events held back: each key and how many, once.
  std::vector<std::pair<std::string, std::uint64_t>> drain(Clock::time_point now);

 private:
  struct Entry {
    Clock::time_point logged;
    std::uint64_t held = 0;
  };
  std::chrono::milliseconds interval_;
  std::size_t max_keys_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
  std::uint64_t overflow_held_ = 0;  // events of keys beyond max_keys_
};

}  // namespace sb
