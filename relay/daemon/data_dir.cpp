#include "relay/daemon/data_dir.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <stdexcept>

#include "common/util.hpp"
#include "keys/keys.hpp"
#include "relay/store/store.hpp"

namespace sb::relay {

std::string default_data_dir() {
  const char* env = std::getenv("SWITCHBOARD_DATA_DIR");
  return env && *env ? env : "/var/lib/switchboard";
}

std::string init_data_dir(const DataDir& dir, bool* created_key) {
  ensure_private_dir(dir.root);
  ssh::Key key = keys::load_or_create_private_key(dir.host_key(), created_key);
  store::Db::open(dir.database(), true);
  return keys::fingerprint(key);
}

ServeLock::ServeLock(const DataDir& dir) {
  fd_ = ::open(dir.lock_file().c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0)
    throw std::runtime_error("cannot open " + dir.lock_file().string() + ": " +
                             std::strerror(errno));
  if (flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd_);
    fd_ = -1;
    throw std::runtime_error("another `relay serve` is already running on " + dir.root.string());
  }
  struct stat st {};
  previous_run_crashed_ = ::fstat(fd_, &st) == 0 && st.st_size > 0;
  std::string pid = std::to_string(getpid()) + "\n";
  if (ftruncate(fd_, 0) == 0) (void)!::pwrite(fd_, pid.data(), pid.size(), 0);
}

ServeLock::~ServeLock() {
  if (fd_ < 0) return;
  (void)!ftruncate(fd_, 0);
  ::close(fd_);
}

}  // namespace sb::relay
