#include "relay/router/registry.hpp"

#include "common/util.hpp"

namespace sb::relay {

std::string SessionRegistry::issue(const std::weak_ptr<ssh::Conn>& conn, const std::string& device,
                                   bool enrolled, bool consent_prompt) {
  std::lock_guard lock(mu_);
  for (;;) {
    std::string id = generate_session_id();
    if (by_id_.emplace(id, LiveSession{id, conn, device, enrolled, consent_prompt}).second)
      return id;
  }
}

std::optional<LiveSession> SessionRegistry::lookup_id(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end() || it->second.conn.expired()) return std::nullopt;
  return it->second;
}

std::optional<LiveSession> SessionRegistry::lookup_device(const std::string& device) const {
  std::lock_guard lock(mu_);
  auto dev = id_by_device_.find(device);
  if (dev == id_by_device_.end()) return std::nullopt;
  auto it = by_id_.find(dev->second);
  if (it == by_id_.end() || it->second.conn.expired()) return std::nullopt;
  return it->second;
}

std::shared_ptr<ssh::Conn> SessionRegistry::bind_device(const std::string& device,
                                                        const std::string& id) {
  std::lock_guard lock(mu_);
  std::shared_ptr<ssh::Conn> previous;
  auto it = id_by_device_.find(device);
  if (it != id_by_device_.end() && it->second != id) {
    auto old = by_id_.find(it->second);
    if (old != by_id_.end()) previous = old->second.conn.lock();
  }
  id_by_device_[device] = id;
  return previous;
}

void SessionRegistry::release(const std::string& id, const std::string& device) {
  std::lock_guard lock(mu_);
  by_id_.erase(id);
  if (!device.empty()) {
    auto it = id_by_device_.find(device);
    if (it != id_by_device_.end() && it->second == id) id_by_device_.erase(it);
  }
}

std::shared_ptr<ssh::Conn> SessionRegistry::find(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second.conn.lock();
}

std::optional<std::string> SessionRegistry::session_of_device(const std::string& device) const {
  std::lock_guard lock(mu_);
  auto it = id_by_device_.find(device);
  if (it == id_by_device_.end()) return std::nullopt;
  return it->second;
}

std::size_t SessionRegistry::live() const {
  std::lock_guard lock(mu_);
  return by_id_.size();
}

}  // namespace sb::relay
