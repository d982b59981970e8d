// Live sessions, shared by every reactor: which session ID and which enrolled device belong to
// which connection. Short critical sections only; no I/O under the lock.
#pragma once
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace sb::ssh {
class Conn;
}

namespace sb::relay {

struct LiveSession {
  std::string id;
  std::weak_ptr<ssh::Conn> conn;
  std::string device;  // enrolled name, "" for ad hoc
  bool enrolled = false;
  bool consent_prompt = true;  // ask the device's user before each attach
};

class SessionRegistry {
 public:
  // A fresh nine-digit ID from the CSPRNG, unique among live sessions, bound to conn.
  std::string issue(const std::weak_ptr<ssh::Conn>& conn, const std::string& device = "",
                    bool enrolled = false, bool consent_prompt = true);
  // The live session by ID or by enrolled device name.
  std::optional<LiveSession> lookup_id(const std::string& id) const;
  std::optional<LiveSession> lookup_device(const std::string& device) const;
  // Binds an enrolled device name to its session; returns the connection it replaces, if any.
  std::shared_ptr<ssh::Conn> bind_device(const std::string& device, const std::string& id);
  void release(const std::string& id, const std::string& device);
  std::shared_ptr<ssh::Conn> find(const std::string& id) const;
  std::optional<std::string> session_of_device(const std::string& device) const;
  std::size_t live() const;

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, LiveSession> by_id_;
  std::unordered_map<std::string, std::string> id_by_device_;
};

}  // namespace sb::relay
