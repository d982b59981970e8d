#include "common/ssh/line_channel.hpp"

namespace sb::ssh {

std::optional<nlohmann::json> parse_control_message(std::string_view line) {
  auto parsed = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) return std::nullopt;
  auto type = parsed.find("type");
  if (type == parsed.end() || !type->is_string()) return std::nullopt;
  return parsed;
}

bool LineChannel::send(const nlohmann::json& message) {
  std::string line = message.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (out_.size() + line.size() + 1 > max_out_) {
    error_ = "peer is not reading its control channel";
    return false;
  }
  out_ += line;
  out_ += '\n';
  flush();
  return true;
}

void LineChannel::flush() {
  while (!out_.empty() && ssh_channel_is_open(channel_)) {
    int written = ssh_channel_write(channel_, out_.data(), static_cast<uint32_t>(out_.size()));
    if (written == SSH_ERROR) {
      error_ = "control channel write failed";
      return;
    }
    if (written <= 0) return;  // window closed or re-keying: retried on the next step
    out_.erase(0, static_cast<std::size_t>(written));
  }
}

void LineChannel::read_available() {
  char buf[4096];
  while (error_.empty()) {
    int n = ssh_channel_read_nonblocking(channel_, buf, sizeof buf, 0);
    if (n <= 0) return;
    if (!in_.append(std::string_view(buf, static_cast<std::size_t>(n)))) {
      error_ = "control message too long";
      return;
    }
  }
}

std::optional<nlohmann::json> LineChannel::receive() {
  if (!error_.empty()) return std::nullopt;
  read_available();
  if (!error_.empty()) return std::nullopt;
  while (auto line = in_.next_line()) {
    if (line->empty()) continue;
    auto parsed = parse_control_message(*line);
    if (!parsed) error_ = "malformed control message";
    return parsed;
  }
  return std::nullopt;
}

bool LineChannel::peer_closed() const {
  return ssh_channel_is_eof(channel_) || ssh_channel_is_closed(channel_);
}

}  // namespace sb::ssh
