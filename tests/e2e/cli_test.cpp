// Command-line basics: help, clear errors for bad input, admin verbs without a database, init's
// idempotence, and one `relay serve` per data dir.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <regex>

#include "harness.hpp"

namespace sb::e2e {
namespace {

TEST(Cli, RelayHelpListsVerbs) {
  auto r = run({relay_bin(), "--help"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (const char* verb : {"init", "serve", "session", "keys", "device", "enroll"})
    EXPECT_TRUE(contains(r.out, verb)) << verb << " missing from:\n" << r.out;
}

TEST(Cli, RelayServeHelpListsOptions) {
  auto r = run({relay_bin(), "serve", "--help"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (const char* opt :
       {"--data-dir", "--listen", "--check-interval", "--handshake-timeout", "--threads"})
    EXPECT_TRUE(contains(r.out, opt)) << opt << " missing from:\n" << r.out;
}

TEST(Cli, AgentHelpListsVerbs) {
  auto r = run({agent_bin(), "--help"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (const char* verb : {"help", "run", "status"})
    EXPECT_TRUE(contains(r.out, verb)) << verb << " missing from:\n" << r.out;
  auto h = run({agent_bin(), "run", "--help"});
  EXPECT_EQ(h.exit_code, 0);
  for (const char* opt : {"--relay", "--relay-key", "--enroll-token", "--data-dir"})
    EXPECT_TRUE(contains(h.out, opt)) << opt << " missing from:\n" << h.out;
}

TEST(Cli, BadFlagsFailWithAClearMessage) {
  TempDir tmp;
  const std::string dir = (tmp / "relay").string();
  ASSERT_EQ(run({relay_bin(), "init", "--data-dir", dir}).exit_code, 0);

  struct Case {
    std::vector<std::string> argv;
    std::string mention;  // the message names what is wrong
  };
  std::vector<Case> cases = {
      {{relay_bin(), "serve", "--data-dir", dir, "--listen", "nonsense"}, "--listen"},
      {{relay_bin(), "serve", "--data-dir", dir, "--listen", "127.0.0.1:70000"}, "--listen"},
      {{relay_bin(), "serve", "--data-dir", dir, "--listen",
        "127.0.0.1:" + std::to_string(free_port()), "--check-interval", "soon"},
       "--check-interval"},
      {{relay_bin(), "enroll", "create", "--name", "Bad Name!", "--data-dir", dir}, "--name"},
      {{relay_bin(), "enroll", "create", "--name", "ok-name", "--ttl", "forever", "--data-dir",
        dir},
       "--ttl"},
      {{relay_bin(), "enroll", "create", "--data-dir", dir}, "--name"},
      // CLI11 says "A subcommand is required" here, without naming the unknown word.
      {{relay_bin(), "frobnicate"}, "subcommand"},
      {{agent_bin(), "help", "--relay", "x:99999", "--data-dir", (tmp / "a").string()}, "--relay"},
      {{agent_bin(), "help", "--data-dir", (tmp / "a").string()}, "--relay"},
      {{agent_bin(), "help", "--relay", "127.0.0.1:1", "--relay-key", "not-a-key", "--data-dir",
        (tmp / "a").string()},
       "--relay-key"},
      {{agent_bin(), "run", "--relay", "127.0.0.1:1", "--enroll-token", "abc", "--data-dir",
        (tmp / "a").string()},
       "--enroll-token"},
      {{agent_bin(), "run", "--relay", "127.0.0.1:1", "--name", "NOT OK", "--data-dir",
        (tmp / "a").string()},
       "--name"},
      {{agent_bin(), "run", "--relay", "127.0.0.1:1", "--info-interval", "500ms", "--data-dir",
        (tmp / "a").string()},
       "--info-interval: at least 1s"},
      {{agent_bin(), "help", "--relay", "127.0.0.1:1", "--info-interval", "often", "--data-dir",
        (tmp / "a").string()},
       "--info-interval"},
  };
  for (const auto& c : cases) {
    std::string cmd;
    for (const auto& a : c.argv) cmd += a + " ";
    auto r = run(c.argv, {.timeout = 10s});
    EXPECT_NE(r.exit_code, 0) << cmd;
    EXPECT_NE(r.exit_code, -1) << cmd << " did not exit by itself";
    EXPECT_TRUE(contains(r.err, c.mention))
        << cmd << "\nstderr does not mention " << c.mention << ":\n"
        << r.err << "\nstdout:\n"
        << r.out;
  }
  // Nothing was enrolled by the failed attempts.
  auto list = run({relay_bin(), "enroll", "list", "--json", "--data-dir", dir});
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(nlohmann::json::parse(list.out, nullptr, false), nlohmann::json::array()) << list.out;
}

TEST(Cli, AdminVerbsWithoutDatabaseSayRunInit) {
  TempDir tmp;
  const std::string dir = (tmp / "empty").string();
  std::vector<std::vector<std::string>> verbs = {
      {"session", "list"},          {"session", "list", "--active", "--json"}, {"keys", "list"},
      {"device", "list", "--json"}, {"enroll", "create", "--name", "web-01"},
  };
  for (auto args : verbs) {
    std::vector<std::string> argv{relay_bin()};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("--data-dir");
    argv.push_back(dir);
    auto r = run(argv, {.timeout = 10s});
    EXPECT_NE(r.exit_code, 0) << args[0] << " " << args[1];
    EXPECT_TRUE(contains(r.err, "relay init")) << args[0] << " " << args[1] << ":\n" << r.err;
  }
  // They must not have created a database as a side effect.
  EXPECT_FALSE(std::filesystem::exists(tmp / "empty" / "relay.db"));
  // Neither does serve start on an uninitialised dir.
  auto serve = run({relay_bin(), "serve", "--data-dir", dir, "--listen",
                    "127.0.0.1:" + std::to_string(free_port())},
                   {.timeout = 10s});
  EXPECT_NE(serve.exit_code, 0);
  EXPECT_NE(serve.exit_code, -1) << "serve should have failed, not run";
}

TEST(Cli, InitIsIdempotentAndPrivate) {
  TempDir tmp;
  const std::string dir = (tmp / "relay").string();
  auto first = run({relay_bin(), "init", "--data-dir", dir});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  std::smatch m1, m2;
  std::regex fp("Relay fingerprint: (SHA256:[A-Za-z0-9+/]+)");
  ASSERT_TRUE(std::regex_search(first.out, m1, fp)) << first.out;
  auto second = run({relay_bin(), "init", "--data-dir", dir});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_TRUE(contains(second.out, "Already initialised")) << second.out;
  ASSERT_TRUE(std::regex_search(second.out, m2, fp)) << second.out;
  EXPECT_EQ(m1[1].str(), m2[1].str()) << "init must keep the host key";

  struct stat st {};
  ASSERT_EQ(::stat((tmp / "relay" / "ssh_host_ed25519_key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0077, 0u) << "the data dir must not be open to others";
  EXPECT_TRUE(std::filesystem::exists(tmp / "relay" / "relay.db"));

  // The fingerprint is the one the agents see (OpenSSH agrees with it).
  auto pub = run({"/usr/bin/ssh-keygen", "-lf", (tmp / "relay" / "ssh_host_ed25519_key").string()});
  EXPECT_EQ(pub.exit_code, 0) << pub.err;
  EXPECT_TRUE(contains(pub.out, m1[1].str())) << pub.out;
}

TEST(Cli, SecondServeOnSameDataDirFails) {
  TempDir tmp;
  Relay relay(tmp / "relay");
  auto second = run({relay_bin(), "serve", "--data-dir", relay.data_dir().string(), "--listen",
                     "127.0.0.1:" + std::to_string(free_port()), "--check-interval", "1s"},
                    {.timeout = 15s});
  EXPECT_NE(second.exit_code, 0);
  EXPECT_NE(second.exit_code, -1) << "the second serve kept running";
  EXPECT_TRUE(contains(second.err, "already running")) << second.err;
  // The first one is unaffected and still serves.
  EXPECT_TRUE(relay.process().running());
  Process agent(agent_help_argv(relay.address(), tmp / "agent"));
  EXPECT_TRUE(banner_session_id(agent)) << agent.err();
}

TEST(Cli, AdminVerbsWorkWhileRelayRunsAndPrintTables) {
  TempDir tmp;
  Relay relay(tmp / "relay");
  Process agent(agent_help_argv(relay.address(), tmp / "agent"));
  auto id = banner_session_id(agent);
  ASSERT_TRUE(id) << agent.err();
  ASSERT_TRUE(wait_until([&] { return !find_by(relay.sessions(true), "id", *id).is_null(); }));

  auto sessions = relay.admin({"session", "list", "--active"});
  EXPECT_EQ(sessions.exit_code, 0) << sessions.err;
  EXPECT_TRUE(contains(sessions.out, "SESSION")) << sessions.out;
  EXPECT_TRUE(contains(sessions.out, *id)) << sessions.out;
  auto keys = relay.admin({"keys", "list"});
  EXPECT_EQ(keys.exit_code, 0) << keys.err;
  EXPECT_TRUE(contains(keys.out, *id)) << keys.out;
  auto devices = relay.admin({"device", "list"});
  EXPECT_EQ(devices.exit_code, 0) << devices.err;
  EXPECT_TRUE(contains(devices.out, "NAME")) << devices.out;
  auto token = relay.admin_json({"enroll", "create", "--name", "web-09", "--ttl", "30m"});
  ASSERT_TRUE(token.is_object());
  EXPECT_EQ(token["name"], "web-09");
  EXPECT_FALSE(token.value("token", "").empty());
  EXPECT_FALSE(token.value("expires", "").empty());
  // The plain form prints the token alone on stdout and explains on stderr.
  auto plain = relay.admin({"enroll", "create", "--name", "web-10"});
  EXPECT_EQ(plain.exit_code, 0);
  EXPECT_EQ(std::count(plain.out.begin(), plain.out.end(), '\n'), 1) << plain.out;
  EXPECT_TRUE(contains(plain.err, "--enroll-token")) << plain.err;
}

}  // namespace
}  // namespace sb::e2e
