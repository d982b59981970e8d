// Devices without the agent: plain OpenSSH `ssh -N -R NAME:PORT:host:port device@relay` gets a
// session ID (shown in ssh's banner), registers named services, and operators reach them by
// name with `ssh -L` and `operator-cli screen`. Unknown services and shells are refused; ending
// the device's ssh ends the session like any device's.
#include <gtest/gtest.h>

#include <csignal>

#include "harness.hpp"
#include "operator_support.hpp"
#include "tcp_service.hpp"

namespace sb::e2e {
namespace {

namespace fs = std::filesystem;

class Agentless : public ::testing::Test {
 protected:
  Agentless() : relay_(tmp_ / "relay"), device_key_(make_operator_key(tmp_.path(), "device")) {}

  // `ssh [-N] -R SPEC... device@relay`: OpenSSH as the device, with its own fresh key.
  std::vector<std::string> device_ssh_argv(const std::vector<std::string>& options) const {
    return agentless_device_argv(relay_, device_key_, tmp_ / "device_known_hosts", options);
  }

  // Starts `ssh -N -R screen:5900:127.0.0.1:ECHO device@relay`; returns its session ID (digits)
  // once the relay has registered the service.
  std::string start_device() {
    device_ = std::make_unique<Process>(
        device_ssh_argv({"-N", "-R", "screen:5900:127.0.0.1:" + std::to_string(service_.port())}));
    auto id = device_->wait_for_match(kAgentlessBannerRegex, 10s, true);
    EXPECT_TRUE(id) << device_->err();
    EXPECT_TRUE(relay_.process().wait_for_output("service screen:5900 registered", 10s, true))
        << relay_.process().err();
    return id ? digits_only(*id) : "";
  }

  // ssh -N -L ... as an operator, waiting until it listens (retried while the relay has not yet
  // loaded an operator key registered a moment ago).
  std::unique_ptr<Process> start_operator_forward(const OperatorKey& op, const std::string& id,
                                                  const std::vector<std::string>& forwards) {
    std::vector<std::string> options{"-v", "-N"};
    options.insert(options.end(), forwards.begin(), forwards.end());
    return start_operator_process(operator_ssh_argv(relay_, op, tmp_ / "known_hosts", id, options),
                                  [](Process& p) { return contains(p.err(), kForwardListening); });
  }

