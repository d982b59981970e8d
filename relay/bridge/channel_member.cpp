#include "relay/bridge/channel_member.hpp"

#include <algorithm>

namespace sb::relay {

std::size_t ChannelMember::write_output(std::string_view output) {
  std::size_t room = std::min<std::size_t>(channel_.window(), output.size());
  if (room == 0) return 0;
  return channel_.write(output.substr(0, room)).bytes;
}

std::size_t ChannelMember::read_input(char* buf, std::size_t max) {
  return channel_.read({buf, max}).bytes;
}

// Only a closed channel: an EOF means "my input is done" (`printf 'cmd\nexit\n' | ssh -tt`).
// What the member sent before it is still read and forwarded, and the member goes on watching
// until the shell ends or it closes the channel.
bool ChannelMember::left() const {
  return channel_.is_closed();
}

void ChannelMember::end(const std::string& why, int exit_status) {
  if (!why.empty()) channel_.write_stderr("switchboard: " + why + "\r\n");
  channel_.send_exit_status(exit_status);
  channel_.send_eof();
  channel_.close();
}

}  // namespace sb::relay
