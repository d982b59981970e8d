// What the relay and the agent read from control-channel messages and control-socket requests:
// every member may be missing or of another type and must read as a refusal or a fallback,
// never throw (an exception on a reactor stops the whole relay).
#include <gtest/gtest.h>

#include "common/ssh/line_channel.hpp"
#include "device-agent/relay_message.hpp"
#include "relay/control/control_server.hpp"
#include "relay/device/device_messages.hpp"

namespace sb {
namespace {

using nlohmann::json;

TEST(ControlMessage, OnlyObjectsWithAStringType) {
  EXPECT_TRUE(ssh::parse_control_message(R"({"type":"ping"})"));
  for (const char* bad : {"", "[]", "{\"type\":1}", "{}", "{\"type\":\"ping\"", "\"ping\"", "nul"})
    EXPECT_FALSE(ssh::parse_control_message(bad)) << bad;
}

TEST(ControlRequest, OnlyObjectsWithAStringCmd) {
  auto request = relay::parse_control_request(R"({"cmd":"ping","by":"root"})");
  ASSERT_TRUE(request);
  EXPECT_EQ((*request)["by"], "root");
  for (const char* bad : {"", "[]", "{\"cmd\":null}", "{\"by\":\"x\"}", "{\"cmd\":\"ping\""})
    EXPECT_FALSE(relay::parse_control_request(bad)) << bad;
}

json hello_with(json changes) {
  json hello = {{"type", "hello"},
                {"kind", "adhoc"},
                {"info",
                 {{"hostname", "lap-7"},
                  {"os", "Debian"},
                  {"kernel", "Linux 6.1"},
                  {"arch", "x86_64"},
                  {"agent_version", "0.1.0"}}}};
  hello.merge_patch(changes);
  return hello;
}

TEST(DeviceHello, ReadsKindNameConsentAndInfo) {
  auto result = relay::parse_hello(hello_with({{"kind", "enrolled"}, {"name", "web-01"}}));
  ASSERT_TRUE(result.hello) << result.error;
  EXPECT_EQ(result.hello->name, "web-01");
  EXPECT_FALSE(result.hello->consent_prompt);
  EXPECT_EQ(result.hello->info["hostname"], "lap-7");
  EXPECT_TRUE(relay::parse_hello(hello_with({}))->consent_prompt);
}

TEST(DeviceHello, RefusesBadInfoKindAndName) {
  EXPECT_EQ(relay::parse_hello(hello_with({{"info", {{"os", "a\x1b[2J"}}}})).error,
            "invalid device info: os");
  EXPECT_EQ(relay::parse_hello(hello_with({{"info", 5}})).error, "");  // all fields read as ""
  EXPECT_FALSE(relay::parse_hello(hello_with({{"kind", 1}})).hello);
  EXPECT_FALSE(relay::parse_hello(hello_with({{"name", "Not A Name"}})).hello);
  EXPECT_FALSE(relay::parse_hello(json::array()).hello);
}

// Found while adding tests/fuzz/device_message_fuzz: an "allow" that was not a boolean threw on the
// reactor (json::value), which ended the relay.
TEST(ConsentAnswer, AnAllowOfAnotherTypeIsARefusalNotAnException) {
  auto answer = relay::parse_consent_answer(json::parse(R"({"id":7,"allow":"yes"})"));
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->id, 7u);
  EXPECT_FALSE(answer->allow);
  EXPECT_TRUE(relay::parse_consent_answer(json::parse(R"({"id":7,"allow":true})"))->allow);
  EXPECT_FALSE(relay::parse_consent_answer(json::parse(R"({"id":-1,"allow":true})")));
  EXPECT_FALSE(relay::parse_consent_answer(json::parse(R"({"id":"7"})")));
}

// Found while adding tests/fuzz/agent_message_fuzz: mistyped members threw (json::value) and a
// fractional or huge check interval was converted to int with undefined behaviour.
TEST(RelayMessage, MistypedMembersReadAsTheirFallback) {
  auto read = agent::read_relay_message(
      json::parse(R"({"type":"session","id":482913075,"device":null,"check_interval_ms":1e300})"));
  EXPECT_EQ(read.type, "session");
  EXPECT_EQ(read.id, "");
  EXPECT_EQ(read.device, "");
  EXPECT_EQ(read.check_interval, std::chrono::seconds(30));
  read = agent::read_relay_message(json::parse(
      R"({"type":"session","id":"482913075","device":"web-01","check_interval_ms":500})"));
  EXPECT_EQ(read.id, "482913075");
  EXPECT_EQ(read.device, "web-01");
  EXPECT_EQ(read.check_interval, std::chrono::milliseconds(500));
  EXPECT_EQ(agent::read_relay_message(json::parse(R"({"type":"error","message":["x"]})")).text, "");
  EXPECT_EQ(agent::read_relay_message(json::parse(R"({"type":"ended","reason":"revoked"})")).text,
            "revoked");
  EXPECT_EQ(agent::consent_request_id(json::parse(R"({"id":"3"})")), 0u);
  EXPECT_EQ(agent::consent_request_id(json::parse(R"({"id":3})")), 3u);
}

}  // namespace
}  // namespace sb
