// The router: which live device tunnel a session ID or an enrolled device name leads to. Shared
// by every reactor; short critical sections only, no I/O under the lock. It hands out typed
// handles to devices (weak while stored, so a closed tunnel simply stops resolving) and never
// calls into them: what a device does lives in relay/device.
#pragma once
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace sb::relay {

class DeviceTunnel;

struct LiveSession {
  std::string id;
  std::weak_ptr<DeviceTunnel> device;
  std::string device_name;  // enrolled name, "" for ad hoc
  bool enrolled = false;
  bool consent_prompt = true;  // ask the device's user before each attach
};

class Router {
 public:
  // A fresh nine-digit ID from the CSPRNG, unique among live sessions, leading to `device`.
  std::string issue(std::weak_ptr<DeviceTunnel> device, const std::string& device_name = "",
                    bool enrolled = false, bool consent_prompt = true);
  // The live session by ID or by enrolled device name.
  std::optional<LiveSession> lookup_id(const std::string& id) const;
  std::optional<LiveSession> lookup_device(const std::string& device_name) const;
  // Binds an enrolled device name to its session; returns the tunnel it replaces, if any.
  std::shared_ptr<DeviceTunnel> bind_device(const std::string& device_name, const std::string& id);
  void release(const std::string& id, const std::string& device_name);
  std::shared_ptr<DeviceTunnel> find(const std::string& id) const;
  std::optional<std::string> session_of_device(const std::string& device_name) const;
  std::size_t live() const;

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, LiveSession> by_id_;
  std::unordered_map<std::string, std::string> id_by_device_;
};

}  // namespace sb::relay
