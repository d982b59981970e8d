// JanitorPolicy: when the relay declares a device tunnel dead, and when an unfinished
// handshake is dropped. Pure logic; every time point is constructed arithmetically.
#include "relay/device/janitor_policy.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <optional>

namespace sb::relay {
namespace {

using namespace std::chrono_literals;
using Clock = JanitorPolicy::Clock;

// An arbitrary, fixed origin far from the clock's epoch.
const Clock::time_point kT0 = Clock::time_point{} + 1000h;

TEST(JanitorPolicy, NotJudgedBeforeTheFirstPing) {
  EXPECT_EQ(JanitorPolicy::check(std::nullopt, kT0), Liveness::kAlive);
  EXPECT_EQ(JanitorPolicy::check(std::nullopt, kT0 - 24h), Liveness::kAlive);
}

TEST(JanitorPolicy, AnyPacketAfterThePingIsAnAnswer) {
  EXPECT_EQ(JanitorPolicy::check(kT0, kT0 + 1ns), Liveness::kAlive);
  EXPECT_EQ(JanitorPolicy::check(kT0, kT0 + 30s), Liveness::kAlive);
}

TEST(JanitorPolicy, NothingSinceThePingIsDead) {
  EXPECT_EQ(JanitorPolicy::check(kT0, kT0), Liveness::kDead);
  EXPECT_EQ(JanitorPolicy::check(kT0, kT0 - 1ns), Liveness::kDead);
  EXPECT_EQ(JanitorPolicy::check(kT0, kT0 - 24h), Liveness::kDead);
}

// The relay checks every tunnel at t = k x interval: a tunnel is judged by the previous check's
// ping, then pinged again. A live agent answers each ping after `rtt` and may send packets of
// its own at any moment; at `freeze_at` it stops sending anything. Returns the check that
// declares it dead, as the time from its last packet to that check.
std::optional<Clock::duration> time_to_verdict(std::chrono::milliseconds interval,
                                               Clock::duration rtt, Clock::time_point freeze_at,
                                               Clock::time_point own_packet_at, int ticks) {
  std::optional<Clock::time_point> last_ping;
  Clock::time_point last_inbound = kT0;  // the hello
  auto take = [&](Clock::time_point t) {
    if (t < freeze_at) last_inbound = std::max(last_inbound, t);
  };
  for (int k = 1; k <= ticks; ++k) {
    Clock::time_point now = kT0 + k * interval;
    // Packets that arrived since the previous check, in time order, count before this check.
    if (own_packet_at <= now) take(own_packet_at);
    if (last_ping && *last_ping + rtt <= now) take(*last_ping + rtt);
    if (JanitorPolicy::check(last_ping, last_inbound) == Liveness::kDead) return now - last_inbound;
    last_ping = now;
  }
  return std::nullopt;
}

TEST(JanitorPolicy, HealthyTunnelIsNeverDeclaredDead) {
  for (auto rtt : {Clock::duration(1ns), Clock::duration(1ms), Clock::duration(2500ms),
                   Clock::duration(9999ms)}) {
    SCOPED_TRACE(std::chrono::duration_cast<std::chrono::milliseconds>(rtt).count());
    EXPECT_FALSE(time_to_verdict(10s, rtt, kT0 + 24h, kT0 + 24h, 1000).has_value());
  }
}

TEST(JanitorPolicy, FreezeAtAnyPhaseIsDeadWithinTwoIntervals) {
  // The brief's promise: noticed within 2 x the check interval of the last sign of life,
  // whatever the phase of the freeze and of the agent's own packets (its pings, data).
  for (auto interval : {100ms, 1000ms, 30000ms}) {
    for (auto rtt : {Clock::duration(1ns), Clock::duration(1ms), Clock::duration(interval / 3)}) {
      for (int phase = 0; phase < 20; ++phase) {
        const auto offset = interval * phase / 20;
        SCOPED_TRACE(testing::Message() << "interval=" << interval.count()
                                        << "ms rtt=" << std::chrono::nanoseconds(rtt).count()
                                        << "ns phase=" << phase << "/20");
        // Freeze in the middle of interval 5, with the agent's own last packet just before.
        const auto freeze = kT0 + 5 * interval + offset + 1ns;
        auto verdict = time_to_verdict(interval, rtt, freeze, freeze - 1ns, 20);
        ASSERT_TRUE(verdict.has_value());
        EXPECT_LE(*verdict, 2 * interval);
        EXPECT_GT(*verdict, Clock::duration(0));
      }
    }
  }
}

TEST(JanitorPolicy, FrozenRightAfterAnsweringIsDeadTwoChecksLater) {
  const auto interval = 1000ms;
  const auto freeze = kT0 + 3 * interval + 2ms;  // after answering check 3's ping (rtt 1 ms)
  auto verdict = time_to_verdict(interval, 1ms, freeze, kT0 + 24h, 20);
  ASSERT_TRUE(verdict.has_value());
  EXPECT_EQ(*verdict, 2 * interval - 1ms);  // check 5 sees no answer to check 4's ping
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
