// UnansweredAuth: telling a request libssh dropped (no answer will ever come) from packets that
// need no answer.
#include "relay/connection/unanswered_auth.hpp"

#include <gtest/gtest.h>

namespace sb::relay {
namespace {

using namespace std::chrono_literals;
using Clock = UnansweredAuth::Clock;

TEST(UnansweredAuth, TheKeyExchangeIsNotWatched) {
  UnansweredAuth watch(250ms);
  const auto t0 = Clock::now();
  auto check = watch.check(3, t0);  // KEXINIT, ECDH_INIT, NEWKEYS: no callback sees them
  EXPECT_FALSE(check.dropped);
  EXPECT_FALSE(check.again);
  EXPECT_FALSE(watch.check(3, t0 + 10s).dropped) << "an idle client waits for the timeout";
}

TEST(UnansweredAuth, NothingPendingWhileEveryPacketReachedACallback) {
  UnansweredAuth watch(250ms);
  const auto t0 = Clock::now();
  watch.answered(4);  // the service request
  auto check = watch.check(4, t0);
  EXPECT_FALSE(check.dropped);
  EXPECT_FALSE(check.again);
  watch.answered(5);  // a request, answered in the callback
  check = watch.check(5, t0 + 10s);
  EXPECT_FALSE(check.dropped) << "a client may think for as long as it likes after an answer";
  EXPECT_FALSE(check.again);
}

TEST(UnansweredAuth, ASilentPacketIsADroppedRequestOnceTheGraceHasPassed) {
  UnansweredAuth watch(250ms);
  const auto t0 = Clock::now();
  watch.answered(8);
  auto check = watch.check(9, t0);  // a packet no callback saw
  EXPECT_FALSE(check.dropped);
  ASSERT_TRUE(check.again);
  EXPECT_EQ(*check.again, t0 + 250ms);
  EXPECT_FALSE(watch.check(9, t0 + 249ms).dropped);
  EXPECT_TRUE(watch.check(9, t0 + 250ms).dropped);
}

TEST(UnansweredAuth, APacketFollowedByItsRequestIsNotADrop) {
  UnansweredAuth watch(250ms);
  const auto t0 = Clock::now();
  watch.answered(8);
  ASSERT_TRUE(watch.check(9, t0).again);  // an IGNORE, read alone
  watch.answered(10);                     // then the request it came with
  auto check = watch.check(10, t0 + 100ms);
  EXPECT_FALSE(check.dropped);
  EXPECT_FALSE(check.again);
  EXPECT_FALSE(watch.check(10, t0 + 10s).dropped);
}

TEST(UnansweredAuth, TheGraceCountsFromTheLastPacket) {
  UnansweredAuth watch(250ms);
  const auto t0 = Clock::now();
  watch.answered(8);
  ASSERT_TRUE(watch.check(9, t0).again);
  auto check = watch.check(11, t0 + 200ms);  // the client is still sending (a re-key, say)
  EXPECT_FALSE(check.dropped);
  ASSERT_TRUE(check.again);
  EXPECT_EQ(*check.again, t0 + 450ms);
  EXPECT_FALSE(watch.check(11, t0 + 300ms).dropped);
  EXPECT_TRUE(watch.check(11, t0 + 450ms).dropped);
}

TEST(UnansweredAuth, ADropInTheReadOfTheServiceRequestIsCaught) {
  UnansweredAuth watch(250ms);
  const auto t0 = Clock::now();
  // NEWKEYS, the service request and a dropped request, all in one busy read.
  watch.answered(4);
  auto check = watch.check(5, t0);
  ASSERT_TRUE(check.again);
  EXPECT_TRUE(watch.check(5, *check.again).dropped);
}

TEST(UnansweredAuth, AnAnswerCountsEveryPacketBeforeIt) {
  UnansweredAuth watch(250ms);
  const auto t0 = Clock::now();
  // Several packets in one read: the last reached a callback, so those before it needed none.
  watch.answered(12);
  EXPECT_FALSE(watch.check(12, t0).again);
  EXPECT_FALSE(watch.check(12, t0 + 1s).dropped);
}

}  // namespace
}  // namespace sb::relay
