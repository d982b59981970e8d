#include "relay/connection/unanswered_auth.hpp"

#include <algorithm>

namespace sb::relay {

void UnansweredAuth::answered(std::uint64_t packets) {
  watching_ = true;
  answered_ = std::max(answered_, packets);
  received_ = std::max(received_, packets);
}

UnansweredAuth::Check UnansweredAuth::check(std::uint64_t packets, Clock::time_point now) {
  if (packets > received_) {
    received_ = packets;
    last_arrival_ = now;  // the grace counts from the last packet: the client is still talking
  }
  if (!watching_ || received_ <= answered_) return {};
  const auto due = last_arrival_ + grace_;
  if (now >= due) return {.dropped = true};
  return {.again = due};
}

}  // namespace sb::relay
