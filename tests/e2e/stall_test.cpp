// Input that is ready when an operator's channel opens: it must reach the device at once, not
// when some later packet (the agent's keepalive) happens to wake the relay.
//  - exec with stdin data or EOF already sent (`echo hello | ssh dev1@relay cat`, `... cat
//    </dev/null`, `echo x | ssh dev1@relay 'read a; echo $a'`) and `scp -O` downloads, whose
//    first acknowledgement the client sends right away: each run well under a second;
//  - piped input into the shared terminal (`printf 'echo mark\nexit\n' | ssh -tt dev1@relay`):
//    the operator's EOF means "my input is done", after what it sent was delivered.
// The agent pings and the relay checks tunnels only every minute here, so nothing but the
// exchange itself can move it along.
#include <gtest/gtest.h>

#include <fstream>

#include "harness.hpp"
#include "operator_support.hpp"

namespace sb::e2e {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Far beyond the time limit: a stalled exchange would wait this long for the next packet.
constexpr const char* kRarely = "60s";
constexpr int kRuns = 20;
constexpr auto kLimit = 1s;

class InputReadyAtOpen : public ::testing::Test {
 protected:
  void SetUp() override {
    relay_ = std::make_unique<Relay>(tmp_ / "relay", Relay::Options{kRarely, {}});
    alice_ = register_operator(*relay_, tmp_.path(), "alice");
    std::string token = create_enroll_token(*relay_, "dev1");
    ASSERT_EQ(relay_->admin({"grant", "add", "alice", "dev1"}).exit_code, 0);
    agent_ = std::make_unique<Process>(std::vector<std::string>{
        agent_bin(), "run", "--relay", relay_->address(), "--data-dir", (tmp_ / "agent").string(),
        "--keepalive", kRarely, "--enroll-token", token, "--shell", "/bin/sh"});
    auto id = logged_session_id(*agent_);
    ASSERT_TRUE(id) << agent_->err();
    id_ = *id;
    RunResult first;  // until the relay has loaded the key and the grant
    ASSERT_TRUE(wait_until(
        [&] {
          first = run(ssh_argv({}, {"echo ready"}));
          return first.exit_code == 0;
        },
        10s))
        << first.exit_code << " " << first.err;
  }

  std::vector<std::string> ssh_argv(const std::vector<std::string>& options,
                                    const std::vector<std::string>& command) const {
    return operator_ssh_argv(*relay_, alice_, tmp_ / "known_hosts", "dev1", options, command);
  }

  // One OpenSSH connection that the runs share (`ssh -M`): each run is then one new channel,
  // fast enough for many runs, and its time is the exchange's, not a handshake's.
  void share_one_connection() {
    master_ = std::make_unique<Process>(ssh_argv({"-M", "-S", control_path(), "-N"}, {}));
    ASSERT_TRUE(wait_until(
        [&] {
          return run(ssh_argv({"-S", control_path(), "-O", "check"}, {})).exit_code == 0;
        },
        10s))
        << master_->err();
  }
  std::string control_path() const { return (tmp_ / "ctl").string(); }
  // `scp -O dev1@relay:SOURCE TARGET` over the shared connection.
  std::vector<std::string> scp_download_argv(const fs::path& source, const fs::path& target) const {
    return {"/usr/bin/scp",
            "-O",
            "-F",
            "/dev/null",
            "-P",
            std::to_string(relay_->port()),
            "-i",
            alice_.key.string(),
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "UserKnownHostsFile=" + (tmp_ / "known_hosts").string(),
            "-o",
            "BatchMode=yes",
            "-o",
            "ControlPath=" + control_path(),
            "-o",
            "ControlMaster=no",
            "dev1@127.0.0.1:" + source.string(),
            target.string()};
  }
  std::vector<std::string> shared_ssh_argv(const std::string& command) const {
    return ssh_argv({"-S", control_path(), "-o", "ControlMaster=no"}, {command});
  }

