#include "common/env_rules.hpp"

#include <algorithm>

#include "common/names.hpp"

namespace sb {

bool env_name_allowed(std::string_view name) {
  if (name.empty() || name.size() > kMaxEnvName) return false;
  if (name == "LANG" || name == "TERM" || name == "COLORTERM" || name == "TZ") return true;
  if (!name.starts_with("LC_") || name.size() == 3) return false;
  return std::all_of(name.begin() + 3, name.end(),
                     [](char c) { return (c >= 'A' && c <= 'Z') || c == '_'; });
}

bool env_value_allowed(std::string_view value) {
  return valid_label(value, kMaxEnvValue);
}

}  // namespace sb
