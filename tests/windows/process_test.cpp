// The Windows process backend (device-agent/windows/process.cpp): pipes, exit codes, stdin EOF,
// terminate for signals, and a pseudo console as far as the system provides one.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <thread>

#include "device-agent/platform/process.hpp"

namespace sb::agent::platform {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

// Runs a process to its end on an io_context: output collected, exit status polled.
struct Child {
  asio::io_context io;
  std::unique_ptr<Process> process;
  std::string out, err;
  std::optional<ExitStatus> status;
  bool out_done = false, err_done = false;
  char out_buf[4096], err_buf[4096];

  bool start(ProcessRequest request) {
    std::string error;
    process = start_process(
        io.get_executor(), request, [this] { check(); }, &error);
    EXPECT_TRUE(process) << error;
    if (!process) return false;
    read(process->output(), out_buf, out, out_done);
    if (process->error_output())
      read(process->error_output(), err_buf, err, err_done);
    else
      err_done = true;
    return true;
  }
  void read(Stream* s, char* buf, std::string& into, bool& done) {
    s->async_read_some(asio::buffer(buf, 4096), [=, this, &into, &done](auto ec, std::size_t n) {
      if (ec) {
        EXPECT_TRUE(is_end_of_output(ec)) << ec.message();
        done = true;
        return;
      }
      into.append(buf, n);
      read(s, buf, into, done);
    });
  }
  void check() {
    if (!status) status = process->poll_exit();
    if (status) process->on_exited();
  }
  // Until the process ended and its output is all read, or the deadline.
  bool finish(std::chrono::seconds limit = 20s) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      io.run_for(50ms);
      check();
      if (status && out_done && err_done) return true;
    }
    return false;
  }
};

bool wait_until_dead(long pid) {
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!process_alive(pid)) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

TEST(WindowsProcess, CommandOutputAndExitCode) {
  Child run;
  ASSERT_TRUE(run.start({.command = "echo out-text& (echo err-text 1>&2)& exit 3"}));
  ASSERT_TRUE(run.finish()) << run.out << run.err;
  EXPECT_EQ(run.status->code, 3);
  EXPECT_TRUE(run.status->signal.empty());
  EXPECT_NE(run.out.find("out-text"), std::string::npos) << run.out;
  EXPECT_NE(run.err.find("err-text"), std::string::npos) << run.err;
  EXPECT_GT(run.process->id(), 0);
}

TEST(WindowsProcess, StdinReachesTheCommandAndItsEofEndsIt) {
  Child run;
  // more copies its input until EOF (Wine's findstr prints nothing from a pipe).
  ASSERT_TRUE(run.start({.command = "more"}));
  asio::write(*run.process->input(), asio::buffer(std::string("line-1\r\nline-2\r\n")));
  run.process->close_input();
  ASSERT_TRUE(run.finish()) << run.out;
  EXPECT_EQ(run.status->code, 0);
  EXPECT_NE(run.out.find("line-1"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("line-2"), std::string::npos) << run.out;
}

TEST(WindowsProcess, OperatorEnvironmentReachesTheCommand) {
  Child run;
  ASSERT_TRUE(run.start({.command = "echo [%SB_TEST_VALUE%]", .env = {{"SB_TEST_VALUE", "42"}}}));
  ASSERT_TRUE(run.finish()) << run.out;
  EXPECT_NE(run.out.find("[42]"), std::string::npos) << run.out;
}

TEST(WindowsProcess, TermSignalEndsItAndIsReportedAsTheSignal) {
  Child run;
  // Waits for input that never comes.
  ASSERT_TRUE(run.start({.command = "set /p never="}));
  run.io.run_for(200ms);
  EXPECT_FALSE(run.process->poll_exit());
  EXPECT_FALSE(run.process->signal("WINCH"));  // no Windows equivalent
  EXPECT_TRUE(run.process->signal("TERM"));
  ASSERT_TRUE(run.finish());
  EXPECT_EQ(run.status->signal, "TERM");
}

TEST(WindowsProcess, MissingProgramIsAnError) {
  asio::io_context io;
  std::string error;
  auto p = start_process(io.get_executor(), {.shell = "Z:\\no\\such\\program.exe"}, {}, &error);
  EXPECT_FALSE(p);
  EXPECT_NE(error.find("cannot start"), std::string::npos) << error;
}

TEST(WindowsProcess, StopEndsARunningProcess) {
  Child run;
  ASSERT_TRUE(run.start({.command = "set /p never="}));
  const long pid = run.process->id();
  EXPECT_TRUE(process_alive(pid));
  run.process->stop();
  EXPECT_TRUE(wait_until_dead(pid));
}

}  // namespace
}  // namespace sb::agent::platform
