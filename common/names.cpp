#include "common/names.hpp"

#include <algorithm>
#include <string>

namespace sb {

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  auto lower_or_digit = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!lower_or_digit(name[0])) return false;
  bool all_digits =
      std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (all_digits) return false;
  return std::all_of(name.begin(), name.end(),
                     [&](char c) { return lower_or_digit(c) || c == '-' || c == '_' || c == '.'; });
}

bool reserved_device_name(std::string_view name) {
  return name == kDeviceUser || name == kRelayQueryUser;
}

std::string device_name_from_hostname(std::string_view hostname) {
  std::string name;
  for (char c : hostname.substr(0, 255)) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (name.empty() && !alnum) continue;
    name += alnum || c == '-' || c == '_' || c == '.' ? c : '-';
  }
  if (name.size() > 63) name.resize(63);
  if (!valid_name(name) || reserved_device_name(name)) return {};
  return name;
}

std::string name_with_suffix(std::string_view base, int n) {
  const std::string suffix = "-" + std::to_string(n);
  const std::size_t room = suffix.size() < 63 ? 63 - suffix.size() : 0;
  return std::string(base.substr(0, room)) + suffix;
}

bool valid_label(std::string_view text, std::size_t max_len) {
  if (text.size() > max_len) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto u = static_cast<unsigned char>(text[i]);
    if (u < 0x20 || u == 0x7f) return false;
    // C1 controls (U+0080-U+009F, UTF-8 C2 80-9F) drive terminals too: CSI is U+009B.
    if (u == 0xC2 && i + 1 < text.size()) {
      auto next = static_cast<unsigned char>(text[i + 1]);
      if (next >= 0x80 && next <= 0x9F) return false;
    }
  }
  return true;
}

}  // namespace sb
