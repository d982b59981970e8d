// What the relay reads from a device's control-channel messages (JSON objects that already
// passed ssh::parse_control_message). Pure functions of the JSON, so they can be fuzzed: any
// member may be missing or of another type, which reads as invalid, never as an exception.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace sb::relay {

// {"type":"hello","kind":"adhoc"|"enrolled","name":N?,"enroll_token":T?,"consent":"prompt"?,
//  "info":{hostname, os, kernel, arch, agent_version, and the system info (optional):
//          os_version, cpu, memory, uptime_seconds, disks, addresses, users},
//  "resume":{"session":"482913075","token":"sbr_..."}?}   (ad hoc, after a blip)
struct DeviceHello {
  std::string kind;
  std::string name;          // wanted device name, or ""
  std::string enroll_token;  // as sent: its shape is checked only when it is used
  bool consent_prompt = true;
  // An ad-hoc agent back after a blip asks for its session again. resume_asked with an empty
  // session or token: the request was malformed (refused like a wrong proof).
  bool resume_asked = false;
  std::string resume_session;  // nine digits
  std::string resume_token;    // "sbr_" + 52 base32 characters
  // The five fields, each a valid label, and the system info members when they passed
  // check_system_info.
  nlohmann::json info = nlohmann::json::object();
  std::string info_error;  // why the system info was left out ("" when it was not)
};
struct HelloResult {
  std::optional<DeviceHello> hello;
  std::string error;  // why the hello is refused, when hello is empty
};
HelloResult parse_hello(const nlohmann::json& hello);

// The device info of a hello: each field a valid label ("" when missing). nullopt and *error
// naming the first bad field otherwise.
std::optional<nlohmann::json> parse_device_info(const nlohmann::json& hello, std::string* error);

// {"type":"info","info":{...}}: the device's info again, after it changed. The five fields
// and the system info must all pass; otherwise nothing of it is kept (error says why).
struct InfoUpdate {
  std::optional<nlohmann::json> info;
  std::string error;
};
InfoUpdate parse_info_update(const nlohmann::json& message);

// {"type":"consent-answer","id":N,"allow":true|false}; nullopt without an unsigned id. An
// "allow" that is not a boolean reads as a refusal.
struct ConsentAnswer {
  std::uint64_t id = 0;
  bool allow = false;
};
std::optional<ConsentAnswer> parse_consent_answer(const nlohmann::json& answer);

}  // namespace sb::relay
