#include "relay/guess_guard.hpp"

#include <algorithm>

namespace sb::relay {

GuessGuard::Entry* GuessGuard::find(std::unordered_map<std::string, Entry>& map,
                                    const std::string& k, Clock::time_point now) {
  auto it = map.find(k);
  if (it == map.end()) return nullptr;
  if (now - it->second.window_start > settings_.window) {
    map.erase(it);
    return nullptr;
  }
  return &it->second;
}

std::chrono::milliseconds GuessGuard::delay_of(const Entry* entry, Clock::time_point) const {
  if (!entry || entry->misses < settings_.free_misses) return std::chrono::milliseconds(0);
  auto delay = settings_.first_delay;
  for (int extra = entry->misses - settings_.free_misses; extra > 0 && delay < settings_.max_delay;
       --extra)
    delay *= 2;
  return std::min(delay, settings_.max_delay);
}

std::chrono::milliseconds GuessGuard::delay_for(const std::string& source, const std::string& key,
                                                Clock::time_point now) {
  std::lock_guard lock(mu_);
  return std::max(delay_of(find(by_source_, source, now), now),
                  delay_of(find(by_key_, key, now), now));
}

void GuessGuard::record_miss(const std::string& source, const std::string& key,
                             Clock::time_point now) {
  std::lock_guard lock(mu_);
  for (auto* map : {&by_source_, &by_key_}) {
    const std::string& k = map == &by_source_ ? source : key;
    Entry* entry = find(*map, k, now);
    if (!entry) entry = &((*map)[k] = Entry{0, now});
    ++entry->misses;
  }
}

void GuessGuard::prune(Clock::time_point now) {
  std::lock_guard lock(mu_);
  for (auto* map : {&by_source_, &by_key_})
    std::erase_if(*map,
                  [&](const auto& kv) { return now - kv.second.window_start > settings_.window; });
}

std::size_t GuessGuard::tracked() const {
  std::lock_guard lock(mu_);
  return by_source_.size() + by_key_.size();
}

}  // namespace sb::relay
