// A session ID kept through a network blip: the resume token, the router's bookkeeping of held
// sessions (hold, resume with the proof, rotation, expiry, takeover of a live tunnel), the
// bounded screen kept for the operators, and the messages that carry the resume.
#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>

#include "device-agent/relay_message.hpp"
#include "keys/keys.hpp"
#include "relay/bridge/screen_replay.hpp"
#include "relay/device/device_messages.hpp"
#include "relay/router/router.hpp"

namespace sb::relay {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// The router never calls into a device: a handle sharing ownership of an int stands in.
std::shared_ptr<DeviceTunnel> stand_in_device() {
  auto owner = std::make_shared<int>(0);
  return std::shared_ptr<DeviceTunnel>(owner, reinterpret_cast<DeviceTunnel*>(owner.get()));
}

TEST(ResumeToken, Is256BitsOfBase32AndUnique) {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    std::string token = keys::generate_resume_token();
    EXPECT_TRUE(keys::looks_like_resume_token(token)) << token;
    EXPECT_EQ(token.size(), 4u + 52u);  // "sbr_" + ceil(256 / 5)
    seen.insert(token);
  }
  EXPECT_EQ(seen.size(), 200u);
}

TEST(ResumeToken, ShapeIsChecked) {
  std::string token = keys::generate_resume_token();
  EXPECT_FALSE(keys::looks_like_resume_token(""));
  EXPECT_FALSE(keys::looks_like_resume_token(token.substr(1)));
  EXPECT_FALSE(keys::looks_like_resume_token(token + "a"));
  EXPECT_FALSE(keys::looks_like_resume_token("sbe_" + token.substr(4)));
  std::string upper = token;
  upper[10] = 'A';
  EXPECT_FALSE(keys::looks_like_resume_token(upper));
  EXPECT_FALSE(keys::looks_like_enrollment_token(token));
  // Only the hash is kept: 64 hex digits, never the token.
  EXPECT_EQ(keys::hash_token(token).size(), 64u);
  EXPECT_NE(keys::hash_token(token), token);
}

class HeldSessions : public ::testing::Test {
 protected:
  void SetUp() override {
    first_ = stand_in_device();
    id_ = router_.issue(first_);
    token_ = keys::generate_resume_token();
    router_.arm_resume(id_, kFp, keys::hash_token(token_));
  }
  bool hold(Clock::time_point now = Clock::now(), std::string screen = "screen") {
    return router_.hold(id_, first_.get(), now + 10s, std::move(screen), "tunnel dropped", now);
  }
  ResumeOutcome resume(const std::string& token, std::shared_ptr<DeviceTunnel> device,
                       const std::string& new_token, const std::string& fp = kFp,
                       Clock::time_point now = Clock::now()) {
    return router_.resume(id_, fp, keys::hash_token(token), device, keys::hash_token(new_token),
                          now);
  }

  static constexpr const char* kFp = "SHA256:device-key";
  Router router_;
  std::shared_ptr<DeviceTunnel> first_;
  std::string id_;
  std::string token_;
};

TEST_F(HeldSessions, HeldIdStaysReservedAndSaysSo) {
  ASSERT_TRUE(hold());
  auto live = router_.lookup_id(id_);
  ASSERT_TRUE(live);
  EXPECT_TRUE(live->held);
  EXPECT_TRUE(live->device.expired());
  EXPECT_EQ(router_.find(id_), nullptr);
  EXPECT_EQ(router_.live(), 1u);
  EXPECT_EQ(router_.held(), 1u);
  // Held twice: no (it is no longer the tunnel's to hold).
  EXPECT_FALSE(hold());
}

TEST_F(HeldSessions, UnarmedSessionsAreNotHeld) {
  auto device = stand_in_device();
  auto other = router_.issue(device);
  EXPECT_FALSE(router_.hold(other, device.get(), Clock::now() + 10s, "", "x"));
  EXPECT_FALSE(router_.lookup_id(other)->held);
}

