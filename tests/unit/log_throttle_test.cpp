// LogThrottle: one line per key and interval, with the count of what was held back.
#include "common/log_throttle.hpp"

#include <gtest/gtest.h>

namespace sb {
namespace {

using namespace std::chrono_literals;
using Clock = LogThrottle::Clock;

TEST(LogThrottle, FirstEventOfAKeyIsLogged) {
  LogThrottle throttle(10s);
  const auto t0 = Clock::now();
  EXPECT_EQ(throttle.admit("203.0.113.7", t0), 0u);
  EXPECT_EQ(throttle.admit("198.51.100.1", t0), 0u) << "keys are independent";
}

TEST(LogThrottle, RepeatsWithinTheIntervalAreCountedNotLogged) {
  LogThrottle throttle(10s);
  const auto t0 = Clock::now();
  ASSERT_EQ(throttle.admit("a", t0), 0u);
  for (int i = 1; i <= 56000; ++i) EXPECT_FALSE(throttle.admit("a", t0 + 1ms * (i % 9000)));
  EXPECT_EQ(throttle.admit("a", t0 + 10s), 56000u) << "the next line says how many were held";
  EXPECT_FALSE(throttle.admit("a", t0 + 11s));
}

TEST(LogThrottle, DrainReportsHeldCountsOnceTheIntervalPassed) {
  LogThrottle throttle(10s);
  const auto t0 = Clock::now();
  throttle.admit("a", t0);
  throttle.admit("a", t0 + 1s);
  throttle.admit("a", t0 + 2s);
  throttle.admit("b", t0);
  EXPECT_TRUE(throttle.drain(t0 + 5s).empty()) << "interval not over";
  auto held = throttle.drain(t0 + 10s);
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held[0].first, "a");
  EXPECT_EQ(held[0].second, 2u);
  EXPECT_TRUE(throttle.drain(t0 + 20s).empty()) << "reported once";
  EXPECT_EQ(throttle.admit("b", t0 + 30s), 0u) << "a quiet key starts afresh";
}

TEST(LogThrottle, ManyKeysStayBounded) {
  LogThrottle throttle(10s, 3);
  const auto t0 = Clock::now();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(throttle.admit("k" + std::to_string(i), t0), 0u);
  for (int i = 3; i < 1000; ++i) EXPECT_FALSE(throttle.admit("k" + std::to_string(i), t0));
  auto held = throttle.drain(t0 + 10s);
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held[0].first, "");
  EXPECT_EQ(held[0].second, 997u);
}

}  // namespace
}  // namespace sb
