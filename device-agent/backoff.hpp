// Reconnect delays: exponential, capped, with jitter so a fleet that lost its relay does not
// come back in lockstep.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>

namespace sb::agent {

class Backoff {
 public:
  using ms = std::chrono::milliseconds;
  // random01 returns a value in [0, 1); injectable for tests.
  Backoff(ms initial, ms max, std::function<double()> random01 = {});
  // The next delay: base = min(max, initial * 2^failures), drawn from [base/2, base].
  ms next();
  void reset() { failures_ = 0; }
  int failures() const { return failures_; }

 private:
  ms initial_;
  ms max_;
  std::function<double()> random01_;
  int failures_ = 0;
};

}  // namespace sb::agent
