#include "relay/device/device_services.hpp"

#include <algorithm>

#include "common/names.hpp"

namespace sb::relay {

namespace {
constexpr std::size_t kMaxServiceName = 32;
}

DeviceServices::Added DeviceServices::add(const std::string& name, int port) {
  if (name.size() > kMaxServiceName || !valid_name(name))
    return {std::nullopt, "service name '" + name.substr(0, kMaxServiceName) +
                              "' is not valid (lowercase letters, digits, '-', '_', '.'; up to " +
                              std::to_string(kMaxServiceName) + " characters; not all digits)"};
  if (port < 0 || port > 65535) return {std::nullopt, "port out of range"};
  if (services_.size() >= kMaxServices)
    return {std::nullopt,
            "too many services (at most " + std::to_string(kMaxServices) + " per device)"};
  if (port != 0 && find_exact(name, port))
    return {std::nullopt, name + ":" + std::to_string(port) + " is already registered"};
  DeviceService service{name, port == 0 ? allocate_port() : port};
  services_.push_back(service);
  return {service, ""};
}

bool DeviceServices::remove(const std::string& name, int port) {
  return std::erase_if(services_, [&](const DeviceService& s) {
           return s.name == name && s.port == port;
         }) > 0;
}

const DeviceService* DeviceServices::find_exact(const std::string& name, int port) const {
  auto it = std::find_if(services_.begin(), services_.end(),
                         [&](const DeviceService& s) { return s.name == name && s.port == port; });
  return it == services_.end() ? nullptr : &*it;
}

std::optional<DeviceService> DeviceServices::find(const std::string& name, int port) const {
  if (const DeviceService* exact = find_exact(name, port)) return *exact;
  const DeviceService* only = nullptr;
  for (const DeviceService& s : services_) {
    if (s.name != name) continue;
    if (only) return std::nullopt;  // ambiguous: the port has to say which
    only = &s;
  }
  if (!only) return std::nullopt;
  return *only;
}

std::string DeviceServices::describe() const {
  if (services_.empty()) return "none yet";
  std::string text;
  for (const DeviceService& s : services_) {
    if (!text.empty()) text += ", ";
    text += s.name + " (" + std::to_string(s.port) + ")";
  }
  return text;
}

std::string DeviceServices::names() const {
  if (services_.empty()) return "none yet";
  std::string text;
  for (const DeviceService& s : services_) text += (text.empty() ? "" : ", ") + s.name;
  return text;
}

int DeviceServices::allocate_port() const {
  int port = kFirstAllocatedPort;
  while (std::any_of(services_.begin(), services_.end(),
                     [port](const DeviceService& s) { return s.port == port; }))
    ++port;
  return port;
}

}  // namespace sb::relay
