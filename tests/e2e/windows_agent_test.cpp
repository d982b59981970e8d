// device-agent.exe under Wine against a Linux relay on loopback: enrolment, the Windows version
// in `relay device list`, exec through cmd.exe with its output and exit code, a -L forward to
// a TCP service, --allow-proxy refusals, the attended `help` mode's consent question, and a
// shell through ConPTY as far as Wine can take it.
//
// Runs only when SB_WINDOWS_AGENT_EXE names the cross-built agent (scripts/test-windows.sh sets
// it, with WINEPREFIX pointing at a prefix it made); skipped otherwise.
#include <gtest/gtest.h>
#include <unistd.h>

#include "operator_support.hpp"
#include "tcp_service.hpp"
#include "wine_support.hpp"

namespace sb::e2e {
namespace {

namespace fs = std::filesystem;

class WindowsAgent : public OperatorTest {
 protected:
  void SetUp() override {
    exe_ = env_or_empty("SB_WINDOWS_AGENT_EXE");
    if (exe_.empty()) GTEST_SKIP() << "SB_WINDOWS_AGENT_EXE not set (scripts/test-windows.sh)";
    if (env_or_empty("WINEPREFIX").empty()) GTEST_SKIP() << "WINEPREFIX not set";
  }

  // `wine device-agent.exe VERB --relay ... --data-dir ... EXTRA...`.
  std::unique_ptr<Process> start_wine_agent(const std::string& verb,
                                            std::vector<std::string> extra) {
    std::vector<std::string> argv{wine_bin(),
                                  exe_,
                                  verb,
                                  "--relay",
                                  relay().address(),
                                  "--data-dir",
                                  wine_path(tmp_ / "agent"),
                                  "--keepalive",
                                  "1s",
                                  "--max-backoff",
                                  "1s"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return std::make_unique<Process>(argv, wine_env());
  }

  // `wine device-agent.exe run ...`: an enrolled Windows device named `name`.
  void start_windows_agent(const std::string& name, std::vector<std::string> extra) {
    extra.insert(extra.begin(), {"--enroll-token", create_enroll_token(relay(), name)});
    agent_ = start_wine_agent("run", std::move(extra));
    // A fresh Wine prefix may take a while for the first program it starts.
    auto id = logged_session_id(*agent_, 1, 60s);
    if (!id) throw std::runtime_error("the Windows agent logged no session ID:\n" + agent_->err());
    id_ = *id;
    auto granted = relay().admin({"grant", "add", "alice", name});
    if (granted.exit_code != 0) throw std::runtime_error("grant add failed: " + granted.err);
  }

  // The first SSH exchange on a fresh prefix may time out once inside Wine: one retry.
  RunResult exec_on(const std::string& device, const std::string& command) {
    RunResult r;
    for (int attempt = 0; attempt < 2; ++attempt) {
      r = run_operator_ssh(ssh("alice", device, {}, {command}), {.timeout = 30s});
      if (!(r.exit_code == 255 && r.out.empty())) break;
    }
    return r;
  }

  std::string exe_;
};

TEST_F(WindowsAgent, EnrollsShowsWindowsVersionRunsCommandsAndForwards) {
  start_relay({"alice"});
  EchoService echo;
  start_windows_agent("win-01", {"--allow-proxy", "127.0.0.1/32"});

  // Online, with the Windows version the agent read from the system.
  nlohmann::json device;
  ASSERT_TRUE(wait_until([&] {
    device = find_by(relay().devices(), "name", "win-01");
    return !device.is_null() && device["status"] == "online";
  })) << relay().devices().dump(2);
  const std::string os = device["info"].value("os", "");
  EXPECT_TRUE(os.find("Windows") != std::string::npos) << device.dump(2);
  EXPECT_EQ(device["info"].value("kernel", "").rfind("Windows NT ", 0), 0u) << device.dump(2);
  auto table = relay().admin({"device", "list"});
  EXPECT_NE(table.out.find("Windows"), std::string::npos) << table.out;

  // exec through cmd.exe: what it printed, and its exit code.
  auto r = exec_on("win-01", "echo windows-says-hi& cmd /c exit 3");
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err << agent().err();
  EXPECT_NE(r.out.find("windows-says-hi"), std::string::npos) << r.out << r.err;

  // stdin reaches the command and its EOF ends it (more copies its input until EOF).
  auto piped = run_operator_ssh(ssh("alice", "win-01", {}, {"more"}),
                                {.input = "first-line\nsecond-line\n", .timeout = 30s});
  EXPECT_EQ(piped.exit_code, 0) << piped.err;
  EXPECT_NE(piped.out.find("first-line"), std::string::npos) << piped.out;
  EXPECT_NE(piped.out.find("second-line"), std::string::npos) << piped.out;

  // -L through the Windows agent to a TCP service on loopback (inside --allow-proxy).
  auto forward = connect_through_forward("alice", "127.0.0.1:" + std::to_string(echo.port()));
  ASSERT_GE(forward.fd, 0) << (forward.ssh ? forward.ssh->err() : "") << agent().err();
  EXPECT_EQ(read_exactly(forward.fd, 12), "RFB 003.008\n");
  write_all(forward.fd, "ping\n");
  EXPECT_EQ(read_exactly(forward.fd, 10), "echo:ping\n");
  ::close(forward.fd);

  // Outside --allow-proxy: the agent refuses the channel, so the relay closes the operator's
  // forward before a byte of the service comes through.
  auto refused = run_operator_ssh(
      ssh("alice", "win-01", {"-W", "127.0.0.2:" + std::to_string(echo.port())}), {.timeout = 30s});
  EXPECT_EQ(refused.out.find("RFB"), std::string::npos) << refused.out;
  EXPECT_TRUE(agent().wait_for_output("refused forward to 127.0.0.2:", 10s, true)) << agent().err();
  // No --screen given: the screen service is refused too.
  auto screen = run_operator_ssh(ssh("alice", "win-01", {"-W", "screen:5900"}), {.timeout = 30s});
  EXPECT_EQ(screen.out, "");
  EXPECT_TRUE(agent().wait_for_output("refused forward to screen:5900", 10s, true))
      << agent().err();
}

// The attended mode: `device-agent.exe help` prints the session ID, and the user at the console
// (here: its stdin, a pipe under Wine) is asked before an operator's command runs, and again
// before the screen is shown.
TEST_F(WindowsAgent, HelpPrintsTheSessionIdAndAsksBeforeACommandRuns) {
  start_relay({"alice"});
  EchoService vnc;  // stands in for a VNC server on the device: it greets with "RFB 003.008"
  agent_ = start_wine_agent("help", {"--screen", "127.0.0.1:" + std::to_string(vnc.port())});
  auto id = banner_session_id(*agent_, 1, 60s);
  ASSERT_TRUE(id) << agent().out() << agent().err();
  id_ = *id;
  consent_ = std::make_unique<ConsentAnswerer>(*agent_, "y");

  RunResult r;
  for (int attempt = 0; attempt < 2; ++attempt) {  // as exec_on: one retry on a fresh prefix
    r = exec("alice", "echo attended-yes", {.timeout = 30s});
    if (!(r.exit_code == 255 && r.out.empty())) break;
  }
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err << agent().err();
  EXPECT_NE(r.out.find("attended-yes"), std::string::npos) << r.out << r.err;
  const auto asked = consent().full_questions();
  ASSERT_FALSE(asked.empty()) << agent().out();
  EXPECT_EQ(asked[0].rfind("alice (" + op("alice").fingerprint + ") asks to run a command", 0), 0u)
      << asked[0];

  // The screen, asked for on its own (consent is per capability), reaches the --screen service.
  auto forward = connect_through_forward("alice", "screen:5900");
  ASSERT_GE(forward.fd, 0) << (forward.ssh ? forward.ssh->err() : "") << agent().err();
  EXPECT_EQ(read_exactly(forward.fd, 12), "RFB 003.008\n");
  ::close(forward.fd);
  const auto questions = consent().questions();
  ASSERT_GE(questions.size(), 2u) << agent().out();
  EXPECT_EQ(questions.back(), "asks to see your screen") << agent().out();
}

// A shell in a pseudo console. Wine 8.0 starts the child attached to the pseudo console, but the
// child's console output does not reach the output pipe and ResizePseudoConsole is not
// implemented (dlls/kernelbase/console.c; programs/conhost/conhost.c): checked here is what
// Wine can do, the rest is on the manual checklist for a real Windows machine.
TEST_F(WindowsAgent, ShellStartsInAPseudoConsole) {
  start_relay({"alice"});
  start_windows_agent("win-02", {});
  auto terminal = start_operator_process(
      ssh("alice", "win-02", {"-tt"}),
      [&](Process&) { return agent().wait_for_output("started a shell", 100ms, true); }, 30s);
  ASSERT_TRUE(agent().wait_for_output("started a shell", 20s, true)) << agent().err();
  EXPECT_TRUE(agent().wait_for_match(R"(started a shell \(pid \d+, pty\))", 1s, true))
      << agent().err();
  terminal->write_stdin("exit 4\r\n");
  // Whether cmd.exe sees the typed line depends on Wine's console; the session must end
  // cleanly either way once the operator leaves.
  if (!terminal->wait(10s)) terminal->signal(SIGTERM);
  EXPECT_TRUE(terminal->wait(10s).has_value());
  EXPECT_TRUE(agent().running()) << agent().err();
}

}  // namespace
}  // namespace sb::e2e
