#include "relay/router/router.hpp"

#include "common/util.hpp"

namespace sb::relay {

std::string Router::issue(std::weak_ptr<DeviceTunnel> device, const std::string& device_name,
                          bool enrolled, bool consent_prompt) {
  std::lock_guard lock(mu_);
  for (;;) {
    std::string id = generate_session_id();
    if (by_id_.emplace(id, LiveSession{id, device, device_name, enrolled, consent_prompt}).second)
      return id;
  }
}

std::optional<LiveSession> Router::lookup_id(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end() || it->second.device.expired()) return std::nullopt;
  return it->second;
}

std::optional<LiveSession> Router::lookup_device(const std::string& device_name) const {
  std::lock_guard lock(mu_);
  auto dev = id_by_device_.find(device_name);
  if (dev == id_by_device_.end()) return std::nullopt;
  auto it = by_id_.find(dev->second);
  if (it == by_id_.end() || it->second.device.expired()) return std::nullopt;
  return it->second;
}

std::shared_ptr<DeviceTunnel> Router::bind_device(const std::string& device_name,
                                                  const std::string& id) {
  std::lock_guard lock(mu_);
  std::shared_ptr<DeviceTunnel> previous;
  auto it = id_by_device_.find(device_name);
  if (it != id_by_device_.end() && it->second != id) {
    auto old = by_id_.find(it->second);
    if (old != by_id_.end()) previous = old->second.device.lock();
  }
  id_by_device_[device_name] = id;
  return previous;
}

void Router::release(const std::string& id, const std::string& device_name) {
  std::lock_guard lock(mu_);
  by_id_.erase(id);
  if (!device_name.empty()) {
    auto it = id_by_device_.find(device_name);
    if (it != id_by_device_.end() && it->second == id) id_by_device_.erase(it);
  }
}

std::shared_ptr<DeviceTunnel> Router::find(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second.device.lock();
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

}  // namespace sb::relay
