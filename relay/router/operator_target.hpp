// What an operator's SSH user name asks for: "482913075", "482 913 075+ro", "web-01+own".
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace sb::relay {

enum class AttachMode { kShared, kObserver, kOwn };

struct OperatorTarget {
  std::string session_id;   // nine digits, or empty when a device name was given
  std::string device_name;  // enrolled device name, or empty
  AttachMode mode = AttachMode::kShared;
  std::string display() const;  // "482913075+ro"
};

// nullopt if the name is neither a session ID nor a valid device name, or the suffix unknown.
std::optional<OperatorTarget> parse_operator_user(std::string_view user);
const char* mode_name(AttachMode mode);  // "shared" | "observer" | "own"

}  // namespace sb::relay
