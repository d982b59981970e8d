// The named services an agentless device offers with `ssh -R NAME:PORT:host:port device@relay`
// (tcpip-forward global requests). Nothing is bound on the relay: the name and port are only
// the label the device's ssh matches when the relay opens a forwarded-tcpip channel back to it.
// Pure bookkeeping (no libssh), so it is unit-tested.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace sb::relay {

struct DeviceService {
  std::string name;  // the bind address the device sent: "screen", "sshd", "vnc2"
  int port = 0;      // the port it asked for, or the one the relay allocated for port 0
};

class DeviceServices {
 public:
  static constexpr std::size_t kMaxServices = 16;
  // Ports handed out when a device asks for port 0 (OpenSSH `-R screen:0:...`).
  static constexpr int kFirstAllocatedPort = 49152;

  struct Added {
    std::optional<DeviceService> service;  // set on success
    std::string error;                     // why not, for the log
  };
  // Registers NAME:PORT; port 0 allocates one. Refuses invalid names, bad ports, duplicates and
  // more than kMaxServices.
  Added add(const std::string& name, int port);
  // cancel-tcpip-forward: true if it was registered.
  bool remove(const std::string& name, int port);
  // The service an operator's direct-tcpip to NAME:PORT means: the exact registration, else the
  // only one with that name (operators may give port 0 or any port when the name is enough).
  std::optional<DeviceService> find(const std::string& name, int port) const;
  const std::vector<DeviceService>& all() const { return services_; }
  bool empty() const { return services_.empty(); }
  // "screen (5900), sshd (22)", or "none yet".
  std::string describe() const;
  // "screen, sshd", or "none yet".
  std::string names() const;

 private:
  const DeviceService* find_exact(const std::string& name, int port) const;
  int allocate_port() const;
  std::vector<DeviceService> services_;
};

}  // namespace sb::relay
