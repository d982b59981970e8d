// Operators reaching services through the device, end to end: `ssh -L` to the device's screen
// service, SOCKS5 (`ssh -D`, `operator-cli proxy`) and `operator-cli forward` limited by the
// agent's --allow-proxy rules, `ssh -J` to the device's own sshd, and the ssh command lines
// operator-cli builds. Every server listens on a loopback address; "not allowed" destinations
// are loopback addresses outside the agent's allowed CIDR.
#include <gtest/gtest.h>
#include <pwd.h>
#include <unistd.h>

#include <atomic>
#include <fstream>

#include "harness.hpp"
#include "operator_support.hpp"
#include "tcp_service.hpp"

namespace sb::e2e {
namespace {

namespace fs = std::filesystem;

// ---- Small TCP services on loopback --------------------------------------------------------

// An HTTP/1.0 server answering every request with body.
TcpServer::Handler http_handler(const std::string& body) {
  return [body](int fd, const std::atomic<bool>&) {
    read_until(fd, "\r\n\r\n", 5s);
    write_all(fd, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                      std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
  };
}

RunResult curl(const std::string& socks, const std::string& url) {
  std::vector<std::string> argv{"/usr/bin/curl", "-sS", "--max-time", "10"};
  if (!socks.empty()) argv.insert(argv.end(), {"--socks5-hostname", socks});
  argv.push_back(url);
  // No proxy from the environment: only the one given here.
  return run(
      argv,
      {.timeout = 20s,
       .env = {{"http_proxy", ""}, {"HTTP_PROXY", ""}, {"all_proxy", ""}, {"ALL_PROXY", ""}}});
}

// Starts ssh (or operator-cli, which execs ssh) that sets up local forwards, at log level
// DEBUG1, and waits until it listens; restarts it while the relay refuses the key at
// authentication (an operator registered a moment ago).
std::unique_ptr<Process> start_forwarder(const std::vector<std::string>& argv) {
  return start_operator_process(
      argv, [](Process& p) { return contains(p.err(), kForwardListening); }, 15s);
}

class OperatorForward : public OperatorTest {
 protected:
  // operator-cli's options to reach the relay as operator `name`.
  std::vector<std::string> cli_common(const std::string& name) const {
    auto argv = operator_cli(name, {});
    argv.erase(argv.begin());  // operator_bin()
    return argv;
  }
};

std::vector<std::string> concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// ---- Tests ---------------------------------------------------------------------------------

TEST_F(OperatorForward, SshLocalForwardReachesTheScreenService) {
  EchoService screen;
  start_relay({"alice"});
  start_adhoc_agent({"--screen", "127.0.0.1:" + std::to_string(screen.port())});

  int local = free_port();
  auto forward = start_forwarder(ssh("alice", id_,
                                     {"-v", "-N", "-o", "ExitOnForwardFailure=yes", "-L",
                                      "127.0.0.1:" + std::to_string(local) + ":screen:5900"}));
  ASSERT_TRUE(forward->running()) << forward->err();
  EXPECT_EQ(talk_to_echo(local), "RFB 003.008\necho:ping\n");
  EXPECT_EQ(screen.connections(), 1);
  // A second connection through the same forward is not asked about again.
  EXPECT_EQ(talk_to_echo(local), "RFB 003.008\necho:ping\n");
  auto questions = consent().questions();
  ASSERT_EQ(questions.size(), 1u) << agent().out();
  EXPECT_EQ(questions[0], "asks to see your screen");

  // operator-cli screen does the same.
  int cli_port = free_port();
  auto cli =
      start_forwarder(concat({operator_bin(), "screen", id_, "--listen",
                              "127.0.0.1:" + std::to_string(cli_port), "-o", "LogLevel=DEBUG1"},
                             cli_common("alice")));
  ASSERT_TRUE(cli->running()) << cli->err();
  EXPECT_EQ(talk_to_echo(cli_port), "RFB 003.008\necho:ping\n");
  EXPECT_EQ(screen.connections(), 3);
}

// Allowed: 127.0.0.1/32 (the agent's --allow-proxy); not allowed: 127.0.0.2, where a server
// listens too (so a refusal is the device's policy, not a dead port).
class OperatorProxy : public OperatorForward {
 protected:
  void SetUp() override {
    allowed_ = std::make_unique<TcpServer>("127.0.0.1", http_handler("allowed-page-7f3a\n"));
    other_ = std::make_unique<TcpServer>("127.0.0.2", http_handler("forbidden-page-9c1e\n"));
    start_relay({"alice"});
    start_adhoc_agent({"--allow-proxy", "127.0.0.1/32"});
  }
  std::string allowed_url() const {
    return "http://127.0.0.1:" + std::to_string(allowed_->port()) + "/";
  }
  std::string other_url() const {
    return "http://127.0.0.2:" + std::to_string(other_->port()) + "/";
  }
  // Through the SOCKS proxy on socks_port: the allowed page arrives, the other one does not
  // (and its server never sees a connection), though it is up.
  void expect_allowed_only(int socks_port) {
    std::string socks = "127.0.0.1:" + std::to_string(socks_port);
    auto page = curl(socks, allowed_url());
    EXPECT_EQ(page.exit_code, 0) << page.err;
    EXPECT_EQ(page.out, "allowed-page-7f3a\n");
    auto again = curl(socks, allowed_url());
    EXPECT_EQ(again.out, "allowed-page-7f3a\n") << again.err;

    auto refused = curl(socks, other_url());
    EXPECT_NE(refused.exit_code, 0) << refused.out;
    EXPECT_EQ(refused.out.find("forbidden-page"), std::string::npos) << refused.out;
    EXPECT_EQ(other_->connections(), 0) << "the device connected to a destination it may not";

    auto direct = curl("", other_url());
    EXPECT_EQ(direct.out, "forbidden-page-9c1e\n") << "the other server is up: " << direct.err;
  }

  std::unique_ptr<TcpServer> allowed_, other_;
};

TEST_F(OperatorProxy, SshDynamicForwardReachesOnlyAllowedDestinations) {
  int socks = free_port();
  auto forward = start_forwarder(ssh(
      "alice", id_,
      {"-v", "-N", "-o", "ExitOnForwardFailure=yes", "-D", "127.0.0.1:" + std::to_string(socks)}));
  ASSERT_TRUE(forward->running()) << forward->err();
  expect_allowed_only(socks);
  // Asked once for this connection, naming the first destination.
  auto questions = consent().questions();
  ASSERT_EQ(questions.size(), 1u) << agent().out();
  EXPECT_EQ(questions[0],
            "asks to use your network (127.0.0.1:" + std::to_string(allowed_->port()) + ")");
}

TEST_F(OperatorProxy, OperatorCliProxyReachesOnlyAllowedDestinations) {
  int socks = free_port();
  auto cli = start_forwarder(concat({operator_bin(), "proxy", spaced_session_id(id_), "--socks",
                                     "127.0.0.1:" + std::to_string(socks), "-o", "LogLevel=DEBUG1"},
                                    cli_common("alice")));
  ASSERT_TRUE(cli->running()) << cli->err();
  expect_allowed_only(socks);
}

TEST_F(OperatorProxy, OperatorCliForwardReachesOnlyAllowedDestinations) {
  int to_allowed = free_port();
  auto cli = start_forwarder(
      concat({operator_bin(), "forward", id_, "-L",
              std::to_string(to_allowed) + ":127.0.0.1:" + std::to_string(allowed_->port()), "-o",
              "LogLevel=DEBUG1"},
             cli_common("alice")));
  ASSERT_TRUE(cli->running()) << cli->err();
  auto page = curl("", "http://127.0.0.1:" + std::to_string(to_allowed) + "/");
  EXPECT_EQ(page.exit_code, 0) << page.err;
  EXPECT_EQ(page.out, "allowed-page-7f3a\n");

  int to_other = free_port();
  auto refused_cli = start_forwarder(
      concat({operator_bin(), "forward", id_, "-L",
              std::to_string(to_other) + ":127.0.0.2:" + std::to_string(other_->port()), "-o",
              "LogLevel=DEBUG1"},
             cli_common("alice")));
  ASSERT_TRUE(refused_cli->running()) << refused_cli->err();
  auto refused = curl("", "http://127.0.0.1:" + std::to_string(to_other) + "/");
  EXPECT_NE(refused.exit_code, 0) << refused.out;
  EXPECT_EQ(refused.out.find("forbidden-page"), std::string::npos) << refused.out;
  EXPECT_EQ(other_->connections(), 0);
}

// `ssh -J SESSION@relay:PORT root@sshd`: the relay only carries the inner SSH connection to the
// device's own sshd, whose host key the operator checks end to end.
TEST_F(OperatorForward, JumpReachesTheDeviceSshdEndToEnd) {
  start_relay({"alice"});
  const auto& tmp = tmp_;
  const auto& alice = op("alice");

  // A private sshd on loopback that accepts alice's key.
  auto host_key = tmp / "sshd_host_key";
  auto gen = run({"/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", host_key.string()});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  fs::copy_file(alice.key.string() + ".pub", tmp / "authorized_keys");
  int sshd_port = free_port();
  {
    std::ofstream config(tmp / "sshd_config");
    config << "HostKey " << host_key.string() << "\n"
           << "ListenAddress 127.0.0.1\n"
           << "AuthorizedKeysFile " << (tmp / "authorized_keys").string() << "\n"
           << "PermitRootLogin yes\nStrictModes no\nUsePAM no\nPidFile none\n"
           << "PasswordAuthentication no\nKbdInteractiveAuthentication no\n";
  }
  Process sshd({"/usr/sbin/sshd", "-D", "-e", "-f", (tmp / "sshd_config").string(), "-p",
                std::to_string(sshd_port)});
  ASSERT_TRUE(sshd.wait_for_output("Server listening on", 10s, true)) << sshd.err();

  start_adhoc_agent({"--sshd", "127.0.0.1:" + std::to_string(sshd_port)});

  // An sshd not started by root lets only its own user in; the tests also run as a user.
  const passwd* pw = ::getpwuid(::geteuid());
  ASSERT_NE(pw, nullptr);
  const std::string login = pw->pw_name;

  // The jump host (the relay) is trusted on first use; the device's sshd must present the key
  // generated above (StrictHostKeyChecking yes), so nothing in between can answer for it.
  {
    std::ofstream known(tmp / "device_known_hosts");
    known << "sshd " << read_text(host_key.string() + ".pub");
  }
  {
    std::ofstream config(tmp / "ssh_config");
    config << "Host 127.0.0.1\n"
           << "  IdentityFile " << alice.key.string() << "\n  IdentitiesOnly yes\n"
           << "  UserKnownHostsFile " << (tmp / "relay_known_hosts").string() << "\n"
           << "  StrictHostKeyChecking accept-new\n  BatchMode yes\n  LogLevel ERROR\n"
           << "Host sshd\n"
           << "  IdentityFile " << alice.key.string() << "\n  IdentitiesOnly yes\n"
           << "  UserKnownHostsFile " << (tmp / "device_known_hosts").string() << "\n"
           << "  StrictHostKeyChecking yes\n  BatchMode yes\n  LogLevel ERROR\n";
  }
  auto r = run_operator_ssh({"/usr/bin/ssh", "-F", (tmp / "ssh_config").string(), "-J",
                             id_ + "@127.0.0.1:" + std::to_string(relay().port()), login + "@sshd",
                             "echo e2e-$((6*7)); exit 4"});
  EXPECT_EQ(r.exit_code, 4) << r.out << r.err;
  EXPECT_EQ(r.out, "e2e-42\n") << r.err;
  auto questions = consent().questions();
  ASSERT_EQ(questions.size(), 1u) << agent().out();
  EXPECT_EQ(questions[0], "asks to use your network (sshd:22)");
  EXPECT_NE(sshd.err().find("Accepted publickey for " + login), std::string::npos) << sshd.err();
}

TEST(OperatorCli, DryRunPrintsTheSshCommandLines) {
  auto dry = [](std::vector<std::string> args) {
    // operator-cli VERB SESSION --relay 127.0.0.1:2222 --dry-run REST...
    std::vector<std::string> argv{operator_bin(), args[0],          args[1],
                                  "--relay",      "127.0.0.1:2222", "--dry-run"};
    argv.insert(argv.end(), args.begin() + 2, args.end());
    return run(argv);
  };
  auto contains = [](const RunResult& r, const std::string& text) {
    return r.exit_code == 0 && r.out.find(text) != std::string::npos;
  };

  auto shared = dry({"connect", "482 913 075"});
  EXPECT_TRUE(contains(shared, "-p 2222")) << shared.out << shared.err;
  EXPECT_TRUE(contains(shared, "-t 482913075@127.0.0.1")) << shared.out << shared.err;
  auto observer = dry({"connect", "482-913-075", "--read-only"});
  EXPECT_TRUE(contains(observer, "482913075+ro@127.0.0.1")) << observer.out << observer.err;
  auto own = dry({"connect", "482913075", "--own"});
  EXPECT_TRUE(contains(own, "482913075+own@127.0.0.1")) << own.out << own.err;
  auto by_name = dry({"connect", "web-01"});
  EXPECT_TRUE(contains(by_name, "web-01@127.0.0.1")) << by_name.out << by_name.err;
  auto both = dry({"connect", "482913075", "--own", "--read-only"});
  EXPECT_NE(both.exit_code, 0) << both.out;
  auto bad = dry({"connect", "12345"});
  EXPECT_NE(bad.exit_code, 0) << bad.out;
  EXPECT_FALSE(bad.err.empty());

  auto screen = dry({"screen", "482913075"});
  EXPECT_TRUE(contains(screen, "-N")) << screen.out << screen.err;
  EXPECT_TRUE(contains(screen, "-L 127.0.0.1:5901:screen:")) << screen.out << screen.err;
  auto proxy = dry({"proxy", "482913075"});
  EXPECT_TRUE(contains(proxy, "-D 127.0.0.1:1080")) << proxy.out << proxy.err;
  auto proxy_port = dry({"proxy", "482913075", "--socks", "127.0.0.1:1081"});
  EXPECT_TRUE(contains(proxy_port, "-D 127.0.0.1:1081")) << proxy_port.out << proxy_port.err;
  auto forward = dry({"forward", "482913075", "-L", "8080:127.0.0.3:80"});
  EXPECT_TRUE(contains(forward, "-L 127.0.0.1:8080:127.0.0.3:80")) << forward.out << forward.err;
  auto exec = dry({"exec", "482913075", "--", "uname", "-a"});
  EXPECT_TRUE(contains(exec, "482913075@127.0.0.1")) << exec.out << exec.err;
  EXPECT_TRUE(contains(exec, "'uname -a'")) << exec.out << exec.err;

  // An extra ssh option (-o, repeatable) right before the command and the session argument.
  auto with_option = run({operator_bin(), "exec", "482913075", "--relay", "127.0.0.1:2222",
                          "--dry-run", "-o", "BatchMode=yes", "--", "ls", "-l"});
  EXPECT_TRUE(contains(with_option, "-o BatchMode=yes")) << with_option.out << with_option.err;
  EXPECT_TRUE(contains(with_option, "'ls -l'")) << with_option.out << with_option.err;
  auto option_first = run({operator_bin(), "exec", "-o", "BatchMode=yes", "482913075", "--relay",
                           "127.0.0.1:2222", "--dry-run", "--", "true"});
  EXPECT_TRUE(contains(option_first, "482913075@127.0.0.1"))
      << option_first.out << option_first.err;
}

}  // namespace
}  // namespace sb::e2e
