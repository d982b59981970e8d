// What `sessions` lists for an operator (granted devices only, with their live session IDs),
// how it is rendered, which commands the relay's query user accepts, and operator-cli's hints.
#include "relay/operator/operator_sessions.hpp"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

#include "common/names.hpp"
#include "operator-cli/ssh_command.hpp"

namespace sb::relay {
namespace {

store::KeySnapshot snapshot() {
  store::KeySnapshot keys;
  keys.device_by_fingerprint = {
      {"SHA256:w1", "web-01"}, {"SHA256:w2", "web-02"}, {"SHA256:db", "db-01"}};
  keys.revoked_by_fingerprint = {{"SHA256:old", "old-01"}};
  keys.grants = {{"alice", "web-01"},   {"alice", "web-02"}, {"alice", "old-01"},
                 {"alice", "later-01"}, {"bob", "db-01"},    {"alicia", "db-01"}};
  return keys;
}

LiveSessionOf live(std::map<std::string, std::string> ids) {
  return [ids](const std::string& device) -> std::optional<std::string> {
    auto it = ids.find(device);
    if (it == ids.end()) return std::nullopt;
    return it->second;
  };
}

TEST(OperatorSessions, ListsExactlyTheOperatorsGrantsWithStatusAndSession) {
  auto devices =
      granted_devices(snapshot(), "alice", live({{"web-01", "482913075"}, {"db-01", "111222333"}}));
  ASSERT_EQ(devices.size(), 4u);
  EXPECT_EQ(devices[0].name, "later-01");
  EXPECT_EQ(devices[0].status, "not enrolled");
  EXPECT_EQ(devices[1].name, "old-01");
  EXPECT_EQ(devices[1].status, "revoked");
  EXPECT_EQ(devices[2].name, "web-01");
  EXPECT_EQ(devices[2].status, "online");
  EXPECT_EQ(devices[2].session_id, "482913075");
  EXPECT_EQ(devices[3].name, "web-02");
  EXPECT_EQ(devices[3].status, "offline");
  EXPECT_EQ(devices[3].session_id, "");
  // Nothing of bob's or alicia's (db-01 is online, but not alice's).
  for (const auto& d : devices) EXPECT_NE(d.name, "db-01");
}

TEST(OperatorSessions, AnOperatorWithoutGrantsGetsNothing) {
  EXPECT_TRUE(granted_devices(snapshot(), "carol", live({{"web-01", "482913075"}})).empty());
  EXPECT_TRUE(granted_devices(snapshot(), "", live({})).empty());
}

TEST(OperatorSessions, RendersATableAndJson) {
  std::vector<GrantedDevice> devices{{"web-01", "online", "482913075"}, {"web-02", "offline", ""}};
  EXPECT_EQ(render_granted_devices(devices, false),
            "DEVICE  STATUS   SESSION\n"
            "web-01  online   482 913 075\n"
            "web-02  offline  -\n");
  auto json = nlohmann::json::parse(render_granted_devices(devices, true));
  ASSERT_TRUE(json.is_array());
  ASSERT_EQ(json.size(), 2u);
  EXPECT_EQ(json[0]["device"], "web-01");
  EXPECT_EQ(json[0]["status"], "online");
  EXPECT_EQ(json[0]["session_id"], "482913075");
  EXPECT_TRUE(json[1]["session_id"].is_null());
  EXPECT_EQ(nlohmann::json::parse(render_granted_devices({}, true)), nlohmann::json::array());
}

// A grant to "@kiosks" lists every device in the group, once even when also granted by name;
// the table is then grouped by group, the ungrouped last.
TEST(OperatorSessions, GroupGrantsListTheGroupsDevicesAndTheTableIsGroupedByGroup) {
  auto keys = snapshot();
  keys.device_by_fingerprint.emplace("SHA256:k1", "kiosk-1");
  keys.device_by_fingerprint.emplace("SHA256:k2", "kiosk-2");
  keys.grants.emplace("alice", "@kiosks");
  keys.grants.emplace("bob", "@lobby");
  keys.devices_by_group = {{"kiosks", {"kiosk-1", "kiosk-2", "web-02"}}, {"lobby", {"kiosk-1"}}};
  keys.groups_by_device = {
      {"kiosk-1", {"kiosks", "lobby"}}, {"kiosk-2", {"kiosks"}}, {"web-02", {"kiosks"}}};
  EXPECT_TRUE(keys.may_join("alice", "kiosk-2"));
  EXPECT_TRUE(keys.may_join("bob", "kiosk-1"));
  EXPECT_FALSE(keys.may_join("bob", "kiosk-2"));

  auto devices = granted_devices(keys, "alice", live({{"kiosk-1", "482913075"}}));
  std::vector<std::string> names;
  for (const auto& d : devices) names.push_back(d.name);
  EXPECT_EQ(names, (std::vector<std::string>{"kiosk-1", "kiosk-2", "later-01", "old-01", "web-01",
                                             "web-02"}));
  EXPECT_EQ(devices[0].groups, (std::vector<std::string>{"kiosks", "lobby"}));
  EXPECT_EQ(render_granted_devices(devices, false),
            "GROUP   DEVICE    STATUS        SESSION\n"
            "kiosks  kiosk-1   online        482 913 075\n"
            "kiosks  kiosk-2   offline       -\n"
            "kiosks  web-02    offline       -\n"
            "lobby   kiosk-1   online        482 913 075\n"
            "-       later-01  not enrolled  -\n"
            "-       old-01    revoked       -\n"
            "-       web-01    offline       -\n");
  auto json = nlohmann::json::parse(render_granted_devices(devices, true));
  ASSERT_EQ(json.size(), 6u) << "each device once";
  EXPECT_EQ(json[0]["groups"], nlohmann::json({"kiosks", "lobby"}));
  EXPECT_EQ(json[2]["groups"], nlohmann::json::array());
}

TEST(OperatorSessions, AcceptsOnlyTheFixedCommands) {
  EXPECT_EQ(parse_query("sessions").verb, QueryRequest::Verb::kSessions);
  EXPECT_FALSE(parse_query("sessions").json);
  EXPECT_TRUE(parse_query("sessions --json").json);
  EXPECT_TRUE(parse_query("  sessions   --json ").json);
  for (const char* bad : {"", "ls", "sessions --all", "sessions --json x", "sessions;ls",
                          "SESSIONS", "--json sessions"})
    EXPECT_EQ(parse_query(bad).verb, QueryRequest::Verb::kUnknown) << bad;
  EXPECT_EQ(parse_query(std::string(300, ' ') + "sessions").verb, QueryRequest::Verb::kUnknown);
}

TEST(OperatorSessions, AnythingElseGetsUsageOnStderrAndStatusTwo) {
  auto answer = unknown_query_answer("rm -rf /");
  EXPECT_EQ(answer.exit_status, 2);
  EXPECT_TRUE(answer.out.empty());
  EXPECT_NE(answer.err.find("unknown command 'rm -rf /'"), std::string::npos) << answer.err;
  EXPECT_NE(answer.err.find("sessions --json"), std::string::npos);
  EXPECT_NE(unknown_query_answer("").err.find("no shell"), std::string::npos);
  // Terminal control characters are never echoed back.
  EXPECT_EQ(unknown_query_answer("x\x1b[2J").err.find('\x1b'), std::string::npos);
}

TEST(OperatorSessions, TheRelaysOwnUserNamesCannotBeDeviceNames) {
  EXPECT_TRUE(reserved_device_name("relay"));
  EXPECT_TRUE(reserved_device_name("device"));
  EXPECT_FALSE(reserved_device_name("relay-01"));
  EXPECT_FALSE(reserved_device_name("web-01"));
  EXPECT_TRUE(valid_name("relay")) << "reserved, not malformed: the error must say so";
}

TEST(OperatorCliSessions, BuildsTheQueryCommandAndExplainsARefusedKey) {
  op::Connection c;
  c.relay_host = "relay.example.com";
  c.relay_port = 2222;
  auto args = op::sessions_args(c, true);
  ASSERT_GE(args.size(), 3u);
  EXPECT_EQ(args[args.size() - 2], "--");
  EXPECT_EQ(args.back(), "sessions --json");
  EXPECT_EQ(args[args.size() - 3], "relay@relay.example.com");
  EXPECT_EQ(op::sessions_args(c, false).back(), "sessions");

  EXPECT_NE(op::explain_ssh_failure(255, "relay@h: Permission denied (publickey).\n")
                .find("relay operator add"),
            std::string::npos);
  EXPECT_NE(op::explain_ssh_failure(255, "ssh: connect to host h port 1: Connection refused\n")
                .find("--relay"),
            std::string::npos);
  EXPECT_EQ(op::explain_ssh_failure(0, "Permission denied (publickey)"), "");
  EXPECT_EQ(op::explain_ssh_failure(2, "switchboard: unknown command"), "");
}

}  // namespace
}  // namespace sb::relay
