// What the agent reads from one relay control message (a JSON object that already passed
// ssh::parse_control_message). Pure, so it can be fuzzed: a member that is missing or of another
// type reads as its fallback, never as an exception.
#pragma once
#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace sb::agent {

struct RelayMessage {
  std::string type;
  std::string id;      // "session": the session ID
  std::string device;  // "session": the enrolled name, or ""
  // "session": how often the relay checks tunnels; 30 s unless a whole number of ms in
  // [1 ms, 1 day].
  std::chrono::milliseconds check_interval{30000};
  std::string text;  // "error": message, "ended": reason, "notice": text ("" when missing)
  // "session" of an ad-hoc agent: the token to present (with the same key) to get this ID back
  // after a blip ("" unless well formed); whether this is a resumed session; why a resume was
  // refused (the ID is then a new one).
  std::string resume_token;
  bool resumed = false;
  std::string resume_refused;
};
RelayMessage read_relay_message(const nlohmann::json& message);

// The id of a consent request ({"type":"consent","id":N,...}); 0 unless an unsigned integer.
std::uint64_t consent_request_id(const nlohmann::json& request);

}  // namespace sb::agent
