// Starting an operator's process (a shell in a terminal, or a command with pipes) and watching
// it end: what differs between POSIX (fork, a PTY, SIGCHLD) and Windows (CreateProcess, a
// ConPTY, process handles). The session channel (chan_session.cpp) uses only this interface.
#pragma once
#include <boost/asio/any_io_executor.hpp>
#include <boost/system/error_code.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#ifdef _WIN32
#include <boost/asio/windows/stream_handle.hpp>
#else
#include <boost/asio/posix/stream_descriptor.hpp>
#endif

namespace sb::agent::platform {

// One end of a pipe or terminal, read and written asynchronously on the tunnel's reactor.
#ifdef _WIN32
using Stream = boost::asio::windows::stream_handle;
#else
using Stream = boost::asio::posix::stream_descriptor;
#endif

struct PtySize {
  int cols = 80, rows = 24, px = 0, py = 0;
};

// What the operator asked for.
struct ProcessRequest {
  std::optional<std::string> command;      // exec; nullopt: the login shell
  std::string shell;                       // the shell program (ChannelPolicy::shell)
  std::map<std::string, std::string> env;  // accepted "env" requests
  std::optional<PtySize> pty;              // a terminal, or pipes without one
  std::string term;                        // TERM of the pty request
};

struct ExitStatus {
  int code = 0;        // when signal is empty
  std::string signal;  // "TERM", ... when a signal ended it
  bool core_dumped = false;
};

class Process {
 public:
  virtual ~Process() = default;
  // The terminal (pty) or the pipe ends; nullptr once closed or when there is none.
  virtual Stream* input() = 0;
  virtual Stream* output() = 0;
  virtual Stream* error_output() = 0;  // pipes only
  // The operator's EOF: the process sees end of input (pipes; a terminal has no EOF).
  virtual void close_input() = 0;
  virtual void resize(const PtySize& size) = 0;
  // An SSH "signal" request ("TERM", "INT", ...): false if it has no meaning here.
  virtual bool signal(const std::string& name) = 0;
  // Non-blocking: the exit status once the process has ended.
  virtual std::optional<ExitStatus> poll_exit() = 0;
  // After the exit: the terminal's last output is read synchronously until it would block
  // (a PTY that background jobs still hold never reports EOF); otherwise reads go on to EOF.
  virtual bool drain_synchronously() const = 0;
  // Called once after poll_exit() reported the end (e.g. stop waiting on the terminal).
  virtual void on_exited() = 0;
  // Ends the process (in the background if it needs time) and closes every stream. Once.
  virtual void stop() = 0;
  virtual long id() const = 0;  // for logs
};

// Starts the process; on failure nullptr and *error says why. on_exit: called on the executor
// when the platform notices the end by itself (Windows); POSIX relies on ChildWatch.
std::unique_ptr<Process> start_process(const boost::asio::any_io_executor& executor,
                                       const ProcessRequest& request, std::function<void()> on_exit,
                                       std::string* error);

// Watches for ended children on behalf of all channels of a tunnel (SIGCHLD on POSIX; nothing
// on Windows, where each process waits on its own handle). Created before the first start.
class ChildWatch {
 public:
  ChildWatch(const boost::asio::any_io_executor& executor, std::function<void()> on_change);
  ~ChildWatch();
  ChildWatch(const ChildWatch&) = delete;
  ChildWatch& operator=(const ChildWatch&) = delete;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// A completed read that means "no more output": EOF, a PTY whose holders are all gone (EIO), a
// pipe whose writer closed it.
bool is_end_of_output(const boost::system::error_code& ec);

// The shell when --shell is not given ($SHELL or /bin/sh; %ComSpec% or cmd.exe).
std::string default_shell();

// Once per process, before any child: writes to a closed pipe must fail, not end the agent.
void ignore_broken_pipes();

// Is the process with this ID (from current_process_id) still running?
bool process_alive(long pid);
long current_process_id();

}  // namespace sb::agent::platform
