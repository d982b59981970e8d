// JanitorPolicy: when the relay declares a device tunnel dead, and when an unfinished
// handshake is dropped. Pure logic; every time point is constructed arithmetically.
#include "relay/janitor_policy.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>

namespace sb::relay {
namespace {

using namespace std::chrono_literals;
using Clock = JanitorPolicy::Clock;

// An arbitrary, fixed origin far from the clock's epoch.
const Clock::time_point kT0 = Clock::time_point{} + 1000h;

TEST(JanitorPolicy, AliveRightAfterContact) {
  JanitorPolicy policy{10s};
  EXPECT_EQ(policy.check(kT0, kT0), Liveness::kAlive);
  EXPECT_EQ(policy.check(kT0, kT0 + 1ns), Liveness::kAlive);
  EXPECT_EQ(policy.check(kT0, kT0 + 1ms), Liveness::kAlive);
  EXPECT_EQ(policy.check(kT0, kT0 + 10s), Liveness::kAlive);
}

TEST(JanitorPolicy, AliveAtExactlyOneAndAHalfIntervals) {
  JanitorPolicy policy{10s};
  EXPECT_EQ(policy.check(kT0, kT0 + 15s - 1ns), Liveness::kAlive);
  EXPECT_EQ(policy.check(kT0, kT0 + 15s), Liveness::kAlive);
}

TEST(JanitorPolicy, DeadJustPastOneAndAHalfIntervals) {
  JanitorPolicy policy{10s};
  EXPECT_EQ(policy.check(kT0, kT0 + 15s + 1ns), Liveness::kDead);
  EXPECT_EQ(policy.check(kT0, kT0 + 15s + 1ms), Liveness::kDead);
  EXPECT_EQ(policy.check(kT0, kT0 + 20s), Liveness::kDead);
  EXPECT_EQ(policy.check(kT0, kT0 + 24h), Liveness::kDead);
}

TEST(JanitorPolicy, BoundaryScalesWithInterval) {
  for (auto interval : {2ms, 100ms, 1000ms, 30000ms, 3600000ms}) {
    SCOPED_TRACE(interval.count());
    JanitorPolicy policy{interval};
    auto limit = interval * 3 / 2;  // exact: every interval here is even
    EXPECT_EQ(policy.check(kT0, kT0 + limit), Liveness::kAlive);
    EXPECT_EQ(policy.check(kT0, kT0 + limit + 1ns), Liveness::kDead);
    EXPECT_EQ(policy.check(kT0, kT0 + interval), Liveness::kAlive);
    EXPECT_EQ(policy.check(kT0, kT0 + 2 * interval), Liveness::kDead);
  }
}

TEST(JanitorPolicy, OddIntervalBoundaryWithinAMillisecond) {
  // 1.5 x 1001 ms = 1501.5 ms: alive at 1501 ms, dead from 1502 ms on.
  JanitorPolicy policy{1001ms};
  EXPECT_EQ(policy.check(kT0, kT0 + 1501ms), Liveness::kAlive);
  EXPECT_EQ(policy.check(kT0, kT0 + 1502ms), Liveness::kDead);
}

TEST(JanitorPolicy, InboundTrafficNewerThanNowCountsAsAlive) {
  // A packet stamped between the janitor reading `now` and checking must not kill the tunnel.
  JanitorPolicy policy{10s};
  EXPECT_EQ(policy.check(kT0 + 1ms, kT0), Liveness::kAlive);
}

// The relay pings every tunnel at each check (t = k x interval); a healthy agent answers after
// `rtt`. The agent freezes right after answering the ping of check `freeze_tick`. Returns the
// first check at which the tunnel is declared dead, and how long after its last answer.
struct Verdict {
  int tick;
  Clock::duration since_last_answer;
};
std::optional<Verdict> simulate(std::chrono::milliseconds interval, Clock::duration rtt,
                                int freeze_tick, int ticks) {
  JanitorPolicy policy{interval};
  Clock::time_point last_inbound = kT0;  // the hello
  for (int k = 1; k <= ticks; ++k) {
    Clock::time_point now = kT0 + k * interval;
    if (policy.check(last_inbound, now) == Liveness::kDead) return Verdict{k, now - last_inbound};
    // The check sends a ping; a live agent answers it.
    if (k <= freeze_tick) last_inbound = now + rtt;
  }
  return std::nullopt;
}

TEST(JanitorPolicy, HealthyTunnelIsNeverDeclaredDead) {
  for (auto rtt : {Clock::duration(0ns), Clock::duration(1ms), Clock::duration(2500ms),
                   Clock::duration(4999ms)}) {
    SCOPED_TRACE(std::chrono::duration_cast<std::chrono::milliseconds>(rtt).count());
    EXPECT_FALSE(simulate(10s, rtt, /*freeze_tick=*/1000, /*ticks=*/1000).has_value());
  }
}

TEST(JanitorPolicy, FrozenTunnelIsDeadAtSecondCheckWithinTwoIntervals) {
  for (auto interval : {100ms, 1000ms, 10000ms, 30000ms}) {
    for (auto rtt : {Clock::duration(0ns), Clock::duration(1ns), Clock::duration(1ms),
                     Clock::duration(interval / 4), Clock::duration(interval / 2 - 1ms)}) {
      for (int freeze : {0, 1, 7}) {
        SCOPED_TRACE(testing::Message() << "interval=" << interval.count()
                                        << "ms rtt=" << std::chrono::nanoseconds(rtt).count()
                                        << "ns freeze_tick=" << freeze);
        auto verdict = simulate(interval, rtt, freeze, freeze + 10);
        ASSERT_TRUE(verdict.has_value());
        // Frozen right after answering the ping of check `freeze` (or right after the hello):
        // the next check still sees a fresh answer, the one after closes the tunnel.
        EXPECT_EQ(verdict->tick, freeze + 2);
        EXPECT_LE(verdict->since_last_answer, 2 * interval);
        EXPECT_GT(verdict->since_last_answer, interval * 3 / 2);
      }
    }
  }
}

TEST(JanitorPolicy, FreezeAtAnyPhaseIsDeadWithinTwoAndAHalfIntervals) {
  // Last traffic at an arbitrary moment between two checks (not a ping answer), then nothing.
  // The first check more than 1.5 intervals later closes the tunnel: at most 2.5 intervals after
  // that traffic, and exactly at 2 intervals when the traffic coincided with a check.
  const auto interval = 1000ms;
  JanitorPolicy policy{interval};
  for (auto phase = 0ms; phase < interval; phase += 50ms) {
    SCOPED_TRACE(phase.count());
    Clock::time_point last = kT0 + 5 * interval + phase;
    int dead_tick = -1;
    for (int k = 6; k < 20 && dead_tick < 0; ++k)
      if (policy.check(last, kT0 + k * interval) == Liveness::kDead) dead_tick = k;
    ASSERT_GE(dead_tick, 0);
    auto elapsed = kT0 + dead_tick * interval - last;
    EXPECT_GT(elapsed, interval * 3 / 2);
    EXPECT_LE(elapsed, interval * 5 / 2);
    if (phase == 0ms) {
      EXPECT_EQ(elapsed, 2 * interval);
    }
  }
}

TEST(JanitorPolicy, HandshakeExpiresOnlyPastTheLimit) {
  const auto limit = 20000ms;
  EXPECT_FALSE(JanitorPolicy::handshake_expired(kT0, kT0, limit));
  EXPECT_FALSE(JanitorPolicy::handshake_expired(kT0, kT0 + 1ms, limit));
  EXPECT_FALSE(JanitorPolicy::handshake_expired(kT0, kT0 + limit - 1ns, limit));
  EXPECT_FALSE(JanitorPolicy::handshake_expired(kT0, kT0 + limit, limit));
  EXPECT_TRUE(JanitorPolicy::handshake_expired(kT0, kT0 + limit + 1ns, limit));
  EXPECT_TRUE(JanitorPolicy::handshake_expired(kT0, kT0 + 24h, limit));
}

TEST(JanitorPolicy, HandshakeClockGoingBackwardsDoesNotExpire) {
  EXPECT_FALSE(JanitorPolicy::handshake_expired(kT0 + 1s, kT0, 100ms));
}

}  // namespace
}  // namespace sb::relay
