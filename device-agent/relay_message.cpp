#include "device-agent/relay_message.hpp"

#include "common/json_field.hpp"
#include "keys/keys.hpp"

namespace sb::agent {

namespace {
constexpr std::chrono::milliseconds kDefaultCheck{30000};
constexpr std::int64_t kMaxCheckMs = 24LL * 3600 * 1000;

// Only whole numbers in range: a float or a huge value would not convert safely.
std::chrono::milliseconds check_interval_of(const nlohmann::json& message) {
  auto it = message.find("check_interval_ms");
  if (it == message.end() || !it->is_number_integer()) return kDefaultCheck;
  if (it->is_number_unsigned()) {
    auto ms = it->get<std::uint64_t>();
    return ms >= 1 && ms <= kMaxCheckMs ? std::chrono::milliseconds(ms) : kDefaultCheck;
  }
  auto ms = it->get<std::int64_t>();
  return ms >= 1 && ms <= kMaxCheckMs ? std::chrono::milliseconds(ms) : kDefaultCheck;
}

const char* text_member(const std::string& type) {
  if (type == "error") return "message";
  if (type == "ended") return "reason";
  if (type == "notice") return "text";
  return nullptr;
}
}  // namespace

RelayMessage read_relay_message(const nlohmann::json& message) {
  RelayMessage read;
  if (!message.is_object()) return read;
  read.type = string_field(message, "type");
  if (read.type == "session") {
    read.id = string_field(message, "id");
    read.device = string_field(message, "device");
    read.check_interval = check_interval_of(message);
    if (std::string token = string_field(message, "resume_token");
        keys::looks_like_resume_token(token))
      read.resume_token = std::move(token);
    auto resumed = message.find("resumed");
    read.resumed = resumed != message.end() && resumed->is_boolean() && resumed->get<bool>();
    read.resume_refused = string_field(message, "resume_refused").substr(0, 300);
  }
  if (const char* member = text_member(read.type)) read.text = string_field(message, member);
  return read;
}

std::uint64_t consent_request_id(const nlohmann::json& request) {
  if (!request.is_object()) return 0;
  auto it = request.find("id");
  return it != request.end() && it->is_number_unsigned() ? it->get<std::uint64_t>() : 0;
}

}  // namespace sb::agent
