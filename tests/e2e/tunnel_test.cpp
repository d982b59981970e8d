// Ad-hoc tunnels: the session ID the agent shows is the one the relay records, with its tunnel
// key, and `device-agent status` reports it.
#include <gtest/gtest.h>
#include <signal.h>

#include "harness.hpp"

namespace sb::e2e {
namespace {

TEST(Tunnel, AdhocAgentIdMatchesRelaySessionAndKey) {
  TempDir tmp;
  Relay relay(tmp / "relay");
  Process agent(agent_help_argv(relay.address(), tmp / "agent"));

  auto id = banner_session_id(agent);
  ASSERT_TRUE(id) << "agent printed no session ID; stderr:\n" << agent.err();
  EXPECT_EQ(id->size(), 9u);
  EXPECT_NE((*id)[0], '0') << "the spoken form must always have nine digits";
  // The log line agrees with the banner.
  EXPECT_EQ(logged_session_id(agent), id);

  // The relay writes the session through its store thread: wait until it is visible.
  nlohmann::json active;
  ASSERT_TRUE(wait_until([&] {
    active = relay.sessions(true);
    return active.is_array() && active.size() == 1;
  })) << active.dump(2);
  const auto& session = active[0];
  EXPECT_EQ(session["id"], *id);
  EXPECT_EQ(session["kind"], "adhoc");
  EXPECT_TRUE(session["device"].is_null());
  EXPECT_TRUE(session["active"].get<bool>());
  EXPECT_TRUE(session["ended"].is_null());
  EXPECT_EQ(session["source_addr"], "127.0.0.1");
  EXPECT_TRUE(session["fingerprint"].get<std::string>().starts_with("SHA256:"));
  EXPECT_EQ(session["info"]["address"], "127.0.0.1");
  EXPECT_FALSE(session["info"].value("hostname", "").empty());
  EXPECT_FALSE(session["info"].value("agent_version", "").empty());

  // Its tunnel key is live and bound to that session.
  nlohmann::json keys;
  ASSERT_TRUE(wait_until([&] {
    keys = relay.tunnel_keys();
    return !find_by(keys, "session_id", *id).is_null();
  })) << keys.dump(2);
  auto key = find_by(keys, "session_id", *id);
  EXPECT_EQ(key["fingerprint"], session["fingerprint"]);
  EXPECT_TRUE(key["device"].is_null());
  EXPECT_EQ(keys.size(), 1u);

  // `device-agent status` says connected, with the same ID.
  auto status = run({agent_bin(), "status", "--data-dir", (tmp / "agent").string()});
  EXPECT_EQ(status.exit_code, 0) << status.out << status.err;
  EXPECT_NE(status.out.find("Session ID: " + (*id).substr(0, 3) + " " + id->substr(3, 3) + " " +
                            id->substr(6, 3)),
            std::string::npos)
      << status.out;
  auto status_json = run({agent_bin(), "status", "--data-dir", (tmp / "agent").string(), "--json"});
  EXPECT_EQ(status_json.exit_code, 0);
  auto sj = nlohmann::json::parse(status_json.out, nullptr, false);
  ASSERT_FALSE(sj.is_discarded()) << status_json.out;
  EXPECT_EQ(sj["state"], "connected");
  EXPECT_EQ(sj["session_id"], *id);
  EXPECT_EQ(sj["connected"], true);
  EXPECT_EQ(sj["pid"], agent.pid());
  EXPECT_EQ(sj["relay"], relay.address());

  // The relay's key was pinned on first use.
  auto pins = run({"/bin/cat", (tmp / "agent" / "known_relays").string()});
  EXPECT_NE(pins.out.find(relay.fingerprint()), std::string::npos) << pins.out;
}

TEST(Tunnel, TwoAdhocAgentsGetDistinctSessions) {
  TempDir tmp;
  Relay relay(tmp / "relay");
  Process a(agent_help_argv(relay.address(), tmp / "a"));
  Process b(agent_help_argv(relay.address(), tmp / "b"));
  auto id_a = banner_session_id(a);
  auto id_b = banner_session_id(b);
  ASSERT_TRUE(id_a && id_b) << a.err() << b.err();
  EXPECT_NE(*id_a, *id_b);
  nlohmann::json active;
  ASSERT_TRUE(wait_until([&] {
    active = relay.sessions(true);
    return active.is_array() && active.size() == 2;
  })) << active.dump(2);
  EXPECT_FALSE(find_by(active, "id", *id_a).is_null());
  EXPECT_FALSE(find_by(active, "id", *id_b).is_null());
  EXPECT_NE(find_by(active, "id", *id_a)["fingerprint"],
            find_by(active, "id", *id_b)["fingerprint"])
      << "each ad-hoc agent has its own tunnel key";
}

TEST(Tunnel, StatusWithoutRunningAgentSaysNotConnected) {
  TempDir tmp;
  auto never = run({agent_bin(), "status", "--data-dir", (tmp / "nothing").string()});
  EXPECT_EQ(never.exit_code, 3) << never.out << never.err;
  EXPECT_NE(never.out.find("not running"), std::string::npos) << never.out;

  // After a run that was stopped, status is not connected either.
  Relay relay(tmp / "relay");
  {
    Process agent(agent_help_argv(relay.address(), tmp / "agent"));
    ASSERT_TRUE(banner_session_id(agent)) << agent.err();
    agent.signal(SIGTERM);
    EXPECT_EQ(agent.wait(10s), 0);
  }
  auto after = run({agent_bin(), "status", "--data-dir", (tmp / "agent").string(), "--json"});
  EXPECT_EQ(after.exit_code, 3) << after.out;
  auto j = nlohmann::json::parse(after.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << after.out;
  EXPECT_EQ(j["connected"], false);
  EXPECT_NE(j["state"], "connected");
}

}  // namespace
}  // namespace sb::e2e
