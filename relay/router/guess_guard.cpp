#include "relay/router/guess_guard.hpp"

#include <algorithm>

namespace sb::relay {

GuessGuard::Entry* GuessGuard::find(std::unordered_map<std::string, Entry>& map,
                                    const std::string& k, Clock::time_point now) {
  auto it = map.find(k);
  if (it == map.end()) return nullptr;
  // A held attempt still queued keeps its entry alive, so the queue cannot be skipped.
  if (now - it->second.window_start > settings_.window && it->second.next_slot <= now) {
    map.erase(it);
    return nullptr;
  }
  return &it->second;
}

std::chrono::milliseconds GuessGuard::penalty_of(const Entry* entry) const {
  if (!entry || entry->misses < settings_.free_misses) return std::chrono::milliseconds(0);
  auto delay = settings_.first_delay;
  for (int extra = entry->misses - settings_.free_misses; extra > 0 && delay < settings_.max_delay;
       --extra)
    delay *= 2;
  return std::min(delay, settings_.max_delay);
}

std::chrono::milliseconds GuessGuard::hold_key(const std::string& key, Clock::time_point now) {
  std::lock_guard lock(mu_);
  Entry* entry = find(by_key_, key, now);
  auto penalty = penalty_of(entry);
  if (penalty.count() == 0) return penalty;
  auto slot = std::max(now, entry->next_slot) + penalty;
  entry->next_slot = slot;
  return std::chrono::duration_cast<std::chrono::milliseconds>(slot - now);
}

std::chrono::milliseconds GuessGuard::refusal_penalty(const std::string& source,
                                                      const std::string& key,
                                                      Clock::time_point now) {
  std::lock_guard lock(mu_);
  return std::max(penalty_of(find(by_source_, source, now)), penalty_of(find(by_key_, key, now)));
}

void GuessGuard::record_miss(const std::string& source, const std::string& key,
                             Clock::time_point now) {
  std::lock_guard lock(mu_);
  for (auto* map : {&by_source_, &by_key_}) {
    const std::string& k = map == &by_source_ ? source : key;
    Entry* entry = find(*map, k, now);
    if (!entry) entry = &((*map)[k] = Entry{0, now, now});
    ++entry->misses;
  }
}

void GuessGuard::prune(Clock::time_point now) {
  std::lock_guard lock(mu_);
  for (auto* map : {&by_source_, &by_key_})
    std::erase_if(*map, [&](const auto& kv) {
      return now - kv.second.window_start > settings_.window && kv.second.next_slot <= now;
    });
}

std::size_t GuessGuard::tracked() const {
  std::lock_guard lock(mu_);
  return by_source_.size() + by_key_.size();
}

}  // namespace sb::relay
