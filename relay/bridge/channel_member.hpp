// A shared terminal's member on an operator's session channel: output goes out as channel data
// within the channel's window, keystrokes are read from it, the end is stderr text, exit-status,
// EOF and close.
#pragma once
#include <libssh/libssh.h>

#include "relay/bridge/terminal_member.hpp"
#include "relay/router/peer_conn.hpp"

namespace sb::relay {

class ChannelMember : public TerminalMember {
 public:
  ChannelMember(PeerConn& conn, ssh_channel channel, std::string operator_name)
      : conn_(conn), channel_(channel), operator_name_(std::move(operator_name)) {}

  const std::string& operator_name() const override { return operator_name_; }
  const std::string& fingerprint() const override { return conn_.fingerprint(); }
  std::size_t write_output(std::string_view output) override;
  std::size_t read_input(char* buf, std::size_t max) override;
  bool left() const override;
  void end(const std::string& why, int exit_status) override;
  void after_io() override { conn_.after_foreign_use(); }

 private:
  PeerConn& conn_;
  ssh_channel channel_;  // owned by the operator's channel, which outlives its membership
  std::string operator_name_;
};

}  // namespace sb::relay