TEST_F(HeldSessions, ResumeWithKeyAndTokenTakesTheSessionBackAndRotatesTheToken) {
  auto t0 = Clock::now();
  ASSERT_TRUE(hold(t0, "recent output"));
  auto second = stand_in_device();
  std::string next = keys::generate_resume_token();
  auto outcome = resume(token_, second, next, kFp, t0 + 1500ms);
  EXPECT_EQ(outcome.status, ResumeStatus::kResumed);
  EXPECT_EQ(outcome.previous, nullptr);
  EXPECT_EQ(outcome.away, 1500ms);
  EXPECT_EQ(router_.find(id_), second);
  EXPECT_FALSE(router_.lookup_id(id_)->held);
  EXPECT_EQ(router_.take_screen(id_), "recent output");
  EXPECT_EQ(router_.take_screen(id_), "");  // taken once

  // The old token served once; the new one works for the next blip.
  ASSERT_TRUE(router_.hold(id_, second.get(), Clock::now() + 10s, "", "x"));
  EXPECT_EQ(resume(token_, stand_in_device(), keys::generate_resume_token()).status,
            ResumeStatus::kWrongProof);
  EXPECT_EQ(resume(next, stand_in_device(), keys::generate_resume_token()).status,
            ResumeStatus::kResumed);
}

TEST_F(HeldSessions, WrongTokenOrWrongKeyIsRefusedAndTheHoldStays) {
  ASSERT_TRUE(hold());
  auto intruder = stand_in_device();
  EXPECT_EQ(resume(keys::generate_resume_token(), intruder, keys::generate_resume_token()).status,
            ResumeStatus::kWrongProof);
  EXPECT_EQ(resume(token_, intruder, keys::generate_resume_token(), "SHA256:other").status,
            ResumeStatus::kWrongProof);
  EXPECT_TRUE(router_.lookup_id(id_)->held);
  // The rightful agent still gets it.
  EXPECT_EQ(resume(token_, stand_in_device(), keys::generate_resume_token()).status,
            ResumeStatus::kResumed);
}

TEST_F(HeldSessions, UnknownOrExpiredIsRefused) {
  auto t0 = Clock::now();
  ASSERT_TRUE(hold(t0));
  EXPECT_EQ(
      router_.resume("123456789", kFp, keys::hash_token(token_), stand_in_device(), "h", t0).status,
      ResumeStatus::kUnknown);
  // Past the grace but before the sweep: already refused.
  EXPECT_EQ(resume(token_, stand_in_device(), keys::generate_resume_token(), kFp, t0 + 10s).status,
            ResumeStatus::kUnknown);
}

TEST_F(HeldSessions, ExpiryReleasesOnlyWhatRanOut) {
  auto t0 = Clock::now();
  ASSERT_TRUE(hold(t0));
  auto device = stand_in_device();
  auto live_id = router_.issue(device);
  EXPECT_TRUE(router_.expire_held(t0 + 9s).empty());
  auto expired = router_.expire_held(t0 + 10s);
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].id, id_);
  EXPECT_EQ(expired[0].fingerprint, kFp);
  EXPECT_EQ(expired[0].interrupted, "tunnel dropped");
  EXPECT_FALSE(router_.lookup_id(id_));
  EXPECT_EQ(router_.find(live_id), device);
  EXPECT_EQ(router_.held(), 0u);
  EXPECT_EQ(router_.held_screen_bytes(), 0u);
}

TEST_F(HeldSessions, DropHeldForTheAdminAndAtStop) {
  EXPECT_FALSE(router_.drop_held(id_));  // live, not held
  ASSERT_TRUE(hold());
  auto dropped = router_.drop_held(id_);
  ASSERT_TRUE(dropped);
  EXPECT_EQ(dropped->id, id_);
  EXPECT_FALSE(router_.lookup_id(id_));
  EXPECT_TRUE(router_.drop_all_held().empty());
}

