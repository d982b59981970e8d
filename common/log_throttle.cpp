#include "common/log_throttle.hpp"

namespace sb {

std::optional<std::uint64_t> LogThrottle::admit(const std::string& key, Clock::time_point now) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    if (entries_.size() >= max_keys_) {
      // A flood from many keys is still one line per interval, under a key of its own.
      ++overflow_held_;
      return std::nullopt;
    }
    entries_.emplace(key, Entry{now, 0});
    return 0;
  }
  Entry& entry = it->second;
  if (now - entry.logged < interval_) {
    ++entry.held;
    return std::nullopt;
  }
  entry.logged = now;
  return std::exchange(entry.held, 0);
}

std::vector<std::pair<std::string, std::uint64_t>> LogThrottle::drain(Clock::time_point now) {
  std::lock_guard lock(mu_);
  std::vector<std::pair<std::string, std::uint64_t>> out;
  for (auto it = entries_.begin(); it != entries_.end();) {
    Entry& entry = it->second;
    const bool quiet_since = now - entry.logged >= interval_;
    if (quiet_since && entry.held > 0) {
      out.emplace_back(it->first, entry.held);
      entry.held = 0;
      entry.logged = now;
      ++it;
    } else if (quiet_since) {
      it = entries_.erase(it);  // nothing held back for an interval: forget the key
    } else {
      ++it;
    }
  }
  if (overflow_held_ > 0) out.emplace_back("", std::exchange(overflow_held_, 0));
  return out;
}

}  // namespace sb
