// Stopping the relay while a shared terminal streams output to three operators (two read-write,
// one observer), as `systemctl stop` or `restart` does: exit 0 within 5 s, no crash under the
// sanitizers, and every session, attachment and channel ended in the store ("relay stopped").
// Each round is its own test so that a crash names its round; sanitized binaries run 20.
#include <gtest/gtest.h>

#include <chrono>

#include "harness.hpp"
#include "operator_support.hpp"

namespace sb::e2e {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// The sanitized binaries run every round; the others the first five (the rest skip).
constexpr int kRounds = 12;  // bench/soak stops the relay under load for longer
constexpr int kPlainRounds = 5;

class StopUnderLoad : public SharedTerminalTest, public ::testing::WithParamInterface<int> {};

// Every attachment and channel of the session's story has ended, and why.
void expect_all_ended(const json& story) {
  ASSERT_FALSE(story.is_null());
  EXPECT_EQ(story["end_reason"], "relay stopped") << story.dump(2);
  EXPECT_FALSE(story["attachments"].empty()) << story.dump(2);
  for (const auto& a : story["attachments"]) {
    EXPECT_FALSE(a["ended"].is_null()) << a.dump(2);
    EXPECT_NE(a["end_reason"].dump().find("relay stopped"), std::string::npos) << a.dump(2);
    for (const auto& c : a["channels"]) EXPECT_FALSE(c["ended"].is_null()) << c.dump(2);
  }
}

TEST_P(StopUnderLoad, SigtermWhileASharedTerminalStreamsExitsCleanly) {
  if (GetParam() >= kPlainRounds && !sanitized_binaries())
    GTEST_SKIP() << "rounds past " << kPlainRounds << " run with the sanitized binaries only";
  start_device({"alice", "bob", "carol"});
  open_terminal("alice");
  open_terminal("bob");
  open_terminal("carol", "+ro");
  type("alice", "seq 1 100000");
  ASSERT_TRUE(term("carol").wait_for_output("2000\r\n", 20s)) << term("carol").err();

  const auto stop_started = std::chrono::steady_clock::now();
  const int code = relay().stop();
  const auto took = std::chrono::steady_clock::now() - stop_started;
  EXPECT_EQ(code, 0) << relay().process().err();
  EXPECT_LT(took, 5s) << relay().process().err();
  EXPECT_NE(relay().process().err().find("relay stopped"), std::string::npos);

  // The operators were told and let go; the agent noticed and keeps trying.
  for (const char* name : {"alice", "bob", "carol"})
    EXPECT_TRUE(term(name).wait(10s).has_value()) << name << " still connected";
  EXPECT_TRUE(agent().running());
  expect_all_ended(relay().admin_json({"session", "show", id_}));
  EXPECT_TRUE(relay().sessions(true).empty()) << relay().sessions(true).dump(2);
  EXPECT_TRUE(relay().tunnel_keys().empty()) << relay().tunnel_keys().dump(2);
}

INSTANTIATE_TEST_SUITE_P(Round, StopUnderLoad, ::testing::Range(0, kRounds));

}  // namespace
}  // namespace sb::e2e
