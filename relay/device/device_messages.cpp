#include "relay/device/device_messages.hpp"

#include "common/json_field.hpp"
#include "common/names.hpp"
#include "common/util.hpp"
#include "keys/keys.hpp"
#include "relay/device/system_info_check.hpp"

namespace sb::relay {

namespace {
const char* const kInfoFields[] = {"hostname", "os", "kernel", "arch", "agent_version"};

const nlohmann::json& sent_info(const nlohmann::json& message) {
  static const nlohmann::json kEmpty = nlohmann::json::object();
  auto found = message.is_object() ? message.find("info") : message.end();
  return found != message.end() ? *found : kEmpty;
}
}  // namespace

std::optional<nlohmann::json> parse_device_info(const nlohmann::json& hello, std::string* error) {
  auto found = hello.is_object() ? hello.find("info") : hello.end();
  const nlohmann::json& sent = found != hello.end() ? *found : nlohmann::json::object();
  nlohmann::json info = nlohmann::json::object();
  for (const char* field : kInfoFields) {
    std::string value = string_field(sent, field);
    if (!valid_label(value)) {
      *error = std::string("invalid device info: ") + field;
      return std::nullopt;
    }
    info[field] = value;
  }
  return info;
}

HelloResult parse_hello(const nlohmann::json& hello) {
  HelloResult result;
  auto info = parse_device_info(hello, &result.error);
  if (!info) return result;
  DeviceHello parsed;
  parsed.info = std::move(*info);
  // A bad system info costs the device its system info, not its session.
  if (auto system = check_system_info(sent_info(hello), &parsed.info_error))
    parsed.info.update(*system);
  parsed.kind = string_field(hello, "kind");
  parsed.name = string_field(hello, "name");
  parsed.enroll_token = string_field(hello, "enroll_token");
  if (parsed.kind != "adhoc" && parsed.kind != "enrolled") {
    result.error = "hello: kind must be adhoc or enrolled";
    return result;
  }
  // Ad-hoc devices always ask their user; enrolled ones follow grants unless told to ask.
  parsed.consent_prompt = parsed.kind == "adhoc" || string_field(hello, "consent") == "prompt";
  if (!parsed.name.empty() && !valid_name(parsed.name)) {
    result.error = "invalid device name '" + parsed.name + "'";
    return result;
  }
  if (auto resume = hello.find("resume"); resume != hello.end()) {
    parsed.resume_asked = true;
    auto id = parse_session_id(string_field(*resume, "session"));
    std::string token = string_field(*resume, "token");
    if (id && keys::looks_like_resume_token(token)) {
      parsed.resume_session = *id;
      parsed.resume_token = std::move(token);
    }
  }
  result.hello = std::move(parsed);
  return result;
}

InfoUpdate parse_info_update(const nlohmann::json& message) {
  InfoUpdate result;
  auto info = parse_device_info(message, &result.error);
  if (!info) return result;
  auto system = check_system_info(sent_info(message), &result.error);
  if (!system) return result;
  info->update(*system);
  result.info = std::move(info);
  return result;
}

std::optional<ConsentAnswer> parse_consent_answer(const nlohmann::json& answer) {
  if (!answer.is_object()) return std::nullopt;
  auto id = answer.find("id");
  if (id == answer.end() || !id->is_number_unsigned()) return std::nullopt;
  auto allow = answer.find("allow");
  return ConsentAnswer{id->get<std::uint64_t>(),
                       allow != answer.end() && allow->is_boolean() && allow->get<bool>()};
}

}  // namespace sb::relay
