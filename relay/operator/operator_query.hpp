// An operator logged in as user "relay": the relay answers a small fixed set of commands itself
// (`sessions`, `sessions --json`), from memory, with no device involved, then sends exit-status
// and closes the channel. Anything else gets a clear error on stderr and exit status 2; PTYs,
// subsystems and forwarding are refused. The connection lives for a bounded time only.
#pragma once
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/ssh/channel.hpp"
#include "relay/operator/operator_sessions.hpp"

namespace sb::relay {

class PeerConn;

class OperatorQuery {
 public:
  OperatorQuery(PeerConn& conn, std::string operator_name);
  ~OperatorQuery();
  OperatorQuery(const OperatorQuery&) = delete;
  OperatorQuery& operator=(const OperatorQuery&) = delete;

  ssh::Channel* open_channel();  // ours; nullptr (refused) past the channel limit
  void service();                // writes pending answers as the windows allow
  void sweep(std::chrono::steady_clock::time_point now);  // closes a connection held too long
  void on_closed();

 private:
  struct QueryChannel;
  bool on_shell(QueryChannel& c);
  bool on_exec(QueryChannel& c, std::string_view command);
  void answer(QueryChannel& channel, const std::string& command);
  QueryAnswer sessions_answer(bool json) const;
  bool flush(QueryChannel& channel);  // true once everything is written and the channel closed
  // Logs a refused request and returns false (the refusal, for libssh).
  bool refused(std::string_view what, std::string_view reason) const;

  PeerConn& conn_;
  std::string operator_name_;
  std::chrono::steady_clock::time_point started_;
  std::vector<std::unique_ptr<QueryChannel>> channels_;
};

}  // namespace sb::relay
