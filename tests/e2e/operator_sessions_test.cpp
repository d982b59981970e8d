// `operator-cli sessions` and user "relay": the relay itself lists what an operator may join
// (its granted enrolled devices, online with their session ID or offline) and nothing else; an
// unregistered key is refused with a hint; "relay" can never be enrolled as a device name.
#include <gtest/gtest.h>
#include <signal.h>

#include "harness.hpp"
#include "operator_support.hpp"

namespace sb::e2e {
namespace {

class OperatorSessions : public OperatorTest {
 protected:
  // `operator-cli sessions [--json]` with the key `key`.
  std::vector<std::string> cli_sessions(const OperatorKey& key, bool json) const {
    auto argv = operator_cli(key, {"sessions"});
    if (json) argv.push_back("--json");
    return argv;
  }
};

TEST_F(OperatorSessions, ListsExactlyTheGrantedDevicesWithStatusAndSessionId) {
  start_relay({"alice"});
  Relay& relay = *relay_;
  const auto& tmp = tmp_;

  // web-01: granted, online. web-02: granted, enrolled, then offline. db-01: online, no grant.
  Process web01(agent_run_argv(relay.address(), tmp / "web01",
                               {"--enroll-token", create_enroll_token(relay, "web-01")}));
  Process db01(agent_run_argv(relay.address(), tmp / "db01",
                              {"--enroll-token", create_enroll_token(relay, "db-01")}));
  {
    Process web02(agent_run_argv(relay.address(), tmp / "web02",
                                 {"--enroll-token", create_enroll_token(relay, "web-02")}));
    ASSERT_TRUE(logged_session_id(web02)) << web02.err();
    web02.signal(SIGTERM);
    ASSERT_TRUE(web02.wait(10s));
  }
  auto web01_id = logged_session_id(web01);
  auto db01_id = logged_session_id(db01);
  ASSERT_TRUE(web01_id && db01_id) << web01.err() << db01.err();
  // An ad-hoc session: alice could join it with its ID, but it is never listed.
  Process adhoc(agent_help_argv(relay.address(), tmp / "adhoc"));
  auto adhoc_id = banner_session_id(adhoc);
  ASSERT_TRUE(adhoc_id) << adhoc.err();
  for (const char* device : {"web-01", "web-02"})
    ASSERT_EQ(relay.admin({"grant", "add", "alice", device}).exit_code, 0);

  // JSON through operator-cli, once the relay has loaded the key and the grants.
  RunResult json_run;
  nlohmann::json rows;
  bool listed = wait_until(
      [&] {
        json_run = run(cli_sessions(op("alice"), true));
        if (json_run.exit_code != 0) return false;
        rows = nlohmann::json::parse(json_run.out, nullptr, false);
        return rows.is_array() && rows.size() == 2 &&
               find_by(rows, "device", "web-01").is_object() &&
               find_by(rows, "device", "web-01")["status"] == "online";
      },
      10s);
  ASSERT_TRUE(listed) << json_run.exit_code << "\n" << json_run.out << json_run.err;
  auto web01_row = find_by(rows, "device", "web-01");
  EXPECT_EQ(web01_row["session_id"], *web01_id);
  auto web02_row = find_by(rows, "device", "web-02");
  ASSERT_TRUE(web02_row.is_object()) << rows.dump();
  EXPECT_EQ(web02_row["status"], "offline");
  EXPECT_TRUE(web02_row["session_id"].is_null()) << rows.dump();
  for (const auto& secret : {*db01_id, *adhoc_id, std::string("db-01")})
    EXPECT_FALSE(contains(json_run.out, secret)) << secret << " listed:\n" << json_run.out;

  // The table.
  auto table = run(cli_sessions(op("alice"), false));
  EXPECT_EQ(table.exit_code, 0) << table.err;
  EXPECT_EQ(table.out,
            "DEVICE  STATUS   SESSION\n"
            "web-01  online   " +
                spaced_session_id(*web01_id) +
                "\n"
                "web-02  offline  -\n");

  // Plain OpenSSH gets the same answer from user "relay".
  auto plain = run(ssh("alice", "relay", {}, {"sessions", "--json"}));
  EXPECT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_EQ(nlohmann::json::parse(plain.out, nullptr, false), rows) << plain.out;

  // When the device comes back, it is online with its new session ID.
  web01.signal(SIGTERM);
  ASSERT_TRUE(web01.wait(10s));
  ASSERT_TRUE(wait_until(
      [&] {
        auto r = run(cli_sessions(op("alice"), true));
        auto now = nlohmann::json::parse(r.out, nullptr, false);
        return now.is_array() && find_by(now, "device", "web-01")["status"] == "offline";
      },
      10s))
      << "web-01 still listed online after its agent stopped";
}

TEST_F(OperatorSessions, RefusesUnregisteredKeysOtherCommandsShellsAndForwards) {
  start_relay({"alice"});
  Relay& relay = *relay_;
  auto stranger = make_operator_key(tmp_.path(), "stranger");

  // A registered operator without grants: an empty list, exit 0, and a hint on stderr.
  auto empty = run_operator_ssh(ssh("alice", "relay", {}, {"sessions"}));
  EXPECT_EQ(empty.exit_code, 0) << empty.err;
  EXPECT_EQ(empty.out, "DEVICE  STATUS  SESSION\n");
  EXPECT_TRUE(contains(empty.err, "relay grant add alice")) << empty.err;

  // An unregistered key: refused at authentication; operator-cli says what to do.
  auto refused = run(cli_sessions(stranger, false));
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_EQ(refused.out, "");
  EXPECT_TRUE(contains(refused.err, "Permission denied")) << refused.err;
  EXPECT_TRUE(contains(refused.err, "relay operator add")) << refused.err;
  auto plain_refused =
      run(operator_ssh_argv(relay, stranger, known_hosts_, "relay", {}, {"sessions"}));
  EXPECT_TRUE(ssh_auth_refused(plain_refused)) << plain_refused.exit_code << plain_refused.err;

  // Anything but `sessions [--json]`: usage on stderr, exit status 2.
  auto unknown = run(ssh("alice", "relay", {}, {"uname -a"}));
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_EQ(unknown.out, "");
  EXPECT_TRUE(contains(unknown.err, "unknown command 'uname -a'")) << unknown.err;
  EXPECT_TRUE(contains(unknown.err, "sessions --json")) << unknown.err;
  auto shell = run(ssh("alice", "relay", {"-T"}));
  EXPECT_EQ(shell.exit_code, 2);
  EXPECT_TRUE(contains(shell.err, "no shell")) << shell.err;
  // A terminal is refused, and with it the session (ssh -t makes that fatal).
  auto pty = run(ssh("alice", "relay", {"-tt"}, {"sessions"}));
  EXPECT_NE(pty.exit_code, 0);
  EXPECT_TRUE(contains(pty.err, "PTY allocation request failed")) << pty.err;
  // Forwarding through the relay itself goes nowhere.
  auto forward = run(ssh("alice", "relay", {"-W", "127.0.0.1:22"}));
  EXPECT_NE(forward.exit_code, 0);
  EXPECT_TRUE(contains(forward.err, "forwarding failed")) << forward.err;

  // --help teaches the verb; --dry-run shows the ssh command it runs.
  auto help = run({operator_bin(), "sessions", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  for (const char* part : {"--json", "--relay", "relay@HOST sessions", "grant"})
    EXPECT_TRUE(contains(help.out, part)) << part << " missing from:\n" << help.out;
  auto dry = run({operator_bin(), "sessions", "--relay", relay.address(), "--json", "--dry-run"});
  EXPECT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_TRUE(contains(dry.out, "-T relay@127.0.0.1 -- 'sessions --json'")) << dry.out;

  // "relay" (and "device") can never be enrolled as device names.
  for (const char* name : {"relay", "device"}) {
    auto enroll = relay.admin({"enroll", "create", "--name", name});
    EXPECT_NE(enroll.exit_code, 0) << name;
    EXPECT_TRUE(contains(enroll.err, "reserved")) << enroll.err;
  }
  auto tokens = relay.admin_json({"enroll", "list"});
  EXPECT_EQ(tokens, nlohmann::json::array());
}

}  // namespace
}  // namespace sb::e2e
