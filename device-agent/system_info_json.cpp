#include "device-agent/system_info_json.hpp"

#include <algorithm>
#include <tuple>

#include "common/system_info_limits.hpp"

namespace sb::agent {

using nlohmann::json;

namespace {

// Length of the UTF-8 sequence starting at s[i], 0 if it is not a valid one.
std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char lead = byte(i);
  std::size_t n = lead < 0x80           ? 1
                  : (lead >> 5) == 0x6  ? 2
                  : (lead >> 4) == 0xE  ? 3
                  : (lead >> 3) == 0x1E ? 4
                                        : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k)
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  // Overlong forms, surrogates and code points past U+10FFFF are refused by JSON parsers.
  if (n == 2 && lead < 0xC2) return 0;
  if (n == 3 && lead == 0xE0 && byte(i + 1) < 0xA0) return 0;
  if (n == 3 && lead == 0xED && byte(i + 1) >= 0xA0) return 0;
  if (n == 4 && (lead > 0xF4 || (lead == 0xF0 && byte(i + 1) < 0x90) ||
                 (lead == 0xF4 && byte(i + 1) >= 0x90)))
    return 0;
  return n;
}

std::uint64_t bounded(std::uint64_t n) {
  return std::min(n, sysinfo::kMaxNumber);
}

std::string text(std::string_view s) {
  return clean_text(s, sysinfo::kMaxText);
}

// Shortens the longest of the lists by one; false when all are empty.
bool drop_one(json& info) {
  json* longest = nullptr;
  for (const char* key : {"disks", "addresses", "users"}) {
    json& list = info[key];
    if (!list.empty() && (!longest || list.size() > longest->size())) longest = &list;
  }
  if (!longest) return false;
  longest->erase(longest->size() - 1);
  return true;
}

std::uint64_t number_at(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_number_unsigned() ? it->get<std::uint64_t>() : 0;
}

bool moved(std::uint64_t before, std::uint64_t after, std::uint64_t step) {
  const std::uint64_t delta = before > after ? before - after : after - before;
  return step > 0 && delta >= step;
}

// `info` without the members that change all the time.
json steady_part(json info) {
  info.erase("uptime_seconds");
  if (auto m = info.find("memory"); m != info.end() && m->is_object()) m->erase("available_bytes");
  if (auto d = info.find("disks"); d != info.end() && d->is_array())
    for (json& disk : *d)
      if (disk.is_object()) disk.erase("free_bytes");
  return info;
}

}  // namespace

std::string clean_text(std::string_view s, std::size_t max_bytes) {
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = utf8_length(s, i);
    std::string_view piece = n == 0 ? std::string_view("?") : s.substr(i, n);
    i += n == 0 ? 1 : n;
    const auto c = static_cast<unsigned char>(piece[0]);
    const bool control =
        c < 0x20 || c == 0x7F || (c == 0xC2 && static_cast<unsigned char>(piece[1]) < 0xA0);
    if (control) continue;
    if (out.size() + piece.size() > max_bytes) break;
    out += piece;
  }
  return out;
}

json system_info_json(const SystemInfo& f, std::string_view agent_version) {
  json info{{"hostname", text(f.hostname)},
            {"os", text(f.os)},
            {"os_version", text(f.os_version)},
            {"kernel", text(f.kernel)},
            {"arch", text(f.arch)},
            {"agent_version", text(agent_version)},
            {"cpu",
             {{"model", text(f.cpu_model)},
              {"cores", std::min<std::uint64_t>(f.cpu_cores, sysinfo::kMaxCores)},
              {"threads", std::min<std::uint64_t>(f.cpu_threads, sysinfo::kMaxCores)}}},
            {"memory",
             {{"total_bytes", bounded(f.memory_total_bytes)},
              {"available_bytes", bounded(f.memory_available_bytes)}}},
            {"uptime_seconds", bounded(f.uptime_seconds)}};

  auto disks = f.disks;
  std::sort(disks.begin(), disks.end(),
            [](const auto& a, const auto& b) { return a.mount < b.mount; });
  json disk_list = json::array();
  for (const auto& d : disks) {
    if (disk_list.size() == sysinfo::kMaxDisks) break;
    disk_list.push_back({{"mount", text(d.mount)},
                         {"fs", text(d.fs)},
                         {"size_bytes", bounded(d.size_bytes)},
                         {"free_bytes", bounded(std::min(d.free_bytes, d.size_bytes))}});
  }
  info["disks"] = std::move(disk_list);

  auto addresses = f.addresses;
  std::sort(addresses.begin(), addresses.end(), [](const auto& a, const auto& b) {
    return std::tie(a.interface_name, a.address) < std::tie(b.interface_name, b.address);
  });
  json address_list = json::array();
  for (const auto& a : addresses) {
    if (address_list.size() == sysinfo::kMaxAddresses) break;
    address_list.push_back({{"interface", text(a.interface_name)},
                            {"address", text(a.address)},
                            {"prefix", std::min(a.prefix, 128u)}});
  }
  info["addresses"] = std::move(address_list);

  auto users = f.users;
  std::sort(users.begin(), users.end(), [](const auto& a, const auto& b) {
    return std::tie(a.name, a.terminal, a.from) < std::tie(b.name, b.terminal, b.from);
  });
  json user_list = json::array();
  for (const auto& u : users) {
    if (user_list.size() == sysinfo::kMaxUsers) break;
    user_list.push_back(
        {{"name", text(u.name)}, {"terminal", text(u.terminal)}, {"from", text(u.from)}});
  }
  info["users"] = std::move(user_list);

  while (info.dump().size() > sysinfo::kMaxTotalBytes && drop_one(info)) {
  }
  return info;
}

bool info_changed(const json& sent, const json& now) {
  if (!sent.is_object() || !now.is_object()) return true;
  if (steady_part(sent) != steady_part(now)) return true;
  const json& sent_memory = sent.value("memory", json::object());
  const json& now_memory = now.value("memory", json::object());
  if (moved(number_at(sent_memory, "available_bytes"), number_at(now_memory, "available_bytes"),
            number_at(now_memory, "total_bytes") / 5))
    return true;
  // The steady parts are equal, so both have the same disks in the same order.
  const json& sent_disks = sent.value("disks", json::array());
  const json& now_disks = now.value("disks", json::array());
  for (std::size_t i = 0; i < now_disks.size() && i < sent_disks.size(); ++i) {
    if (moved(number_at(sent_disks[i], "free_bytes"), number_at(now_disks[i], "free_bytes"),
              number_at(now_disks[i], "size_bytes") / 20))
      return true;
  }
  return false;
}

}  // namespace sb::agent
