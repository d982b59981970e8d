// Refusals, end to end: each is logged once with its reason, what was asked for and who asked;
// a user name with a NUL byte in it is refused at once instead of being left unanswered until
// the handshake timeout. What OpenSSH will not send (that user name, 33 channels on one
// connection) comes from sb-ssh-probe, a libssh client (tests/tools/ssh_probe.cpp).
#include <gtest/gtest.h>

#include "harness.hpp"
#include "operator_support.hpp"
#include "relay/store/store.hpp"

namespace sb::e2e {
namespace {

class Refusals : public OperatorTest {
 protected:
  // sb-ssh-probe as operator `name`: "auth", or "channels N".
  RunResult probe(const std::string& name, const std::string& user,
                  const std::vector<std::string>& mode) {
    std::vector<std::string> argv{ssh_probe_bin(), "127.0.0.1", std::to_string(relay().port()),
                                  op(name).key.string(), user};
    argv.insert(argv.end(), mode.begin(), mode.end());
    return run(argv, {.timeout = 30s});
  }
  // The relay logged a line containing `text` (within a few seconds).
  ::testing::AssertionResult logged(const std::string& text) {
    if (wait_until([&] { return contains(relay().process().err(), text); }, 5s))
      return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "no log line with: " << text << "\nrelay log:\n"
                                         << relay().process().err();
  }
  // The audit events of a kind, once at least `at_least` of them are stored.
  std::vector<nlohmann::json> events(const std::string& kind, std::size_t at_least) {
    std::vector<nlohmann::json> rows;
    wait_until(
        [&] {
          rows = store::Db::open(relay().data_dir() / "relay.db", false)->list_events(kind, 100);
          return rows.size() >= at_least;
        },
        5s);
    return rows;
  }
};

double seconds_in(const std::string& probe_output) {
  auto at = probe_output.find("seconds=");
  return at == std::string::npos ? -1 : std::stod(probe_output.substr(at + 8));
}

TEST_F(Refusals, ANulByteInTheUserNameIsRefusedAtOnce) {
  start_relay({"alice"});
  // libssh checks the signature over the name cut at the NUL and drops the request before any
  // callback of the relay sees it: neither the key nor the name matters for what follows.
  auto r = probe("alice", "482913075\\x00own", {"auth"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const double seconds = seconds_in(r.out);
  std::cout << "[ measured ] NUL in the user name: " << trim_end(r.out) << "\n";
  // Before: no answer at all until the handshake timeout (20 s; the probe gives up after 10 s
  // with auth=again).
  EXPECT_TRUE(contains(r.out, "auth=closed")) << r.out;
  EXPECT_GE(seconds, 0) << r.out;
  EXPECT_LT(seconds, 1.5) << "the relay took its time to refuse: " << r.out;
  EXPECT_TRUE(logged("from=127.0.0.1: signed request dropped by libssh unanswered"));
  EXPECT_TRUE(logged("a NUL byte in the user name does that) (unanswered)"));
  auto refused = events("auth.refused", 1);
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0]["detail"]["stage"], "unanswered") << refused[0].dump();
  EXPECT_EQ(refused[0]["detail"]["source_addr"], "127.0.0.1") << refused[0].dump();
}

TEST_F(Refusals, EachRefusalIsLoggedWithItsReason) {
  start_device({"alice"});
  auto warm = exec("alice", "true");  // the relay has alice's key from here on
  ASSERT_EQ(warm.exit_code, 0) << warm.err;
  const std::string who = " operator=alice fp=" + op("alice").fingerprint + " from=127.0.0.1: ";
  // "refused WHAT "ID" operator=alice fp=... from=127.0.0.1: "
  auto on_session = [&](const std::string& what) {
    return "refused " + what + " \"" + id_ + "\"" + who;
  };

  // A user name that is neither a session ID nor a device name. OpenSSH only offers its key,
  // and gives up when the offer is refused: the refusal is told at the offer.
  auto bad_name = run(ssh("alice", "no!such*name", {}, {"true"}));
  EXPECT_TRUE(ssh_auth_refused(bad_name)) << bad_name.exit_code << bad_name.err;
  EXPECT_TRUE(logged("refused auth \"no!such*name\" fp=" + op("alice").fingerprint +
                     " from=127.0.0.1: user name is not a session ID or device name (offered)"));

  // A command over the size limit (64 KiB); only its size is logged.
  auto big = run(ssh("alice", id_, {}, {std::string(64 * 1024 + 1, 'x')}));
  EXPECT_NE(big.exit_code, 0) << big.out;
  EXPECT_TRUE(
      logged(on_session("exec") + "command over the size limit (65537 bytes, at most 65536)"));

  // A variable the device may not get, and one more than a channel may set (32); OpenSSH goes
  // on without them.
  std::string set_env = "SetEnv=NOT_ALLOWED=1";
  for (char a = 'A'; a <= 'Z'; ++a) set_env += std::string(" LC_") + a + "=1";
  for (char a = 'A'; a <= 'G'; ++a) set_env += std::string(" LC_A") + a + "=1";
  auto env = run(ssh("alice", id_, {"-o", set_env}, {"true"}));
  EXPECT_EQ(env.exit_code, 0) << env.err;
  EXPECT_TRUE(logged(on_session("env") + "env variable not allowed (name \"NOT_ALLOWED\""));
  EXPECT_TRUE(logged(on_session("env") + "env variables over the cap (name \"LC_AG\""));

  // The channel cap of one connection: 32 channels, the 33rd refused.
  auto channels = probe("alice", id_, {"channels", "40"});
  EXPECT_EQ(trim_end(channels.out), "channels=32") << channels.err;
  EXPECT_TRUE(logged(on_session("channel") + "channel cap reached (32 channels open)"));
}

}  // namespace
}  // namespace sb::e2e
