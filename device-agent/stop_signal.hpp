// A stop request that may come from another thread than the agent's (the Windows service
// control handler runs on the service control manager's thread, not the io_context's).
#pragma once
#include <functional>
#include <mutex>
#include <utility>

namespace sb::agent {

class StopSignal {
 public:
  // Thread-safe; later requests do nothing. The handler runs under the lock, so that once
  // set_handler({}) has returned the old handler is not running and never will: it must be
  // short (post to an io_context) and must not call back into this object.
  void request() {
    std::lock_guard lock(mutex_);
    if (requested_) return;
    requested_ = true;
    if (handler_) handler_();
  }

  // A handler set after the request runs at once. An empty one detaches the previous handler
  // (the agent does so before it goes away).
  void set_handler(std::function<void()> handler) {
    {
      std::lock_guard lock(mutex_);
      if (!requested_) {
        handler_ = std::move(handler);
        return;
      }
    }
    if (handler) handler();
  }

  bool requested() const {
    std::lock_guard lock(mutex_);
    return requested_;
  }

 private:
  mutable std::mutex mutex_;
  std::function<void()> handler_;
  bool requested_ = false;
};

}  // namespace sb::agent
