// Enrolled devices: a one-time token binds a name to the device's long-term key; the device keeps
// that name across reconnects and gets a fresh session ID each time. Reused, expired and unknown
// tokens are refused.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>

#include "common/util.hpp"
#include "harness.hpp"

namespace sb::e2e {
namespace {

std::string create_token(Relay& relay, const std::string& name, const std::string& ttl = "1h") {
  auto r = relay.admin({"enroll", "create", "--name", name, "--ttl", ttl});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::string token = trim_end(r.out);
  EXPECT_EQ(token.find('\n'), std::string::npos) << "the token must be alone on stdout: " << r.out;
  EXPECT_FALSE(token.empty());
  return token;
}

// Waits until the session with this id is recorded as ended; returns its row.
nlohmann::json wait_session_ended(Relay& relay, const std::string& id, Millis timeout = 10s) {
  nlohmann::json row;
  wait_until(
      [&] {
        row = find_by(relay.sessions(), "id", id);
        return !row.is_null() && !row["ended"].is_null();
      },
      timeout);
  return row;
}

TEST(Enroll, EnrolledAgentKeepsNameAndGetsNewSessionEachConnection) {
  TempDir tmp;
  Relay relay(tmp / "relay");
  const auto agent_dir = tmp / "agent";
  std::string token = create_token(relay, "web-01");

  // First run, with the token.
  std::string id1, fingerprint;
  {
    Process agent(agent_run_argv(relay.address(), agent_dir, {"--enroll-token", token}));
    auto id = logged_session_id(agent);
    ASSERT_TRUE(id) << agent.err();
    id1 = *id;
    EXPECT_TRUE(agent.wait_for_output("as device web-01", 5s, true)) << agent.err();

    nlohmann::json device;
    ASSERT_TRUE(wait_until([&] {
      device = find_by(relay.devices(), "name", "web-01");
      return !device.is_null() && device["status"] == "online";
    })) << relay.devices().dump(2);
    fingerprint = device["fingerprint"].get<std::string>();
    EXPECT_TRUE(fingerprint.starts_with("SHA256:"));

    nlohmann::json session;
    ASSERT_TRUE(wait_until([&] {
      session = find_by(relay.sessions(true), "id", id1);
      return !session.is_null();
    }));
    EXPECT_EQ(session["device"], "web-01");
    EXPECT_EQ(session["kind"], "enrolled");
    EXPECT_EQ(session["fingerprint"], fingerprint);
    auto key = find_by(relay.tunnel_keys(), "session_id", id1);
    ASSERT_FALSE(key.is_null()) << relay.tunnel_keys().dump(2);
    EXPECT_EQ(key["device"], "web-01");

    // The agent recorded its enrollment, and its long-term key lives in its data dir.
    EXPECT_NE(read_text(agent_dir / "enrollment.json").find("web-01"), std::string::npos);
    EXPECT_TRUE(std::filesystem::exists(agent_dir / "device_ed25519_key"));
    auto status = run({agent_bin(), "status", "--data-dir", agent_dir.string(), "--json"});
    EXPECT_EQ(status.exit_code, 0);
    auto sj = nlohmann::json::parse(status.out, nullptr, false);
    EXPECT_EQ(sj.value("session_id", ""), id1) << status.out;
    EXPECT_EQ(sj.value("device", ""), "web-01") << status.out;

    agent.signal(SIGTERM);
    EXPECT_EQ(agent.wait(10s), 0) << agent.err();
  }
  auto ended1 = wait_session_ended(relay, id1);
  ASSERT_FALSE(ended1.is_null());
  EXPECT_FALSE(ended1["ended"].is_null()) << ended1.dump(2);
  EXPECT_TRUE(wait_until([&] {
    auto d = find_by(relay.devices(), "name", "web-01");
    return !d.is_null() && d["status"] == "offline";
  })) << relay.devices().dump(2);

  // Second run, without the token: the key alone makes it web-01 again, with a new ID.
  std::string id2;
  {
    Process agent(agent_run_argv(relay.address(), agent_dir));
    auto id = logged_session_id(agent);
    ASSERT_TRUE(id) << agent.err();
    id2 = *id;
    EXPECT_NE(id2, id1);
    EXPECT_TRUE(agent.wait_for_output("as device web-01", 5s, true)) << agent.err();
    nlohmann::json session;
    ASSERT_TRUE(wait_until([&] {
      session = find_by(relay.sessions(true), "id", id2);
      return !session.is_null();
    }));
    EXPECT_EQ(session["device"], "web-01");
    EXPECT_EQ(session["fingerprint"], fingerprint) << "the long-term key is kept";
    agent.signal(SIGTERM);
    EXPECT_EQ(agent.wait(10s), 0) << agent.err();
  }
  ASSERT_FALSE(wait_session_ended(relay, id2)["ended"].is_null());

  // Third run, with the (already used) token again: enrollment.json means the token is not
  // presented a second time, so this works too.
  std::string id3;
  {
    Process agent(agent_run_argv(relay.address(), agent_dir, {"--enroll-token", token}));
    auto id = logged_session_id(agent);
    ASSERT_TRUE(id) << agent.err();
    id3 = *id;
    EXPECT_NE(id3, id1);
    EXPECT_NE(id3, id2);
    EXPECT_TRUE(agent.wait_for_output("as device web-01", 5s, true)) << agent.err();
    EXPECT_EQ(agent.err().find("already used"), std::string::npos) << agent.err();

    // The relay has exactly one live session, and only one device.
    nlohmann::json active;
    ASSERT_TRUE(wait_until([&] {
      active = relay.sessions(true);
      return active.is_array() && active.size() == 1 && active[0]["id"] == id3;
    })) << active.dump(2);
    auto devices = relay.devices();
    ASSERT_EQ(devices.size(), 1u) << devices.dump(2);
    EXPECT_EQ(devices[0]["name"], "web-01");
    EXPECT_EQ(devices[0]["fingerprint"], fingerprint);
    EXPECT_EQ(devices[0]["status"], "online");
  }

  // The history: three sessions of web-01, newest first, all with the same key.
  auto all = relay.sessions();
  ASSERT_GE(all.size(), 3u) << all.dump(2);
  for (const auto& id : {id1, id2, id3}) {
    auto row = find_by(all, "id", id);
    ASSERT_FALSE(row.is_null()) << id;
    EXPECT_EQ(row["device"], "web-01");
    EXPECT_EQ(row["fingerprint"], fingerprint);
  }
  EXPECT_EQ(all[0]["id"], id3) << "newest first";
}

TEST(Enroll, EnrolledAgentKeepsNameWhenItReconnectsOnItsOwn) {
  TempDir tmp;
  Relay relay(tmp / "relay");
  std::string token = create_token(relay, "kiosk-7");
  Process agent(agent_run_argv(relay.address(), tmp / "agent", {"--enroll-token", token}));
  auto id1 = logged_session_id(agent);
  ASSERT_TRUE(id1) << agent.err();

  // The relay goes away and comes back: the agent reconnects by itself, as kiosk-7.
  ASSERT_EQ(relay.stop(), 0);
  relay.restart();
  auto id2 = logged_session_id(agent, 2, 20s);
  ASSERT_TRUE(id2) << agent.err();
  EXPECT_NE(*id2, *id1);
  EXPECT_EQ(agent.matches("connected to \\S+: session [0-9 ]+ as device kiosk-7", true).size(), 2u)
      << agent.err();
  nlohmann::json session;
  ASSERT_TRUE(wait_until([&] {
    session = find_by(relay.sessions(true), "id", *id2);
    return !session.is_null();
  }));
  EXPECT_EQ(session["device"], "kiosk-7");
  EXPECT_EQ(session["kind"], "enrolled");
  EXPECT_TRUE(agent.running());
}

// `relay device list` shows what the device reported about itself (HOSTNAME and OS columns,
// "info" in JSON), as the session list does.
TEST(Enroll, DeviceListShowsDeviceInfo) {
  TempDir tmp;
  Relay relay(tmp / "relay");
  std::string token = create_token(relay, "db-01");
  Process agent(agent_run_argv(relay.address(), tmp / "agent", {"--enroll-token", token}));
  auto id = logged_session_id(agent);
  ASSERT_TRUE(id) << agent.err();
  nlohmann::json session;
  ASSERT_TRUE(wait_until([&] {
    session = find_by(relay.sessions(true), "id", *id);
    return !session.is_null();
  }));
  const std::string hostname = session["info"].value("hostname", "");
  ASSERT_FALSE(hostname.empty()) << session.dump(2);
  nlohmann::json device;
  EXPECT_TRUE(wait_until(
      [&] {
        device = find_by(relay.devices(), "name", "db-01");
        return !device.is_null() && device["info"].value("hostname", "") == hostname;
      },
      5s))
      << "device list: " << device.dump(2) << "\nsession: " << session.dump(2);
  EXPECT_EQ(device["info"].value("os", ""), session["info"].value("os", ""));
  auto table = relay.admin({"device", "list"});
  EXPECT_EQ(table.exit_code, 0);
  EXPECT_NE(table.out.find(hostname), std::string::npos) << table.out;
}

TEST(Enroll, ReusedTokenIsRefused) {
  TempDir tmp;
  Relay relay(tmp / "relay");
  std::string token = create_token(relay, "web-02");

  Process first(agent_run_argv(relay.address(), tmp / "first", {"--enroll-token", token}));
  auto id = logged_session_id(first);
  ASSERT_TRUE(id) << first.err();

  // A second device (its own data dir, so its own key) presents the same token.
  Process second(agent_run_argv(relay.address(), tmp / "second", {"--enroll-token", token}));
  auto code = second.wait(20s);
  ASSERT_TRUE(code) << "the agent should give up at once; stderr:\n" << second.err();
  EXPECT_EQ(*code, 2) << second.err();
  EXPECT_NE(second.err().find("already used"), std::string::npos) << second.err();
  EXPECT_FALSE(std::filesystem::exists(tmp / "second" / "enrollment.json"));

  // Nothing of the second device in the relay: one session, one device, one key.
  auto sessions = relay.sessions();
  ASSERT_EQ(sessions.size(), 1u) << sessions.dump(2);
  EXPECT_EQ(sessions[0]["id"], *id);
  auto devices = relay.devices();
  ASSERT_EQ(devices.size(), 1u) << devices.dump(2);
  EXPECT_EQ(devices[0]["fingerprint"], sessions[0]["fingerprint"]);
  EXPECT_EQ(relay.tunnel_keys().size(), 1u);
  // The first device is undisturbed.
  EXPECT_TRUE(first.running());
  EXPECT_FALSE(find_by(relay.sessions(true), "id", *id).is_null());
}

// A refusal is final and explained the first time: the relay's error line reaches the agent
// before the connection closes, so the agent does not reconnect and present the token again.
// Repeated a few times because a lost message is a race.
TEST(Enroll, RefusalReachesTheAgentOnItsFirstAttempt) {
  TempDir tmp;
  Relay relay(tmp / "relay");
  std::string token = create_token(relay, "web-03");
  Process first(agent_run_argv(relay.address(), tmp / "first", {"--enroll-token", token}));
  ASSERT_TRUE(logged_session_id(first)) << first.err();

  for (int i = 0; i < 5; ++i) {
    Process other(agent_run_argv(relay.address(), tmp / ("other-" + std::to_string(i)),
                                 {"--enroll-token", token}));
    auto code = other.wait(20s);
    ASSERT_TRUE(code) << other.err();
    EXPECT_EQ(*code, 2) << other.err();
    EXPECT_NE(other.err().find("already used"), std::string::npos) << other.err();
    EXPECT_EQ(other.err().find("reconnecting"), std::string::npos)
        << "attempt " << i << ": the refusal was not received at once, so the agent retried:\n"
        << other.err();
  }
}

TEST(Enroll, ExpiredTokenIsRefused) {
  TempDir tmp;
  Relay relay(tmp / "relay");
  auto created = relay.admin_json({"enroll", "create", "--name", "late-01", "--ttl", "1s"});
  ASSERT_TRUE(created.is_object());
  EXPECT_EQ(created["name"], "late-01");
  const std::string token = created["token"].get<std::string>();
  const std::string expires = created["expires"].get<std::string>();
  // Times are ISO 8601 UTC with milliseconds, which sort as text.
  ASSERT_TRUE(wait_until([&] { return now_iso8601() > expires; }, 5s)) << expires;

  Process agent(agent_run_argv(relay.address(), tmp / "agent", {"--enroll-token", token}));
  auto code = agent.wait(20s);
  ASSERT_TRUE(code) << agent.err();
  EXPECT_EQ(*code, 2) << agent.err();
  EXPECT_NE(agent.err().find("expired"), std::string::npos) << agent.err();
  EXPECT_EQ(relay.sessions().size(), 0u) << relay.sessions().dump(2);
  EXPECT_EQ(relay.devices().size(), 0u) << relay.devices().dump(2);
  EXPECT_EQ(relay.tunnel_keys().size(), 0u);
}

TEST(Enroll, UnknownTokenAndMissingTokenAreRefused) {
  TempDir tmp;
  Relay relay(tmp / "relay");
  // A well-formed token the relay never issued: take a real one from another relay.
  TempDir other;
  auto init = run({relay_bin(), "init", "--data-dir", (other / "relay").string()});
  ASSERT_EQ(init.exit_code, 0);
  auto foreign = run(
      {relay_bin(), "enroll", "create", "--name", "x", "--data-dir", (other / "relay").string()});
  ASSERT_EQ(foreign.exit_code, 0) << foreign.err;
  {
    Process agent(
        agent_run_argv(relay.address(), tmp / "a", {"--enroll-token", trim_end(foreign.out)}));
    auto code = agent.wait(20s);
    ASSERT_TRUE(code) << agent.err();
    EXPECT_EQ(*code, 2) << agent.err();
    EXPECT_NE(agent.err().find("not recognised"), std::string::npos) << agent.err();
  }
  {
    // Not enrolled and no token: refused with a hint, not retried forever.
    Process agent(agent_run_argv(relay.address(), tmp / "b"));
    auto code = agent.wait(20s);
    ASSERT_TRUE(code) << agent.err();
    EXPECT_EQ(*code, 2) << agent.err();
    EXPECT_NE(agent.err().find("not enrolled"), std::string::npos) << agent.err();
  }
  EXPECT_EQ(relay.sessions().size(), 0u) << relay.sessions().dump(2);
  EXPECT_EQ(relay.devices().size(), 0u);
}

// A device moved to another relay (same data dir, so the same key): without a token the new
// relay refuses it and the agent says where it is enrolled and what to do; with a token of the
// new relay it enrolls there and the record names the new relay. A token given again to the
// relay it is enrolled with is not sent.
TEST(Enroll, ADeviceMovedToAnotherRelayEnrollsThereWithATokenOfThatRelay) {
  TempDir tmp;
  const auto agent_dir = tmp / "agent";
  Relay first(tmp / "first");
  const std::string first_token = create_token(first, "till-4");
  {
    Process agent(agent_run_argv(first.address(), agent_dir, {"--enroll-token", first_token}));
    ASSERT_TRUE(agent.wait_for_output("as device till-4\n", 10s, true)) << agent.err();
  }
  Relay second(tmp / "second");
  {
    Process agent(agent_run_argv(second.address(), agent_dir));
    auto code = agent.wait(20s);
    ASSERT_TRUE(code) << agent.err();
    EXPECT_EQ(*code, 2) << agent.err();
    EXPECT_TRUE(contains(agent.err(), "this device is enrolled as till-4 with relay " +
                                          first.address() + "; to move it to " + second.address() +
                                          ", give a token of that relay with --enroll-token"))
        << agent.err();
  }
  const std::string second_token = create_token(second, "till-4b");
  {
    Process agent(agent_run_argv(second.address(), agent_dir, {"--enroll-token", second_token}));
    ASSERT_TRUE(agent.wait_for_output("as device till-4b\n", 10s, true)) << agent.err();
    EXPECT_TRUE(contains(agent.err(), "before: relay " + first.address() + " as till-4"))
        << agent.err();
  }
  const auto record = nlohmann::json::parse(read_text(agent_dir / "enrollment.json"));
  EXPECT_EQ(record["device"], "till-4b");
  EXPECT_EQ(record["relay"], second.address());
  EXPECT_FALSE(find_by(second.devices(), "name", "till-4b").is_null()) << second.devices().dump(2);

  // Back to the first relay, with its spent token given again: it knows the key, so the token
  // is ignored there, and the device is till-4 again.
  Process back(agent_run_argv(first.address(), agent_dir, {"--enroll-token", first_token}));
  EXPECT_TRUE(back.wait_for_output("as device till-4\n", 10s, true)) << back.err();
}

}  // namespace
}  // namespace sb::e2e
