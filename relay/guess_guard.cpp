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
  Entry* key_entry = find(by_key_, key, now);
  // The source's penalty only holds keys that missed themselves: an honest operator behind the
  // same NAT or jump host as a guesser gets in at once.
  Entry* source_entry = key_entry ? find(by_source_, source, now) : nullptr;
  return std::max(delay_of(source_entry, now), delay_of(key_entry, now));
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
