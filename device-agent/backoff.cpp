#include "device-agent/backoff.hpp"

#include <algorithm>

#include "common/util.hpp"

namespace sb::agent {

Backoff::Backoff(ms initial, ms max, std::function<double()> random01)
    : initial_(std::max(initial, ms(1))),
      max_(std::max(max, initial_)),
      random01_(std::move(random01)) {
  if (!random01_)
    random01_ = [] { return static_cast<double>(random_below(1u << 30)) / double(1u << 30); };
}

Backoff::ms Backoff::next() {
  auto base = initial_;
  for (int i = 0; i < failures_ && base < max_; ++i) {
    if (base > max_ / 2) {  // doubling would pass the cap (or overflow)
      base = max_;
      break;
    }
    base *= 2;
  }
  base = std::min(base, max_);
  if (failures_ < 64) ++failures_;
  auto half = base / 2;
  return half + ms(static_cast<ms::rep>(random01_() * static_cast<double>((base - half).count())));
}

}  // namespace sb::agent
