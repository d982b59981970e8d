// The agent pins the relay's host key: --relay-key, or trust on first use recorded in its data
// dir. A key that does not match is refused for good (exit 2) and nothing reaches the relay.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <regex>

#include "harness.hpp"

namespace sb::e2e {
namespace {

// The fingerprint of a fresh ed25519 key made by OpenSSH's ssh-keygen.
std::string foreign_fingerprint(const TempDir& tmp) {
  auto key = (tmp / "other_key").string();
  auto gen = run({"/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-f", key, "-N", ""});
  EXPECT_EQ(gen.exit_code, 0) << gen.err;
  auto show = run({"/usr/bin/ssh-keygen", "-lf", key + ".pub"});
  EXPECT_EQ(show.exit_code, 0) << show.err;
  std::smatch m;
  static const std::regex re("(SHA256:[A-Za-z0-9+/]+)");
  EXPECT_TRUE(std::regex_search(show.out, m, re)) << show.out;
  return m.size() > 1 ? m[1].str() : "";
}

TEST(Pinning, CorrectRelayKeyIsAccepted) {
  TempDir tmp;
  Relay relay(tmp / "relay");
  Process agent(
      agent_help_argv(relay.address(), tmp / "agent", {"--relay-key", relay.fingerprint()}));
  ASSERT_TRUE(banner_session_id(agent)) << agent.err();
  // With --relay-key nothing is trusted on first use.
  EXPECT_EQ(agent.err().find("first use"), std::string::npos) << agent.err();
}

TEST(Pinning, WrongRelayKeyIsRefused) {
  TempDir tmp;
  Relay relay(tmp / "relay");
  std::string wrong = foreign_fingerprint(tmp);
  ASSERT_FALSE(wrong.empty());
  ASSERT_NE(wrong, relay.fingerprint());

  // Ad hoc, and the unattended agent alike.
  std::vector<std::vector<std::string>> commands = {
      agent_help_argv(relay.address(), tmp / "help", {"--relay-key", wrong}),
      agent_run_argv(relay.address(), tmp / "run", {"--relay-key", wrong}),
  };
  for (const auto& argv : commands) {
    Process agent(argv);
    auto code = agent.wait(15s);
    ASSERT_TRUE(code) << "the agent kept retrying: " << agent.err();
    EXPECT_EQ(*code, 2) << agent.err();
    EXPECT_NE(agent.err().find("does not match --relay-key"), std::string::npos) << agent.err();
    EXPECT_NE(agent.err().find(relay.fingerprint()), std::string::npos)
        << "the message should name the key the relay presented: " << agent.err();
    EXPECT_TRUE(agent.matches(kBannerRegex).empty()) << agent.out();
  }
  // The agent stopped before authenticating: the relay has no session and no key.
  EXPECT_EQ(relay.sessions().size(), 0u) << relay.sessions().dump(2);
  EXPECT_EQ(relay.tunnel_keys().size(), 0u);
  auto status = run({agent_bin(), "status", "--data-dir", (tmp / "help").string()});
  EXPECT_EQ(status.exit_code, 3) << status.out;
}

TEST(Pinning, ChangedPinnedKeyIsRefused) {
  TempDir tmp;
  const auto agent_dir = tmp / "agent";
  int port = 0;
  std::string first_fingerprint;
  {
    Relay first(tmp / "relay-a");
    port = first.port();
    first_fingerprint = first.fingerprint();
    Process agent(agent_help_argv(first.address(), agent_dir));
    ASSERT_TRUE(banner_session_id(agent)) << agent.err();
    EXPECT_TRUE(agent.wait_for_output("first use", 1s, true)) << agent.err();
    agent.signal(SIGTERM);
    ASSERT_EQ(agent.wait(10s), 0);
    ASSERT_EQ(first.stop(), 0);
  }
  EXPECT_NE(read_text(agent_dir / "known_relays").find(first_fingerprint), std::string::npos);

  // Another relay (another host key) now answers on the same address.
  Relay impostor(tmp / "relay-b", Relay::Options{}, port);
  ASSERT_NE(impostor.fingerprint(), first_fingerprint);
  Process agent(agent_help_argv(impostor.address(), agent_dir));
  auto code = agent.wait(15s);
  ASSERT_TRUE(code) << agent.err();
  EXPECT_EQ(*code, 2) << agent.err();
  EXPECT_NE(agent.err().find("refusing to connect"), std::string::npos) << agent.err();
  EXPECT_NE(agent.err().find(first_fingerprint), std::string::npos)
      << "the message should say which key is pinned: " << agent.err();
  EXPECT_EQ(impostor.sessions().size(), 0u) << impostor.sessions().dump(2);
  // The pin was not replaced by the new key.
  auto pins = read_text(agent_dir / "known_relays");
  EXPECT_NE(pins.find(first_fingerprint), std::string::npos) << pins;
  EXPECT_EQ(pins.find(impostor.fingerprint()), std::string::npos) << pins;
}

// The key changes under a running agent (its relay is replaced while it reconnects): it stops
// rather than talk to the new one.
TEST(Pinning, RunningAgentRefusesAChangedKeyOnReconnect) {
  TempDir tmp;
  const auto agent_dir = tmp / "agent";
  auto first = std::make_unique<Relay>(tmp / "relay-a");
  int port = first->port();
  Process agent(agent_help_argv(first->address(), agent_dir));
  ASSERT_TRUE(banner_session_id(agent)) << agent.err();
  ASSERT_EQ(first->stop(), 0);
  first.reset();

  Relay impostor(tmp / "relay-b", Relay::Options{}, port);
  auto code = agent.wait(20s);
  ASSERT_TRUE(code) << "the agent should refuse the new key and exit: " << agent.err();
  EXPECT_EQ(*code, 2) << agent.err();
  EXPECT_NE(agent.err().find("refusing to connect"), std::string::npos) << agent.err();
  EXPECT_EQ(impostor.sessions().size(), 0u) << impostor.sessions().dump(2);
}

}  // namespace
}  // namespace sb::e2e
