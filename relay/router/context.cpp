#include "relay/router/context.hpp"

namespace sb::relay {

bool Context::admit_source(const std::string& addr) {
  std::lock_guard lock(sources_mu_);
  int& count = unauthenticated_by_source_[addr];
  if (count >= limits.max_unauthenticated_per_source) return false;
  ++count;
  return true;
}

void Context::leave_source(const std::string& addr) {
  std::lock_guard lock(sources_mu_);
  auto it = unauthenticated_by_source_.find(addr);
  if (it != unauthenticated_by_source_.end() && --it->second <= 0)
    unauthenticated_by_source_.erase(it);
}

}  // namespace sb::relay
