// Admin changes to who may do what take effect on a running relay before the verb returns:
// `relay grant add` followed at once by the operator's ssh gets in (every time, not after the
// relay's next look at the database), `relay grant remove` and `relay operator remove` lock out
// at once, and without a running relay the verbs still succeed and say so in one line.
#include <gtest/gtest.h>

#include "harness.hpp"
#include "operator_support.hpp"

namespace sb::e2e {
namespace {

// Each round reuses the relay and the device: a grant, an attach, the grant's removal.
constexpr int kGrantRounds = 20;
// Rounds that also check the removal: each refusal counts as a miss for the guessing guard,
// which slows a key after five misses a minute; stay well inside that.
constexpr int kRemovalChecks = 2;

class AdminLive : public OperatorTest {
 protected:
  // `ssh NAME@web-01 echo TEXT`, once, without retrying a refusal.
  RunResult attach_once(const std::string& name, const std::string& text) {
    return run(ssh(name, "web-01", {}, {"echo " + text}));
  }
  void admin_ok(const std::vector<std::string>& args) {
    auto r = relay().admin(args);
    ASSERT_EQ(r.exit_code, 0) << args[0] << " " << args[1] << ": " << r.out << r.err;
    // A running relay confirmed the change: nothing to warn about.
    EXPECT_EQ(r.err, "") << args[0] << " " << args[1];
  }
};

TEST_F(AdminLive, GrantThenConnectAtOnceTwentyTimesNeverRefused) {
  start_relay({"alice"});
  start_enrolled_agent(create_enroll_token(relay(), "web-01"));

  int refused = 0;
  std::string first_refusal;
  for (int round = 1; round <= kGrantRounds; ++round) {
    admin_ok({"grant", "add", "alice", "web-01"});
    const std::string text = "in-" + std::to_string(round);
    auto in = attach_once("alice", text);
    if (in.exit_code != 0 || in.out != text + "\n") {
      ++refused;
      if (first_refusal.empty())
        first_refusal = "round " + std::to_string(round) + ": exit " +
                        std::to_string(in.exit_code) + " " + in.out + in.err;
    }
    admin_ok({"grant", "remove", "alice", "web-01"});
    if (round > kRemovalChecks) continue;
    auto out = attach_once("alice", "still-in");
    EXPECT_NE(out.exit_code, 0) << "round " << round << ": the removed grant still let alice in";
    EXPECT_EQ(out.out, "");
    EXPECT_NE(out.err.find(kNotAvailableText), std::string::npos) << out.err;
  }
  EXPECT_EQ(refused, 0) << refused << " of " << kGrantRounds
                        << " attaches right after `relay grant add` were refused; first: "
                        << first_refusal;
}

TEST_F(AdminLive, OperatorAddLetsInAndOperatorRemoveLocksOutAtOnce) {
  start_relay({});
  start_enrolled_agent(create_enroll_token(relay(), "web-01"));
  const OperatorKey bob = make_operator_key(tmp_.path(), "bob");
  ops_["bob"] = bob;

  for (int round = 1; round <= 3; ++round) {
    admin_ok({"operator", "add", "bob", "--key", bob.key.string() + ".pub"});
    admin_ok({"grant", "add", "bob", "web-01"});
    auto in = attach_once("bob", "bob-in");
    EXPECT_EQ(in.exit_code, 0) << "round " << round << ": " << in.err;
    EXPECT_EQ(in.out, "bob-in\n");

    admin_ok({"operator", "remove", "bob"});
    auto out = attach_once("bob", "still-in");
    EXPECT_TRUE(ssh_auth_refused(out))
        << "round " << round << ": exit " << out.exit_code << " " << out.out << out.err;
    EXPECT_EQ(out.out, "");
  }
}

TEST(AdminLiveOffline, VerbsWithoutARunningRelaySucceedAndSaySoInOneLine) {
  TempDir tmp;
  const std::string dir = (tmp / "relay").string();
  ASSERT_EQ(run({relay_bin(), "init", "--data-dir", dir}).exit_code, 0);
  const OperatorKey carol = make_operator_key(tmp.path(), "carol");
  const std::vector<std::vector<std::string>> verbs = {
      {"operator", "add", "carol", "--key", carol.key.string() + ".pub"},
      {"grant", "add", "carol", "web-01"},
      {"grant", "remove", "carol", "web-01"},
      {"operator", "remove", "carol"},
  };
  for (auto argv : verbs) {
    const std::string verb = argv[0] + " " + argv[1];
    argv.insert(argv.begin(), relay_bin());
    argv.insert(argv.end(), {"--data-dir", dir});
    auto r = run(argv);
    EXPECT_EQ(r.exit_code, 0) << verb << ": " << r.out << r.err;
    EXPECT_EQ(r.err, "relay not running: the change applies when it starts\n") << verb;
  }
}

}  // namespace
}  // namespace sb::e2e
