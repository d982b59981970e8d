// Where `relay` keeps its state, and how the admin verbs find it.
#pragma once
#include <filesystem>
#include <string>

namespace sb::relay {

struct DataDir {
  std::filesystem::path root;
  std::filesystem::path database() const { return root / "relay.db"; }
  std::filesystem::path host_key() const { return root / "ssh_host_ed25519_key"; }
  std::filesystem::path lock_file() const { return root / "relay.lock"; }
  // The admin CLI's way into a running relay (relay/control_server.hpp).
  std::filesystem::path control_socket() const { return root / "control.sock"; }
};

// $SWITCHBOARD_DATA_DIR, else /var/lib/switchboard.
std::string default_data_dir();

// `relay init`: creates the directory (0700, owned by us), the host key (0600) and the
// database; idempotent. Returns the host key's fingerprint.
std::string init_data_dir(const DataDir& dir, bool* created_key);

// Holds an exclusive lock on the data dir for the life of `relay serve`. The lock file holds
// the relay's PID while it runs and is emptied when it ends: a PID found there at start was
// left by a relay that never got to its end (killed, crashed, power lost).
class ServeLock {
 public:
  explicit ServeLock(const DataDir& dir);  // throws std::runtime_error if another relay runs
  ~ServeLock();
  ServeLock(const ServeLock&) = delete;
  ServeLock& operator=(const ServeLock&) = delete;

  bool previous_run_crashed() const { return previous_run_crashed_; }

 private:
  int fd_ = -1;
  bool previous_run_crashed_ = false;
};

}  // namespace sb::relay
