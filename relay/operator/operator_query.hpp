// An operator logged in as user "relay": the relay answers a small fixed set of commands itself
// (`sessions`, `sessions --json`), from memory, with no device involved, then sends exit-status
// and closes the channel. Anything else gets a clear error on stderr and exit status 2; PTYs,
// subsystems and forwarding are refused. The connection lives for a bounded time only.
#pragma once
#include <libssh/callbacks.h>
#include <libssh/libssh.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "relay/operator/operator_sessions.hpp"

namespace sb::relay {

class PeerConn;

class OperatorQuery {
 public:
  OperatorQuery(PeerConn& conn, std::string operator_name);
  ~OperatorQuery();
  OperatorQuery(const OperatorQuery&) = delete;
  OperatorQuery& operator=(const OperatorQuery&) = delete;

  ssh_channel open_channel();  // nullptr (refused) past the channel limit
  void service();              // writes pending answers as the windows allow
  void sweep(std::chrono::steady_clock::time_point now);  // closes a connection held too long
  void on_closed();

 private:
  struct Channel;
  static int on_pty(ssh_session, ssh_channel, const char*, int, int, int, int, void*);
  static int on_env(ssh_session, ssh_channel, const char*, const char*, void*);
  static int on_shell(ssh_session, ssh_channel, void* userdata);
  static int on_exec(ssh_session, ssh_channel, const char* command, void* userdata);
  static int on_subsystem(ssh_session, ssh_channel, const char*, void*);
  void answer(Channel& channel, const std::string& command);
  QueryAnswer sessions_answer(bool json) const;
  bool flush(Channel& channel);  // true once everything is written and the channel closed

  PeerConn& conn_;
  std::string operator_name_;
  std::chrono::steady_clock::time_point started_;
  std::vector<std::unique_ptr<Channel>> channels_;
};

}  // namespace sb::relay
