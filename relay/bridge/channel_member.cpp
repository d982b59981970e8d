#include "relay/bridge/channel_member.hpp"

#include <algorithm>

namespace sb::relay {

std::size_t ChannelMember::write_output(std::string_view output) {
  std::size_t room = std::min<std::size_t>(ssh_channel_window_size(channel_), output.size());
  if (room == 0) return 0;
  int n = ssh_channel_write(channel_, output.data(), static_cast<uint32_t>(room));
  return n > 0 ? static_cast<std::size_t>(n) : 0;
}

std::size_t ChannelMember::read_input(char* buf, std::size_t max) {
  int got = ssh_channel_read_nonblocking(channel_, buf, static_cast<uint32_t>(max), 0);
  return got > 0 ? static_cast<std::size_t>(got) : 0;
}

// Only a closed channel: an EOF means "my input is done" (`printf 'cmd\nexit\n' | ssh -tt`).
// What the member sent before it is still read and forwarded, and the member goes on watching
// until the shell ends or it closes the channel.
bool ChannelMember::left() const {
  return ssh_channel_is_closed(channel_);
}

void ChannelMember::end(const std::string& why, int exit_status) {
  if (!why.empty()) {
    std::string line = "switchboard: " + why + "\r\n";
    ssh_channel_write_stderr(channel_, line.data(), static_cast<uint32_t>(line.size()));
  }
  ssh_channel_request_send_exit_status(channel_, exit_status);
  ssh_channel_send_eof(channel_);
  ssh_channel_close(channel_);
}

}  // namespace sb::relay
