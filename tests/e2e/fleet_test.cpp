// Fleets: one token enrolls a batch of devices, each under its own hostname; devices in groups,
// and grants to a group that let an operator in and lock them out as soon as the admin's verb
// returns.
#include <gtest/gtest.h>

#include <memory>
#include <set>

#include "harness.hpp"
#include "operator_support.hpp"

namespace sb::e2e {
namespace {

constexpr int kBatch = 20;

// 20 agents, one machine (so one hostname), one token with 20 uses, all at once: each gets its
// own name (the hostname's, then "-2" ... "-20"), all join the token's group, and the 21st is
// refused with a message that says why.
TEST(Fleet, TwentyAgentsEnrollConcurrentlyWithOneTokenAndTheTwentyFirstIsRefused) {
  TempDir tmp;
  Relay relay(tmp / "relay");
  auto created = relay.admin_json({"enroll", "create", "--name-from-hostname", "--max-uses",
                                   std::to_string(kBatch), "--group", "kiosks", "--ttl", "1h"});
  ASSERT_TRUE(created.is_object()) << created.dump();
  const std::string token = created.value("token", "");
  const std::string token_id = created.value("id", "");
  ASSERT_FALSE(token_id.empty()) << created.dump(2);

  std::vector<std::unique_ptr<Process>> agents;
  for (int i = 0; i < kBatch; ++i)
    agents.push_back(std::make_unique<Process>(agent_run_argv(
        relay.address(), tmp / ("agent-" + std::to_string(i)), {"--enroll-token", token})));
  for (auto& agent : agents) ASSERT_TRUE(logged_session_id(*agent, 1, 30s)) << agent->err();

  auto devices = relay.admin_json({"device", "list", "--group", "kiosks", "--json"});
  ASSERT_EQ(devices.size(), static_cast<std::size_t>(kBatch)) << devices.dump(2);
  std::set<std::string> names;
  for (const auto& d : devices) names.insert(d["name"].get<std::string>());
  EXPECT_EQ(names.size(), static_cast<std::size_t>(kBatch)) << devices.dump(2);
  // They share this machine's hostname: one bare name, the others suffixed.
  const std::string base = *names.begin();
  for (int n = 2; n <= kBatch; ++n)
    EXPECT_TRUE(names.count(base + "-" + std::to_string(n))) << base << "-" << n;
  // Each agent keeps the name it was given.
  std::set<std::string> recorded;
  for (int i = 0; i < kBatch; ++i) {
    auto record = nlohmann::json::parse(
        read_text(tmp / ("agent-" + std::to_string(i)) / "enrollment.json"), nullptr, false);
    recorded.insert(record.value("device", ""));
  }
  EXPECT_EQ(recorded, names);

  Process late(agent_run_argv(relay.address(), tmp / "agent-late", {"--enroll-token", token}));
  auto code = late.wait(20s);
  ASSERT_TRUE(code) << late.err();
  EXPECT_EQ(*code, 2) << late.err();
  EXPECT_TRUE(contains(late.err(), "already used by 20 devices")) << late.err();
  EXPECT_EQ(relay.devices().size(), static_cast<std::size_t>(kBatch));

  auto tokens = relay.admin_json({"enroll", "list", "--json"});
  ASSERT_EQ(tokens.size(), 1u) << tokens.dump(2);
  EXPECT_EQ(tokens[0]["id"], token_id);
  EXPECT_EQ(tokens[0]["uses"], kBatch);
  EXPECT_EQ(tokens[0]["uses_left"], 0);
  EXPECT_EQ(tokens[0]["state"], "used");
  // Every use audited: 20 enrollments with the token's ID, and the refusal.
  auto enrolled =
      relay.admin_json({"audit", "--kind", "device.enrolled", "--limit", "100", "--json"});
  ASSERT_EQ(enrolled.size(), static_cast<std::size_t>(kBatch)) << enrolled.dump(2);
  for (const auto& e : enrolled) EXPECT_EQ(e["detail"]["token"], token_id) << e.dump();
  auto refused = relay.admin_json({"audit", "--kind", "enroll.refused", "--json"});
  ASSERT_EQ(refused.size(), 1u) << refused.dump(2);
  EXPECT_EQ(refused[0]["detail"]["reason"], "already_used");
}

// A token can be withdrawn: revoked, it enrolls nobody, with a message saying so.
TEST(Fleet, RevokedTokenEnrollsNobody) {
  TempDir tmp;
  Relay relay(tmp / "relay");
  auto created = relay.admin_json({"enroll", "create", "--name-from-hostname", "--max-uses", "5"});
  const std::string id = created.value("id", "");
  auto revoked = relay.admin({"enroll", "revoke", id});
  ASSERT_EQ(revoked.exit_code, 0) << revoked.err;
  EXPECT_NE(relay.admin({"enroll", "revoke", "000000000000"}).exit_code, 0);
  auto list = relay.admin({"enroll", "list"});
  EXPECT_TRUE(contains(list.out, id)) << list.out;
  EXPECT_TRUE(contains(list.out, "revoked")) << list.out;

  Process agent(agent_run_argv(relay.address(), tmp / "agent",
                               {"--enroll-token", created.value("token", "")}));
  auto code = agent.wait(20s);
  ASSERT_TRUE(code) << agent.err();
  EXPECT_EQ(*code, 2) << agent.err();
  EXPECT_TRUE(contains(agent.err(), "revoked")) << agent.err();
  EXPECT_EQ(relay.devices().size(), 0u);
}

class FleetGroups : public OperatorTest {
 protected:
  RunResult attach_once(const std::string& text) {
    return run(ssh("alice", "web-01", {}, {"echo " + text}));
  }
  void admin_ok(const std::vector<std::string>& args) {
    auto r = relay().admin(args);
    ASSERT_EQ(r.exit_code, 0) << args[0] << " " << args[1] << ": " << r.out << r.err;
    EXPECT_EQ(r.err, "") << "the running relay confirmed the change";
  }
  void expect_in(const std::string& text) {
    auto in = attach_once(text);
    EXPECT_EQ(in.exit_code, 0) << in.err;
    EXPECT_EQ(in.out, text + "\n");
  }
  void expect_locked_out() {
    auto out = attach_once("still-in");
    EXPECT_NE(out.exit_code, 0) << "alice is still let in";
    EXPECT_EQ(out.out, "");
    EXPECT_TRUE(contains(out.err, kNotAvailableText)) << out.err;
  }
};

// Each admin change is followed at once by a connect: the relay applied it before the verb
// returned.
TEST_F(FleetGroups, AGroupGrantLetsInAndLeavingTheGroupLocksOutAtOnce) {
  start_relay({"alice"});
  start_enrolled_agent(create_enroll_token(relay(), "web-01"));

  admin_ok({"grant", "add", "alice", "@kiosks"});
  admin_ok({"device", "group", "web-01", "kiosks", "lobby"});
  expect_in("in-by-group");
  auto shown = relay().admin_json({"device", "show", "web-01", "--json"});
  EXPECT_EQ(shown["groups"], nlohmann::json({"kiosks", "lobby"})) << shown.dump(2);
  EXPECT_EQ(shown["grants"], nlohmann::json({"alice"}));
  EXPECT_EQ(shown["group_grants"],
            nlohmann::json::parse(R"([{"operator":"alice","group":"kiosks"}])"));

  // `operator-cli sessions` lists it under its groups.
  auto listed = run(ssh("alice", "relay", {}, {"sessions"}));
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_TRUE(contains(listed.out, "GROUP ")) << listed.out;
  EXPECT_TRUE(contains(listed.out, "kiosks  web-01")) << listed.out;
  EXPECT_TRUE(contains(listed.out, "lobby   web-01")) << listed.out;

  admin_ok({"device", "ungroup", "web-01", "kiosks"});
  expect_locked_out();

  // Back in the group, then the group's grant withdrawn: locked out again.
  admin_ok({"device", "group", "web-01", "kiosks"});
  expect_in("in-again");
  admin_ok({"grant", "remove", "alice", "@kiosks"});
  expect_locked_out();

  auto in_group = relay().admin_json({"device", "list", "--group", "kiosks", "--json"});
  ASSERT_EQ(in_group.size(), 1u);
  EXPECT_EQ(in_group[0]["groups"], nlohmann::json({"kiosks", "lobby"}));
  EXPECT_EQ(relay().admin_json({"device", "list", "--group", "nobody", "--json"}).size(), 0u);
}

}  // namespace
}  // namespace sb::e2e
