// One string member of a JSON object that came from the network, a file or the audit trail,
// where a missing member, a member of another type and a non-object all read as the fallback.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace sb {

inline std::string string_field(const nlohmann::json& object, const char* key,
                                const std::string& fallback = {}) {
  if (!object.is_object()) return fallback;
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : fallback;
}

}  // namespace sb
