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

class SessionRegistry {
 public:
  // A fresh nine-digit ID from the CSPRNG, unique among live sessions, bound to conn.
  std::string issue(const std::weak_ptr<ssh::Conn>& conn);
  // Binds an enrolled device name to its session; returns the connection it replaces, if any.
  std::shared_ptr<ssh::Conn> bind_device(const std::string& device, const std::string& id);
  void release(const std::string& id, const std::string& device);
  std::shared_ptr<ssh::Conn> find(const std::string& id) const;
  std::optional<std::string> session_of_device(const std::string& device) const;
  std::size_t live() const;

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::weak_ptr<ssh::Conn>> by_id_;
  std::unordered_map<std::string, std::string> id_by_device_;
};

}  // namespace sb::relay