  TempDir tmp_;
  EchoService service_;
  Relay relay_;
  OperatorKey device_key_;
  std::unique_ptr<Process> device_;
};

TEST_F(Agentless, SshRegistersServicesAndGetsASessionId) {
  std::string id = start_device();
  ASSERT_EQ(id.size(), 9u);
  auto row = find_by(relay_.sessions(true), "id", id);
  ASSERT_FALSE(row.is_null()) << relay_.sessions(true).dump();
  EXPECT_EQ(row["kind"], "adhoc");
  EXPECT_EQ(row["fingerprint"], device_key_.fingerprint);
  EXPECT_EQ(row["info"]["agentless"], true);
  EXPECT_NE(relay_.process().err().find(
                "session " + id + ": service screen:5900 registered fp=" + device_key_.fingerprint),
            std::string::npos);
  // No agent answers pings: keepalive@openssh.com keeps the idle tunnel alive past the
  // janitor's limit (1.5 check intervals of 1 s).
  std::this_thread::sleep_for(2500ms);
  EXPECT_TRUE(device_->running()) << device_->err();
  EXPECT_FALSE(find_by(relay_.sessions(true), "id", id).is_null());
}

TEST_F(Agentless, OperatorsReachTheServiceByName) {
  std::string id = start_device();
  auto alice = register_operator(relay_, tmp_.path(), "alice");
  int local = free_port(), unknown = free_port();
  auto ssh = start_operator_forward(alice, id,
                                    {"-L", "127.0.0.1:" + std::to_string(local) + ":screen:5900",
                                     "-L", "127.0.0.1:" + std::to_string(unknown) + ":nope:5900"});
  ASSERT_TRUE(ssh->running()) << ssh->err();
  EXPECT_EQ(talk_to_echo(local), "RFB 003.008\necho:ping\n");
  EXPECT_EQ(service_.connections(), 1);

  // An unknown service: the channel is refused, nothing reaches the device's service.
  EXPECT_EQ(talk_to_echo(unknown), "");
  EXPECT_TRUE(ssh->wait_for_output("open failed", 5s, true)) << ssh->err();
  EXPECT_TRUE(relay_.process().wait_for_output("no such service on this device (\"nope\" port 5900",
                                               5s, true));
  EXPECT_EQ(service_.connections(), 1);

  // operator-cli screen asks for screen:5900 as well.
  int cli_port = free_port();
  Process cli({operator_bin(), "screen", id, "--listen", "127.0.0.1:" + std::to_string(cli_port),
               "--relay", relay_.address(), "-i", alice.key.string(), "--known-hosts",
               (tmp_ / "known_hosts").string(), "--host-key-checking", "accept-new", "-o",
               "LogLevel=DEBUG1"});
  ASSERT_TRUE(cli.wait_for_output(kForwardListening, 10s, true)) << cli.err();
  EXPECT_EQ(talk_to_echo(cli_port), "RFB 003.008\necho:ping\n") << cli.err();
  EXPECT_EQ(service_.connections(), 2);
}

TEST_F(Agentless, SessionsOnAnAgentlessDeviceAreRefused) {
  std::string id = start_device();
  auto alice = register_operator(relay_, tmp_.path(), "alice");
  auto exec = run_operator_ssh(
      operator_ssh_argv(relay_, alice, tmp_ / "known_hosts", id, {}, {"uname", "-a"}));
  EXPECT_NE(exec.exit_code, 0);
  EXPECT_NE(exec.err.find("this device offers services only: screen"), std::string::npos)
      << exec.err;
  EXPECT_EQ(service_.connections(), 0);
}

TEST_F(Agentless, EndingTheDeviceSshEndsTheSession) {
  std::string id = start_device();
  ASSERT_FALSE(find_by(relay_.tunnel_keys(), "fingerprint", device_key_.fingerprint).is_null());
  device_->signal(SIGKILL);
  ASSERT_TRUE(wait_until([&] { return find_by(relay_.sessions(true), "id", id).is_null(); }, 5s));
  auto row = find_by(relay_.sessions(), "id", id);
  ASSERT_FALSE(row.is_null());
  EXPECT_FALSE(row["ended"].is_null());
  EXPECT_TRUE(wait_until(
      [&] {
        return find_by(relay_.tunnel_keys(), "fingerprint", device_key_.fingerprint).is_null();
      },
      5s))
      << relay_.tunnel_keys().dump();
}

TEST_F(Agentless, ShellShowsTheIdAndServicesUntilCtrlC) {
  // Without -N (and port 0: the relay picks one, as OpenSSH expects).
  device_ = std::make_unique<Process>(
      device_ssh_argv({"-tt", "-R", "vnc2:0:127.0.0.1:" + std::to_string(service_.port())}));
  auto id = device_->wait_for_match(R"(switchboard: session ID (\d{3} \d{3} \d{3}) - tell)", 10s);
  ASSERT_TRUE(id) << device_->out() << device_->err();
  EXPECT_TRUE(device_->wait_for_output("services only (no shell): vnc2 (49152)", 5s))
      << device_->out();
  // ssh says so on stderr, which may arrive after the banner on stdout.
  EXPECT_TRUE(device_->wait_for_output("Allocated port 49152 for remote forward", 5s, true))
      << device_->err();
  ASSERT_FALSE(find_by(relay_.sessions(true), "id", digits_only(*id)).is_null());
  device_->write_stdin("\x03");
  EXPECT_EQ(device_->wait(5s), 0) << device_->out();
  EXPECT_TRUE(wait_until(
      [&] { return find_by(relay_.sessions(true), "id", digits_only(*id)).is_null(); }, 5s));
}

TEST_F(Agentless, InvalidAndTooManyServicesAreRefused) {
  auto bad =
      run(device_ssh_argv({"-N", "-R", "Bad_Name:80:127.0.0.1:" + std::to_string(service_.port())}),
          {.timeout = 15s});
  EXPECT_EQ(bad.exit_code, 255);
  EXPECT_NE(bad.err.find("remote port forwarding failed"), std::string::npos) << bad.err;
  EXPECT_TRUE(relay_.process().wait_for_output("service refused", 5s, true));

  std::vector<std::string> many{"-N"};
  for (int i = 0; i < 17; ++i)
    many.insert(many.end(), {"-R", "svc" + std::to_string(i) + ":" + std::to_string(1000 + i) +
                                       ":127.0.0.1:" + std::to_string(service_.port())});
  auto too_many = run(device_ssh_argv(many), {.timeout = 15s});
  EXPECT_EQ(too_many.exit_code, 255);
  EXPECT_NE(too_many.err.find("remote port forwarding failed for listen port 1016"),
            std::string::npos)
      << too_many.err;
  EXPECT_TRUE(relay_.process().wait_for_output("too many services (at most 16", 5s, true));
}

TEST_F(Agentless, CancelledForwardWithdrawsTheService) {
  // OpenSSH cancels a remote forward through its control master: `ssh -O cancel -R ...`.
  const std::string socket = (tmp_ / "master.sock").string();
  const std::string spec = "screen:5900:127.0.0.1:" + std::to_string(service_.port());
  device_ = std::make_unique<Process>(
      device_ssh_argv({"-M", "-S", socket, "-N", "-R", spec, "-R", "web:80:127.0.0.1:1"}));
  auto id = device_->wait_for_match(kAgentlessBannerRegex, 10s, true);
  ASSERT_TRUE(id) << device_->err();
  ASSERT_TRUE(relay_.process().wait_for_output("service web:80 registered", 10s, true));
  auto cancel = run(device_ssh_argv({"-S", socket, "-O", "cancel", "-R", spec}), {.timeout = 10s});
  EXPECT_EQ(cancel.exit_code, 0) << cancel.err;
  EXPECT_TRUE(relay_.process().wait_for_output("service screen:5900 withdrawn", 5s, true));

  auto alice = register_operator(relay_, tmp_.path(), "alice");
  auto exec = run_operator_ssh(
      operator_ssh_argv(relay_, alice, tmp_ / "known_hosts", digits_only(*id), {}, {"true"}));
  EXPECT_NE(exec.err.find("this device offers services only: web ("), std::string::npos)
      << exec.err;
  EXPECT_TRUE(device_->running());
}

TEST_F(Agentless, EnrolledKeyIsReachedByNameWithAGrantOnly) {
  // The agent enrolls once and keeps its long-term key (OpenSSH format) in its data dir; the
  // same key then serves plain ssh -R.
  auto token = relay_.admin({"enroll", "create", "--name", "web-01"});
  ASSERT_EQ(token.exit_code, 0) << token.err;
  token.out.erase(token.out.find_last_not_of("\r\n ") + 1);
  {
    Process agent(agent_run_argv(relay_.address(), tmp_ / "agent", {"--enroll-token", token.out}));
    ASSERT_TRUE(logged_session_id(agent)) << agent.err();
    agent.signal(SIGTERM);
    ASSERT_TRUE(agent.wait(10s));
  }
  device_key_.key = tmp_ / "agent" / "device_ed25519_key";
  device_ = std::make_unique<Process>(
      device_ssh_argv({"-N", "-R", "screen:5900:127.0.0.1:" + std::to_string(service_.port())}));
  ASSERT_TRUE(device_->wait_for_output("switchboard: device web-01, session ID", 10s, true))
      << device_->err();
  ASSERT_TRUE(relay_.process().wait_for_output("service screen:5900 registered", 10s, true));

  auto alice = register_operator(relay_, tmp_.path(), "alice");
  auto bob = register_operator(relay_, tmp_.path(), "bob");
  ASSERT_EQ(relay_.admin({"grant", "add", "alice", "web-01"}).exit_code, 0);
  auto refused = run_operator_ssh(
      operator_ssh_argv(relay_, bob, tmp_ / "known_hosts", "web-01", {}, {"true"}));
  EXPECT_NE(refused.err.find(kNotAvailableText), std::string::npos) << refused.err;

  int local = free_port();
  auto ssh = start_operator_forward(alice, "web-01",
                                    {"-L", "127.0.0.1:" + std::to_string(local) + ":screen:22"});
  ASSERT_TRUE(ssh->running()) << ssh->err();
  EXPECT_EQ(talk_to_echo(local), "RFB 003.008\necho:ping\n");
  EXPECT_EQ(service_.connections(), 1);
}

}  // namespace
}  // namespace sb::e2e
