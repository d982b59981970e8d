// The relay going away: after kill -9 and a restart the agents come back by themselves and the
// store shows the old sessions ended; SIGTERM stops the relay cleanly and ends every session;
// SIGTERM to an agent ends its session at once.
#include <gtest/gtest.h>
#include <signal.h>

#include <set>

#include "harness.hpp"

namespace sb::e2e {
namespace {

using Clock = std::chrono::steady_clock;

std::set<std::string> values_of(const nlohmann::json& rows, const char* field = "id") {
  std::set<std::string> out;
  if (rows.is_array())
    for (const auto& r : rows) out.insert(r.value(field, ""));
  return out;
}

TEST(RelayRestart, AgentsReconnectAfterRelayKill9AndOldSessionsEndAsRestarted) {
  TempDir tmp;
  Relay relay(tmp / "relay");
  auto token = trim_end(relay.admin({"enroll", "create", "--name", "web-01"}).out);
  ASSERT_FALSE(token.empty());

  Process adhoc(agent_help_argv(relay.address(), tmp / "adhoc"));
  Process enrolled(agent_run_argv(relay.address(), tmp / "enrolled", {"--enroll-token", token}));
  auto adhoc1 = banner_session_id(adhoc);
  auto enrolled1 = logged_session_id(enrolled);
  ASSERT_TRUE(adhoc1) << adhoc.err();
  ASSERT_TRUE(enrolled1) << enrolled.err();
  ASSERT_TRUE(wait_until([&] { return relay.sessions(true).size() == 2; }))
      << relay.sessions(true).dump(2);

  relay.kill9();
  // The crash left the sessions open in the store: nobody ended them.
  EXPECT_EQ(values_of(relay.sessions(true)), (std::set<std::string>{*adhoc1, *enrolled1}));

  relay.restart();
  auto adhoc2 = banner_session_id(adhoc, 2, 30s);
  auto enrolled2 = logged_session_id(enrolled, 2, 30s);
  ASSERT_TRUE(adhoc2) << adhoc.out() << adhoc.err();
  ASSERT_TRUE(enrolled2) << enrolled.err();
  EXPECT_NE(*adhoc2, *adhoc1);
  EXPECT_NE(*enrolled2, *enrolled1);

  // Exactly the two new sessions are live, with their keys; the enrolled one kept its name.
  nlohmann::json active;
  ASSERT_TRUE(wait_until([&] {
    active = relay.sessions(true);
    return values_of(active) == std::set<std::string>{*adhoc2, *enrolled2};
  })) << active.dump(2);
  EXPECT_EQ(find_by(active, "id", *enrolled2)["device"], "web-01");
  EXPECT_EQ(find_by(active, "id", *adhoc2)["kind"], "adhoc");
  EXPECT_TRUE(wait_until([&] {
    return values_of(relay.tunnel_keys(), "session_id") ==
           std::set<std::string>{*adhoc2, *enrolled2};
  })) << relay.tunnel_keys().dump(2);

  // The old ones were ended at start, as left behind by a crash.
  auto all = relay.sessions();
  for (const auto& old : {*adhoc1, *enrolled1}) {
    auto row = find_by(all, "id", old);
    ASSERT_FALSE(row.is_null()) << old << "\n" << all.dump(2);
    EXPECT_FALSE(row["ended"].is_null()) << row.dump(2);
    EXPECT_EQ(row["end_reason"], "relay restarted after a crash") << row.dump(2);
    EXPECT_EQ(row["active"], false);
  }
  auto device = find_by(relay.devices(), "name", "web-01");
  EXPECT_EQ(device["status"], "online") << device.dump(2);
  EXPECT_TRUE(adhoc.running());
  EXPECT_TRUE(enrolled.running());
}

TEST(RelayRestart, SigtermStopsRelayCleanlyAndEndsSessions) {
  TempDir tmp;
  Relay relay(tmp / "relay");
  Process agent(agent_help_argv(relay.address(), tmp / "agent"));
  auto id = banner_session_id(agent);
  ASSERT_TRUE(id) << agent.err();
  ASSERT_TRUE(wait_until([&] { return !find_by(relay.sessions(true), "id", *id).is_null(); }));

  EXPECT_EQ(relay.stop(), 0) << relay.process().err();
  EXPECT_NE(relay.process().err().find("relay stopped"), std::string::npos)
      << relay.process().err();

  // Everything was written before the relay exited: no waiting needed.
  auto row = find_by(relay.sessions(), "id", *id);
  ASSERT_FALSE(row.is_null());
  EXPECT_FALSE(row["ended"].is_null()) << row.dump(2);
  EXPECT_EQ(row["end_reason"], "relay stopped") << row.dump(2);
  EXPECT_EQ(relay.sessions(true).size(), 0u);
  EXPECT_EQ(relay.tunnel_keys().size(), 0u) << relay.tunnel_keys().dump(2);

  // The agent keeps trying, says so, and is back once the relay is.
  EXPECT_TRUE(agent.running());
  EXPECT_TRUE(wait_until([&] {
    return run({agent_bin(), "status", "--data-dir", (tmp / "agent").string()}).exit_code == 3;
  }));
  relay.restart();
  auto id2 = banner_session_id(agent, 2, 30s);
  ASSERT_TRUE(id2) << agent.err();
  EXPECT_NE(*id2, *id);
  // A clean stop leaves nothing for the next start to purge.
  EXPECT_EQ(relay.process().err().find("left open by an earlier run"), std::string::npos)
      << relay.process().err();
  EXPECT_EQ(find_by(relay.sessions(), "id", *id)["end_reason"], "relay stopped");
}

TEST(RelayRestart, SigtermToAgentExitsZeroAndEndsItsSessionPromptly) {
  TempDir tmp;
  Relay relay(tmp / "relay");
  Process agent(agent_help_argv(relay.address(), tmp / "agent"));
  auto id = banner_session_id(agent);
  ASSERT_TRUE(id) << agent.err();
  ASSERT_TRUE(
      wait_until([&] { return !find_by(relay.tunnel_keys(), "session_id", *id).is_null(); }));

  auto t0 = Clock::now();
  agent.signal(SIGTERM);
  auto code = agent.wait(10s);
  ASSERT_TRUE(code) << "agent did not stop on SIGTERM";
  EXPECT_EQ(*code, 0) << agent.err();
  nlohmann::json row;
  ASSERT_TRUE(wait_until(
      [&] {
        row = find_by(relay.sessions(), "id", *id);
        return !row.is_null() && !row["ended"].is_null() &&
               find_by(relay.tunnel_keys(), "session_id", *id).is_null();
      },
      10s))
      << row.dump(2);
  double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  // Not left to the janitor: the relay sees the tunnel close at once.
  EXPECT_LE(elapsed, 2.0) << "session ended " << elapsed << " s after SIGTERM";
  EXPECT_NE(row.value("end_reason", ""), "keepalive timeout");
  auto status = run({agent_bin(), "status", "--data-dir", (tmp / "agent").string()});
  EXPECT_EQ(status.exit_code, 3) << status.out;
}

}  // namespace
}  // namespace sb::e2e
