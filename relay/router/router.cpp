#include "relay/router/router.hpp"

#include "common/util.hpp"

namespace sb::relay {

namespace {
// Both hashes are hex SHA-256 of secrets; comparing every byte leaks no prefix length.
bool same_hash(const std::string& a, const std::string& b) {
  if (a.size() != b.size() || a.empty()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}
}  // namespace

std::string Router::issue(std::weak_ptr<DeviceTunnel> device, const std::string& device_name,
                          bool enrolled, bool consent_prompt) {
  std::lock_guard lock(mu_);
  for (;;) {
    std::string id = generate_session_id();
    Entry entry;
    entry.session = LiveSession{id, device, device_name, enrolled, consent_prompt};
    if (by_id_.emplace(id, std::move(entry)).second) return id;
  }
}

std::optional<LiveSession> Router::lookup_id(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return std::nullopt;
  if (it->second.session.held) return it->second.session;
  if (it->second.session.device.expired()) return std::nullopt;
  return it->second.session;
}

std::optional<LiveSession> Router::lookup_device(const std::string& device_name) const {
  std::lock_guard lock(mu_);
  auto dev = id_by_device_.find(device_name);
  if (dev == id_by_device_.end()) return std::nullopt;
  auto it = by_id_.find(dev->second);
  if (it == by_id_.end() || it->second.session.device.expired()) return std::nullopt;
  return it->second.session;
}

std::shared_ptr<DeviceTunnel> Router::bind_device(const std::string& device_name,
                                                  const std::string& id) {
  std::lock_guard lock(mu_);
  std::shared_ptr<DeviceTunnel> previous;
  auto it = id_by_device_.find(device_name);
  if (it != id_by_device_.end() && it->second != id) {
    auto old = by_id_.find(it->second);
    if (old != by_id_.end()) previous = old->second.session.device.lock();
  }
  id_by_device_[device_name] = id;
  return previous;
}

void Router::erase_locked(std::unordered_map<std::string, Entry>::iterator it) {
  const std::string& name = it->second.session.device_name;
  if (!name.empty()) {
    auto dev = id_by_device_.find(name);
    if (dev != id_by_device_.end() && dev->second == it->first) id_by_device_.erase(dev);
  }
  by_id_.erase(it);
}

void Router::release(const std::string& id, const std::string& device_name) {
  std::lock_guard lock(mu_);
  by_id_.erase(id);
  if (!device_name.empty()) {
    auto it = id_by_device_.find(device_name);
    if (it != id_by_device_.end() && it->second == id) id_by_device_.erase(it);
  }
}

bool Router::release_owned(const std::string& id, const DeviceTunnel* owner) {
  std::lock_guard lock(mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return true;  // already gone: nothing left to take over
  auto device = it->second.session.device.lock();
  if (it->second.session.held || (device && device.get() != owner)) return false;
  erase_locked(it);
  return true;
}

std::shared_ptr<DeviceTunnel> Router::find(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second.session.device.lock();
}

std::optional<std::string> Router::session_of_device(const std::string& device_name) const {
  std::lock_guard lock(mu_);
  auto it = id_by_device_.find(device_name);
  if (it == id_by_device_.end()) return std::nullopt;
  return it->second;
}

std::size_t Router::live() const {
  std::lock_guard lock(mu_);
  return by_id_.size();
}

void Router::arm_resume(const std::string& id, std::string fingerprint, std::string token_hash) {
  std::lock_guard lock(mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return;
  it->second.fingerprint = std::move(fingerprint);
  it->second.token_hash = std::move(token_hash);
}

bool Router::hold(const std::string& id, const DeviceTunnel* owner, Clock::time_point until,
                  std::string screen, std::string why, Clock::time_point now) {
  std::lock_guard lock(mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return false;
  Entry& entry = it->second;
  if (entry.session.held || entry.token_hash.empty()) return false;
  auto device = entry.session.device.lock();
  if (device && device.get() != owner) return false;
  entry.session.held = true;
  entry.session.device.reset();
  entry.held_since = now;
  entry.held_until = until;
  entry.screen = std::move(screen);
  entry.interrupted = std::move(why);
  return true;
}

ResumeOutcome Router::resume(const std::string& id, const std::string& fingerprint,
                             const std::string& token_hash, std::weak_ptr<DeviceTunnel> device,
                             std::string new_token_hash, Clock::time_point now) {
  ResumeOutcome out;
  std::lock_guard lock(mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return out;
  Entry& entry = it->second;
  if (entry.token_hash.empty() || (entry.session.held && now >= entry.held_until)) return out;
  if (entry.fingerprint != fingerprint || !same_hash(entry.token_hash, token_hash)) {
    out.status = ResumeStatus::kWrongProof;
    return out;
  }
  out.status = ResumeStatus::kResumed;
  if (entry.session.held) {
    out.away = std::chrono::duration_cast<std::chrono::milliseconds>(now - entry.held_since);
  } else {
    out.previous = entry.session.device.lock();
  }
  entry.session.held = false;
  entry.session.device = std::move(device);
  entry.token_hash = std::move(new_token_hash);
  entry.interrupted.clear();
  return out;
}

std::string Router::take_screen(const std::string& id) {
  std::lock_guard lock(mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end() || it->second.session.held) return {};
  return std::exchange(it->second.screen, {});
}

HeldSession Router::held_of(const Entry& entry) {
  return HeldSession{entry.session.id, entry.fingerprint, entry.interrupted};
}

std::vector<HeldSession> Router::expire_held(Clock::time_point now) {
  std::vector<HeldSession> out;
  std::lock_guard lock(mu_);
  for (auto it = by_id_.begin(); it != by_id_.end();) {
    auto next = std::next(it);
    if (it->second.session.held && now >= it->second.held_until) {
      out.push_back(held_of(it->second));
      erase_locked(it);
    }
    it = next;
  }
  return out;
}

std::optional<HeldSession> Router::drop_held(const std::string& id) {
  std::lock_guard lock(mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end() || !it->second.session.held) return std::nullopt;
  HeldSession held = held_of(it->second);
  erase_locked(it);
  return held;
}

std::vector<HeldSession> Router::drop_all_held() {
  return expire_held(Clock::time_point::max());
}

std::size_t Router::held() const {
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  for (const auto& [id, entry] : by_id_) n += entry.session.held ? 1 : 0;
  return n;
}

std::size_t Router::held_screen_bytes() const {
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  for (const auto& [id, entry] : by_id_) n += entry.screen.size();
  return n;
}

}  // namespace sb::relay
