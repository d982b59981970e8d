// One log line for each refusal: what was refused, why, what the peer asked for, and who asked
// (operator, key fingerprint, source address). A peer may repeat a refusal as fast as it likes
// (key offers, channel opens, env requests, new connections), so the same refusal from the same
// source is logged once per interval: the next line of it says how many were held back, and
// summarize() reports those whose source went quiet. Thread-safe: every reactor logs here.
#pragma once
#include <chrono>
#include <string>
#include <string_view>

#include "common/log_throttle.hpp"

namespace sb::relay {

struct Refusal {
  std::string_view what;    // what was refused: "auth", "attach", "channel", "exec", "env", ...
  std::string_view reason;  // why, in fixed words (two refusals are "the same" by what, reason
                            // and source)
  std::string_view target;  // what the peer asked for (a user name, "482913075+ro"): quoted
  std::string_view fingerprint;         // the key offered or authenticated; "" if none yet
  std::string_view source;              // the peer's address
  std::string_view operator_name = {};  // once the key is known to be an operator's
  std::string detail = {};  // particulars for this one line, already safe (quote_log_text)
};

class RefusalLog {
 public:
  using Clock = LogThrottle::Clock;
  explicit RefusalLog(std::chrono::milliseconds interval = std::chrono::seconds(10))
      : throttle_(interval) {}

  void log(const Refusal& refusal, Clock::time_point now = Clock::now());
  // One line per refusal held back whose source has been quiet for an interval (the relay
  // calls this every few seconds).
  void summarize(Clock::time_point now = Clock::now());

  // `refused WHAT "TARGET" operator=NAME fp=FP from=SOURCE: REASON (DETAIL)`.
  static std::string format(const Refusal& refusal);

 private:
  LogThrottle throttle_;
};

}  // namespace sb::relay
