// Backoff: reconnect delays double from `initial`, are capped at `max`, and are drawn from
// [base/2, base] with an injectable random source.
#include "device-agent/backoff.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <vector>

namespace sb::agent {
namespace {

using namespace std::chrono_literals;
using ms = Backoff::ms;

std::vector<ms> draws(Backoff& b, int n) {
  std::vector<ms> out;
  for (int i = 0; i < n; ++i) out.push_back(b.next());
  return out;
}

TEST(Backoff, RandomZeroGivesHalfTheBase) {
  Backoff b(100ms, 1600ms, [] { return 0.0; });
  EXPECT_EQ(draws(b, 7), (std::vector<ms>{50ms, 100ms, 200ms, 400ms, 800ms, 800ms, 800ms}));
}

TEST(Backoff, RandomNearOneGivesAlmostTheBase) {
  Backoff b(100ms, 1600ms, [] { return 0.999; });
  const std::vector<ms> bases{100ms, 200ms, 400ms, 800ms, 1600ms, 1600ms};
  for (ms base : bases) {
    SCOPED_TRACE(base.count());
    ms d = b.next();
    EXPECT_LE(d, base);
    // base/2 + 0.999 x base/2, rounded down.
    EXPECT_GE(d, base - base / 500 - 1ms);
  }
}

TEST(Backoff, RandomHalfGivesThreeQuartersOfTheBase) {
  Backoff b(1000ms, 8000ms, [] { return 0.5; });
  EXPECT_EQ(draws(b, 5), (std::vector<ms>{750ms, 1500ms, 3000ms, 6000ms, 6000ms}));
}

TEST(Backoff, DelaysDoubleUntilTheCap) {
  // With the same random value, consecutive delays double exactly until the cap, then stay.
  // (0.25 and bases divisible by 8 keep every draw an exact number of milliseconds.)
  Backoff b(1000ms, 60000ms, [] { return 0.25; });
  std::vector<ms> d = draws(b, 20);
  for (int i = 1; i <= 5; ++i) EXPECT_EQ(d[i], 2 * d[i - 1]) << "draw " << i;
  // 1000 -> 2000 -> ... -> 32000 -> 60000 (capped): base/2 + base/8.
  EXPECT_EQ(d[5], 32000ms / 2 + 32000ms / 8);
  for (std::size_t i = 6; i < d.size(); ++i) EXPECT_EQ(d[i], 37500ms) << "draw " << i;
}

TEST(Backoff, CapThatIsNotAPowerOfTwoMultiple) {
  Backoff b(1000ms, 5000ms, [] { return 0.0; });
  EXPECT_EQ(draws(b, 5), (std::vector<ms>{500ms, 1000ms, 2000ms, 2500ms, 2500ms}));
}

TEST(Backoff, ResetStartsOver) {
  Backoff b(100ms, 10000ms, [] { return 0.0; });
  draws(b, 5);
  EXPECT_EQ(b.failures(), 5);
  b.reset();
  EXPECT_EQ(b.failures(), 0);
  EXPECT_EQ(draws(b, 3), (std::vector<ms>{50ms, 100ms, 200ms}));
  EXPECT_EQ(b.failures(), 3);
}

TEST(Backoff, DefaultRandomStaysWithinHalfBaseAndBase) {
  Backoff b(100ms, 3200ms);
  ms base = 100ms;
  for (int i = 0; i < 12; ++i) {
    ms d = b.next();
    EXPECT_GE(d, base / 2) << "draw " << i;
    EXPECT_LE(d, base) << "draw " << i;
    base = std::min(base * 2, 3200ms);
  }
}

TEST(Backoff, DefaultRandomIsJittered) {
  // Two agents that failed together must not retry in lockstep: at the cap, 200 draws from a
  // 30 s window are not all equal.
  Backoff b(60000ms, 60000ms);
  std::vector<ms> seen = draws(b, 200);
  ms lo = seen[0], hi = seen[0];
  for (ms d : seen) {
    EXPECT_GE(d, 30000ms);
    EXPECT_LE(d, 60000ms);
    lo = std::min(lo, d);
    hi = std::max(hi, d);
  }
  EXPECT_GT(hi - lo, 1000ms);
}

TEST(Backoff, NeverExceedsMax) {
  for (double r : {0.0, 0.3, 0.999999}) {
    Backoff b(7ms, 1234ms, [r] { return r; });
    for (int i = 0; i < 200; ++i) {
      ms d = b.next();
      EXPECT_LE(d, 1234ms);
      EXPECT_GE(d, 3ms);
    }
  }
  Backoff b(7ms, 1234ms);
  for (int i = 0; i < 1000; ++i) EXPECT_LE(b.next(), 1234ms);
}

TEST(Backoff, ManyFailuresDoNotOverflow) {
  // The largest --max-backoff the CLI accepts is 10 years.
  const ms ten_years = std::chrono::duration_cast<ms>(std::chrono::hours(24 * 3653));
  for (double r : {0.0, 0.999999}) {
    Backoff b(1ms, ten_years, [r] { return r; });
    ms previous{0};
    for (int i = 0; i < 10000; ++i) {
      ms d = b.next();
      ASSERT_GE(d, previous) << "delays never shrink before a reset (draw " << i << ")";
      ASSERT_LE(d, ten_years);
      previous = d;
    }
    EXPECT_GE(previous, ten_years / 2);
    EXPECT_GE(b.failures(), 0);
  }
}

TEST(Backoff, HugeMaxDoesNotOverflow) {
  // Backoff takes any duration; doubling towards an enormous cap must not overflow.
  const ms huge = ms::max();
  Backoff b(1ms, huge, [] { return 0.0; });
  ms previous{0};
  for (int i = 0; i < 200; ++i) {
    ms d = b.next();
    ASSERT_GE(d, previous) << "draw " << i;
    ASSERT_LE(d, huge);
    previous = d;
  }
  EXPECT_GE(previous, huge / 4);
}

TEST(Backoff, ZeroOrInvertedBoundsAreSane) {
  // initial 0 is raised to 1 ms; max below initial is raised to initial.
  Backoff zero(0ms, 0ms, [] { return 0.999; });
  for (int i = 0; i < 10; ++i) EXPECT_LE(zero.next(), 1ms);
  Backoff inverted(5000ms, 100ms, [] { return 0.0; });
  EXPECT_EQ(draws(inverted, 3), (std::vector<ms>{2500ms, 2500ms, 2500ms}));
}

}  // namespace
}  // namespace sb::agent
