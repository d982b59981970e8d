// A terminal on Windows: a pseudo console (ConPTY). Wine 8.0 attaches the child to the pseudo
// console but does not route its console output to the output pipe, and ResizePseudoConsole
// returns E_NOTIMPL (dlls/kernelbase/console.c): under Wine only the start, the exit code, the
// resize call and the clean end are checked; the output is checked on Windows itself.
#include <windows.h>

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <chrono>

#include "device-agent/platform/process.hpp"

namespace sb::agent::platform {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

bool under_wine() {
  HMODULE ntdll = ::GetModuleHandleW(L"ntdll.dll");
  return ntdll && ::GetProcAddress(ntdll, "wine_get_version") != nullptr;
}

TEST(WindowsPty, CommandInAPseudoConsoleEndsWithItsExitCode) {
  asio::io_context io;
  std::string error, out;
  bool ended = false;
  std::unique_ptr<Process> p;
  p = start_process(
      io.get_executor(),
      {.command = "echo pty-text& exit 5", .pty = PtySize{100, 30}, .term = "xterm"},
      [&] { ended = true; }, &error);
  ASSERT_TRUE(p) << error;
  EXPECT_FALSE(p->error_output()) << "a terminal has no separate stderr";
  p->resize({120, 40});  // must not fail or block, whether or not the system implements it
  char buf[4096];
  bool eof = false;
  std::function<void()> read = [&] {
    p->output()->async_read_some(asio::buffer(buf), [&](auto ec, std::size_t n) {
      if (ec) {
        eof = true;
        return;
      }
      out.append(buf, n);
      read();
    });
  };
  read();
  std::optional<ExitStatus> status;
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline && !(status && eof)) {
    io.run_for(50ms);
    if (!status && (status = p->poll_exit())) p->on_exited();  // closing the console ends output
  }
  ASSERT_TRUE(status) << "no exit: " << out;
  EXPECT_EQ(status->code, 5);
  EXPECT_TRUE(eof) << "the output pipe did not end after the pseudo console was closed";
  if (under_wine()) {
    std::cout << "[ under Wine ] pseudo console output not checked (" << out.size()
              << " bytes arrived)\n";
    return;
  }
  EXPECT_NE(out.find("pty-text"), std::string::npos) << out;
}

}  // namespace
}  // namespace sb::agent::platform
