// GuessGuard: the guessing penalty falls on the source and key that missed, and on nobody else.
#include "relay/router/guess_guard.hpp"

#include <gtest/gtest.h>

namespace sb::relay {
namespace {

using namespace std::chrono_literals;
using Clock = GuessGuard::Clock;
using std::chrono::milliseconds;

class GuessGuardTest : public ::testing::Test {
 protected:
  GuessGuard guard;  // 5 free misses a minute, then 1 s, 2 s, 4 s ... up to 60 s
  Clock::time_point t0 = Clock::now();

  void miss(int n, const std::string& source, const std::string& key, Clock::time_point when = {}) {
    if (when == Clock::time_point{}) when = t0;
    for (int i = 0; i < n; ++i) guard.record_miss(source, key, when);
  }
};

TEST_F(GuessGuardTest, NobodyIsHeldWithinTheAllowance) {
  miss(4, "10.0.0.1", "key-a");
  EXPECT_EQ(guard.hold_key("key-a", t0), 0ms);
  EXPECT_EQ(guard.refusal_penalty("10.0.0.1", "key-a", t0), 0ms);
  miss(1, "10.0.0.1", "key-a");  // the fifth: still free, the next one pays
  EXPECT_EQ(guard.refusal_penalty("10.0.0.1", "key-a", t0), 1000ms);
}

TEST_F(GuessGuardTest, PenaltyDoublesWithEachFurtherMissUpToTheCap) {
  miss(5, "10.0.0.1", "key-a");
  EXPECT_EQ(guard.refusal_penalty("10.0.0.1", "key-a", t0), 1000ms);
  miss(1, "10.0.0.1", "key-a");
  EXPECT_EQ(guard.refusal_penalty("10.0.0.1", "key-a", t0), 2000ms);
  miss(1, "10.0.0.1", "key-a");
  EXPECT_EQ(guard.refusal_penalty("10.0.0.1", "key-a", t0), 4000ms);
  miss(20, "10.0.0.1", "key-a");
  EXPECT_EQ(guard.refusal_penalty("10.0.0.1", "key-a", t0), 60000ms);
}

TEST_F(GuessGuardTest, AnHonestKeyFromTheGuessingSourceIsNeverHeldBeforeItsLookup) {
  miss(10, "10.0.0.1", "key-a");
  // Same source, another key that never missed: looked up at once (an attach goes through).
  EXPECT_EQ(guard.hold_key("key-b", t0), 0ms);
  // Only if it misses too does its refusal carry the source's penalty.
  EXPECT_EQ(guard.refusal_penalty("10.0.0.1", "key-b", t0), 32000ms);
  // From elsewhere, key-b's refusal is plain.
  EXPECT_EQ(guard.refusal_penalty("10.0.0.2", "key-b", t0), 0ms);
}

TEST_F(GuessGuardTest, TheGuessingKeyIsHeldFromAnySource) {
  miss(6, "10.0.0.1", "key-a");
  EXPECT_EQ(guard.hold_key("key-a", t0), 2000ms);
  EXPECT_EQ(guard.refusal_penalty("192.168.1.9", "key-a", t0), 2000ms);
}

TEST_F(GuessGuardTest, ParallelAttemptsOfAHeldKeyQueueOnePenaltyApart) {
  miss(5, "10.0.0.1", "key-a");
  EXPECT_EQ(guard.hold_key("key-a", t0), 1000ms);
  EXPECT_EQ(guard.hold_key("key-a", t0), 2000ms);
  EXPECT_EQ(guard.hold_key("key-a", t0), 3000ms);
  // Later attempts start from the end of the queue, not from now.
  EXPECT_EQ(guard.hold_key("key-a", t0 + 500ms), 3500ms);
  // Once the queue has drained, an attempt waits one penalty again.
  EXPECT_EQ(guard.hold_key("key-a", t0 + 10s), 1000ms);
}

TEST_F(GuessGuardTest, MissesAreForgivenAfterTheWindow) {
  miss(8, "10.0.0.1", "key-a");
  auto later = t0 + 61s;
  EXPECT_EQ(guard.hold_key("key-a", later), 0ms);
  EXPECT_EQ(guard.refusal_penalty("10.0.0.1", "key-a", later), 0ms);
  guard.prune(later);
  EXPECT_EQ(guard.tracked(), 0u);
}

TEST_F(GuessGuardTest, AQueuedHoldOutlivesTheWindowUntilItHasRun) {
  GuessGuard short_window(GuessGuard::Settings{5, std::chrono::seconds(2), 1000ms, 60000ms});
  for (int i = 0; i < 5; ++i) short_window.record_miss("10.0.0.1", "key-a", t0);
  for (int i = 0; i < 4; ++i) short_window.hold_key("key-a", t0);  // queued until t0 + 4 s
  short_window.prune(t0 + 3s);
  EXPECT_EQ(short_window.hold_key("key-a", t0 + 3s), 2000ms) << "the queue was skipped";
  short_window.prune(t0 + 10s);
  EXPECT_EQ(short_window.tracked(), 0u);
}

}  // namespace
}  // namespace sb::relay