TEST_F(HeldSessions, ResumeOfALiveTunnelTakesItOverAndTheOldOneCannotReleaseIt) {
  // A NAT rebinding: the agent is back before the relay noticed the old connection die.
  auto second = stand_in_device();
  auto outcome = resume(token_, second, keys::generate_resume_token());
  EXPECT_EQ(outcome.status, ResumeStatus::kResumed);
  EXPECT_EQ(outcome.previous, first_);
  EXPECT_FALSE(router_.release_owned(id_, first_.get()));
  EXPECT_FALSE(router_.hold(id_, first_.get(), Clock::now() + 10s, "", "x"));
  EXPECT_EQ(router_.find(id_), second);
  EXPECT_TRUE(router_.release_owned(id_, second.get()));
  EXPECT_FALSE(router_.lookup_id(id_));
}

TEST(ScreenReplay, KeepsTheLast64KiBAndNeverMoreThanTwice) {
  ScreenReplay replay;
  EXPECT_TRUE(replay.empty());
  replay.append("hello ");
  replay.append("world");
  EXPECT_EQ(replay.recent(), "hello world");
  std::string chunk(1000, 'x');
  for (int i = 0; i < 500; ++i) {
    chunk[0] = static_cast<char>('a' + i % 26);
    replay.append(chunk);
    EXPECT_LE(replay.held(), 2 * ScreenReplay::kBytes);
  }
  std::string recent = replay.recent();
  EXPECT_EQ(recent.size(), ScreenReplay::kBytes);
  // The newest byte is the last appended; the oldest is exactly kBytes back.
  EXPECT_EQ(recent.back(), 'x');
  EXPECT_EQ(recent[recent.size() - 1000], static_cast<char>('a' + 499 % 26));
}

TEST(ResumeMessages, HelloCarriesTheResumeRequest) {
  std::string token = keys::generate_resume_token();
  nlohmann::json hello{{"type", "hello"},
                       {"kind", "adhoc"},
                       {"info", nlohmann::json::object()},
                       {"resume", {{"session", "482 913 075"}, {"token", token}}}};
  auto parsed = parse_hello(hello);
  ASSERT_TRUE(parsed.hello) << parsed.error;
  EXPECT_TRUE(parsed.hello->resume_asked);
  EXPECT_EQ(parsed.hello->resume_session, "482913075");
  EXPECT_EQ(parsed.hello->resume_token, token);

  hello["resume"] = {{"session", "42"}, {"token", token}};
  parsed = parse_hello(hello);
  ASSERT_TRUE(parsed.hello);
  EXPECT_TRUE(parsed.hello->resume_asked);
  EXPECT_TRUE(parsed.hello->resume_session.empty());  // malformed: refused, not an error
  hello["resume"] = "nonsense";
  parsed = parse_hello(hello);
  ASSERT_TRUE(parsed.hello);
  EXPECT_TRUE(parsed.hello->resume_session.empty());
  hello.erase("resume");
  EXPECT_FALSE(parse_hello(hello).hello->resume_asked);
}

TEST(ResumeMessages, AgentReadsTokenAndOutcome) {
  std::string token = keys::generate_resume_token();
  auto read = agent::read_relay_message(
      {{"type", "session"}, {"id", "482913075"}, {"resume_token", token}, {"resumed", true}});
  EXPECT_EQ(read.resume_token, token);
  EXPECT_TRUE(read.resumed);
  EXPECT_TRUE(read.resume_refused.empty());
  read = agent::read_relay_message({{"type", "session"},
                                    {"id", "123456789"},
                                    {"resume_token", "not-a-token"},
                                    {"resumed", "yes"},
                                    {"resume_refused", "no longer held"}});
  EXPECT_TRUE(read.resume_token.empty());
  EXPECT_FALSE(read.resumed);
  EXPECT_EQ(read.resume_refused, "no longer held");
}

}  // namespace
}  // namespace sb::relay