  TempDir tmp_;
  std::unique_ptr<Relay> relay_;
  OperatorKey alice_;
  std::unique_ptr<Process> agent_;
  std::string id_;
  std::unique_ptr<Process> master_;
};

struct TimedRun {
  std::optional<int> exit_code;
  double seconds = 0;
  std::string out, err;
};

// Starts argv, writes input (if any) and closes its stdin at once, waits for the exit.
TimedRun run_piped(const std::vector<std::string>& argv, const std::string& input) {
  auto start = Clock::now();
  Process p(argv);
  if (!input.empty()) p.write_stdin(input);
  p.close_stdin();
  TimedRun t;
  // Until it exited and its output is all read; a stalled run would wait a minute.
  t.exit_code = p.wait(10s);
  t.seconds = seconds_since(start);
  t.out = p.out();
  t.err = p.err();
  return t;
}

// Ended with status 0 within the limit.
::testing::AssertionResult quick_and_clean(const TimedRun& t) {
  if (!t.exit_code)
    return ::testing::AssertionFailure() << "stalled: still running after " << t.seconds << " s";
  if (*t.exit_code != 0)
    return ::testing::AssertionFailure() << "exit " << *t.exit_code << ": " << t.err;
  if (t.seconds >= std::chrono::duration<double>(kLimit).count())
    return ::testing::AssertionFailure() << "took " << t.seconds << " s";
  return ::testing::AssertionSuccess();
}

TEST_F(InputReadyAtOpen, ExecWithStdinReadyFinishesAtOnce) {
  ASSERT_NO_FATAL_FAILURE(share_one_connection());
  struct Shape {
    std::string command, input, expected;
  };
  const std::vector<Shape> shapes = {
      {"cat", "hello\n", "hello\n"},  // echo hello | ssh dev1@relay cat
      {"cat", "", ""},                // ssh dev1@relay cat </dev/null
      {"read a; echo $a", "x\n", "x\n"},
  };
  for (std::size_t s = 0; s < shapes.size(); ++s) {
    const Shape& shape = shapes[s];
    double slowest = 0;
    for (int i = 0; i < kRuns; ++i) {
      auto t = run_piped(shared_ssh_argv(shape.command), shape.input);
      ASSERT_TRUE(quick_and_clean(t))
          << "`" << shape.command << "` with input \"" << shape.input << "\", run " << i;
      EXPECT_EQ(t.out, shape.expected) << shape.command << " run " << i;
      slowest = std::max(slowest, t.seconds);
    }
    RecordProperty("slowest_run_of_shape_" + std::to_string(s), std::to_string(slowest));
  }
}

TEST_F(InputReadyAtOpen, ScpDownloadFinishesAtOnce) {
  ASSERT_NO_FATAL_FAILURE(share_one_connection());
  const fs::path source = tmp_ / "on-the-device.txt";
  const std::string content = "scp through the relay\n";
  std::ofstream(source) << content;
  for (int i = 0; i < kRuns; ++i) {
    const fs::path target = tmp_ / ("copy-" + std::to_string(i) + ".txt");
    auto t = run_piped(scp_download_argv(source, target), "");
    ASSERT_TRUE(quick_and_clean(t)) << "run " << i;
    EXPECT_EQ(read_text(target), content) << "run " << i;
  }
}

// Everything under DATA_DIR/recordings/SESSION, concatenated.
std::string recorded(const fs::path& dir) {
  std::string all;
  std::error_code ec;
  for (const auto& entry : fs::recursive_directory_iterator(dir, ec))
    if (entry.is_regular_file()) all += read_text(entry.path());
  return all;
}

TEST_F(InputReadyAtOpen, PipedInputRunsInTheSharedTerminal) {
  for (int i = 0; i < 3; ++i) {
    auto t =
        run_piped(ssh_argv({"-tt"}, {}), "echo mark-$((40+" + std::to_string(i) + "))\nexit\n");
    std::string mark = "mark-" + std::to_string(40 + i);
    EXPECT_EQ(t.exit_code, 0) << "run " << i << ": " << t.out << t.err;
    // The typed line is echoed too; only the command's output has the sum.
    EXPECT_TRUE(contains(t.out, mark)) << "run " << i << ": " << t.out;
    EXPECT_TRUE(wait_until(
        [&] { return contains(recorded(relay_->data_dir() / "recordings" / id_), mark); }, 5s))
        << "run " << i;
  }
}

}  // namespace
}  // namespace sb::e2e
