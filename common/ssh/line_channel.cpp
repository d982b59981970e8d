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
  line += '\n';
  if (!out_.append(line)) {
    error_ = "peer is not reading its control channel";
    return false;
  }
  flush();
  return true;
}

void LineChannel::flush() {
  while (!out_.empty() && channel_->is_open()) {
    Io written = channel_->write(out_.data());
    if (written.error) {
      error_ = "control channel write failed";
      return;
    }
    if (written.bytes == 0) return;  // window closed or re-keying: retried on the next step
    out_.consume(written.bytes);
  }
}

void LineChannel::read_available() {
  char buf[4096];
  while (error_.empty()) {
    Io n = channel_->read(buf);
    if (n.error || n.eof || n.bytes == 0) return;
    if (!in_.append(std::string_view(buf, n.bytes))) {
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
  return channel_->is_eof() || channel_->is_closed();
}

}  // namespace sb::ssh
