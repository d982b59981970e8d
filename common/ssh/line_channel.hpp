// A channel carrying JSON lines (the device's control channel), bounded both ways: a line
// longer than max_line, malformed JSON, or more than max_out bytes waiting to be sent is an
// error that closes this channel only.
#pragma once
#include <libssh/libssh.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/util.hpp"

namespace sb::ssh {

// One control message: a JSON object with a string "type". nullopt for anything else (malformed
// JSON included). Pure, so the parsing of what a peer sends can be fuzzed without a channel.
std::optional<nlohmann::json> parse_control_message(std::string_view line);

class LineChannel {
 public:
  static constexpr std::size_t kDefaultMaxLine = 16 * 1024;
  static constexpr std::size_t kDefaultMaxOut = 256 * 1024;

  explicit LineChannel(ssh_channel channel, std::size_t max_line = kDefaultMaxLine,
                       std::size_t max_out = kDefaultMaxOut)
      : channel_(channel), in_(max_line), max_out_(max_out) {}

  ssh_channel raw() const { return channel_; }
  // Queues one message; false (and error()) if the peer is not reading and the bound is hit.
  bool send(const nlohmann::json& message);
  // Moves queued output into the channel as far as the peer's window allows.
  void flush();
  // Reads what has arrived and returns the next complete message, if any.
  std::optional<nlohmann::json> receive();
  bool peer_closed() const;
  const std::string& error() const { return error_; }
  std::size_t pending_out() const { return out_.size(); }

 private:
  void read_available();
  ssh_channel channel_;
  LineBuffer in_;
  std::string out_;
  std::size_t max_out_;
  std::string error_;
};

}  // namespace sb::ssh
